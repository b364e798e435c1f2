"""Sample sizes: Cochran's formula with the finite-population correction, checked against a
reference written here with the standard library only."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from app.analysis.sampling import cochran_sample_size

POPULATIONS = [1, 2, 10, 100, 1000, 2500, 10**6, None]
CONFIDENCES = [0.9, 0.95, 0.99]
MARGINS = [0.03, 0.05, 0.1]


def reference_sample_size(population: int | None, confidence: float, margin: float, proportion: float = 0.5) -> int:
    """n0 = z² p (1 − p) / e²; with a known population N, n = n0 / (1 + (n0 − 1) / N); rounded up."""
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    n0 = z**2 * proportion * (1 - proportion) / margin**2
    if population is None:
        return math.ceil(n0)
    # n0 / (1 + (n0 − 1)/N) written as n0·N / (N + n0 − 1): the same number, and exact when N = 1.
    return math.ceil(n0 * population / (population + n0 - 1))


@pytest.mark.parametrize("margin", MARGINS)
@pytest.mark.parametrize("confidence", CONFIDENCES)
@pytest.mark.parametrize("population", POPULATIONS)
def test_sample_size_matches_the_reference(population, confidence, margin):
    expected = reference_sample_size(population, confidence, margin)
    assert cochran_sample_size(population, confidence=confidence, margin=margin) == expected


@pytest.mark.parametrize("proportion", [0.1, 0.3, 0.7, 0.9])
def test_sample_size_for_an_expected_proportion_matches_the_reference(proportion):
    for population in (500, None):
        assert cochran_sample_size(population, proportion=proportion) == \
            reference_sample_size(population, 0.95, 0.05, proportion)
    # p = 0.5 is the cautious default: any other guess needs fewer.
    assert cochran_sample_size(None, proportion=proportion) < cochran_sample_size(None)


@pytest.mark.parametrize("population, expected", [
    (None, 385),   # 1.96² · 0.25 / 0.05² = 384.15
    (1000, 278),   # 384.15 / (1 + 383.15/1000) = 277.7
    (0, 0),        # nobody to ask
])
def test_textbook_values_at_95_percent_plus_minus_5(population, expected):
    assert cochran_sample_size(population) == expected
    assert cochran_sample_size(population, confidence=0.95, margin=0.05, proportion=0.5) == expected


def test_never_more_than_the_population_and_never_fewer_as_it_grows():
    for confidence in CONFIDENCES:
        for margin in MARGINS:
            sizes = [cochran_sample_size(n, confidence=confidence, margin=margin) for n in range(0, 3001)]
            assert all(0 <= size <= n for n, size in enumerate(sizes))
            assert all(a <= b for a, b in zip(sizes, sizes[1:]))
            assert sizes[-1] <= cochran_sample_size(None, confidence=confidence, margin=margin)


def test_a_small_population_needs_nearly_everyone():
    # With n0 in the hundreds, a community of 10 households is asked almost in full.
    assert cochran_sample_size(1) == 1
    assert cochran_sample_size(10) == 10


@pytest.mark.parametrize("arguments", [
    {"confidence": 0},
    {"confidence": 1},
    {"confidence": 95},
    {"confidence": -0.5},
    {"confidence": math.nan},
    {"margin": 0},
    {"margin": -0.05},
    {"margin": 1},
    {"margin": math.nan},
    {"proportion": 0},
    {"proportion": 1},
    {"proportion": 1.5},
], ids=lambda a: ",".join(f"{k}={v}" for k, v in a.items()))
def test_parameters_out_of_range_are_refused(arguments):
    with pytest.raises(ValueError, match=next(iter(arguments))):
        cochran_sample_size(1000, **arguments)


@pytest.mark.parametrize("population", [-1, -1000])
def test_a_negative_population_is_refused(population):
    with pytest.raises(ValueError, match="population"):
        cochran_sample_size(population)


# -- margin of error reached so far ----------------------------------------------------

def reference_margin(n, population, confidence, p=0.5):
    """Standard library only: z·sqrt(p(1−p)/n)·sqrt((N−n)/(N−1))."""
    from statistics import NormalDist
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    fpc = 1.0 if population is None else ((population - n) / (population - 1) if population > 1 else 0.0)
    return z * math.sqrt(p * (1 - p) / n * fpc)


@pytest.mark.parametrize("n", [1, 10, 100, 385, 1000])
@pytest.mark.parametrize("population", [None, 1000, 2500, 10**6])
@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_margin_of_error_matches_the_reference(n, population, confidence):
    from app.analysis.sampling import margin_of_error
    assert margin_of_error(n, population, confidence=confidence) == pytest.approx(
        reference_margin(n, population, confidence), rel=1e-12)


def test_margin_of_error_is_the_inverse_of_the_sample_size():
    from app.analysis.sampling import cochran_sample_size, margin_of_error
    for population in (500, 2000, 6000, None):
        n = cochran_sample_size(population)
        assert margin_of_error(n, population) <= 0.05 < margin_of_error(n - 1, population)


def test_margin_of_error_edge_cases():
    from app.analysis.sampling import margin_of_error
    assert margin_of_error(0, 1000) is None
    assert margin_of_error(1000, 1000) == 0.0
    with pytest.raises(ValueError):
        margin_of_error(1001, 1000)
    with pytest.raises(ValueError):
        margin_of_error(-1, 1000)
