"""Per-item statistics of a scale question, for any group (community, street, channel, ...).

Input is the count table the database makes (GROUP BY group, item, value), never answer rows:
``level_counts[g, j]`` is how many in group g chose level j of the scale, ``off_scale_counts[g, m]``
how many chose off-scale answer m (不了解/说不清). Everything is vectorised over groups, so one call
covers every community of a campaign for one item.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from .intervals import (
    Interval,
    check_confidence,
    normal_quantile,
    t_interval,
    wilson_interval,
)
from .scales import ScaleScoring


@dataclass(frozen=True)
class LevelShare:
    code: str
    count: int
    #: Share among on-scale answers (off-scale ones are not in the denominator).
    share: float | None


@dataclass(frozen=True)
class ItemStatistics:
    """One item in one group. Shares, rates and the mean are over on-scale answers only."""

    #: Responses in the group (None when the caller did not say, and so missing is unknown).
    respondents: int | None
    #: On-scale answers: the n of every statistic below.
    n_valid: int
    #: Responses that did not answer the item at all.
    missing: int | None
    #: Answers off the scale (不了解/说不清), counted apart.
    off_scale: int
    off_scale_counts: tuple[tuple[str, int], ...]
    distribution: tuple[LevelShare, ...]
    #: Mean and sample SD (n − 1) of the scale's scores (the 0–100 index points).
    mean: float | None
    sd: float | None
    #: t interval of the mean.
    mean_interval: Interval | None
    #: Share of on-scale answers in the top boxes, with its Wilson interval.
    satisfaction_rate: float | None
    rate_interval: Interval | None
    #: The 0–100 satisfaction index: the mean score, as the scale's scores are the index points.
    satisfaction_index: float | None
    #: ± margin of a proportion from n_valid answers at p = 0.5 (finite-population corrected when
    #: a population is given), the figure targets are set by (sampling.cochran_sample_size).
    margin_of_error: float | None
    target: int | None
    #: n_valid is below the target: too few answers for the precision the campaign aimed at.
    below_target: bool


@dataclass(frozen=True)
class ItemStatisticsTable:
    """The same statistics for many groups at once, as arrays (NaN where undefined)."""

    scale: ScaleScoring
    confidence: float
    level_counts: np.ndarray
    off_scale_counts: np.ndarray
    respondents: np.ndarray | None
    n_valid: np.ndarray
    missing: np.ndarray | None
    mean: np.ndarray
    sd: np.ndarray
    mean_low: np.ndarray
    mean_high: np.ndarray
    satisfaction_rate: np.ndarray
    rate_low: np.ndarray
    rate_high: np.ndarray
    margin_of_error: np.ndarray
    targets: np.ndarray | None
    below_target: np.ndarray

    @property
    def satisfaction_index(self) -> np.ndarray:
        return self.mean

    def __len__(self) -> int:
        return len(self.n_valid)

    def row(self, g: int) -> ItemStatistics:
        """Group g's statistics as a plain record (None for what cannot be computed)."""
        def num(x) -> float | None:
            return None if np.isnan(x) else float(x)

        def interval(low, high) -> Interval | None:
            return None if np.isnan(low) else Interval(float(low), float(high))

        n = int(self.n_valid[g])
        counts = self.level_counts[g]
        return ItemStatistics(
            respondents=None if self.respondents is None else int(self.respondents[g]),
            n_valid=n,
            missing=None if self.missing is None else int(self.missing[g]),
            off_scale=int(self.off_scale_counts[g].sum()),
            off_scale_counts=tuple((c, int(k)) for c, k in zip(self.scale.off_scale, self.off_scale_counts[g])),
            distribution=tuple(LevelShare(c, int(k), k / n if n else None) for c, k in zip(self.scale.codes, counts)),
            mean=num(self.mean[g]), sd=num(self.sd[g]),
            mean_interval=interval(self.mean_low[g], self.mean_high[g]),
            satisfaction_rate=num(self.satisfaction_rate[g]),
            rate_interval=interval(self.rate_low[g], self.rate_high[g]),
            satisfaction_index=num(self.mean[g]),
            margin_of_error=num(self.margin_of_error[g]),
            target=None if self.targets is None else int(self.targets[g]),
            below_target=bool(self.below_target[g]),
        )


def _count_array(counts, width: int, name: str) -> np.ndarray:
    array = np.asarray(counts)
    if array.ndim != 2 or array.shape[1] != width:
        raise ValueError(f"{name} must have shape (groups, {width}), got {array.shape}")
    if array.size and (np.any(array < 0) or np.any(array != np.round(array))):
        raise ValueError(f"{name} must be non-negative whole counts")
    return array.astype(np.int64)


def _per_group(values, groups: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    array = np.asarray(values, dtype=np.int64)
    if array.shape != (groups,):
        raise ValueError(f"{name} must have one entry per group ({groups}), got shape {array.shape}")
    if np.any(array < 0):
        raise ValueError(f"{name} must not be negative")
    return array


def item_statistics_table(level_counts, scale: ScaleScoring, *, off_scale_counts=None, respondents=None,
                          targets=None, populations=None, confidence: float = 0.95) -> ItemStatisticsTable:
    """Statistics of one scale item for every group (rows of ``level_counts``, columns in
    ``scale.codes`` order). ``respondents[g]`` (responses in the group) gives the missing count;
    ``targets[g]`` the n below which a group is flagged; ``populations[g]`` (households) the
    finite-population correction of the margin of error."""
    check_confidence(confidence)
    counts = _count_array(level_counts, len(scale.codes), "level_counts")
    groups = counts.shape[0]
    off = (np.zeros((groups, len(scale.off_scale)), dtype=np.int64) if off_scale_counts is None
           else _count_array(off_scale_counts, len(scale.off_scale), "off_scale_counts"))
    if off.shape[0] != groups:
        raise ValueError(f"off_scale_counts has {off.shape[0]} groups, level_counts {groups}")
    respondents = _per_group(respondents, groups, "respondents")
    targets = _per_group(targets, groups, "targets")
    populations = _per_group(populations, groups, "populations")

    n = counts.sum(axis=1)
    answered = n + off.sum(axis=1)
    missing = None
    if respondents is not None:
        if np.any(answered > respondents):
            g = int(np.argmax(answered > respondents))
            raise ValueError(f"group {g}: {answered[g]} answers but only {respondents[g]} respondents")
        missing = respondents - answered

    scores = scale.score_array
    satisfied = counts[:, scale.satisfied_mask].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = counts @ scores / n
        # Sum of squared deviations from the group's own mean: stable where scores are close.
        squares = (counts * (scores[None, :] - mean[:, None]) ** 2).sum(axis=1)
        sd = np.where(n >= 2, np.sqrt(squares / (n - 1)), np.nan)
        rate = satisfied / n
    mean = np.where(n > 0, mean, np.nan)
    rate = np.where(n > 0, rate, np.nan)
    mean_low, mean_high = t_interval(mean, sd, n, confidence)
    rate_low, rate_high = wilson_interval(satisfied, n, confidence)

    z = normal_quantile(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = 0.25 / n
        if populations is not None:
            if np.any(n > populations):
                raise ValueError("a group has more answers than its population")
            variance = variance * np.where(populations > 1, (populations - n) / (populations - 1), 0.0)
        margin = np.where(n > 0, z * np.sqrt(variance), np.nan)
    below = n < targets if targets is not None else np.zeros(groups, dtype=bool)
    return ItemStatisticsTable(
        scale=scale, confidence=confidence, level_counts=counts, off_scale_counts=off, respondents=respondents,
        n_valid=n, missing=missing, mean=mean, sd=sd, mean_low=mean_low, mean_high=mean_high,
        satisfaction_rate=rate, rate_low=rate_low, rate_high=rate_high, margin_of_error=margin,
        targets=targets, below_target=below)


def item_statistics(counts: Mapping[str, int], scale: ScaleScoring, *, respondents: int | None = None,
                    target: int | None = None, population: int | None = None,
                    confidence: float = 0.95) -> ItemStatistics:
    """One item in one group from {answer code: count}; codes not given count 0."""
    (level_counts, off_counts), = _split_counts([counts], scale)
    table = item_statistics_table(
        level_counts[None, :], scale, off_scale_counts=off_counts[None, :],
        respondents=None if respondents is None else [respondents],
        targets=None if target is None else [target], populations=None if population is None else [population],
        confidence=confidence)
    return table.row(0)


def _split_counts(tables: Iterable[Mapping[str, int]], scale: ScaleScoring):
    level_index = {c: i for i, c in enumerate(scale.codes)}
    off_index = {c: i for i, c in enumerate(scale.off_scale)}
    for counts in tables:
        levels = np.zeros(len(scale.codes), dtype=np.int64)
        off = np.zeros(len(scale.off_scale), dtype=np.int64)
        for code, k in counts.items():
            if code in level_index:
                levels[level_index[code]] += k
            elif code in off_index:
                off[off_index[code]] += k
            else:
                raise ValueError(f"answer code {code!r} is neither a level nor an off-scale answer of the scale")
        yield levels, off


def count_table(rows: Iterable[tuple[Hashable, str, int]], scale: ScaleScoring
                ) -> tuple[list[Hashable], np.ndarray, np.ndarray]:
    """(group, code, count) rows, as a GROUP BY returns them, into the arrays above: the groups in
    first-seen order, level_counts (groups × levels) and off_scale_counts (groups × off-scale codes).
    An unknown code is an error: a scale changed under a campaign must not be counted quietly."""
    by_group: dict[Hashable, dict[str, int]] = {}
    for group, code, k in rows:
        by_group.setdefault(group, {})
        by_group[group][code] = by_group[group].get(code, 0) + int(k)
    groups = list(by_group)
    split = list(_split_counts(by_group.values(), scale))
    levels = np.array([s[0] for s in split], dtype=np.int64).reshape(len(groups), len(scale.codes))
    off = np.array([s[1] for s in split], dtype=np.int64).reshape(len(groups), len(scale.off_scale))
    return groups, levels, off
