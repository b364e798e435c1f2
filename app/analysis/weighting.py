"""Weights raked to population margins, and weighted estimates with their standard errors.

QR scanners are younger and meeting attendees older than the community; where an evaluator enters
the population's margins (e.g. age band and sex, each as its own list of totals), raking gives each
respondent a weight so the sample's weighted margins match. Unweighted is the default everywhere:
weights=None means every respondent counts once.

Standard errors treat the weights as fixed in a single-stage design sampled with replacement, i.e.
R survey's ``svydesign(ids = ~1, weights = ~w)``: Taylor linearisation of the ratio Σwy / Σw. That
ignores the small precision raking itself buys, so it errs on the cautious side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .intervals import Interval, check_confidence
from .intervals import t_interval as _t_interval

#: Raking stops when every weighted margin is within this share of the population total.
RAKING_TOLERANCE = 1e-10
MAX_RAKING_ITERATIONS = 1000


@dataclass(frozen=True)
class RakingResult:
    #: One weight per respondent; they sum to the population total of the margins.
    weights: np.ndarray
    converged: bool
    iterations: int
    #: Largest |weighted margin − population margin| / population total at the end.
    max_margin_error: float
    #: The largest weight allowed (cap × mean weight), or None without a cap.
    weight_cap: float | None
    #: Positions of the respondents whose weight was held at the cap.
    capped: tuple[int, ...]


def rake(categories: Sequence[Sequence[int]], population_margins: Sequence[Sequence[float]], *,
         base_weights: Sequence[float] | None = None, cap: float | None = None,
         tolerance: float = RAKING_TOLERANCE, max_iterations: int = MAX_RAKING_ITERATIONS) -> RakingResult:
    """Iterative proportional fitting of weights to population margins.

    ``categories[v][i]`` is respondent i's category (0, 1, ...) on margin v (say age band);
    ``population_margins[v][c]`` the population's total in category c of margin v. Every margin must
    have the same grand total. ``cap`` bounds each weight at ``cap`` times the mean weight
    (the population total over the sample size); capped weights are held there and the others raked
    on, until the margins match within ``tolerance`` (as a share of the total) or ``max_iterations``
    full cycles have run (then ``converged`` is False, and the weights should not be used). That
    happens with a tight cap, and when the sample has empty cells (no older men, say) that make the
    margins reachable only in the limit.
    """
    if len(categories) != len(population_margins) or not categories:
        raise ValueError("need one population margin per categorisation, and at least one")
    if tolerance <= 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    codes = [np.asarray(c) for c in categories]
    n = len(codes[0])
    if n == 0:
        raise ValueError("no respondents to weight")
    targets = [np.asarray(m, dtype=float) for m in population_margins]
    total = targets[0].sum()
    for v, (c, target) in enumerate(zip(codes, targets)):
        if c.shape != (n,):
            raise ValueError(f"margin {v}: {c.shape[0] if c.ndim == 1 else c.shape} respondents, expected {n}")
        if not np.issubdtype(c.dtype, np.integer) or c.min() < 0 or c.max() >= len(target):
            raise ValueError(f"margin {v}: categories must be whole numbers 0..{len(target) - 1}")
        if np.any(target < 0) or not np.isfinite(target).all():
            raise ValueError(f"margin {v}: population totals must be finite and non-negative")
        if not np.isclose(target.sum(), total, rtol=1e-9, atol=0):
            raise ValueError(f"margin {v} totals {target.sum()}, margin 0 totals {total}: they must agree")
        empty = (np.bincount(c, minlength=len(target)) == 0) & (target > 0)
        if empty.any():
            raise ValueError(f"margin {v}: no respondents in categories {np.flatnonzero(empty).tolist()}, "
                             "whose population is not 0; merge them with a neighbour")
    if total <= 0:
        raise ValueError("the population margins total 0")
    weights = np.ones(n) if base_weights is None else np.asarray(base_weights, dtype=float).copy()
    if weights.shape != (n,) or np.any(weights <= 0) or not np.isfinite(weights).all():
        raise ValueError("base_weights must be one positive number per respondent")
    weight_cap = None
    if cap is not None:
        if cap <= 1:
            raise ValueError(f"cap is a multiple of the mean weight and must exceed 1, got {cap}")
        weight_cap = cap * total / n

    def margin_error(w: np.ndarray) -> float:
        return max(np.abs(np.bincount(c, weights=w, minlength=len(t)) - t).max() for c, t in zip(codes, targets)) / total

    iterations = 0
    error = margin_error(weights)
    while error > tolerance and iterations < max_iterations:
        for c, target in zip(codes, targets):
            current = np.bincount(c, weights=weights, minlength=len(target))
            # Categories with a population of 0 take weight 0; current > 0 wherever target > 0.
            factor = np.divide(target, current, out=np.zeros_like(target), where=current > 0)
            weights *= factor[c]
        if weight_cap is not None:
            np.minimum(weights, weight_cap, out=weights)
        iterations += 1
        error = margin_error(weights)
    capped = () if weight_cap is None else tuple(np.flatnonzero(weights >= weight_cap * (1 - 1e-12)).tolist())
    return RakingResult(weights=weights, converged=bool(error <= tolerance), iterations=iterations,
                        max_margin_error=float(error), weight_cap=weight_cap, capped=capped)


@dataclass(frozen=True)
class WeightedEstimate:
    """A (weighted) mean or proportion with its design-based uncertainty."""

    estimate: float
    #: Taylor-linearised standard error, with-replacement single-stage design.
    standard_error: float
    #: estimate ± t(n − 1) · SE, as R's confint(svymean(...), df = degf(design)).
    interval: Interval | None
    #: Variance over the variance of an unweighted simple random sample of the same size
    #: (R's svymean(..., deff = "replace")); 1 without weights.
    design_effect: float
    #: Kish's effective sample size (Σw)² / Σw²: what the weights' spread leaves of n.
    effective_n: float
    n: int
    sum_of_weights: float


def weighted_mean(values: Sequence[float], weights: Sequence[float] | None = None, *,
                  confidence: float = 0.95) -> WeightedEstimate:
    """The weighted mean Σwy / Σw of the respondents who answered (pass only those: NaN is refused,
    so a gap is never taken for a score), with its linearised standard error."""
    check_confidence(confidence)
    y = np.asarray(values, dtype=float)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError("need a non-empty list of values")
    if not np.isfinite(y).all():
        raise ValueError("values must be finite: leave out who did not answer (off-scale, missing)")
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != y.shape:
        raise ValueError(f"{len(y)} values but {w.shape} weights")
    if np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all 0")
    n = len(y)
    total = w.sum()
    mean = float(w @ y / total)
    # Linearised residuals of the ratio; with replacement: Var = n/(n−1) Σ (w_i (y_i − ȳ) / Σw)².
    residuals = w * (y - mean) / total
    variance = n / (n - 1) * float(residuals @ residuals) if n > 1 else np.nan
    # Variance a simple random sample would have: the weighted population variance estimate / n.
    srs_variance = (n / (n - 1) * float(w @ (y - mean) ** 2) / total) / n if n > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        design_effect = variance / srs_variance if n > 1 else np.nan
    se = float(np.sqrt(variance))
    low, high = _t_interval(mean, se * np.sqrt(n), n, confidence)
    return WeightedEstimate(
        estimate=mean, standard_error=se, interval=None if np.isnan(low) else Interval(float(low), float(high)),
        design_effect=float(design_effect), effective_n=float(total**2 / (w @ w)), n=n, sum_of_weights=float(total))


def weighted_proportion(indicator: Sequence[bool], weights: Sequence[float] | None = None, *,
                        confidence: float = 0.95) -> WeightedEstimate:
    """The weighted share of True (e.g. in the top boxes) among those who answered: the weighted
    mean of a 0/1 variable, with the same linearised (Wald-type, t) interval as R's svymean."""
    return weighted_mean(np.asarray(indicator, dtype=bool).astype(float), weights, confidence=confidence)
