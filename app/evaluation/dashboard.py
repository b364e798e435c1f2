"""A campaign's dashboard at one level of the regions tree, ready for JSON and for the page.

District (the whole campaign) → street → community → its evaluation points and channels. Every
figure comes from the same functions as the summary API (summary.py, queries.py) with the same
response filter, and carries its trace: the n it rests on, the filter, and the formula in words.

By default the dashboard counts neither excluded nor flagged responses; both can be let in. The
caller decides which communities the account may read (``scope``) and whether it may see scores.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import Campaign, CampaignCommunity, Channel, Region, Response, Site
from . import analyses, queries, weighting
from .summary import campaign_summary

#: How many communities of a level the "weakest" list names.
WEAKEST = 5


class DashboardError(ValueError):
    """A drill-down the campaign or the account's scope does not hold (answered 404), or a bad item (400)."""

    def __init__(self, status: int, message: str, message_en: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        #: The same for the API, whose messages are in English.
        self.message_en = message_en or message


@dataclass(frozen=True)
class Drill:
    """Where the dashboard stands: the whole campaign, one street or one community."""

    level: str  # "campaign" | "street" | "community"
    street: Region | None = None
    community: Region | None = None


def _percent(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


#: What the share of top answers is called, by the kind of scale (a scale's key starts with it).
RATE_NAMES = {"satisfaction": "满意率", "agreement": "认同率", "awareness": "知晓率", "participation": "参与率",
              "need": "需要的比例"}


def rate_name(scale) -> str:
    """满意率 for a satisfaction scale; 知晓率 for "do you know about it?", and so on."""
    return next((name for prefix, name in RATE_NAMES.items() if scale.key.startswith(prefix)), "满意率")


def _rate_formula(scale) -> str:
    satisfied = "“" + "”“".join(lv.label for lv in scale.levels if lv.code in scale.satisfied) + "”"
    off = "、".join(f"“{c.label}”" for c in scale.off_scale)
    leaving = f"，不含选{off}的人" if off else ""
    return f"{rate_name(scale)} = 选{satisfied}的人数 ÷ 回答此题的人数{leaving}"


def _interval_words(confidence: float) -> str:
    return f"范围是 {round(100 * confidence)}% 把握的 Wilson 区间（问卷抽样带来的不确定性）"


def member_regions(campaign_id: int, community_ids: Collection[int]) -> list[sa.Row]:
    """(id, code, name, target, street id, street code, street name) of the campaign's communities in scope, by code."""
    community, street = Region.__table__.alias("community"), Region.__table__.alias("street")
    members = CampaignCommunity.__table__
    return db.session.execute(
        sa.select(community.c.id, community.c.code, community.c.name, members.c.target_sample,
                  street.c.id, street.c.code, street.c.name)
        .join(members, members.c.community_id == community.c.id)
        .join(street, street.c.id == community.c.parent_id)
        .where(members.c.campaign_id == campaign_id, community.c.id.in_(sorted(community_ids)))
        .order_by(community.c.code)).all()


def response_statuses(campaign_id: int, community_ids: Collection[int], by: str = "community") -> dict:
    """{group: (all, excluded, flagged but not excluded)} of the responses, by community, channel or site."""
    responses = Response.__table__
    group = {"community": responses.c.community_id, "channel": responses.c.channel,
             "site": responses.c.site_id}[by]
    rows = db.session.execute(
        sa.select(group, sa.func.count(),
                  sa.func.count().filter(responses.c.exclusion_reason.is_not(None)),
                  sa.func.count().filter(responses.c.exclusion_reason.is_(None), responses.c.quality_flags != 0))
        .where(responses.c.campaign_id == campaign_id, responses.c.community_id.in_(sorted(community_ids)))
        .group_by(group)).all()
    return {g: (int(n), int(excluded), int(flagged)) for g, n, excluded, flagged in rows}


def _in_figures(n: int, excluded: int, flagged: int, which: queries.ResponseFilter) -> int:
    return n - (0 if which.include_excluded else excluded) - (0 if which.include_flagged else flagged)


def _filter_words(which: queries.ResponseFilter, path: list[dict]) -> str:
    where = " · ".join(p["name"] for p in path)
    left_out = [label for label, out in (("已剔除的问卷", not which.include_excluded),
                                         ("可疑问卷（有质量标记）", not which.include_flagged)) if out]
    return f"{where}；" + ("不计" + "和".join(left_out) if left_out else "计入全部问卷，含已剔除和可疑问卷")


def _count_row(key, name: str, statuses: tuple[int, int, int], target: int | None,
               which: queries.ResponseFilter, filter_words: str, **extra) -> dict:
    n, excluded, flagged = statuses
    counted = _in_figures(n, excluded, flagged, which)
    share = counted / target if target else None
    return {"key": key, "name": name, "responses": n, "excluded": excluded, "flagged": flagged,
            "in_figures": counted, "target": target, "share_of_target": share,
            "trace": {"n": counted, "filter": filter_words,
                      "formula": "计入的问卷 = 收到的问卷" + ("" if which.include_excluded else " − 已剔除")
                                 + ("" if which.include_flagged else " − 可疑")
                                 + ("；完成率 = 计入的问卷 ÷ 目标份数" if target else "")},
            **extra}


def _rate_figure(group: dict, scale, confidence: float, filter_words: str) -> dict:
    return {"rate": group["satisfaction_rate"], "interval": group["rate_interval"], "n_valid": group["n_valid"],
            "index": group["satisfaction_index"], "respondents": group["respondents"],
            "trace": {"n": group["n_valid"], "filter": filter_words,
                      "formula": f"{_rate_formula(scale)}；{_interval_words(confidence)}"}}


def _choice_distributions(campaign: Campaign, items: list, which: queries.ResponseFilter, filter_words: str,
                          likert_overall: dict) -> list[dict]:
    """Every item's distribution at this level, in questionnaire order: scale items from the summary,
    choices counted here, numbers summarised, free text counted (the words are on the open-answers page)."""
    choice_keys = [i.key for i in items if i.type in ("single", "multiple")]
    counts: dict[tuple[str, str], int] = {}
    for _, item, value, n in queries.answer_counts(campaign.id, choice_keys, "campaign", which):
        counts[(item, value)] = int(n)
    answered = answered_counts(campaign.id, [i.key for i in items if i.type != "likert"], which)
    numbers = number_summaries(campaign.id, [i.key for i in items if i.type == "number"], which)
    out = []
    for item in items:
        base = {"key": item.key, "text": item.text, "type": item.type}
        if item.type == "likert" and item.key in likert_overall:
            group = likert_overall[item.key]
            n = group["n_valid"] + group["off_scale"]
            labels = {c.code: c.label for c in item.scale.choices}
            options = [{"code": d["code"], "label": labels[d["code"]], "count": d["count"]}
                       for d in group["distribution"]]
            options += [{"code": code, "label": labels.get(code, code), "count": count}
                        for code, count in group["off_scale_counts"].items()]
            out.append(base | {"n": n, "levels": len(group["distribution"]),
                               "options": _shares(options, n, filter_words, "回答此题的人数")})
        elif item.type in ("single", "multiple"):
            n = answered.get(item.key, 0)
            known = [c.code for c in item.options]
            options = [{"code": c.code, "label": c.label, "count": counts.get((item.key, c.code), 0)}
                       for c in item.options]
            options += [{"code": code, "label": code, "count": count}
                        for (key, code), count in sorted(counts.items()) if key == item.key and code not in known]
            denominator = "回答此题的人数" + ("（可多选，合计会超过 100%）" if item.type == "multiple" else "")
            out.append(base | {"n": n, "options": _shares(options, n, filter_words, denominator)})
        elif item.type == "number":
            out.append(base | {"n": answered.get(item.key, 0), "unit": item.unit, **numbers.get(item.key, {}),
                               "trace": {"n": answered.get(item.key, 0), "filter": filter_words,
                                         "formula": "平均数 = 所填数字之和 ÷ 填写此题的人数"}})
        else:
            out.append(base | {"n": answered.get(item.key, 0),
                               "trace": {"n": answered.get(item.key, 0), "filter": filter_words,
                                         "formula": "填写了文字的人数"}})
    return out


def _shares(options: list[dict], n: int, filter_words: str, denominator: str) -> list[dict]:
    for option in options:
        option["share"] = option["count"] / n if n else None
        option["trace"] = {"n": n, "filter": filter_words,
                           "formula": f"占比 = 选“{option['label']}”的人数（{option['count']}）÷ {denominator}（{n}）"}
    return options


def answered_counts(campaign_id: int, items: list[str], which: queries.ResponseFilter) -> dict[str, int]:
    """{item: responses that answered it} (a multiple-choice answer is one row per ticked option)."""
    if not items:
        return {}
    answers, responses = queries.answers, queries.responses
    rows = db.session.execute(
        sa.select(answers.c.item, sa.func.count(sa.distinct(answers.c.response_id)))
        .select_from(answers.join(responses, responses.c.id == answers.c.response_id))
        .where(answers.c.campaign_id == campaign_id, answers.c.item.in_(items), *which.on(answers, responses))
        .group_by(answers.c.item)).all()
    return {item: int(n) for item, n in rows}


def number_summaries(campaign_id: int, items: list[str], which: queries.ResponseFilter) -> dict[str, dict]:
    if not items:
        return {}
    answers, responses = queries.answers, queries.responses
    rows = db.session.execute(
        sa.select(answers.c.item, sa.func.avg(answers.c.number), sa.func.min(answers.c.number),
                  sa.func.max(answers.c.number))
        .select_from(answers.join(responses, responses.c.id == answers.c.response_id))
        .where(answers.c.campaign_id == campaign_id, answers.c.item.in_(items), *which.on(answers, responses))
        .group_by(answers.c.item)).all()
    return {item: {"mean": None if mean is None else float(mean), "min": low, "max": high}
            for item, mean, low, high in rows}


def locate(campaign: Campaign, scope: Collection[int], street_id: int | None, community_id: int | None) -> Drill:
    """The drill-down the request names, within the account's scope; DashboardError(404) otherwise."""
    if community_id is not None:
        community = db.session.get(Region, community_id) if 0 < community_id < 2**31 else None
        if community is None or community_id not in scope:
            raise DashboardError(404, "这个社区不在本次测评里，或不在您的管辖范围内。",
                                 f"no community {community_id} in campaign {campaign.id} within your region")
        return Drill("community", community.parent, community)
    if street_id is not None:
        street = db.session.get(Region, street_id) if 0 < street_id < 2**31 else None
        mine = street is not None and any(r[4] == street_id for r in member_regions(campaign.id, scope))
        if not mine:
            raise DashboardError(404, "这个街道不在本次测评里，或不在您的管辖范围内。",
                                 f"no street {street_id} with communities of campaign {campaign.id} within your region")
        return Drill("street", street)
    return Drill("campaign")


def campaign_dashboard(campaign: Campaign, scope: Collection[int], drill: Drill, *, item_key: str | None = None,
                       include_flagged: bool = False, include_excluded: bool = False) -> dict:
    """The dashboard of ``drill`` within ``scope`` (the community ids the account reads)."""
    definition = campaign.survey_version.survey_definition
    likert = [i for i in definition.items if i.type == "likert" and i.scale is not None]
    members = member_regions(campaign.id, scope)
    if drill.level == "community":
        here = [r for r in members if r[0] == drill.community.id]
    elif drill.level == "street":
        here = [r for r in members if r[4] == drill.street.id]
    else:
        here = members
    ids = frozenset(r[0] for r in here)
    which = queries.ResponseFilter(ids, include_flagged, include_excluded)
    path = [{"level": "campaign", "id": campaign.id, "name": campaign.name}]
    if drill.street is not None:
        path.append({"level": "street", "id": drill.street.id, "name": drill.street.name})
    if drill.community is not None:
        path.append({"level": "community", "id": drill.community.id, "name": drill.community.name})
    words = _filter_words(which, path)

    chosen = _chosen_item(likert, item_key)
    overall = campaign_summary(campaign, "campaign", which) if ids else None
    overall_items = {i["key"]: i["groups"][0] for i in overall["items"]} if overall else {}
    by_community = campaign_summary(campaign, "community", which) if ids and drill.level != "community" else None

    result = {
        "campaign_id": campaign.id, "campaign": campaign.name, "level": drill.level, "path": path,
        "filter": {"community_ids": sorted(ids), "include_flagged": include_flagged,
                   "include_excluded": include_excluded, "words": words},
        "confidence": campaign.confidence,
        "random_sample_note": "只有随机发放的问卷票是对居民的随机抽样；扫码、坝坝会、纸质和导入的问卷不是，"
                              "它们的范围只说明答题的这些人，不代表整个社区。",
        "counts": _counts(campaign, drill, here, which, words),
        "items": _choice_distributions(campaign, definition.items, which, words, overall_items),
        "rate_items": [{"key": i.key, "text": i.text, "rate_name": rate_name(i.scale)} for i in likert],
        "rates": None, "weakest": [], "gaps": [], "weighted": None,
    }
    if chosen is not None and overall_items:
        figure = _rate_figure(overall_items[chosen.key], chosen.scale, campaign.confidence, words)
        result["rates"] = {"item": {"key": chosen.key, "text": chosen.text, "rate_name": rate_name(chosen.scale)},
                           "overall": figure,
                           "groups": _rate_groups(campaign, drill, chosen, which, by_community, here)}
        result["weakest"] = _weakest(result["rates"]["groups"]) if drill.level != "community" else []
    if drill.level == "community" and ids:
        # Against the other communities the account reads (none to compare with when it reads this one only).
        result["gaps"] = _gaps(campaign, likert, overall_items, scope, include_flagged, include_excluded) \
            if len(scope) > 1 else []
        result["weighted"] = _weighted(campaign, drill.community.id)
    return result


def _chosen_item(likert: list, item_key: str | None):
    if item_key:
        chosen = next((i for i in likert if i.key == item_key), None)
        if chosen is None:
            raise DashboardError(400, "没有这道满意度题。", f"item must be the key of a scale question; got {item_key!r}")
        return chosen
    overall = [i for i in likert if analyses.OVERALL_TAG in i.tags]
    return overall[0] if overall else (likert[0] if likert else None)


def _counts(campaign: Campaign, drill: Drill, here: list, which: queries.ResponseFilter, words: str) -> dict:
    ids = [r[0] for r in here]
    by_community = response_statuses(campaign.id, ids)
    rows: list[dict] = []
    if drill.level == "community":
        for channel, statuses in sorted(response_statuses(campaign.id, ids, "channel").items(),
                                        key=lambda kv: list(Channel).index(Channel(kv[0]))):
            rows.append(_count_row(Channel(channel).value, Channel(channel).label, statuses, None, which, words,
                                   level="channel"))
        sites = response_statuses(campaign.id, ids, "site")
        names = dict(db.session.execute(sa.select(Site.id, Site.name).where(Site.community_id.in_(ids))).all())
        site_rows = [_count_row(site_id, names[site_id], sites.get(site_id, (0, 0, 0)), None, which, words,
                                level="site") for site_id in sorted(names)]
    else:
        site_rows = []
        streets: dict[int, list] = {}
        for r in here:
            streets.setdefault(r[4], []).append(r)
        if drill.level == "campaign" and len(streets) > 1:
            for street_id, communities in streets.items():
                statuses = tuple(map(sum, zip(*(by_community.get(r[0], (0, 0, 0)) for r in communities))))
                targets = [r[3] for r in communities]
                target = sum(targets) if all(t is not None for t in targets) else None
                rows.append(_count_row(street_id, communities[0][6], statuses, target, which, words,
                                       level="street", code=communities[0][5], communities=len(communities)))
        else:
            rows = [_count_row(r[0], r[2], by_community.get(r[0], (0, 0, 0)), r[3], which, words,
                               level="community", code=r[1]) for r in here]
    totals = tuple(map(sum, zip(*by_community.values()))) if by_community else (0, 0, 0)
    targets = [r[3] for r in here]
    target = sum(targets) if targets and all(t is not None for t in targets) else None
    return {"total": _count_row("total", "合计", totals, target, which, words), "rows": rows, "sites": site_rows,
            "below_target": sum(1 for r in here if r[3] and _in_figures(*by_community.get(r[0], (0, 0, 0)), which)
                                < r[3])}


def _rate_groups(campaign: Campaign, drill: Drill, item, which: queries.ResponseFilter, by_community: dict | None,
                 here: list) -> list[dict]:
    """The chosen item's rate community by community (by channel within a community)."""
    if drill.level == "community":
        summary = campaign_summary(campaign, "channel", which)
        level = "channel"
    else:
        summary, level = by_community, "community"
    groups = next(i["groups"] for i in summary["items"] if i["key"] == item.key)
    codes = {r[0]: r[1] for r in here}
    out = []
    for group in groups:
        words = _filter_words(which, [{"name": campaign.name}, {"name": group["name"]}])
        figure = _rate_figure(group, item.scale, campaign.confidence, words)
        out.append({"key": group["key"], "name": group["name"], "level": level, "code": codes.get(group["key"]),
                    "target": group.get("target"), **figure})
    return out


def _weakest(groups: list[dict]) -> list[dict]:
    """The communities surely lowest on the chosen item: ordered by the upper end of their range, so a
    community of a few residents who happened to answer alike does not come first by chance."""
    rated = [g for g in groups if g["rate"] is not None and g["interval"] is not None]
    return sorted(rated, key=lambda g: (g["interval"]["high"], g["rate"], g["name"]))[:WEAKEST]


def _gaps(campaign: Campaign, likert: list, here: dict, scope: Collection[int], include_flagged: bool,
          include_excluded: bool) -> list[dict]:
    """Why a community stands where it does: each scale item's rate here against the rest of the
    campaign (in scope), the largest shortfall first."""
    # The yardstick is every community the account reads, this one included.
    everywhere = campaign_summary(campaign, "campaign",
                                  queries.ResponseFilter(frozenset(scope), include_flagged, include_excluded))
    all_items = {i["key"]: i["groups"][0] for i in everywhere["items"]}
    gaps = []
    for item in likert:
        mine, theirs = here.get(item.key), all_items.get(item.key)
        if not mine or mine["satisfaction_rate"] is None or not theirs or theirs["satisfaction_rate"] is None:
            continue
        gaps.append({"key": item.key, "text": item.text, "rate_name": rate_name(item.scale),
                     "rate": mine["satisfaction_rate"],
                     "interval": mine["rate_interval"], "n_valid": mine["n_valid"],
                     "campaign_rate": theirs["satisfaction_rate"], "campaign_n_valid": theirs["n_valid"],
                     "gap": mine["satisfaction_rate"] - theirs["satisfaction_rate"],
                     "trace": {"n": mine["n_valid"], "filter": "本社区，与您能看到的全部社区相比",
                               "formula": f"差距 = 本社区{rate_name(item.scale)}（{_percent(mine['satisfaction_rate'])}）− "
                                          f"全部社区的（{_percent(theirs['satisfaction_rate'])}）；"
                                          + _rate_formula(item.scale)}})
    return sorted(gaps, key=lambda g: g["gap"])


def _weighted(campaign: Campaign, community_id: int) -> dict | None:
    """Weighted and unweighted figures side by side, where the community has population margins."""
    if not weighting.stored_margins(campaign.id, community_id):
        return None
    return weighting.community_weighted(campaign, community_id)


def add_drivers(result: dict, campaign: Campaign, drill: Drill, covers_all: bool) -> None:
    """The importance–performance quadrant: of the community at a community's level, else of the
    whole campaign (which compares every community, so only for an account that reads them all)."""
    community_id = drill.community.id if drill.level == "community" else None
    if community_id is None and not covers_all:
        result["drivers"] = None
        return
    try:
        drivers = analyses.driver_analysis(campaign, community_id)
    except analyses.AnalysisError as e:
        result["drivers"] = {"error": e.message}
        return
    drivers["scope"] = drill.community.name if community_id else campaign.name
    drivers["trace"] = {"n": drivers["overall"]["n_valid"],
                        "filter": f"{drivers['scope']}；不计已剔除的问卷和可疑问卷",
                        "formula": "重要性 = 这道题的评分与总体满意度评分的斯皮尔曼相关系数；表现 = 这道题的满意率；"
                                   "四个区域按各题重要性和表现的中位数划分"}
    result["drivers"] = drivers


def add_ranking(result: dict, scores: dict | None) -> None:
    """The ranking with rank intervals and the scheme's indicator table, from the scores API's figures
    (``scores``: scores.campaign_scores, given only to accounts that may read scores)."""
    if scores is None:
        result["ranking"] = None
        return
    here = set(result["filter"]["community_ids"])
    communities = [c for c in scores["communities"] if c["id"] in here]
    result["ranking"] = {
        "scheme": scores["scheme"], "score_unit": scores["score_unit"], "replicates": scores["replicates"],
        "seed": scores["seed"], "confidence": scores["confidence"], "ranked": scores["ranked"],
        "locked_at": scores["locked_at"],
        "communities": [{key: c[key] for key in ("id", "code", "name", "respondents", "score", "score_interval",
                                                 "interval_note", "rank", "rank_interval", "not_told_apart_from",
                                                 "max_points", "unscorable")}
                        | {"indicators": c["indicators"] if result["level"] == "community" else None,
                           "trace": {"n": c["respondents"], "filter": f"{c['name']}；按评分方案的计分规则，不计已剔除的问卷和可疑问卷",
                                     "formula": f"总分 = 各项指标得分之和；范围按居民重抽 {scores['replicates']} 次"
                                                f"（{round(100 * scores['confidence'])}% 把握）；排名范围是重抽中排名的范围"}}
                        for c in communities],
    }
