"""The downloads page: a campaign's raw data (Excel, CSV, SPSS), its codebook and its summary tables."""

from __future__ import annotations

from flask import abort, render_template, request

from ..api.exports import community_filter
from . import bp
from .access import read_scope

#: A ticked box comes as 1 (the form) or true (a link); unticked as nothing, 0 or false.
_TICKED, _UNTICKED = ("1", "true"), ("", "0", "false")


def _ticked(name: str, words: str) -> bool:
    value = request.args.get(name, "").strip().lower()
    if value not in _TICKED + _UNTICKED:
        abort(400, f"“{words}”只能勾选或不勾选。")
    return value in _TICKED


@bp.get("/campaigns/<int:campaign_id>/exports")
def exports(campaign_id: int):
    scope = read_scope(campaign_id)
    chosen = community_filter(scope, [request.args.get("community", "")], api=False)
    include_excluded = _ticked("include_excluded", "含已剔除问卷") and scope.reads_responses
    include_flagged = _ticked("include_flagged", "汇总表计入可疑问卷")
    communities = sorted(((cc.community_id, cc.community.code, cc.community.name)
                          for cc in scope.campaign.communities if cc.community_id in scope.community_ids),
                         key=lambda c: c[1])
    one = next(iter(chosen)) if len(chosen) == 1 and len(communities) > 1 else None
    args = {"community": one} if one else {}
    return render_template("evaluators/exports.html", campaign=scope.campaign, scope=scope,
                           communities=communities, chosen=one, include_excluded=include_excluded,
                           include_flagged=include_flagged, args=args,
                           summary_args=args | ({"include_flagged": "true"} if include_flagged else {}),
                           raw_args=args | ({"include_excluded": "true"} if include_excluded else {}))
