"""Comparing groups on one item, from count tables (groups × answer levels), never answer rows.

- independence_test: chi-square test of independence (community × answer);
- kruskal_wallis: do the communities' answers sit at the same level? (tie-corrected, from counts);
- pairwise_rate_tests and pairwise_mann_whitney: every pair of groups, p-values Holm-adjusted
  (the *_table variants give the same as arrays, for hundreds of groups);
- compare_waves: a satisfaction rate now against an earlier wave, with Newcombe's interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2, chi2_contingency, norm

from .intervals import Interval, check_confidence, wilson_interval

#: Expected counts below this make the chi-square approximation doubtful (Cochran's rule: not
#: more than a fifth of cells).
LOW_EXPECTED = 5


@dataclass(frozen=True)
class IndependenceTest:
    statistic: float
    pvalue: float
    dof: int
    #: Groups and answers with any count: all-zero rows and columns are left out of the test.
    groups_tested: int
    answers_tested: int
    #: Share of cells whose expected count is below 5; above 0.2 the p-value is rough.
    low_expected_share: float


def _table(counts, name: str = "table") -> np.ndarray:
    table = np.asarray(counts)
    if table.ndim != 2:
        raise ValueError(f"{name} must be groups × answers, got shape {table.shape}")
    if table.size and (np.any(table < 0) or np.any(table != np.round(table))):
        raise ValueError(f"{name} must hold non-negative whole counts")
    return table.astype(np.int64)


def independence_test(counts) -> IndependenceTest:
    """Pearson's chi-square test that the answer does not depend on the group. No Yates
    correction (it only applies to 2 × 2 and makes the test conservative). NaN when fewer than
    two groups or two answers have any count."""
    table = _table(counts)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    rows, columns = table.shape
    if rows < 2 or columns < 2:
        return IndependenceTest(np.nan, np.nan, 0, rows, columns, np.nan)
    result = chi2_contingency(table, correction=False)
    return IndependenceTest(float(result.statistic), float(result.pvalue), int(result.dof), rows, columns,
                            float(np.mean(result.expected_freq < LOW_EXPECTED)))


@dataclass(frozen=True)
class KruskalWallis:
    statistic: float
    pvalue: float
    dof: int
    groups_tested: int


def kruskal_wallis(counts) -> KruskalWallis:
    """Kruskal–Wallis H from a count table whose columns are ordered levels (either direction),
    with the tie correction; equal to scipy.stats.kruskal on the answers written out. Groups
    without answers are left out; NaN when fewer than two remain or all answers are one level."""
    table = _table(counts)
    table = table[table.sum(axis=1) > 0]
    groups = table.shape[0]
    level_totals = table.sum(axis=0)
    n = level_totals.sum()
    if groups < 2 or np.count_nonzero(level_totals) < 2:
        return KruskalWallis(np.nan, np.nan, max(groups - 1, 0), groups)
    # Every answer of a level shares that level's midrank.
    midranks = np.cumsum(level_totals) - (level_totals - 1) / 2
    rank_sums = table @ midranks
    sizes = table.sum(axis=1)
    h = 12 / (n * (n + 1)) * np.sum(rank_sums**2 / sizes) - 3 * (n + 1)
    h /= 1 - np.sum(level_totals**3 - level_totals) / (n**3 - n)
    return KruskalWallis(float(h), float(chi2.sf(h, groups - 1)), groups - 1, groups)


def holm_adjust(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment: controls the chance of any false difference among all the pairs,
    and is never worse than Bonferroni."""
    p = np.asarray(pvalues, dtype=float)
    if np.any((p < 0) | (p > 1)) or np.isnan(p).any():
        raise ValueError("p-values must lie in [0, 1]")
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


@dataclass(frozen=True)
class PairwiseTest:
    #: Positions of the two groups in the input.
    first: int
    second: int
    statistic: float
    pvalue: float
    #: Holm-adjusted over all pairs tested together.
    adjusted_pvalue: float


@dataclass(frozen=True)
class PairwiseTable:
    """Every pair's test as arrays, one entry per pair (first < second, in input order): 742
    communities make 274,911 pairs, too many for one Python object each."""

    first: np.ndarray
    second: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    #: Holm-adjusted over all pairs of the table.
    adjusted_pvalue: np.ndarray

    def __len__(self) -> int:
        return len(self.first)

    def row(self, i: int) -> PairwiseTest:
        return PairwiseTest(int(self.first[i]), int(self.second[i]), float(self.statistic[i]),
                            float(self.pvalue[i]), float(self.adjusted_pvalue[i]))

    def tests(self) -> list[PairwiseTest]:
        return [self.row(i) for i in range(len(self))]


def _pairs(present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) with a < b among the positions ``present``, in the order itertools.combinations gives."""
    a, b = np.triu_indices(len(present), k=1)
    return present[a], present[b]


def _pairwise_table(a, b, statistic, p) -> PairwiseTable:
    p = np.asarray(p, dtype=float)
    adjusted = holm_adjust(p) if len(p) else np.empty(0)
    return PairwiseTable(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64),
                         np.asarray(statistic, dtype=float), p, adjusted)


def pairwise_rate_table(satisfied: Sequence[int], n: Sequence[int]) -> PairwiseTable:
    """Two-proportion z test (pooled) of the satisfaction rate for every pair of groups; the
    statistic is z for first − second. Groups with no answers are skipped."""
    satisfied = np.asarray(satisfied, dtype=float)
    n = np.asarray(n, dtype=float)
    if satisfied.shape != n.shape or satisfied.ndim != 1 or np.any(satisfied < 0) or np.any(satisfied > n):
        raise ValueError("need 0 <= satisfied <= n, one of each per group")
    a, b = _pairs(np.flatnonzero(n > 0))
    pooled = (satisfied[a] + satisfied[b]) / (n[a] + n[b])
    se = np.sqrt(pooled * (1 - pooled) * (1 / n[a] + 1 / n[b]))
    difference = satisfied[a] / n[a] - satisfied[b] / n[b]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, difference / se, 0.0)  # both all-satisfied or none: no difference
    return _pairwise_table(a, b, z, 2 * norm.sf(np.abs(z)))


def pairwise_rate_tests(satisfied: Sequence[int], n: Sequence[int]) -> list[PairwiseTest]:
    """pairwise_rate_table as one PairwiseTest per pair."""
    return pairwise_rate_table(satisfied, n).tests()


def pairwise_mann_whitney_table(counts) -> PairwiseTable:
    """Mann–Whitney U for every pair of groups from a count table whose columns run best level
    first (the scale's order): normal approximation with the tie correction and a continuity
    correction, as scipy.stats.mannwhitneyu (method="asymptotic"). The statistic is U of the first
    group: of all (first, second) answer pairs, how many the first answered better (ties half).
    Groups without answers are skipped. All pairs at once (pairs × levels arrays)."""
    table = _table(counts)[:, ::-1].astype(float)  # ranks run from the worst level up
    a, b = _pairs(np.flatnonzero(table.sum(axis=1) > 0))
    first, second = table[a], table[b]
    both = first + second
    n1, n2 = first.sum(axis=1), second.sum(axis=1)
    n = n1 + n2
    midranks = np.cumsum(both, axis=1) - (both - 1) / 2
    u1 = np.einsum("ij,ij->i", first, midranks) - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        tie_term = np.sum(both**3 - both, axis=1) / (n * (n - 1))
        sd = np.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
        z = (np.maximum(u1, n1 * n2 - u1) - mean - 0.5) / sd
    # sd 0: every answer the same level, nothing to tell apart.
    p = np.where(sd > 0, np.minimum(1.0, 2 * norm.sf(np.where(sd > 0, z, 0.0))), 1.0)
    return _pairwise_table(a, b, u1, p)


def pairwise_mann_whitney(counts) -> list[PairwiseTest]:
    """pairwise_mann_whitney_table as one PairwiseTest per pair."""
    return pairwise_mann_whitney_table(counts).tests()


@dataclass(frozen=True)
class WaveDifference:
    earlier_rate: float
    later_rate: float
    #: later − earlier.
    difference: float
    #: Newcombe's hybrid score interval (his method 10, from the two Wilson intervals): keeps its
    #: coverage near 0 and 1 and with small n, where the Wald interval does not.
    interval: Interval


def compare_waves(earlier_satisfied: int, earlier_n: int, later_satisfied: int, later_n: int, *,
                  confidence: float = 0.95) -> WaveDifference:
    """The change in satisfaction rate between two independent waves of a campaign."""
    check_confidence(confidence)
    if earlier_n <= 0 or later_n <= 0:
        raise ValueError("both waves need answers")
    if not (0 <= earlier_satisfied <= earlier_n and 0 <= later_satisfied <= later_n):
        raise ValueError("need 0 <= satisfied <= n in both waves")
    p1, p2 = later_satisfied / later_n, earlier_satisfied / earlier_n
    (l1, l2), (u1, u2) = wilson_interval([later_satisfied, earlier_satisfied], [later_n, earlier_n], confidence)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return WaveDifference(p2, p1, d, Interval(float(low), float(high)))
