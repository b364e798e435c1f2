"""Per-item statistics from count tables, checked against statsmodels: proportion_confint(method=
"wilson") for the satisfaction rate's interval, DescrStatsW with the counts as frequency weights for
the mean, SD and t interval. Closed forms, so agreement to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from app.analysis.items import count_table, item_statistics, item_statistics_table
from app.analysis.sampling import margin_of_error
from app.analysis.scales import ScaleScoring

# satisfaction5 of surveys/scales.yaml, passed as plain data.
SATISFACTION5 = ScaleScoring.from_levels([("5", 100), ("4", 80), ("3", 60), ("2", 40), ("1", 20)],
                                         satisfied=["5", "4"], off_scale=["dk"])
AWARENESS4 = ScaleScoring.from_levels([("4", 100), ("3", 75), ("2", 40), ("1", 0)], satisfied=["4", "3"])
TOL = 1e-9


def test_one_community_read_as_an_evaluator_would():
    stats = item_statistics({"5": 12, "4": 20, "3": 5, "2": 2, "1": 1, "dk": 6}, SATISFACTION5,
                            respondents=50, target=45)
    assert stats.n_valid == 40
    assert stats.off_scale == 6 and stats.off_scale_counts == (("dk", 6),)
    assert stats.missing == 4
    assert [(d.code, d.count) for d in stats.distribution] == [("5", 12), ("4", 20), ("3", 5), ("2", 2), ("1", 1)]
    assert stats.distribution[0].share == pytest.approx(12 / 40, abs=TOL)
    assert stats.satisfaction_rate == pytest.approx(32 / 40, abs=TOL)
    assert stats.mean == pytest.approx((12 * 100 + 20 * 80 + 5 * 60 + 2 * 40 + 20) / 40, abs=TOL)
    assert stats.satisfaction_index == stats.mean
    assert stats.below_target  # 40 valid answers, target 45


def test_wilson_interval_matches_statsmodels():
    for satisfied, n in [(0, 1), (1, 1), (0, 30), (30, 30), (7, 9), (320, 400), (1, 1000)]:
        stats = item_statistics({"5": satisfied, "1": n - satisfied}, SATISFACTION5)
        low, high = proportion_confint(satisfied, n, alpha=0.05, method="wilson")
        assert stats.rate_interval.low == pytest.approx(low, abs=TOL)
        assert stats.rate_interval.high == pytest.approx(high, abs=TOL)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_mean_sd_and_t_interval_match_descrstatsw(confidence):
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 40, size=(30, 4))
    counts[0] = [0, 3, 0, 0]   # no spread: SD 0, interval of width 0
    counts[1] = [1, 1, 0, 0]   # n = 2, the fewest a t interval allows
    table = item_statistics_table(counts, AWARENESS4, confidence=confidence)
    scores = np.array(AWARENESS4.scores)
    for g, row in enumerate(counts):
        reference = DescrStatsW(scores, weights=row.astype(float), ddof=1)  # counts as frequency weights
        assert table.mean[g] == pytest.approx(reference.mean, abs=TOL)
        assert table.sd[g] == pytest.approx(reference.std, abs=TOL)
        low, high = reference.tconfint_mean(alpha=1 - confidence)
        assert table.mean_low[g] == pytest.approx(low, abs=TOL)
        assert table.mean_high[g] == pytest.approx(high, abs=TOL)
        rate_low, rate_high = proportion_confint(row[:2].sum(), row.sum(), alpha=1 - confidence, method="wilson")
        assert table.rate_low[g] == pytest.approx(rate_low, abs=TOL)
        assert table.rate_high[g] == pytest.approx(rate_high, abs=TOL)


def test_basic_satisfied_counts_as_satisfied_when_the_scale_says_so():
    basic = ScaleScoring.from_levels([("5", 100), ("4", 80), ("3", 60), ("2", 40), ("1", 20)],
                                     satisfied=["5", "4", "3"], off_scale=["dk"])
    counts = {"5": 1, "4": 1, "3": 2, "2": 0, "1": 0}
    assert item_statistics(counts, basic).satisfaction_rate == 1.0
    assert item_statistics(counts, SATISFACTION5).satisfaction_rate == 0.5


def test_margin_of_error_is_the_progress_pages():
    stats = item_statistics({"5": 100, "4": 100}, SATISFACTION5, population=1200)
    assert stats.margin_of_error == pytest.approx(margin_of_error(200, 1200), abs=TOL)
    assert item_statistics({"5": 100}, SATISFACTION5).margin_of_error == pytest.approx(margin_of_error(100, None))


def test_edge_cases_give_none_not_errors():
    only_dk = item_statistics({"dk": 3}, SATISFACTION5, respondents=3)
    assert only_dk.n_valid == 0 and only_dk.off_scale == 3 and only_dk.missing == 0
    assert only_dk.mean is None and only_dk.satisfaction_rate is None and only_dk.rate_interval is None
    assert only_dk.margin_of_error is None and only_dk.distribution[0].share is None
    single = item_statistics({"4": 1}, SATISFACTION5)
    assert single.mean == 80 and single.sd is None and single.mean_interval is None
    assert single.rate_interval is not None  # Wilson is defined from one answer


@pytest.mark.parametrize(("counts", "kwargs", "message"), [
    ({"6": 1}, {}, "neither a level"),
    ({"5": 3}, {"respondents": 2}, "only 2 respondents"),
    ({"5": -1}, {}, "non-negative"),
    ({"5": 1}, {"confidence": 1.0}, "confidence"),
])
def test_bad_input_is_refused(counts, kwargs, message):
    with pytest.raises(ValueError, match=message):
        item_statistics(counts, SATISFACTION5, **kwargs)


def test_bad_scales_are_refused():
    with pytest.raises(ValueError, match="not levels"):
        ScaleScoring.from_levels([("2", 100), ("1", 0)], satisfied=["3"])
    with pytest.raises(ValueError, match="twice"):
        ScaleScoring.from_levels([("2", 100), ("1", 0)], satisfied=["2"], off_scale=["1"])


def test_count_table_from_group_by_rows():
    rows = [("翠湖", "5", 3), ("翠湖", "dk", 1), ("华山", "4", 2), ("翠湖", "1", 1)]
    groups, levels, off = count_table(rows, SATISFACTION5)
    assert groups == ["翠湖", "华山"]
    assert levels.tolist() == [[3, 0, 0, 0, 1], [0, 2, 0, 0, 0]]
    assert off.tolist() == [[1], [0]]
    with pytest.raises(ValueError, match="'9'"):
        count_table([("翠湖", "9", 1)], SATISFACTION5)


def test_scores_of_answer_codes():
    assert np.array_equal(SATISFACTION5.score_of(["5", "dk", None, "1"]), [100, np.nan, np.nan, 20], equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 500), min_size=5, max_size=5).filter(lambda c: sum(c) > 0),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_contains_the_rate(counts, confidence):
    table = item_statistics_table([counts], SATISFACTION5, confidence=confidence)
    assert 0 <= table.rate_low[0] <= table.satisfaction_rate[0] <= table.rate_high[0] <= 1
    low, high = proportion_confint(sum(counts[:2]), sum(counts), alpha=1 - confidence, method="wilson")
    assert table.rate_low[0] == pytest.approx(low, abs=TOL) and table.rate_high[0] == pytest.approx(high, abs=TOL)
