"""Confidence intervals in closed form, vectorised over groups.

Each function takes arrays (one entry per group) and returns arrays, NaN where the interval is
undefined (no answers; fewer than two for a t interval), so a whole campaign's items × communities
are computed in one call instead of one scipy call per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def normal_quantile(confidence: float) -> float:
    """z for a two-sided interval, e.g. 1.959964 for 95 %."""
    check_confidence(confidence)
    return float(norm.ppf(1 - (1 - confidence) / 2))


def wilson_interval(successes, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (what statsmodels' proportion_confint(method="wilson")
    gives). Unlike the Wald interval it stays inside [0, 1] and is honest at p = 0 or 1 and small n,
    which is where community samples often are. NaN where n = 0."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any(n < 0) or np.any(successes < 0) or np.any(successes > n):
        raise ValueError("need 0 <= successes <= n")
    z = normal_quantile(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = successes / n
        denominator = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denominator
        half = z / denominator * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        low, high = centre - half, centre + half
    empty = n == 0
    # At p = 0 (p = 1) the lower (upper) bound is exactly 0 (1); the formula leaves rounding dust
    # there (1 − 1e-16), which would put the interval just beside the rate it is about.
    low = np.where(empty, np.nan, np.where(successes == 0, 0.0, np.clip(low, 0.0, 1.0)))
    high = np.where(empty, np.nan, np.where(successes == n, 1.0, np.clip(high, 0.0, 1.0)))
    return low, high


def t_interval(mean, sd, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """mean ± t(n−1) · sd / √n; NaN where n < 2 (no spread can be estimated)."""
    check_confidence(confidence)
    mean, sd, n = (np.asarray(x, dtype=float) for x in (mean, sd, n))
    usable = n >= 2
    # A harmless df for the unusable cells, replaced by NaN below.
    quantile = student_t.ppf(1 - (1 - confidence) / 2, np.where(usable, n - 1, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        half = quantile * sd / np.sqrt(n)
    return np.where(usable, mean - half, np.nan), np.where(usable, mean + half, np.nan)
