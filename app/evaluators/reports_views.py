"""The PDF reports for the 档案: one per campaign, one per community (pages; the API serves the same files)."""

from __future__ import annotations

from flask import Response, abort, current_app, request
from flask_login import current_user

from ..evaluation import reports
from ..evaluation import scores as scoring
from ..evaluation.downloads import attachment_headers
from . import bp
from .access import ReadScope, read_scope


def _schemes(scope: ReadScope):
    """The schemes whose scores the account may see in a report, or None: scores and the ranking are for
    admin and evaluator accounts that see every community of the campaign."""
    if not (current_user.role.may_score and scope.covers_all):
        return None
    return scoring.schemes_for(scope.campaign, current_app.config["SURVEYS_DIR"])


def _include_flagged() -> bool:
    """Flagged responses are out of a report unless asked for, as on the dashboard: include_flagged is
    "", "0", "1", "true" or "false" (any case); anything else is a 400."""
    raw = request.args.get("include_flagged", "").lower()
    if raw not in ("", "0", "1", "true", "false"):
        abort(400, f"include_flagged must be true or false; got {request.args['include_flagged']!r}"
              if request.path.startswith("/api/") else "网址里“是否计入可疑问卷”的选项不对，只能是 0 或 1。")
    return raw in ("1", "true")


def _pdf(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/pdf", headers=attachment_headers(filename, inline=True))


def campaign_report_response(campaign_id: int) -> Response:
    scope = read_scope(campaign_id)
    scope.require_all()  # the report compares every community
    data = reports.campaign_report(scope.campaign, author=current_user.display_name,
                                   reads_responses=scope.reads_responses, schemes=_schemes(scope),
                                   include_flagged=_include_flagged())
    return _pdf(data, f"{scope.campaign.name}-测评报告.pdf")


def community_report_response(campaign_id: int, community_id: int) -> Response:
    scope = read_scope(campaign_id)
    scope.community_or_404(community_id)
    # What the account reads decides what the report compares and says (app.evaluation.reports knows no logins).
    data = reports.community_report(scope.campaign, community_id, author=current_user.display_name,
                                    community_ids=scope.community_ids, covers_all=scope.covers_all,
                                    reads_responses=scope.reads_responses, schemes=_schemes(scope),
                                    include_flagged=_include_flagged())
    name = reports.community_name(community_id)
    return _pdf(data, f"{scope.campaign.name}-{name}-测评报告.pdf")


@bp.get("/campaigns/<int:campaign_id>/report.pdf")
def campaign_report(campaign_id: int):
    return campaign_report_response(campaign_id)


@bp.get("/campaigns/<int:campaign_id>/communities/<int:community_id>/report.pdf")
def community_report(campaign_id: int, community_id: int):
    return community_report_response(campaign_id, community_id)
