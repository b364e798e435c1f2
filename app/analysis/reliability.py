"""Does a block of scale items measure one thing, and which items drive overall satisfaction?

Input is a respondents × items array of scores (NaN where a respondent gave no on-scale answer):
one row per response, built from the per-response vectors, never from answer objects.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import f as f_distribution
from scipy.stats import rankdata
from scipy.stats import t as student_t

from .intervals import Interval, check_confidence


def _matrix(scores, min_items: int = 2) -> np.ndarray:
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < min_items:
        raise ValueError(f"need a respondents × items array with at least {min_items} items, got {matrix.shape}")
    return matrix


def _complete_rows(matrix: np.ndarray) -> np.ndarray:
    # Listwise: alpha compares items on the same respondents; pairwise covariances can make a
    # matrix no real sample could have.
    return matrix[~np.isnan(matrix).any(axis=1)]


@dataclass(frozen=True)
class CronbachAlpha:
    alpha: float
    #: Feldt's interval (an F distribution with n − 1 and (n − 1)(k − 1) degrees of freedom).
    interval: Interval
    #: Respondents who answered every item of the block on the scale (listwise).
    n: int
    items: int


def cronbach_alpha(scores, *, confidence: float = 0.95) -> CronbachAlpha:
    """Cronbach's alpha of a block of items, k/(k − 1) · (1 − Σ item variances / variance of the sum)."""
    check_confidence(confidence)
    complete = _complete_rows(_matrix(scores))
    n, k = complete.shape
    if n < 2:
        raise ValueError(f"alpha needs at least 2 respondents who answered every item, got {n}")
    covariance = np.cov(complete, rowvar=False)
    total_variance = covariance.sum()
    if total_variance == 0:
        raise ValueError("every respondent gave the same answers: alpha is undefined")
    alpha = k / (k - 1) * (1 - np.trace(covariance) / total_variance)
    tail = (1 - confidence) / 2
    df1, df2 = n - 1, (n - 1) * (k - 1)
    low = 1 - (1 - alpha) * f_distribution.isf(tail, df1, df2)
    high = 1 - (1 - alpha) * f_distribution.isf(1 - tail, df1, df2)
    return CronbachAlpha(float(alpha), Interval(float(low), float(high)), n, k)


@dataclass(frozen=True)
class ItemTotal:
    #: Correlation of the item with the sum of the other items (corrected: the item itself is left
    #: out, or it would correlate with itself); NaN when either has no spread.
    corrected_correlation: float
    #: The block's alpha without this item: higher than the block's means the item does not fit.
    alpha_if_deleted: float | None


def item_total_correlations(scores) -> tuple[ItemTotal, ...]:
    """Per item of a block: corrected item–total correlation and alpha if deleted (listwise)."""
    complete = _complete_rows(_matrix(scores))
    n, k = complete.shape
    if n < 3:
        raise ValueError(f"need at least 3 respondents who answered every item, got {n}")
    total = complete.sum(axis=1)
    results = []
    for j in range(k):
        rest = total - complete[:, j]
        item = complete[:, j]
        if item.std() == 0 or rest.std() == 0:
            correlation = np.nan
        else:
            correlation = float(np.corrcoef(item, rest)[0, 1])
        alpha = None
        if k > 2:
            others = np.delete(complete, j, axis=1)
            covariance = np.cov(others, rowvar=False)
            if covariance.sum() > 0:
                alpha = float((k - 1) / (k - 2) * (1 - np.trace(covariance) / covariance.sum()))
        results.append(ItemTotal(correlation, alpha))
    return tuple(results)


class Quadrant(str, enum.Enum):
    """Importance–performance analysis (IPA): where each item sits, and what it asks of staff."""

    KEEP_UP = "keep_up"            # important and done well
    FIX_FIRST = "fix_first"        # important and done poorly: improve these first
    LOW_PRIORITY = "low_priority"  # less important, done poorly
    POSSIBLE_OVERKILL = "possible_overkill"  # less important, done well

    @property
    def label(self) -> str:
        return {"keep_up": "继续保持区", "fix_first": "重点改进区", "low_priority": "次要改进区",
                "possible_overkill": "维持区"}[self.value]


@dataclass(frozen=True)
class Driver:
    item: str
    #: Spearman correlation with overall satisfaction, over respondents who answered both.
    importance: float
    pvalue: float
    n: int
    #: As given: the item's satisfaction rate or index.
    performance: float
    quadrant: Quadrant | None


@dataclass(frozen=True)
class DriverAnalysis:
    drivers: tuple[Driver, ...]
    #: The cuts of the quadrant: the medians of importance and of performance over the items
    #: (medians, so one extreme item does not move every other item's quadrant).
    importance_cut: float
    performance_cut: float


def spearman(x, y) -> tuple[float, float, int]:
    """Spearman's rho over the pairs where both are present (average ranks for ties), with the
    two-sided p-value of the t approximation, as scipy.stats.spearmanr; NaN if either is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = rankdata(x[both]), rankdata(y[both])
    n = len(x)
    if n < 3 or x.std() == 0 or y.std() == 0:
        return np.nan, np.nan, n
    rho = float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))
    if abs(rho) == 1:
        return rho, 0.0, n
    t = rho * np.sqrt((n - 2) / (1 - rho * rho))
    return rho, float(2 * student_t.sf(abs(t), n - 2)), n


def drivers(item_scores, overall, performance: Sequence[float], items: Sequence[str]) -> DriverAnalysis:
    """Importance (Spearman with the overall-satisfaction item) against performance (each item's
    satisfaction rate or index, as the caller chooses) for every item, placed in IPA quadrants cut
    at the medians. Items whose importance is undefined (no spread) get no quadrant."""
    matrix = _matrix(item_scores, min_items=1)
    overall = np.asarray(overall, dtype=float)
    performance = np.asarray(performance, dtype=float)
    if overall.shape != (matrix.shape[0],):
        raise ValueError(f"overall needs one score per respondent ({matrix.shape[0]}), got {overall.shape}")
    if performance.shape != (matrix.shape[1],) or len(items) != matrix.shape[1]:
        raise ValueError(f"need one performance figure and one name per item ({matrix.shape[1]})")
    correlations = [spearman(matrix[:, j], overall) for j in range(matrix.shape[1])]
    importance = np.array([c[0] for c in correlations])
    usable = ~np.isnan(importance) & ~np.isnan(performance)
    if not usable.any():
        raise ValueError("no item has both an importance and a performance")
    importance_cut = float(np.median(importance[usable]))
    performance_cut = float(np.median(performance[usable]))
    result = []
    for j, (rho, p, n) in enumerate(correlations):
        quadrant = None
        if usable[j]:
            important, good = rho >= importance_cut, performance[j] >= performance_cut
            quadrant = (Quadrant.KEEP_UP if important and good else Quadrant.FIX_FIRST if important
                        else Quadrant.POSSIBLE_OVERKILL if good else Quadrant.LOW_PRIORITY)
        result.append(Driver(items[j], float(rho), float(p), n, float(performance[j]), quadrant))
    return DriverAnalysis(tuple(result), importance_cut, performance_cut)
