"""A campaign's per item × group statistics, ready for JSON.

The database counts (queries.py); app.analysis turns the count tables into statistics; this
module only lines the two up and names the figures.
"""

from __future__ import annotations

import numpy as np

from ..analysis.items import ItemStatistics, count_table, item_statistics_table
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


def _groups(campaign: Campaign, group_by: str, respondents: dict) -> list[dict]:
    """The groups a summary lists, in order, each with its key, name, respondents and target."""
    if group_by == "channel":
        return [{"key": channel.value, "name": channel.label, "respondents": respondents[channel],
                 "target": None, "random_sample": channel.is_random_sample}
                for channel in Channel if channel in respondents]
    return [{"key": id_, "id": id_, "code": code, "name": name, "respondents": respondents.get(id_, 0),
             "target": target}
            for id_, code, name, target in queries.campaign_regions(campaign.id, group_by, respondents)]


def _number(x: float | None) -> float | None:
    return None if x is None else float(x)


def _interval(interval) -> dict | None:
    return None if interval is None else {"low": _number(interval.low), "high": _number(interval.high)}


def _statistics(s: ItemStatistics) -> dict:
    return {
        "respondents": s.respondents,
        "n_valid": s.n_valid,
        "missing": s.missing,
        "off_scale": s.off_scale,
        "off_scale_counts": dict(s.off_scale_counts),
        "distribution": [{"code": d.code, "count": d.count, "share": _number(d.share)} for d in s.distribution],
        "mean": _number(s.mean),
        "sd": _number(s.sd),
        "mean_interval": _interval(s.mean_interval),
        "satisfaction_rate": _number(s.satisfaction_rate),
        "rate_interval": _interval(s.rate_interval),
        "satisfaction_index": _number(s.satisfaction_index),
        "margin_of_error": _number(s.margin_of_error),
        "target": s.target,
        "below_target": s.below_target,
    }


def campaign_summary(campaign: Campaign, group_by: str = "community") -> dict:
    """Every likert item of the campaign's questionnaire, for every group: valid n, missing,
    off-scale answers, distribution, mean and SD with a t interval, satisfaction rate with its
    Wilson interval, the 0–100 index, the margin of error (p = 0.5, no finite-population
    correction) and, by community, the target sample and whether n falls below it.

    Only counted responses enter (an excluded response is left out everywhere). ``group_by``
    is one of queries.GROUPINGS; anything else is a ValueError.
    """
    if group_by not in queries.GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(queries.GROUPINGS)}, got {group_by!r}")
    definition = campaign.survey_version.survey_definition
    likert = [item for item in definition.items if item.type == "likert" and item.scale is not None]
    respondents = queries.respondent_counts(campaign.id, group_by)
    by_channel = queries.respondent_counts(campaign.id, "channel")
    groups = _groups(campaign, group_by, respondents)
    position = {group["key"] if group_by != "channel" else Channel(group["key"]): g for g, group in enumerate(groups)}

    rows_by_item: dict[str, list[tuple]] = {item.key: [] for item in likert}
    for group, item, value, n in queries.answer_counts(campaign.id, rows_by_item, group_by):
        rows_by_item[item].append((group, value, n))

    respondent_array = np.array([group["respondents"] for group in groups], dtype=np.int64)
    # No target is 0 to the statistics (n < 0 never holds), None in the output.
    target_array = np.array([group["target"] or 0 for group in groups], dtype=np.int64)
    items = []
    for item in likert:
        scale = scale_scoring(item.scale)
        seen, seen_levels, seen_off = count_table(rows_by_item[item.key], scale)
        level_counts = np.zeros((len(groups), len(scale.codes)), dtype=np.int64)
        off_counts = np.zeros((len(groups), len(scale.off_scale)), dtype=np.int64)
        for row, group in enumerate(seen):
            level_counts[position[group]] = seen_levels[row]
            off_counts[position[group]] = seen_off[row]
        table = item_statistics_table(level_counts, scale, off_scale_counts=off_counts, respondents=respondent_array,
                                      targets=target_array, confidence=campaign.confidence)
        items.append({
            "key": item.key,
            "text": item.text,
            "scale": item.scale.to_dict(),
            "groups": [{"key": group["key"], "name": group["name"], **_statistics(table.row(g)),
                        "target": group["target"]}
                       for g, group in enumerate(groups)],
        })
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "group_by": group_by,
        "confidence": campaign.confidence,
        "respondents": sum(respondents.values()),
        "channels": [{"channel": channel.value, "name": channel.label, "respondents": by_channel[channel],
                      "random_sample": channel.is_random_sample} for channel in Channel if channel in by_channel],
        "random_sample_note": RANDOM_SAMPLE_NOTE,
        "groups": groups,
        "items": items,
    }
