"""Group comparisons from count tables, checked against scipy (chi2_contingency, kruskal and
mannwhitneyu on the answers written out one by one) and statsmodels (proportions_ztest,
multipletests(method="holm"), confint_proportions_2indep(method="newcomb")). Closed forms: 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, kruskal, mannwhitneyu
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from app.analysis.comparisons import (
    compare_waves,
    holm_adjust,
    independence_test,
    kruskal_wallis,
    pairwise_mann_whitney,
    pairwise_mann_whitney_table,
    pairwise_rate_table,
    pairwise_rate_tests,
)

CLOSED = 1e-9
LEVEL_SCORES = np.array([100, 80, 60, 40, 20])


def written_out(row) -> np.ndarray:
    """The answers one by one, as a reference test wants them."""
    return np.repeat(LEVEL_SCORES[: len(row)], row)


def random_table(seed: int, groups: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([rng.multinomial(rng.integers(5, 60), rng.dirichlet(np.ones(5))) for _ in range(groups)])


@pytest.mark.parametrize("seed", range(4))
def test_chi_square_matches_scipy(seed):
    table = random_table(seed)
    table[2] = 0           # a community with no answers yet
    table[:, 4] = 0        # nobody chose the last level
    result = independence_test(table)
    reference = chi2_contingency(table[[0, 1, 3, 4, 5]][:, :4], correction=False)
    assert result.statistic == pytest.approx(reference.statistic, abs=CLOSED)
    assert result.pvalue == pytest.approx(reference.pvalue, abs=CLOSED)
    assert (result.dof, result.groups_tested, result.answers_tested) == (reference.dof, 5, 4)


def test_chi_square_on_a_degenerate_table_is_nan():
    assert np.isnan(independence_test([[3, 0], [5, 0]]).pvalue)
    assert np.isnan(independence_test([[3, 4]]).pvalue)


@pytest.mark.parametrize("seed", range(4))
def test_kruskal_wallis_matches_scipy(seed):
    table = random_table(seed)
    result = kruskal_wallis(table)
    reference = kruskal(*[written_out(row) for row in table])
    assert result.statistic == pytest.approx(reference.statistic, rel=CLOSED)
    assert result.pvalue == pytest.approx(reference.pvalue, abs=CLOSED)


def test_kruskal_wallis_on_one_level_is_nan():
    assert np.isnan(kruskal_wallis([[3, 0], [5, 0]]).statistic)


# Few examples: multipletests takes some 40 ms a call here.
@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 1) | st.sampled_from([0.0, 0.01, 0.05, 1.0]), min_size=1, max_size=30))
def test_holm_matches_statsmodels(pvalues):
    reference = multipletests(pvalues, method="holm")[1]
    np.testing.assert_allclose(holm_adjust(pvalues), reference, atol=CLOSED)


def test_pairwise_rates_match_statsmodels_ztest():
    satisfied, n = [30, 45, 12, 0, 50], [40, 50, 30, 0, 50]
    tests = pairwise_rate_tests(satisfied, n)
    assert [(t.first, t.second) for t in tests] == [(0, 1), (0, 2), (0, 4), (1, 2), (1, 4), (2, 4)]
    for t in tests:
        z, p = proportions_ztest([satisfied[t.first], satisfied[t.second]], [n[t.first], n[t.second]])
        assert t.statistic == pytest.approx(z, abs=CLOSED) and t.pvalue == pytest.approx(p, abs=CLOSED)
    reference = multipletests([t.pvalue for t in tests], method="holm")[1]
    np.testing.assert_allclose([t.adjusted_pvalue for t in tests], reference, atol=CLOSED)


def test_pairwise_mann_whitney_matches_scipy():
    table = random_table(7, groups=5)
    table[3] = 0
    tests = pairwise_mann_whitney(table)
    assert len(tests) == 6
    for t in tests:
        reference = mannwhitneyu(written_out(table[t.first]), written_out(table[t.second]),
                                 method="asymptotic", use_continuity=True)
        assert t.statistic == pytest.approx(reference.statistic, abs=CLOSED)
        assert t.pvalue == pytest.approx(reference.pvalue, abs=CLOSED)
    reference = multipletests([t.pvalue for t in tests], method="holm")[1]
    np.testing.assert_allclose([t.adjusted_pvalue for t in tests], reference, atol=CLOSED)


def test_pairwise_mann_whitney_of_one_level_pairs_and_tiny_groups_matches_scipy():
    # 0 and 1 answer only level "5": their pair has no spread (p = 1); 2 has a single answer.
    table = np.array([[4, 0, 0, 0, 0], [2, 0, 0, 0, 0], [0, 0, 1, 0, 0], [3, 1, 0, 2, 5]])
    for t in pairwise_mann_whitney(table):
        first, second = written_out(table[t.first]), written_out(table[t.second])
        if t.first == 0 and t.second == 1:
            assert t.pvalue == 1.0
            continue
        reference = mannwhitneyu(first, second, method="asymptotic", use_continuity=True)
        assert t.statistic == pytest.approx(reference.statistic, abs=CLOSED)
        assert t.pvalue == pytest.approx(reference.pvalue, abs=CLOSED)


@pytest.mark.parametrize("table", [np.zeros((3, 5), dtype=int), np.array([[1, 2, 0, 0, 0]])])
def test_pairwise_tables_with_fewer_than_two_groups_answering_are_empty(table):
    assert len(pairwise_mann_whitney_table(table)) == 0
    assert len(pairwise_rate_table(table[:, 0], table.sum(axis=1))) == 0


@pytest.mark.parametrize(("earlier", "later"), [((120, 200), (150, 210)), ((0, 15), (3, 20)),
                                                ((40, 40), (35, 40)), ((5, 9), (5, 9))])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_wave_difference_is_newcombes_interval(earlier, later, confidence):
    result = compare_waves(*earlier, *later, confidence=confidence)
    low, high = confint_proportions_2indep(later[0], later[1], earlier[0], earlier[1], method="newcomb",
                                           compare="diff", alpha=1 - confidence)
    assert result.difference == pytest.approx(later[0] / later[1] - earlier[0] / earlier[1], abs=CLOSED)
    assert (result.interval.low, result.interval.high) == pytest.approx((low, high), abs=CLOSED)
    assert result.interval.low <= result.difference <= result.interval.high


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="whole counts"):
        independence_test([[1.5, 2], [1, 1]])
    with pytest.raises(ValueError, match="both waves"):
        compare_waves(0, 0, 1, 2)
