"""Sample sizes for a community survey."""

from __future__ import annotations

import math

from scipy.stats import norm


def cochran_sample_size(population: int | None, *, confidence: float = 0.95, margin: float = 0.05,
                        proportion: float = 0.5) -> int:
    """Completed responses needed to estimate a proportion within ±margin.

    Cochran's formula n0 = z² p (1 − p) / e², with the finite-population correction
    n = n0 / (1 + (n0 − 1) / N) when the population N (households) is known; rounded up.
    p = 0.5 is the cautious default (largest n).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if not 0 < margin < 1:
        raise ValueError(f"margin must be between 0 and 1, got {margin}")
    if not 0 < proportion < 1:
        raise ValueError(f"proportion must be between 0 and 1, got {proportion}")
    if population is not None and population < 0:
        raise ValueError(f"population must not be negative, got {population}")
    if population == 0:
        return 0
    z = norm.ppf(1 - (1 - confidence) / 2)
    n0 = z * z * proportion * (1 - proportion) / (margin * margin)
    if population is None:
        return math.ceil(n0)
    return min(population, math.ceil(n0 / (1 + (n0 - 1) / population)))


def margin_of_error(n: int, population: int | None, *, confidence: float = 0.95,
                    proportion: float = 0.5) -> float | None:
    """The ± margin of a proportion estimated from n responses (finite-population corrected).

    The inverse of cochran_sample_size: how precise the sample gathered so far is.
    None when nothing has been gathered; 0 once the whole population has answered.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n == 0:
        return None
    z = norm.ppf(1 - (1 - confidence) / 2)
    variance = proportion * (1 - proportion) / n
    if population is not None:
        if population < n:
            raise ValueError(f"n ({n}) exceeds the population ({population})")
        variance *= (population - n) / (population - 1) if population > 1 else 0.0
    return z * math.sqrt(variance)
