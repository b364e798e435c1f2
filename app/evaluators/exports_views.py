"""The downloads page: a campaign's raw data (Excel, CSV, SPSS), its codebook and its summary tables."""

from __future__ import annotations

from flask import abort, render_template, request

from ..api.exports import community_filter
from . import bp
from .access import read_scope


@bp.get("/campaigns/<int:campaign_id>/exports")
def exports(campaign_id: int):
    scope = read_scope(campaign_id)
    chosen = community_filter(scope, [request.args.get("community", "")], api=False)
    raw_flag = request.args.get("include_excluded", "")
    if raw_flag not in ("", "0", "1"):
        abort(400, "“含已剔除问卷”只能勾选或不勾选。")
    include_excluded = raw_flag == "1" and scope.reads_responses
    if request.args.get("include_flagged", "") not in ("", "0", "1"):
        abort(400, "“汇总表计入可疑问卷”只能勾选或不勾选。")
    include_flagged = request.args.get("include_flagged") == "1"
    communities = sorted(((cc.community_id, cc.community.code, cc.community.name)
                          for cc in scope.campaign.communities if cc.community_id in scope.community_ids),
                         key=lambda c: c[1])
    one = next(iter(chosen)) if len(chosen) == 1 and len(communities) > 1 else None
    args = {"community": one} if one else {}
    return render_template("evaluators/exports.html", campaign=scope.campaign, scope=scope,
                           communities=communities, chosen=one, include_excluded=include_excluded,
                           include_flagged=include_flagged,
                           args=args, summary_args=args | ({"include_flagged": "true"} if include_flagged else {}), raw_args=args | ({"include_excluded": "true"} if include_excluded else {}))
