"""The cross-tab page (交叉分析): a question by another question or by a respondent group."""

from __future__ import annotations

from flask import render_template, request

from ..evaluation import crosstabs
from ..evaluation.analyses import OVERALL_TAG
from . import bp
from .access import read_scope

PERCENT_CHOICES = {"row": "行", "column": "列", "total": "总"}


@bp.get("/campaigns/<int:campaign_id>/crosstab")
def crosstab(campaign_id: int):
    scope = read_scope(campaign_id)
    campaign = scope.campaign
    items = [i for i in campaign.survey_version.survey_definition.items if i.type in crosstabs.CROSSABLE_TYPES]
    groupings = [(key, f"按{title}") for key, title in crosstabs.GROUP_TITLES.items()]
    groupings += [(f"item:{i.key}", f"按“{i.text}”的回答") for i in items if i.type == "single"]
    args = request.args
    # Opening the page: the overall question by street (by channel within one street), each street's
    # answers as column percentages: the first comparison an evaluator makes.
    likert = [i for i in items if i.type == "likert"]
    overall = next((i.key for i in likert if OVERALL_TAG in i.tags), likert[0].key if likert else None)
    row = args.get("row") or overall or (items[0].key if items else "")
    streets = {cc.community.parent_id for cc in campaign.communities if cc.community_id in scope.community_ids}
    col = args.get("col") or ("street" if len(streets) > 1 else "channel")
    percent = args.get("pct") or ("column" if not args.get("col") else "row")
    result, error = None, None
    try:
        if percent not in PERCENT_CHOICES:
            raise crosstabs.CrosstabError("pct", "百分比只能按行、按列或按总数算。")
        result = crosstabs.campaign_crosstab(
            campaign, row, col, scope.community_ids,
            include_excluded=crosstabs.parse_flag(args.get("include_excluded"), "include_excluded", False),
            include_flagged=crosstabs.parse_flag(args.get("include_flagged"), "include_flagged", False),
            drop_dont_know=crosstabs.parse_flag(args.get("drop_dont_know"), "drop_dont_know", True),
            covers_all=scope.covers_all)
    except crosstabs.CrosstabError as e:
        error = e.chinese
    query = {k: v for k, v in args.items() if k in ("include_excluded", "include_flagged", "drop_dont_know")} | {"row": row, "col": col}
    return render_template("evaluators/crosstab.html", campaign=campaign, scope=scope, items=items, groupings=groupings,
                           row=row, col=col, percent=percent, percent_choices=PERCENT_CHOICES, result=result,
                           error=error, query=query, args=args), 400 if error else 200
