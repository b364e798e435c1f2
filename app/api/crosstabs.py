"""Cross-tabs (交叉分析) of a campaign: one question by another or by a respondent group, as JSON
and as a file for Excel/WPS. Aggregates: every account that reads the campaign, counted over the
communities of its scope."""

from __future__ import annotations

from flask import Response, abort, jsonify, request

from ..evaluation import crosstabs
from ..evaluation.downloads import attachment_headers
from ..evaluation.ranking_export import as_xlsx
from ..evaluation.spreadsheets import as_csv
from ..evaluators.access import read_scope
from . import bp

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _crosstab(campaign_id: int) -> dict:
    scope = read_scope(campaign_id)
    try:
        return crosstabs.campaign_crosstab(
            scope.campaign, request.args.get("row"), request.args.get("col"), scope.community_ids,
            include_excluded=crosstabs.parse_flag(request.args.get("include_excluded"), "include_excluded", False),
            include_flagged=crosstabs.parse_flag(request.args.get("include_flagged"), "include_flagged", False),
            drop_dont_know=crosstabs.parse_flag(request.args.get("drop_dont_know"), "drop_dont_know", True),
            covers_all=scope.covers_all)
    except crosstabs.CrosstabError as e:
        abort(400, e.message)


@bp.get("/campaigns/<int:campaign_id>/crosstab")
def campaign_crosstab(campaign_id: int):
    return jsonify(_crosstab(campaign_id))


@bp.get("/campaigns/<int:campaign_id>/crosstab.<kind>")
def campaign_crosstab_file(campaign_id: int, kind: str):
    """The same cross-tab as a file: counts and the three percentage tables; the test, notes and
    filter below them (CSV) or on a 说明 sheet (XLSX)."""
    if kind not in ("csv", "xlsx"):
        abort(404, f"a cross-tab downloads as crosstab.csv or crosstab.xlsx, not crosstab.{kind}")
    result = _crosstab(campaign_id)
    header, rows = crosstabs.crosstab_rows(result)
    method = crosstabs.method_lines(result)
    if kind == "csv":
        body, mimetype = as_csv(header, rows + [[]] + method), "text/csv; charset=utf-8"
    else:
        body, mimetype = as_xlsx(header, rows, method, title="交叉表"), XLSX
    name = f"{result['campaign']}-交叉表-{result['filter']['row']}-{result['filter']['col']}.{kind}"
    return Response(body, mimetype=mimetype, headers=attachment_headers(name))
