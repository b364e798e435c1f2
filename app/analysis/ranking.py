"""Score uncertainty and rank intervals for a district-wide ranking (拉通排名), by bootstrap.

Each community's score is a fixed part (points evaluators entered) plus the survey part: the mean
of its respondents' score contributions. Resampling respondents within each community (with
replacement, as many as it has) gives replicate scores; ranking the communities in every replicate
gives each one a 95 % rank interval, and comparing them pair by pair says which communities the
survey cannot tell apart, which a bare league table hides.

Seeded and reproducible: the same inputs and seed give the same intervals, however the work is
chunked. Memory stays small: one community's draws at a time (at most ``block_size`` indices), and
replicate scores of replicates × communities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from .intervals import check_confidence

DEFAULT_REPLICATES = 1000
#: Most resampling indices drawn at once (int32): 4 M = 16 MB.
DEFAULT_BLOCK_SIZE = 4_000_000


@dataclass(frozen=True)
class RankIntervals:
    """Scores, ranks (1 = best) and their bootstrap intervals, one entry per community."""

    scores: np.ndarray
    score_low: np.ndarray
    score_high: np.ndarray
    #: Rank of the observed scores; equal scores share the best rank of their group (1, 2, 2, 4).
    ranks: np.ndarray
    rank_low: np.ndarray
    rank_high: np.ndarray
    #: indistinguishable[a, b]: in neither direction did a beat b in at least 97.5 % (for 95 %) of
    #: the replicates (ties count half), so the survey cannot order a and b. Not corrected for the
    #: number of pairs: a screening aid, as rank intervals are.
    indistinguishable: np.ndarray | None
    replicates: int
    confidence: float
    seed: int

    def pairs_not_told_apart(self) -> list[tuple[int, int]]:
        """(a, b) with a < b for every pair the survey cannot order."""
        if self.indistinguishable is None:
            raise ValueError("pairwise comparisons were not computed (pairwise=False)")
        a, b = np.nonzero(np.triu(self.indistinguishable, k=1))
        return list(zip(a.tolist(), b.tolist()))

    def not_told_apart_from(self, community: int) -> list[int]:
        """The communities the survey cannot order against this one."""
        if self.indistinguishable is None:
            raise ValueError("pairwise comparisons were not computed (pairwise=False)")
        return [int(c) for c in np.flatnonzero(self.indistinguishable[community]) if c != community]


def bootstrap_replicate_means(contributions: Sequence[np.ndarray], *, replicates: int = DEFAULT_REPLICATES,
                              seed: int = 0, block_size: int = DEFAULT_BLOCK_SIZE) -> np.ndarray:
    """Replicates × communities array of bootstrap means of each community's contributions."""
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, got {replicates}")
    rng = np.random.default_rng(seed)
    means = np.empty((replicates, len(contributions)))
    for c, values in enumerate(contributions):
        values = np.asarray(values, dtype=float)
        for start, stop, draws in resample_blocks(rng, len(values), replicates, block_size):
            means[start:stop, c] = values[draws].mean(axis=1)
    return means


def resample_blocks(rng: np.random.Generator, n: int, replicates: int, block_size: int = DEFAULT_BLOCK_SIZE):
    """Resamples of n respondents (with replacement) as (start, stop, draws) blocks of replicates.
    Whole replicates per block, at least one, so big communities stay within memory too; the
    draws are the same however the blocks fall."""
    step = max(1, block_size // n)
    for start in range(0, replicates, step):
        stop = min(replicates, start + step)
        yield start, stop, rng.integers(0, n, size=(stop - start, n), dtype=np.int32)


def percentile_tail(confidence: float) -> float:
    """The lower tail of a percentile interval. Rounded: (1 − 0.95) / 2 is 0.025000000000000022 in
    floating point, which would move the 2.5 % point of 1,000 replicates from the 25th to the 26th."""
    check_confidence(confidence)
    return round((1 - confidence) / 2, 12)


def rank_best_first(scores: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 for the highest score, ties sharing their best rank."""
    return rankdata(-scores, method="min", axis=-1).astype(np.int32)


def bootstrap_rank_intervals(contributions: Sequence[Sequence[float]], fixed_points: Sequence[float] | None = None,
                             *, replicates: int = DEFAULT_REPLICATES, confidence: float = 0.95, seed: int = 0,
                             pairwise: bool = True, block_size: int = DEFAULT_BLOCK_SIZE) -> RankIntervals:
    """Bootstrap intervals of every community's score and rank.

    ``contributions[c]`` holds one number per respondent of community c, already in points (say
    30 points × the respondent's index / 100): the survey part of the score is their mean.
    ``fixed_points[c]`` is the part not from the survey (evaluators' entries), added unchanged.
    Percentile intervals; a higher score ranks better.
    """
    check_confidence(confidence)
    arrays = [np.asarray(v, dtype=float) for v in contributions]
    if len(arrays) < 2:
        raise ValueError("a ranking needs at least 2 communities")
    for c, values in enumerate(arrays):
        if values.ndim != 1 or len(values) == 0:
            raise ValueError(f"community {c} has no respondents: leave it out of the ranking, or score it apart")
        if not np.isfinite(values).all():
            raise ValueError(f"community {c}: contributions must be finite (leave out respondents with none)")
    fixed = np.zeros(len(arrays)) if fixed_points is None else np.asarray(fixed_points, dtype=float)
    if fixed.shape != (len(arrays),):
        raise ValueError(f"fixed_points needs one entry per community ({len(arrays)}), got shape {fixed.shape}")

    scores = fixed + np.array([v.mean() for v in arrays])
    replicate_scores = fixed + bootstrap_replicate_means(arrays, replicates=replicates, seed=seed,
                                                         block_size=block_size)
    return rank_intervals(scores, replicate_scores, confidence=confidence, seed=seed, pairwise=pairwise)


def rank_intervals(scores: Sequence[float], replicate_scores: np.ndarray, *, confidence: float = 0.95,
                   seed: int = 0, pairwise: bool = True) -> RankIntervals:
    """Score and rank intervals from bootstrap replicates scored elsewhere.

    ``replicate_scores`` is replicates × communities: for scores that are no mean of per-respondent
    contributions (thresholds, weighted composites), each replicate's resampled figures scored by
    the scheme (app.analysis.scoring takes replicate arrays). ``seed`` is recorded, not used.
    """
    check_confidence(confidence)
    scores = np.asarray(scores, dtype=float)
    replicate_scores = np.asarray(replicate_scores, dtype=float)
    if scores.ndim != 1 or len(scores) < 2:
        raise ValueError("a ranking needs at least 2 communities")
    if replicate_scores.ndim != 2 or replicate_scores.shape[1] != len(scores) or len(replicate_scores) < 1:
        raise ValueError(f"replicate_scores needs shape (replicates, {len(scores)}), got {replicate_scores.shape}")
    if not (np.isfinite(scores).all() and np.isfinite(replicate_scores).all()):
        raise ValueError("scores must be finite (leave out communities that could not be scored)")
    replicate_ranks = rank_best_first(replicate_scores)
    tail = percentile_tail(confidence)
    score_low, score_high = np.quantile(replicate_scores, [tail, 1 - tail], axis=0)
    # Ranks are whole numbers: take observed replicate ranks, not interpolations between them.
    rank_low, rank_high = np.quantile(replicate_ranks, [tail, 1 - tail], axis=0, method="inverted_cdf")
    return RankIntervals(
        scores=scores, score_low=score_low, score_high=score_high, ranks=rank_best_first(scores),
        rank_low=rank_low.astype(np.int32), rank_high=rank_high.astype(np.int32),
        indistinguishable=_indistinguishable(replicate_scores, tail) if pairwise else None,
        replicates=len(replicate_scores), confidence=confidence, seed=seed)


def _indistinguishable(replicate_scores: np.ndarray, tail: float) -> np.ndarray:
    replicates, communities = replicate_scores.shape
    # One replicate at a time into a reused buffer: no replicates × communities² temporary, and
    # adding booleans straight into the counts is twice as fast as summing blocks of them.
    wins = np.zeros((communities, communities), dtype=np.int64 if replicates >= 2**31 else np.int32)
    beats = np.empty((communities, communities), dtype=bool)
    for scores in replicate_scores:
        np.greater(scores[:, None], scores[None, :], out=beats)
        wins += beats
    ties = replicates - wins - wins.T
    share = (wins + 0.5 * ties) / replicates  # share of replicates in which a beats b
    return (share > tail) & (share < 1 - tail)
