"""Comparisons, reliability and drivers of a campaign's scale items, ready for JSON.

- pairwise: every pair of groups on one item (rate or rank test), Holm-adjusted;
- compare_campaigns: two waves, the change in each shared item's satisfaction rate;
- reliability: Cronbach's alpha and item–total correlations of each block of items;
- driver_analysis: each item's Spearman correlation with overall satisfaction against its
  performance, placed in importance–performance quadrants.

The comparisons read the answer tallies (queries.answer_counts). Reliability and drivers need
each respondent's scores together, which the database pivots into one row per counted response
(``item_levels``); app.analysis computes. Questions this module cannot answer for a campaign
raise AnalysisError with the HTTP status the API gives them.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from ..analysis.comparisons import PairwiseTable, compare_waves, pairwise_mann_whitney_table, pairwise_rate_table
from ..analysis.items import count_table
from ..analysis.reliability import cronbach_alpha, drivers, item_total_correlations, spearman
from ..analysis.scales import ScaleScoring
from ..definitions import Item, SurveyDefinition
from ..extensions import db
from ..models import Answer, Campaign, CampaignCommunity, Channel, Region, Response
from . import queries
from .summary import RANDOM_SAMPLE_NOTE, scale_scoring

answers = Answer.__table__
responses = Response.__table__

#: The tag of the overall-satisfaction item drivers are measured against (surveys/README.md).
OVERALL_TAG = "overall:satisfaction"
#: The groups pairwise tests and waves compare (a subset of queries.GROUPINGS).
GROUPINGS = ("community", "street", "district", "channel")
#: Pairwise tests: the pairs one request returns at most (742 communities make 274,911 pairs).
MAX_PAIRS = 10_000
TESTS = ("rate", "rank")
PERFORMANCE_MEASURES = ("rate", "index")


class AnalysisError(Exception):
    """A question the campaign cannot answer as asked, with the HTTP status the API gives it."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _number(x) -> float | None:
    """A float for JSON; None for NaN (JSON has no NaN) and None."""
    return None if x is None or np.isnan(x) else float(x)


def _interval(interval) -> dict | None:
    return None if interval is None else {"low": _number(interval.low), "high": _number(interval.high)}


def likert_items(definition: SurveyDefinition) -> list[Item]:
    return [item for item in definition.items if item.type == "likert" and item.scale is not None]


def _likert_item(campaign: Campaign, key: str) -> Item:
    item = campaign.survey_version.survey_definition.items_by_key.get(key)
    if item is None:
        raise AnalysisError(404, f"the questionnaire of campaign {campaign.id} has no item {key!r}")
    if item.type != "likert" or item.scale is None:
        raise AnalysisError(400, f"item {key!r} is a {item.type} question; only scale (likert) items can be compared")
    return item


# -- groups ---------------------------------------------------------------------------


def group_names(group_by: str, keys: Sequence[Hashable]) -> dict[Hashable, dict]:
    """{group key as the queries give it: {key, code, name}} for regions (by id) or channels."""
    if group_by == "channel":
        return {k: {"key": Channel(k).value, "code": None, "name": Channel(k).label} for k in keys}
    rows = db.session.execute(sa.select(Region.id, Region.code, Region.name).where(Region.id.in_(list(keys)))).all()
    return {id_: {"key": id_, "code": code, "name": name} for id_, code, name in rows}


def _sort_key(group: dict):
    return group["code"] if group["code"] is not None else list(Channel).index(Channel(group["key"]))


# -- pairwise -------------------------------------------------------------------------


def pairwise(campaign: Campaign, item_key: str, group_by: str = "community", test: str = "rate", *,
             alpha: float | None = None, only_significant: bool = True, limit: int = 1000) -> dict:
    """Every pair of groups compared on one likert item, p-values Holm-adjusted over all the pairs.

    ``test`` "rate": the two-proportion z test of the satisfaction rate (the scale's top boxes);
    "rank": the Mann–Whitney test of the whole scale (do one group's answers sit higher?). Only
    on-scale answers of counted responses enter; groups without any are not tested. A city's 742
    communities make 274,911 pairs, so by default only the pairs whose Holm-adjusted p is below
    ``alpha`` (default 1 − the campaign's confidence) are returned, at most ``limit`` of them,
    smallest adjusted p first; ``pairs_tested`` and ``significant`` say how many there were.
    """
    if group_by not in GROUPINGS:
        raise AnalysisError(400, f"group_by must be one of {', '.join(GROUPINGS)}; got {group_by!r}")
    if test not in TESTS:
        raise AnalysisError(400, f"test must be one of {', '.join(TESTS)}; got {test!r}")
    if not 1 <= limit <= MAX_PAIRS:
        raise AnalysisError(400, f"limit must be from 1 to {MAX_PAIRS}; got {limit}")
    alpha = round(1 - campaign.confidence, 12) if alpha is None else alpha
    if not 0 < alpha < 1:
        raise AnalysisError(400, f"alpha must lie strictly between 0 and 1; got {alpha}")
    item = _likert_item(campaign, item_key)
    scale = scale_scoring(item.scale)
    rows = [(group, value, n) for group, _, value, n in queries.answer_counts(campaign.id, [item.key], group_by)]
    keys, levels, _off = count_table(rows, scale)
    names = group_names(group_by, keys)
    # Groups in code order (channels in their own order), so positions, and so pairs, are stable.
    order = sorted(range(len(keys)), key=lambda g: _sort_key(names[keys[g]]))
    keys, levels = [keys[g] for g in order], levels[order]
    n = levels.sum(axis=1)
    satisfied = levels[:, scale.satisfied_mask].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = satisfied / n
        index = levels @ scale.score_array / n
    table = pairwise_rate_table(satisfied, n) if test == "rate" else pairwise_mann_whitney_table(levels)
    significant = table.adjusted_pvalue < alpha
    chosen = np.flatnonzero(significant) if only_significant else np.arange(len(table))
    chosen = chosen[np.lexsort((table.pvalue[chosen], table.adjusted_pvalue[chosen]))]
    returned = chosen[:limit]
    groups = [{**names[key], "n_valid": int(n[g]), "satisfied": int(satisfied[g]),
               "satisfaction_rate": _number(rate[g]), "satisfaction_index": _number(index[g]),
               "tested": bool(n[g] > 0)} for g, key in enumerate(keys)]
    return {
        "campaign_id": campaign.id,
        "item": {"key": item.key, "text": item.text, "scale": item.scale.key},
        "group_by": group_by,
        "test": test,
        "alpha": alpha,
        "adjustment": "holm",
        "groups": groups,
        "pairs_tested": len(table),
        "significant": int(significant.sum()),
        "only_significant": only_significant,
        "limit": limit,
        "truncated": len(chosen) > limit,
        "pairs": _pairs(table, returned, groups, test, levels, alpha),
        "random_sample_note": RANDOM_SAMPLE_NOTE,
    }


def _pairs(table: PairwiseTable, chosen: np.ndarray, groups: list[dict], test: str, levels: np.ndarray,
           alpha: float) -> list[dict]:
    out = []
    for i in chosen:
        a, b = int(table.first[i]), int(table.second[i])
        pair = {"first": groups[a]["key"], "second": groups[b]["key"],
                "statistic": float(table.statistic[i]), "pvalue": float(table.pvalue[i]),
                "adjusted_pvalue": float(table.adjusted_pvalue[i]),
                "significant": bool(table.adjusted_pvalue[i] < alpha)}
        if test == "rate":
            pair["difference"] = groups[a]["satisfaction_rate"] - groups[b]["satisfaction_rate"]
        else:
            # U over all answer pairs: the chance that the first group's answer is the better one (ties half).
            pair["superiority"] = float(table.statistic[i]) / float(levels[a].sum() * levels[b].sum())
        out.append(pair)
    return out


# -- two waves ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shared:
    item: Item
    scale: ScaleScoring


def shared_items(this: Campaign, other: Campaign) -> tuple[list[_Shared], list[dict]]:
    """The likert items both questionnaires ask with the same key and the same scale (codes,
    scores, top boxes, off-scale answers), and those with the same key but a different scale."""
    theirs = {item.key: item for item in likert_items(other.survey_version.survey_definition)}
    shared, differing = [], []
    for item in likert_items(this.survey_version.survey_definition):
        if item.key not in theirs:
            continue
        scale, other_scale = scale_scoring(item.scale), scale_scoring(theirs[item.key].scale)
        if scale == other_scale:
            shared.append(_Shared(item, scale))
        else:
            differing.append({"key": item.key, "scale": item.scale.key, "other_scale": theirs[item.key].scale.key})
    return shared, differing


def _wave_counts(campaign_id: int, shared: list[_Shared], group_by: str
                 ) -> dict[str, dict[Hashable, tuple[int, int]]]:
    """item → group → (satisfied, on-scale answers), from the tallies."""
    by_item: dict[str, list] = {s.item.key: [] for s in shared}
    for group, item, value, n in queries.answer_counts(campaign_id, list(by_item), group_by):
        by_item[item].append((group, value, n))
    out = {}
    for s in shared:
        keys, levels, _off = count_table(by_item[s.item.key], s.scale)
        out[s.item.key] = {key: (int(levels[g, s.scale.satisfied_mask].sum()), int(levels[g].sum()))
                           for g, key in enumerate(keys)}
    return out


def _total(per_group: dict[Hashable, tuple[int, int]]) -> tuple[int, int]:
    return sum(s for s, _ in per_group.values()), sum(n for _, n in per_group.values())


def _change(this: tuple[int, int], other: tuple[int, int], confidence: float) -> dict:
    """The figures of both waves and, when both have answers, this − other with Newcombe's interval."""
    (satisfied, n), (other_satisfied, other_n) = this, other
    out = {"n_valid": n, "satisfied": satisfied, "satisfaction_rate": satisfied / n if n else None,
           "other_n_valid": other_n, "other_satisfied": other_satisfied,
           "other_satisfaction_rate": other_satisfied / other_n if other_n else None,
           "difference": None, "interval": None}
    if n and other_n:
        change = compare_waves(other_satisfied, other_n, satisfied, n, confidence=confidence)
        out |= {"difference": change.difference, "interval": _interval(change.interval)}
    return out


def compare_campaigns(this: Campaign, other: Campaign, group_by: str | None = None) -> dict:
    """Each likert item both campaigns ask (same key and scale): the satisfaction rate of each and
    the difference this − other with Newcombe's interval at this campaign's confidence, overall
    and, with ``group_by``, per group that has answers in either. Counted responses only."""
    if group_by is not None and group_by not in GROUPINGS:
        raise AnalysisError(400, f"group_by must be one of {', '.join(GROUPINGS)}; got {group_by!r}")
    if this.id == other.id:
        raise AnalysisError(400, "compare a campaign with another campaign (another wave), not with itself")
    shared, differing = shared_items(this, other)
    if not shared:
        raise AnalysisError(400, f"campaigns {this.id} and {other.id} share no scale item (same key and scale): "
                                 "nothing to compare")
    by = group_by or "community"
    mine, theirs = _wave_counts(this.id, shared, by), _wave_counts(other.id, shared, by)
    names = {}
    if group_by is not None:
        seen = {k for counts in (mine, theirs) for per_group in counts.values() for k in per_group}
        names = group_names(group_by, seen)
    items = []
    for s in shared:
        here, there = mine[s.item.key], theirs[s.item.key]
        entry = {"key": s.item.key, "text": s.item.text, "scale": s.item.scale.key,
                 **_change(_total(here), _total(there), this.confidence)}
        if group_by is not None:
            entry["groups"] = [{**names[k], **_change(here.get(k, (0, 0)), there.get(k, (0, 0)), this.confidence)}
                               for k in sorted(here.keys() | there.keys(), key=lambda k: _sort_key(names[k]))]
        items.append(entry)
    return {
        "campaign_id": this.id,
        "campaign": this.name,
        "other_campaign_id": other.id,
        "other_campaign": other.name,
        "confidence": this.confidence,
        "group_by": group_by,
        "items": items,
        "not_compared": differing,
        "note": ("difference = this campaign's satisfaction rate − the other's; the interval (Newcombe's) treats "
                 "the two waves as independent samples. " + RANDOM_SAMPLE_NOTE),
    }


# -- per-respondent scores: reliability and drivers ------------------------------------------


def item_levels(campaign: Campaign, items: Sequence[Item], community_id: int | None = None) -> np.ndarray:
    """Respondents × items: the position of each counted response's answer among the item's scale
    levels (0 = the best), NaN where it gave no on-scale answer (not asked, skipped, 不了解).

    The database pivots (one row per response, MAX(CASE …) per item), and the rows stream in
    chunks into the array: no Python object per answer. Only responses with an answer to any of
    the items come back; in response order.
    """
    if not items:
        return np.empty((0, 0))
    columns = [sa.func.max(sa.case(*((sa.and_(answers.c.item == item.key, answers.c.value == level.code), position)
                                     for position, level in enumerate(item.scale.levels)), else_=None))
               for item in items]
    joined = responses.join(answers, sa.and_(answers.c.response_id == responses.c.id,
                                             answers.c.campaign_id == campaign.id,
                                             answers.c.item.in_([item.key for item in items])))
    # The counted responses: not excluded, no quality flag (queries.COUNTED).
    where = [responses.c.campaign_id == campaign.id, responses.c.exclusion_reason.is_(None),
             responses.c.quality_flags == 0]
    if community_id is not None:
        where.append(responses.c.community_id == community_id)
    query = (sa.select(*columns).select_from(joined).where(*where)
             .group_by(responses.c.id).order_by(responses.c.id))
    # yield_per streams (a server-side cursor on PostgreSQL); None becomes NaN in a float array.
    parts = [np.array(chunk, dtype=float).reshape(len(chunk), len(items))
             for chunk in db.session.execute(query.execution_options(yield_per=20_000)).partitions()]
    return np.concatenate(parts) if parts else np.empty((0, len(items)))


def _scores(levels: np.ndarray, scale: ScaleScoring) -> np.ndarray:
    """Level positions → 0–100 index points (NaN stays NaN)."""
    known = ~np.isnan(levels)
    out = np.full(levels.shape, np.nan)
    out[known] = scale.score_array[levels[known].astype(np.int64)]
    return out


def _satisfied(levels: np.ndarray, scale: ScaleScoring) -> np.ndarray:
    known = ~np.isnan(levels)
    return scale.satisfied_mask[levels[known].astype(np.int64)]


def check_community(campaign: Campaign, community_id: int) -> None:
    """A community filter names a community of the campaign (or one with responses in it)."""
    member = db.session.scalar(sa.select(CampaignCommunity.community_id).where(
        CampaignCommunity.campaign_id == campaign.id, CampaignCommunity.community_id == community_id))
    if member is None and db.session.scalar(sa.select(responses.c.id).where(
            responses.c.campaign_id == campaign.id, responses.c.community_id == community_id).limit(1)) is None:
        raise AnalysisError(404, f"community {community_id} is not in campaign {campaign.id}")


def reliability_blocks(definition: SurveyDefinition) -> list[tuple[str | None, str, list[Item]]]:
    """The blocks Cronbach's alpha is computed for: the likert items of one questionnaire section
    that share one scale, when there are at least two. (Items on different scales, say 了解 and
    满意, do not add up to one score, so a section mixing them makes one block per scale.)"""
    blocks = []
    for section in definition.sections:
        by_scale: dict[str, list[Item]] = {}
        for item in section.items:
            if item.type == "likert" and item.scale is not None:
                by_scale.setdefault(item.scale.key, []).append(item)
        blocks += [(section.title, scale, items) for scale, items in by_scale.items() if len(items) >= 2]
    return blocks


def reliability(campaign: Campaign, community_id: int | None = None) -> dict:
    """Cronbach's alpha (with Feldt's interval) of each block, and per item its corrected item–total
    correlation and the alpha without it, over the counted responses that answered every item of
    the block on the scale (listwise; 不了解 counts as no answer)."""
    blocks = reliability_blocks(campaign.survey_version.survey_definition)
    items = list({item.key: item for _, _, block in blocks for item in block}.values())
    column = {item.key: j for j, item in enumerate(items)}
    levels = item_levels(campaign, items, community_id)
    out = []
    for title, scale_key, block in blocks:
        scale = scale_scoring(block[0].scale)
        scores = _scores(levels[:, [column[item.key] for item in block]], scale)
        complete = int((~np.isnan(scores).any(axis=1)).sum())
        entry = {"section": title, "scale": scale_key, "items": [], "n": complete, "alpha": None,
                 "alpha_interval": None, "note": None}
        per_item = None
        try:
            result = cronbach_alpha(scores, confidence=campaign.confidence)
            entry |= {"alpha": result.alpha, "alpha_interval": _interval(result.interval)}
            if complete >= 3:
                per_item = item_total_correlations(scores)
            else:
                entry["note"] = "回答了这组全部题目的居民不足 3 人，算不出每道题与总分的相关。"
        except ValueError:
            entry["note"] = ("回答了这组全部题目的居民不足 2 人，算不出 α 系数。" if complete < 2 else
                             "回答了这组全部题目的居民答案完全一样，算不出 α 系数。")
        for j, item in enumerate(block):
            answered = int((~np.isnan(scores[:, j])).sum())
            entry["items"].append({
                "key": item.key, "text": item.text, "n_valid": answered,
                "corrected_item_total": None if per_item is None else _number(per_item[j].corrected_correlation),
                "alpha_if_deleted": None if per_item is None else _number(per_item[j].alpha_if_deleted)})
        out.append(entry)
    return {
        "campaign_id": campaign.id,
        "community_id": community_id,
        "confidence": campaign.confidence,
        "blocks": out,
        "note": ("Blocks are the scale items of one questionnaire section sharing one scale (two or more). "
                 "Alpha is over the counted responses that answered every item of the block on the scale "
                 "(listwise); scores are the 0–100 index points. " + RANDOM_SAMPLE_NOTE),
    }


def driver_analysis(campaign: Campaign, community_id: int | None = None, performance: str = "rate") -> dict:
    """Every likert item but the overall one (tagged overall:satisfaction): its importance (Spearman's
    rho with the overall item over the counted responses that answered both on the scale), its
    performance (satisfaction rate, or the 0–100 index) and its quadrant, cut at the medians."""
    if performance not in PERFORMANCE_MEASURES:
        raise AnalysisError(400, f"performance must be one of {', '.join(PERFORMANCE_MEASURES)}; got {performance!r}")
    likert = likert_items(campaign.survey_version.survey_definition)
    overall = [item for item in likert if OVERALL_TAG in item.tags]
    if len(overall) != 1:
        found = "no scale item" if not overall else f"{len(overall)} items ({', '.join(i.key for i in overall)})"
        raise AnalysisError(409, f"the questionnaire of campaign {campaign.id} tags {found} {OVERALL_TAG}; "
                                 "driver analysis needs exactly one")
    others = [item for item in likert if item is not overall[0]]
    if not others:
        raise AnalysisError(409, f"the questionnaire of campaign {campaign.id} has no scale item besides the overall one")
    levels = item_levels(campaign, [overall[0], *others], community_id)
    overall_scores = _scores(levels[:, 0], scale_scoring(overall[0].scale))
    scores, rates, indexes, answered = [], [], [], []
    for j, item in enumerate(others, start=1):
        scale = scale_scoring(item.scale)
        scores.append(_scores(levels[:, j], scale))
        satisfied = _satisfied(levels[:, j], scale)
        answered.append(len(satisfied))
        rates.append(satisfied.mean() if len(satisfied) else np.nan)
        indexes.append(np.nanmean(scores[-1]) if len(satisfied) else np.nan)
    matrix = np.column_stack(scores) if levels.shape[0] else np.empty((0, len(others)))
    measured = np.array(rates if performance == "rate" else indexes, dtype=float)
    try:
        analysis = drivers(matrix, overall_scores, measured, [item.key for item in others])
        found = [(d.importance, d.pvalue, d.n, d.quadrant) for d in analysis.drivers]
        cuts = {"importance": analysis.importance_cut, "performance": analysis.performance_cut}
    except ValueError:  # no item has both an importance and a performance (too few answers)
        found = [(*spearman(matrix[:, j], overall_scores), None) for j in range(len(others))]
        cuts = {"importance": None, "performance": None}
    items = []
    for j, item in enumerate(others):
        importance, pvalue, n, quadrant = found[j]
        items.append({
            "key": item.key, "text": item.text, "scale": item.scale.key, "n_valid": answered[j],
            "importance": _number(importance), "importance_pvalue": _number(pvalue), "n_both": int(n),
            "satisfaction_rate": _number(rates[j]), "satisfaction_index": _number(indexes[j]),
            "performance": _number(measured[j]),
            "quadrant": None if quadrant is None else quadrant.value,
            "quadrant_label": None if quadrant is None else quadrant.label})
    fix_first = sorted((i for i in items if i["quadrant"] == "fix_first"), key=lambda i: -i["importance"])
    return {
        "campaign_id": campaign.id,
        "community_id": community_id,
        "overall": {"key": overall[0].key, "text": overall[0].text,
                    "n_valid": int((~np.isnan(overall_scores)).sum())},
        "performance": performance,
        "cuts": cuts,
        "items": items,
        "fix_first": [i["key"] for i in fix_first],
        "note": ("importance = Spearman's rho with the overall item over the counted responses that answered both "
                 "on the scale; quadrants are cut at the medians of importance and performance over the items. "
                 + RANDOM_SAMPLE_NOTE),
    }
