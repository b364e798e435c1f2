"""Comparing groups on one item, from count tables (groups × answer levels), never answer rows.

- independence_test: chi-square test of independence (community × answer);
- kruskal_wallis: do the communities' answers sit at the same level? (tie-corrected, from counts);
- pairwise_rate_tests and pairwise_mann_whitney: every pair of groups, p-values Holm-adjusted;
- compare_waves: a satisfaction rate now against an earlier wave, with Newcombe's interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

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


def pairwise_rate_tests(satisfied: Sequence[int], n: Sequence[int]) -> list[PairwiseTest]:
    """Two-proportion z test (pooled) of the satisfaction rate for every pair of groups; the
    statistic is z for first − second. Groups with no answers are skipped."""
    satisfied = np.asarray(satisfied, dtype=float)
    n = np.asarray(n, dtype=float)
    if satisfied.shape != n.shape or np.any(satisfied < 0) or np.any(satisfied > n):
        raise ValueError("need 0 <= satisfied <= n, one of each per group")
    pairs = [(a, b) for a, b in combinations(range(len(n)), 2) if n[a] > 0 and n[b] > 0]
    if not pairs:
        return []
    a, b = np.array(pairs).T
    pooled = (satisfied[a] + satisfied[b]) / (n[a] + n[b])
    se = np.sqrt(pooled * (1 - pooled) * (1 / n[a] + 1 / n[b]))
    difference = satisfied[a] / n[a] - satisfied[b] / n[b]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, difference / se, 0.0)  # both all-satisfied or none: no difference
    p = 2 * norm.sf(np.abs(z))
    return [PairwiseTest(int(x), int(y), float(s), float(q), float(r))
            for x, y, s, q, r in zip(a, b, z, p, holm_adjust(p))]


def pairwise_mann_whitney(counts) -> list[PairwiseTest]:
    """Mann–Whitney U for every pair of groups from a count table whose columns run best level
    first (the scale's order): normal approximation with the tie correction and a continuity
    correction, as scipy.stats.mannwhitneyu (method="asymptotic"). The statistic is U of the first
    group: of all (first, second) answer pairs, how many the first answered better (ties half).
    Groups without answers are skipped."""
    table = _table(counts)[:, ::-1]  # ranks run from the worst level up
    present = np.flatnonzero(table.sum(axis=1) > 0)
    results = []
    for a, b in combinations(present, 2):
        first, second = table[a], table[b]
        both = first + second
        n1, n2 = first.sum(), second.sum()
        n = n1 + n2
        midranks = np.cumsum(both) - (both - 1) / 2
        u1 = first @ midranks - n1 * (n1 + 1) / 2
        mean = n1 * n2 / 2
        tie_term = np.sum(both**3 - both) / (n * (n - 1))
        sd = np.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
        if sd == 0:  # every answer the same level: nothing to tell apart
            p = 1.0
        else:
            z = (max(u1, n1 * n2 - u1) - mean - 0.5) / sd
            p = min(1.0, 2 * float(norm.sf(z)))
        results.append((int(a), int(b), float(u1), p))
    adjusted = holm_adjust([r[3] for r in results]) if results else []
    return [PairwiseTest(a, b, u, p, float(q)) for (a, b, u, p), q in zip(results, adjusted)]


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
