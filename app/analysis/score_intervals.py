"""Communities' scores by a scheme with their uncertainty from the survey, and the ranking.

A scheme's survey-fed indicators read each tag's satisfaction rate or index in a community. Both
are ratios over the answers to the tag's items: satisfied answers / answers on the scale, and
index points / answers on the scale. Resampling the community's respondents (with replacement,
as many as it has; the same draws for every tag, so a respondent's answers stay together) gives
replicate figures; the scheme scores every replicate (app.analysis.scoring takes arrays), and the
replicate totals give each community's score interval and, across communities, rank intervals
(app.analysis.ranking). Entries by evaluators stay fixed.

Input per community is one row per respondent (``TagTallies``): what the database sums per
response, never one object per answer.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .ranking import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_REPLICATES,
    RankIntervals,
    percentile_tail,
    rank_intervals,
    resample_blocks,
)
from .scoring import CommunityScore, score_community


@dataclass(frozen=True)
class TagTallies:
    """One community's respondents (rows) × tags (columns, in ``tags`` order)."""

    tags: tuple[str, ...]
    #: Answers on the scale (不了解/说不清 and unanswered left out).
    valid: np.ndarray
    #: Of those, answers in the scale's top boxes.
    satisfied: np.ndarray
    #: Of those, the sum of their points on the 0–100 index.
    points: np.ndarray

    def __post_init__(self) -> None:
        shape = (len(self.valid), len(self.tags))
        for name in ("valid", "satisfied", "points"):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"{name} needs shape {shape}, got {np.shape(getattr(self, name))}")
        if (np.asarray(self.satisfied) > np.asarray(self.valid)).any():
            raise ValueError("more satisfied answers than answers on the scale")

    @property
    def respondents(self) -> int:
        return len(self.valid)


def tag_figures(tallies: TagTallies) -> dict[str, dict[str, float]]:
    """Each tag's rate (0–1) and index (0–100) over all its answers; tags nobody answered are left out."""
    valid = np.asarray(tallies.valid, dtype=float).sum(axis=0)
    satisfied = np.asarray(tallies.satisfied, dtype=float).sum(axis=0)
    points = np.asarray(tallies.points, dtype=float).sum(axis=0)
    return {tag: {"rate": satisfied[t] / valid[t], "index": points[t] / valid[t]}
            for t, tag in enumerate(tallies.tags) if valid[t] > 0}


def replicate_tag_figures(tallies: TagTallies, draws: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """The figures of each resample (``draws``: replicates × respondents indices). A replicate that
    happens to draw no answer to a tag takes the observed figure (only possible when a handful of
    respondents answered it)."""
    observed = tag_figures(tallies)
    valid, satisfied, points = np.split(resampled_sums(_stacked(tallies), draws), 3, axis=1)
    figures = {}
    for t, tag in enumerate(tallies.tags):
        if tag not in observed:
            continue
        some = valid[:, t] > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(some, satisfied[:, t] / valid[:, t], observed[tag]["rate"])
            index = np.where(some, points[:, t] / valid[:, t], observed[tag]["index"])
        figures[tag] = {"rate": rate, "index": index}
    return figures


def _stacked(tallies: TagTallies) -> np.ndarray:
    """(valid, satisfied, points for every tag) × respondents, as one float array: each row
    contiguous, so a resample gathers from one row at a time."""
    return np.vstack([np.asarray(tallies.valid, dtype=float).T, np.asarray(tallies.satisfied, dtype=float).T,
                      np.asarray(tallies.points, dtype=float).T])


def resampled_sums(stacked: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Σ over each replicate's drawn respondents of every row of ``stacked`` (replicates × rows).
    Gathering from contiguous rows is several times faster than picking whole respondents'
    records and summing across them, and at a city's size this is most of the bootstrap."""
    return np.take(stacked, draws, axis=1).sum(axis=2).T


@dataclass(frozen=True)
class ScoredCommunity:
    community: object
    respondents: int
    score: CommunityScore
    #: What is ranked: the total points, or for a scheme without full points (a weighted composite)
    #: the share of full marks in percent (百分制). None when it could not be scored.
    value: float | None
    #: Its percentile interval (None when it could not be scored).
    low: float | None
    high: float | None


@dataclass(frozen=True)
class SchemeScores:
    communities: list[ScoredCommunity]
    #: Over the communities with a total, in the order of ``ranked`` (None when fewer than 2).
    ranking: RankIntervals | None
    ranked: list[object]
    replicates: int
    confidence: float
    seed: int


def _stream(community) -> int:
    """The community's own random stream: its draws do not depend on which other communities are
    scored, or in what order, so entering one community's level leaves the others' intervals alone."""
    if isinstance(community, (int, np.integer)) and community >= 0:
        return int(community)
    return zlib.crc32(str(community).encode("utf-8"))


def _ranked_value(score: CommunityScore):
    """The total points, or the percent where the scheme has no full points (None: not scored)."""
    if score.total is not None:
        return score.total
    return None if score.fraction is None or score.max_points is not None else score.percent


def score_one(scheme, community, own: TagTallies | None, entered: Mapping[str, float], kind: str | None, *,
              replicates: int = DEFAULT_REPLICATES, confidence: float = 0.95, seed: int = 0,
              block_size: int = DEFAULT_BLOCK_SIZE) -> tuple[ScoredCommunity, np.ndarray | None]:
    """One community scored, its survey part bootstrapped from its own random stream (seeded with
    (``seed``, its id)): the scored community and its replicate values (None when not scored).
    A community without respondents is scored from its entries alone (its survey indicators then
    say why they are missing), with no sampling spread."""
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, got {replicates}")
    tail = percentile_tail(confidence)
    figures = tag_figures(own) if own is not None and own.respondents else {}
    score = score_community(scheme, figures, entered, community_kind=kind, community=community)
    value, low, high, total = _ranked_value(score), None, None, None
    if value is not None:
        value = float(value)
        if own is not None and own.respondents:
            rng = np.random.default_rng([seed, _stream(community)])
            total = np.empty(replicates)
            for start, stop, draws in resample_blocks(rng, own.respondents, replicates, block_size):
                replicate = score_community(scheme, replicate_tag_figures(own, draws), entered,
                                            community_kind=kind, community=community)
                total[start:stop] = _ranked_value(replicate)
        else:  # nothing from the survey: the score has no sampling spread
            total = np.full(replicates, value)
        low, high = (float(x) for x in np.quantile(total, [tail, 1 - tail]))
    scored = ScoredCommunity(community, own.respondents if own is not None else 0, score, value, low, high)
    return scored, total


def rank_scored(scored: Sequence[tuple[ScoredCommunity, np.ndarray | None]], *, replicates: int,
                confidence: float = 0.95, seed: int = 0) -> SchemeScores:
    """The ranking, with rank intervals, of the communities score_one could score (in the order given)."""
    ranked = [(c, total) for c, total in scored if total is not None]
    ranking = None
    if len(ranked) >= 2:
        ranking = rank_intervals([c.value for c, _ in ranked], np.column_stack([t for _, t in ranked]),
                                 confidence=confidence, seed=seed)
    return SchemeScores([c for c, _ in scored], ranking, [c.community for c, _ in ranked], replicates,
                        confidence, seed)


def score_with_intervals(scheme, tallies: Mapping[object, TagTallies], entries: Mapping[object, Mapping[str, float]],
                         kinds: Mapping[object, str | None], communities: Sequence[object], *,
                         replicates: int = DEFAULT_REPLICATES, confidence: float = 0.95, seed: int = 0,
                         block_size: int = DEFAULT_BLOCK_SIZE) -> SchemeScores:
    """Score every community and bootstrap the survey part; rank those with a total.

    Each community resamples from its own generator, seeded with (``seed``, its id): the same
    inputs give the same intervals, and one community's change leaves the others' alone.
    """
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, got {replicates}")
    scored = [score_one(scheme, community, tallies.get(community), entries.get(community) or {},
                        kinds.get(community), replicates=replicates, confidence=confidence, seed=seed,
                        block_size=block_size)
              for community in communities]
    return rank_scored(scored, replicates=replicates, confidence=confidence, seed=seed)
