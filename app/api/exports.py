"""A campaign's raw responses (JSON, CSV, XLSX, SPSS) with their codebook, and its summary tables
(XLSX), for logged-in staff within their read scope (app/evaluators/access.py)."""

from __future__ import annotations

from flask import Response, abort, jsonify, request

from ..evaluation import exports
from ..evaluation.downloads import attachment_headers
from ..evaluation.queries import ResponseFilter
from ..evaluation.summary import RANDOM_SAMPLE_NOTE, campaign_summary
from ..evaluators.access import ReadScope, read_scope
from ..models.types import utcnow
from . import bp

#: Rows of one page of GET …/responses.
DEFAULT_PER_PAGE, MAX_PER_PAGE = 1000, 10000

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sav": "application/x-spss-sav",
}

EXCLUDED_NOTE = ("Excluded responses (an evaluator left them out of the statistics, with a reason) are not in the "
                 "rows unless include_excluded=true; then their 'excluded' column is 1.")


def community_filter(scope: ReadScope, raw: list[str], api: bool = True) -> frozenset[int]:
    """The communities asked for (``community`` repeated or comma-separated ids), all in scope;
    none asked for: every community the account may read."""
    wanted = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    if not wanted:
        return scope.community_ids
    ids = set()
    for part in wanted:
        if not (part.isascii() and part.isdigit()) or not 0 < int(part) < 2**31:
            abort(400, f"community must be the id of one of the campaign's communities; got {part!r}" if api
                  else "社区选得不对，请从列表里选。")
        ids.add(scope.community_or_404(int(part)))
    return frozenset(ids)


def flag(name: str, raw: str | None) -> bool:
    """A yes/no query parameter, read as the other API parameters are: "", "0" or "false" (no,
    the default), "1" or "true" (yes), in any case; anything else is a 400."""
    value = (raw or "").strip().lower()
    if value in ("", "0", "false"):
        return False
    if value in ("1", "true"):
        return True
    abort(400, f"{name} must be true or false (or 1 or 0); got {raw!r}")


def _whole_number(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        abort(400, f"{name} must be a whole number from {low} to {high}; got {raw!r}")
    return int(raw)


def file_name(campaign, community_ids: frozenset[int], what: str, kind: str) -> str:
    """A Chinese file name: the campaign, the community when only one, what the file is (made safe
    for a file system by attachment_headers)."""
    parts = [campaign.name]
    if len(community_ids) == 1 and len(campaign.communities) > 1:
        (only,) = community_ids
        parts += [cc.community.name for cc in campaign.communities if cc.community_id == only]
    return "-".join(parts + [what]) + f".{kind}"


def attachment(body: bytes, kind: str, name: str) -> Response:
    return Response(body, mimetype=MIMETYPES[kind], headers=attachment_headers(name))


def _raw_request(campaign_id: int):
    scope = read_scope(campaign_id)
    scope.require_responses()
    community_ids = community_filter(scope, request.args.getlist("community"))
    return scope, community_ids, flag("include_excluded", request.args.get("include_excluded"))


@bp.get("/campaigns/<int:campaign_id>/responses")
def campaign_responses(campaign_id: int):
    scope, community_ids, include_excluded = _raw_request(campaign_id)
    per_page = _whole_number("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = _whole_number("page", 1, 1, 2**31 - 1)
    data = exports.raw_responses(scope.campaign, community_ids, include_excluded,
                                 offset=(page - 1) * per_page, limit=per_page)
    return jsonify(campaign_id=scope.campaign.id, campaign=scope.campaign.name,
                   communities=sorted(community_ids), include_excluded=include_excluded,
                   excluded=data.excluded, excluded_note=EXCLUDED_NOTE, total=data.total, page=page,
                   per_page=per_page, pages=-(-data.total // per_page),
                   columns=[v.name for v in data.variables], rows=data.records(),
                   codebook=[v.to_dict() for v in data.variables], random_sample_note=RANDOM_SAMPLE_NOTE,
                   timezone="submitted_at is China Standard Time (Asia/Shanghai, +08:00)")


@bp.get("/campaigns/<int:campaign_id>/responses.<kind>")
def campaign_responses_file(campaign_id: int, kind: str):
    if kind not in MIMETYPES:
        abort(404, f"no file type {kind!r}; responses come as .csv, .xlsx or .sav")
    scope, community_ids, include_excluded = _raw_request(campaign_id)
    data = exports.raw_responses(scope.campaign, community_ids, include_excluded)
    if kind == "csv":
        body = exports.raw_csv(data)
    elif kind == "xlsx":
        body = exports.raw_xlsx(data, utcnow())
    else:
        body = exports.raw_sav(data)
    what = "原始数据（含已剔除）" if include_excluded else "原始数据"
    return attachment(body, kind, file_name(scope.campaign, community_ids, what, kind))


@bp.get("/campaigns/<int:campaign_id>/codebook")
def campaign_codebook(campaign_id: int):
    # The questionnaire's columns and codes: no answers, so for everyone in scope.
    scope = read_scope(campaign_id)
    return jsonify(campaign_id=scope.campaign.id, campaign=scope.campaign.name,
                   codebook=[v.to_dict() for v in exports.codebook(scope.campaign)])


@bp.get("/campaigns/<int:campaign_id>/codebook.csv")
def campaign_codebook_file(campaign_id: int):
    scope = read_scope(campaign_id)
    return attachment(exports.codebook_csv(exports.codebook(scope.campaign)), "csv",
                      file_name(scope.campaign, frozenset(), "编码表", "csv"))


@bp.get("/campaigns/<int:campaign_id>/summary.xlsx")
def campaign_summary_file(campaign_id: int):
    # Aggregates: for everyone in scope, restricted to the communities they may read.
    scope = read_scope(campaign_id)
    community_ids = community_filter(scope, request.args.getlist("community"))
    if flag("include_excluded", request.args.get("include_excluded")):
        abort(400, "summary tables always leave excluded responses out (as the summary API does); "
                   "drop include_excluded")
    # Only the communities asked for are counted (not the whole campaign, then cut); flagged
    # responses are left out unless asked for, as on the dashboard.
    campaign = scope.campaign
    everyone = {cc.community_id for cc in campaign.communities}
    which = ResponseFilter(community_ids=None if community_ids >= everyone else community_ids,
                           include_flagged=flag("include_flagged", request.args.get("include_flagged")))
    summary = campaign_summary(campaign, "community", which)
    # The 全部社区 row is the whole campaign's: only when every community is asked for and readable.
    total = campaign_summary(campaign, "campaign", which) if community_ids >= everyone else None
    now = utcnow()
    body = exports.summary_xlsx(exports.summary_tables(summary, community_ids, total),
                                exports.summary_notes(campaign, summary, community_ids, now, which.include_flagged))
    return attachment(body, "xlsx", file_name(campaign, community_ids, "汇总表", "xlsx"))
