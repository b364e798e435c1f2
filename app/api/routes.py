"""JSON endpoints. Errors come back as {"error": {status, title, message}}."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from flask import Response, abort, current_app, jsonify, request
from flask_login import current_user

from ..definitions.schemes import FillInError
from ..evaluation import analyses, scores, weighting
from ..evaluation.queries import COUNTED, GROUPINGS, ResponseFilter
from ..evaluation.summary import campaign_summary, check_grouping
from ..evaluators.access import ReadScope, read_scope
from ..extensions import csrf, db
from ..models import Campaign
from ..staff.scope import campaign_access, visible_campaigns
from . import bp, queries

csrf.exempt(bp)

OPENAPI = Path(__file__).with_name("openapi.yaml")


def _iso(value):
    return value.isoformat() if value is not None else None


def _login_required() -> None:
    if not current_user.is_authenticated:
        abort(401, "log in (POST /staff/login) to read campaigns and their results")


def _scope_filter(scope: ReadScope) -> ResponseFilter:
    """The counted responses of the communities the account reads (all of them: no filter)."""
    return COUNTED if scope.covers_all else ResponseFilter(community_ids=scope.community_ids)


@bp.get("/campaigns")
def campaigns():
    # Only the campaigns running in the account's region, oldest first.
    _login_required()
    return jsonify(campaigns=[{
        "id": c.id,
        "name": c.name,
        "survey": c.survey_version.survey.key,
        "survey_title": c.survey_version.survey.title,
        "survey_version": c.survey_version.number,
        "state": c.state.value,
        "opens_at": _iso(c.opens_at),
        "closes_at": _iso(c.closes_at),
        "one_response_per_device": c.one_response_per_device,
    } for c in reversed(visible_campaigns(current_user))])


@bp.get("/campaigns/<int:campaign_id>/counts")
def campaign_counts(campaign_id: int):
    scope = read_scope(campaign_id)
    communities = [c for c in queries.response_counts(campaign_id) if c["community_id"] in scope.community_ids]
    return jsonify(campaign_id=campaign_id,
                   total=sum(c["responses"] for c in communities),
                   flagged=sum(c["flagged"] for c in communities),
                   by_community=communities)


def _campaign_or_404(campaign_id: int) -> Campaign:
    # Ids are 32-bit; a larger number names nothing (and must not reach the database).
    campaign = db.session.get(Campaign, campaign_id) if 0 < campaign_id < 2**31 else None
    if campaign is None:
        abort(404, f"no campaign {campaign_id}")
    return campaign


@bp.get("/campaigns/<int:campaign_id>/summary")
def campaign_summary_view(campaign_id: int):
    scope = read_scope(campaign_id)
    campaign = scope.campaign
    group_by = request.args.get("group_by", "community")
    try:
        check_grouping(campaign, group_by)
    except ValueError:  # an unknown grouping, or item:<key> of no single-choice question
        abort(400, f"group_by must be one of {', '.join(GROUPINGS)} or item:<key of a single-choice question>; "
                   f"got {group_by!r}")
    # Counted responses by default (flagged and excluded out, as everywhere); either can be let in.
    which = dataclasses.replace(_scope_filter(scope), include_flagged=_flag_arg("include_flagged", False),
                                include_excluded=_flag_arg("include_excluded", False))
    return jsonify(campaign_summary(campaign, group_by, which))


def _integer_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        abort(400, f"{name} must be a whole number from {low} to {high}; got {raw!r}")
    return int(raw)


@bp.get("/campaigns/<int:campaign_id>/scores")
def campaign_scores(campaign_id: int):
    # Scores carry evaluators' judgments and the ranking: for the accounts the staff pages show them
    # to (admin, evaluator, covering every community of the campaign), by their login session.
    if not current_user.is_authenticated:
        abort(401, "log in with an admin or evaluator account (POST /staff/login) to read scores")
    if not current_user.role.may_score:
        abort(403, "scores are for admin and evaluator accounts")
    campaign = _campaign_or_404(campaign_id)
    access = campaign_access(current_user, campaign)
    if not access.may_view:
        abort(404, f"no campaign {campaign_id}")
    if not access.covers_all:
        abort(403, "a ranking needs every community of the campaign in your region")
    available = {s.id: s for s in scores.schemes_for(campaign, current_app.config["SURVEYS_DIR"])}
    scheme_id = request.args.get("scheme", "")
    if scheme_id not in available:
        abort(400, f"scheme must be one of {', '.join(sorted(available)) or '(none for this campaign)'}; "
                   f"got {scheme_id!r}")
    replicates = _integer_arg("replicates", 1000, 1, scores.MAX_REPLICATES)
    seed = _integer_arg("seed", 0, 0, 2**32 - 1)
    try:
        return jsonify(scores.campaign_scores(campaign, available[scheme_id], replicates=replicates, seed=seed))
    except FillInError as e:
        abort(409, "the numbers this campaign filled into the scheme no longer fit it: " + "; ".join(e.messages))


# -- weighting: population margins and weighted figures ---------------------------------


def _cap_arg() -> float | None:
    raw = request.args.get("cap", "")
    if raw == "":
        return None
    try:
        cap = float(raw)
    except ValueError:
        cap = math.nan
    if not math.isfinite(cap) or not 1 < cap <= weighting.MAX_CAP:
        abort(400, f"cap must be a number above 1 and at most {weighting.MAX_CAP:g} (a multiple of the mean "
                   f"weight); got {raw!r}")
    return cap


@bp.get("/campaigns/<int:campaign_id>/weighted")
def campaign_weighted(campaign_id: int):
    # One community's figures, reweighted: for whoever reads that community's summary.
    scope = read_scope(campaign_id)
    campaign = scope.campaign
    community_id = _integer_arg("community", 0, 1, 2**31 - 1)
    if not community_id:
        abort(400, "community (the id of one of the campaign's communities) is required")
    scope.community_or_404(community_id)
    return jsonify(weighting.community_weighted(campaign, community_id, cap=_cap_arg()))


@bp.route("/campaigns/<int:campaign_id>/communities/<int:community_id>/margins", methods=["PUT", "DELETE"])
def community_margins(campaign_id: int, community_id: int):
    # Margins steer every weighted figure: entered by those who score (admin, evaluator) within
    # their region. The blueprint is CSRF-exempt; requiring a JSON body keeps a cross-site form
    # from sending one (a browser preflights JSON and PUT/DELETE, and no CORS is offered).
    if not current_user.is_authenticated:
        abort(401, "log in with an admin or evaluator account (POST /staff/login) to enter margins")
    if not current_user.role.may_score:
        abort(403, "population margins are entered by admin and evaluator accounts")
    campaign = _campaign_or_404(campaign_id)
    if community_id not in campaign_access(current_user, campaign).community_ids:
        abort(404, f"no community {community_id} in campaign {campaign_id}")
    margins = None
    if request.method == "PUT":
        margins = request.get_json(silent=True) if request.is_json else None
        if not isinstance(margins, dict):
            abort(400, "send a JSON object (Content-Type: application/json): "
                       '{"age_band": {"1": count, …}, "sex": {"m": count, "f": count}}')
    try:
        changed = weighting.save_margins(campaign, community_id, margins)
    except weighting.MarginError as e:
        db.session.rollback()
        abort(400, "；".join(e.messages))
    db.session.commit()
    return jsonify(campaign_id=campaign_id, community_id=community_id, changed=changed,
                   margins=weighting.stored_margins(campaign_id, community_id))


# -- comparisons, reliability, drivers ------------------------------------------------------
# They compare the campaign's communities with one another, so they need every community of the
# campaign in the account's region (evaluators and the district), unless reliability or drivers
# are asked of one community the account reads.


def _flag_arg(name: str, default: bool) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in ("1", "true", "yes", "0", "false", "no"):
        abort(400, f"{name} must be true or false; got {request.args[name]!r}")
    return raw in ("1", "true", "yes")


def _alpha_arg() -> float | None:
    raw = request.args.get("alpha", "")
    if raw == "":
        return None
    try:
        alpha = float(raw)
    except ValueError:
        alpha = -1.0
    if not 0 < alpha <= 0.5:
        abort(400, f"alpha must be a number above 0 and at most 0.5; got {raw!r}")
    return alpha


def _community_arg(scope: ReadScope) -> int | None:
    """The community= a reliability or driver analysis is narrowed to (one the account reads), or
    None for the whole campaign (which needs all of it)."""
    if request.args.get("community", "") == "":
        scope.require_all()
        return None
    community_id = _integer_arg("community", 0, 1, 2**31 - 1)
    _analysis(analyses.check_community, scope.campaign, community_id)
    return scope.community_or_404(community_id)


def _whole_campaign(campaign_id: int) -> Campaign:
    scope = read_scope(campaign_id)
    scope.require_all()
    return scope.campaign


def _analysis(function, *args, **kwargs):
    """Call into app.evaluation.analyses; a question the campaign cannot answer becomes its JSON error."""
    try:
        return function(*args, **kwargs)
    except analyses.AnalysisError as e:
        abort(e.status, e.message)


@bp.get("/campaigns/<int:campaign_id>/items/<item_key>/pairwise")
def item_pairwise(campaign_id: int, item_key: str):
    campaign = _whole_campaign(campaign_id)
    return jsonify(_analysis(
        analyses.pairwise, campaign, item_key, request.args.get("group_by", "community"), request.args.get("test", "rate"),
        alpha=_alpha_arg(), only_significant=_flag_arg("only_significant", True),
        limit=_integer_arg("limit", 1000, 1, analyses.MAX_PAIRS)))


@bp.get("/campaigns/<int:campaign_id>/compare/<int:other_id>")
def compare_campaigns(campaign_id: int, other_id: int):
    campaign, other = _whole_campaign(campaign_id), _whole_campaign(other_id)
    return jsonify(_analysis(analyses.compare_campaigns, campaign, other, request.args.get("group_by") or None))


@bp.get("/campaigns/<int:campaign_id>/reliability")
def campaign_reliability(campaign_id: int):
    scope = read_scope(campaign_id)
    return jsonify(_analysis(analyses.reliability, scope.campaign, _community_arg(scope)))


@bp.get("/campaigns/<int:campaign_id>/drivers")
def campaign_drivers(campaign_id: int):
    scope = read_scope(campaign_id)
    return jsonify(_analysis(analyses.driver_analysis, scope.campaign, _community_arg(scope),
                             request.args.get("performance", "rate")))


@bp.get("/openapi.yaml")
def openapi():
    return Response(OPENAPI.read_text(encoding="utf-8"), mimetype="application/yaml")
