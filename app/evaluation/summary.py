"""A campaign's per item × group statistics, ready for JSON.

The database counts (queries.py); app.analysis turns the count tables into statistics; this
module only lines the two up and names the figures.
"""

from __future__ import annotations

import numpy as np

from ..analysis.comparisons import independence_test, kruskal_wallis
from ..analysis.items import ItemStatisticsTable, item_statistics_table
from ..analysis.scales import ScaleScoring
from ..definitions import Scale
from ..models import Campaign, Channel
from . import queries

#: Said in every summary: only ticket responses are a random sample of residents.
RANDOM_SAMPLE_NOTE = ("Only responses through single-use tickets handed out at random (channel 'ticket') are a "
                      "random sample; QR scans, meeting votes, paper and imported responses are not, and their "
                      "intervals describe the people who answered, not the community.")


def scale_scoring(scale: Scale) -> ScaleScoring:
    """The statistics' view of a questionnaire's scale: codes, scores, top boxes, off-scale codes."""
    return ScaleScoring.from_levels(((lv.code, lv.score) for lv in scale.levels), scale.satisfied,
                                    (c.code for c in scale.off_scale))


#: The group of respondents who did not answer the grouping question (group_by=item:<key>).
NO_ANSWER_GROUP = "未回答"


def grouping_item(campaign: Campaign, group_by: str):
    """The single-choice question an ``item:<key>`` grouping names; ValueError when there is none."""
    key = group_by.removeprefix(queries.ITEM_GROUPING)
    item = next((i for i in campaign.survey_version.survey_definition.items if i.key == key), None)
    if item is None or item.type != "single":
        raise ValueError(f"group_by {group_by!r}: the questionnaire has no single-choice question {key!r}")
    return item


def check_grouping(campaign: Campaign, group_by: str) -> None:
    """ValueError unless the campaign's summary can be grouped so."""
    queries.check_grouping(group_by)
    if group_by.startswith(queries.ITEM_GROUPING):
        grouping_item(campaign, group_by)


def _groups(campaign: Campaign, group_by: str, respondents: dict, which: queries.ResponseFilter) -> list[dict]:
    """The groups a summary lists, in order, each with its key, name, respondents and target."""
    if group_by == "campaign":
        return [{"key": campaign.id, "name": campaign.name, "respondents": respondents.get(campaign.id, 0),
                 "target": None}]
    if group_by.startswith(queries.ITEM_GROUPING):
        # Every answer of the question, in its order, then those who did not answer it (if any).
        choices = [(c.code, c.label) for c in grouping_item(campaign, group_by).choices]
        known = {code for code, _ in choices}
        # A code the question no longer offers (answered under an earlier wording) still counts.
        choices += [(code, code) for code in sorted(respondents) if code and code not in known]
        choices += [("", NO_ANSWER_GROUP)] if respondents.get("") else []
        return [{"key": code, "name": label, "respondents": respondents.get(code, 0), "target": None}
                for code, label in choices]
    if group_by == "channel":
        return [{"key": channel.value, "name": channel.label, "respondents": respondents[channel],
                 "target": None, "random_sample": channel.is_random_sample}
                for channel in Channel if channel in respondents]
    return [{"key": id_, "id": id_, "code": code, "name": name, "respondents": respondents.get(id_, 0),
             "target": target}
            for id_, code, name, target in queries.campaign_regions(campaign.id, group_by, respondents, which.community_ids)]


def _floats(values: np.ndarray) -> list:
    """A float array as Python numbers, None where undefined (NaN); any shape."""
    column = values.astype(object)
    column[np.isnan(values)] = None
    return column.tolist()


def _intervals(lows: np.ndarray, highs: np.ndarray) -> list[dict | None]:
    return [None if low is None else {"low": low, "high": high}
            for low, high in zip(_floats(lows), _floats(highs))]


def _group_statistics(table: ItemStatisticsTable, groups: list[dict]) -> list[dict]:
    """Every group's statistics of one item, built column by column: a city's summary has
    hundreds of thousands of figures, and one record object per group and item costs more
    than the counting does."""
    scale = table.scale
    n = table.n_valid
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = _floats(table.level_counts / n[:, None])
    distributions = [[{"code": code, "count": count, "share": share}
                      for code, count, share in zip(scale.codes, counts, group_shares)]
                     for counts, group_shares in zip(table.level_counts.tolist(), shares)]
    off_scale = table.off_scale_counts.tolist()
    respondents = [None] * len(groups) if table.respondents is None else table.respondents.tolist()
    missing = [None] * len(groups) if table.missing is None else table.missing.tolist()
    mean = _floats(table.mean)
    return [
        {"key": group["key"], "name": group["name"], "respondents": group_respondents, "n_valid": n_valid,
         "missing": group_missing, "off_scale": sum(off), "off_scale_counts": dict(zip(scale.off_scale, off)),
         "distribution": distribution, "mean": group_mean, "sd": sd, "mean_interval": mean_interval,
         "satisfaction_rate": rate, "rate_interval": rate_interval, "satisfaction_index": group_mean,
         "margin_of_error": margin, "target": group["target"], "below_target": below}
        for (group, group_respondents, n_valid, group_missing, off, distribution, group_mean, sd, mean_interval,
             rate, rate_interval, margin, below)
        in zip(groups, respondents, n.tolist(), missing, off_scale, distributions, mean, _floats(table.sd),
               _intervals(table.mean_low, table.mean_high), _floats(table.satisfaction_rate),
               _intervals(table.rate_low, table.rate_high), _floats(table.margin_of_error),
               table.below_target.tolist())]


def _finite(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _comparison(level_counts: np.ndarray) -> dict:
    """Do the groups answer the item alike? Pearson's chi-square (group × answer) and
    Kruskal–Wallis over the ordered levels, from the same count table."""
    chi_square = independence_test(level_counts)
    kw = kruskal_wallis(level_counts)
    return {
        "chi_square": {"statistic": _finite(chi_square.statistic), "dof": chi_square.dof,
                       "pvalue": _finite(chi_square.pvalue), "groups_tested": chi_square.groups_tested,
                       "answers_tested": chi_square.answers_tested,
                       "low_expected_share": _finite(chi_square.low_expected_share)},
        "kruskal_wallis": {"statistic": _finite(kw.statistic), "dof": kw.dof, "pvalue": _finite(kw.pvalue),
                           "groups_tested": kw.groups_tested},
    }


def _count_arrays(rows: list, codes: list[str], likert: list, positions: dict, groups: int) -> dict:
    """The pivoted count rows (group, item, n per code …, n of other codes) as one
    groups × codes array per item."""
    arrays = {item.key: np.zeros((groups, len(codes)), dtype=np.int64) for item in likert}
    if not rows:
        return arrays
    group_of, item_of, *columns = zip(*rows)
    counts = np.array(columns, dtype=np.int64).T
    if counts[:, -1].any():
        item = item_of[int(np.argmax(counts[:, -1] > 0))]
        raise ValueError(f"item {item!r} has answers that are neither a level nor an off-scale answer of its scale")
    item_of = np.array(item_of, dtype=object)
    position = np.array([positions[group] for group in group_of], dtype=np.int64)
    for key, array in arrays.items():
        mine = item_of == key
        array[position[mine]] = counts[mine, :-1]
    return arrays


def campaign_summary(campaign: Campaign, group_by: str = "community",
                     which: queries.ResponseFilter = queries.COUNTED) -> dict:
    """Every likert item of the campaign's questionnaire, for every group: valid n, missing,
    off-scale answers, distribution, mean and SD with a t interval, satisfaction rate with its
    Wilson interval, the 0–100 index, the margin of error (p = 0.5, no finite-population
    correction) and, by community, the target sample and whether n falls below it; and per item,
    whether the groups differ (chi-square and Kruskal–Wallis).

    ``which`` says which responses enter: by default the counted ones (an excluded response is
    left out everywhere), of every community; a dashboard may leave flagged ones out or narrow
    the communities. ``group_by``
    is one of queries.GROUPINGS or ``item:<key>`` of a single-choice question (respondents grouped
    by their answer to it, those without one as 未回答); anything else is a ValueError.
    """
    check_grouping(campaign, group_by)
    definition = campaign.survey_version.survey_definition
    likert = [item for item in definition.items if item.type == "likert" and item.scale is not None]
    respondents: dict = {}
    by_channel: dict = {}
    for group, channel, n in queries.respondent_table(campaign.id, group_by, which):
        respondents[group] = respondents.get(group, 0) + n
        by_channel[channel] = by_channel.get(channel, 0) + n
    groups = _groups(campaign, group_by, respondents, which)
    positions = {group["key"] if group_by != "channel" else Channel(group["key"]): g
                 for g, group in enumerate(groups)}

    scales = {item.key: scale_scoring(item.scale) for item in likert}
    codes = list(dict.fromkeys(code for scale in scales.values() for code in (*scale.codes, *scale.off_scale)))
    column = {code: c for c, code in enumerate(codes)}
    rows = queries.answer_count_table(campaign.id, scales, codes, group_by, which)
    counts = _count_arrays(rows, codes, likert, positions, len(groups))

    respondent_array = np.array([group["respondents"] for group in groups], dtype=np.int64)
    # No target is 0 to the statistics (n < 0 never holds), None in the output.
    target_array = np.array([group["target"] or 0 for group in groups], dtype=np.int64)
    items = []
    for item in likert:
        scale = scales[item.key]
        mine = [column[code] for code in (*scale.codes, *scale.off_scale)]
        foreign = np.delete(counts[item.key], mine, axis=1)
        if foreign.any():
            raise ValueError(f"item {item.key!r} has answers that are neither a level nor an off-scale answer "
                             "of its scale")
        level_counts = counts[item.key][:, [column[code] for code in scale.codes]]
        off_counts = counts[item.key][:, [column[code] for code in scale.off_scale]]
        table = item_statistics_table(level_counts, scale, off_scale_counts=off_counts, respondents=respondent_array,
                                      targets=target_array, confidence=campaign.confidence)
        items.append({
            "key": item.key,
            "text": item.text,
            "scale": item.scale.to_dict(),
            "comparison": _comparison(level_counts),
            "groups": _group_statistics(table, groups),
        })
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "group_by": group_by,
        "filter": {"community_ids": None if which.community_ids is None else sorted(which.community_ids),
                   "include_flagged": which.include_flagged, "include_excluded": which.include_excluded},
        "confidence": campaign.confidence,
        "respondents": sum(respondents.values()),
        "channels": [{"channel": channel.value, "name": channel.label, "respondents": by_channel[channel],
                      "random_sample": channel.is_random_sample} for channel in Channel if channel in by_channel],
        "random_sample_note": RANDOM_SAMPLE_NOTE,
        "groups": groups,
        "items": items,
    }
