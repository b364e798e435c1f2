"""Cross-tabs checked against scipy (chi2_contingency, contingency.association, fisher_exact) and
pandas (crosstab with normalize=…) on the answers written out one by one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, fisher_exact
from scipy.stats.contingency import association

from app.analysis.crosstab import conclusion, crosstab, format_p, independence_test

CLOSED = 1e-9


def written_out(table: np.ndarray) -> pd.DataFrame:
    """One row per respondent: (row label, column label), as pandas.crosstab wants them."""
    rows, columns = np.indices(table.shape)
    return pd.DataFrame({"row": np.repeat(rows.ravel(), table.ravel()),
                         "col": np.repeat(columns.ravel(), table.ravel())})


def random_table(seed: int, shape=(4, 5)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(3, 40, size=shape)


@pytest.mark.parametrize("seed", range(5))
def test_percentages_agree_with_pandas_crosstab(seed):
    table = random_table(seed)
    result = crosstab(table, [f"r{i}" for i in range(4)], [f"c{j}" for j in range(5)])
    frame = written_out(table)
    for normalize, mine in (("index", result.row_percent), ("columns", result.column_percent),
                            ("all", result.total_percent)):
        reference = pd.crosstab(frame["row"], frame["col"], normalize=normalize).to_numpy()
        np.testing.assert_allclose(mine, 100 * reference, atol=CLOSED)
    margins = pd.crosstab(frame["row"], frame["col"], margins=True)
    np.testing.assert_array_equal(result.row_totals, margins["All"].to_numpy()[:-1])
    np.testing.assert_array_equal(result.column_totals, margins.loc["All"].to_numpy()[:-1])
    assert result.total == margins.loc["All", "All"] == table.sum()
    np.testing.assert_allclose(result.row_total_percent, 100 * table.sum(axis=1) / table.sum(), atol=CLOSED)
    np.testing.assert_allclose(result.column_total_percent, 100 * table.sum(axis=0) / table.sum(), atol=CLOSED)
    np.testing.assert_allclose(result.row_percent.sum(axis=1), 100)
    assert result.row_labels == ("r0", "r1", "r2", "r3") and result.column_labels[-1] == "c4"


@pytest.mark.parametrize("seed", range(5))
def test_chi_square_and_cramers_v_agree_with_scipy(seed):
    table = random_table(seed, shape=(3 + seed % 2, 4))
    result = crosstab(table)
    reference = chi2_contingency(table, correction=False)
    test = result.test
    assert test.statistic == pytest.approx(reference.statistic, abs=CLOSED)
    assert test.pvalue == pytest.approx(reference.pvalue, abs=CLOSED)
    assert test.dof == reference.dof
    np.testing.assert_allclose(result.expected, reference.expected_freq, atol=CLOSED)
    assert test.cramers_v == pytest.approx(association(table, method="cramer"), abs=CLOSED)
    assert test.low_expected_share == pytest.approx(np.mean(reference.expected_freq < 5))
    assert test.fisher_pvalue is None
    assert test.rows_tested == tuple(range(table.shape[0])) and test.columns_tested == (0, 1, 2, 3)


def test_two_by_two_gives_fisher_and_no_yates_correction():
    table = np.array([[12, 5], [3, 9]])
    test = crosstab(table, ["参加过", "没参加过"], ["满意", "不满意"]).test
    assert test.statistic == pytest.approx(chi2_contingency(table, correction=False).statistic, abs=CLOSED)
    assert test.statistic != pytest.approx(chi2_contingency(table).statistic)  # not the Yates-corrected one
    assert test.fisher_pvalue == pytest.approx(fisher_exact(table).pvalue, abs=CLOSED)
    assert test.cramers_v == pytest.approx(association(table, method="cramer"), abs=CLOSED)


def test_small_expected_counts_warn_in_chinese_and_fisher_decides_a_two_by_two():
    table = np.array([[6, 1], [1, 5]])  # expected counts all below 5
    result = crosstab(table, ["是", "否"], ["满意", "不满意"])
    assert result.test.small_expected and result.test.low_expected_share == 1.0
    assert result.test.min_expected == pytest.approx(chi2_contingency(table).expected_freq.min())
    fisher = fisher_exact(table).pvalue
    assert any("期望频数小于 5" in note and f"Fisher 精确检验：{format_p(fisher)}" in note for note in result.notes)
    words = conclusion(result.test)
    assert "Fisher 精确检验" in words
    assert words.startswith("两者有关联" if fisher < 0.05 else "看不出关联")


def test_one_expected_count_below_one_is_enough_to_warn():
    # 1 cell of 12 (8 %) expects fewer than 5, but it expects fewer than 1.
    table = np.array([[200, 200, 200, 200, 200, 10], [10, 10, 10, 10, 10, 0]])
    test = crosstab(table).test
    expected = chi2_contingency(table).expected_freq
    assert np.mean(expected < 5) <= 0.2 and expected.min() < 1
    assert test.small_expected
    # Without it, and with no more than a fifth of cells below 5, there is no warning.
    fine = crosstab(np.array([[40, 40, 40, 9], [40, 40, 40, 2], [40, 40, 40, 8]]))
    assert not fine.test.small_expected and not any("期望频数" in n for n in fine.notes)
    assert "卡方检验" in conclusion(fine.test) and "仅供参考" not in conclusion(fine.test)


def test_bigger_table_with_small_expected_suggests_merging():
    table = np.array([[20, 2, 1], [18, 1, 0], [25, 3, 1]])
    result = crosstab(table)
    assert result.test.small_expected and result.test.fisher_pvalue is None
    assert any("合并" in n for n in result.notes)
    assert "仅供参考" in conclusion(result.test)


def test_zero_rows_and_columns_are_left_out_of_the_test_and_said_so():
    table = np.array([[10, 0, 5, 7], [0, 0, 0, 0], [3, 0, 9, 2]])
    result = crosstab(table, ["甲", "乙", "丙"], ["a", "b", "c", "d"])
    reduced = table[[0, 2]][:, [0, 2, 3]]
    reference = chi2_contingency(reduced, correction=False)
    assert result.test.statistic == pytest.approx(reference.statistic, abs=CLOSED)
    assert result.test.dof == 2 and result.test.rows_tested == (0, 2) and result.test.columns_tested == (0, 2, 3)
    assert result.dropped_rows == ("乙",) and result.dropped_columns == ("b",)
    assert "「乙」这一行没有回答，不参加检验。" in result.notes
    assert "「b」这一列没有回答，不参加检验。" in result.notes
    # Percentages of an empty row are undefined, not 0.
    assert np.isnan(result.row_percent[1]).all() and np.isnan(result.column_percent[:, 1]).all()
    assert result.column_percent[1, 0] == 0.0
    assert independence_test(table).statistic == result.test.statistic


def test_all_zero_table_has_no_percentages_and_no_test():
    result = crosstab(np.zeros((3, 2), dtype=int), ["a", "b", "c"], ["x", "y"])
    assert result.total == 0 and result.test is None
    assert np.isnan(result.row_percent).all() and np.isnan(result.total_percent).all()
    assert np.isnan(result.expected).all()
    assert result.notes == ("表里一个回答也没有，算不出百分比，也不能做检验。",)
    assert conclusion(result.test) is None


@pytest.mark.parametrize("table", [[[3, 4, 5]], [[3], [4]], [[3, 0], [4, 0]], [[0, 0], [2, 7]]])
def test_one_row_or_column_with_answers_has_no_test(table):
    result = crosstab(table)
    assert result.test is None and result.total == np.sum(table)
    assert result.notes == ("有回答的只有一行或一列，无法检验两者是否有关联。",)


def test_no_test_when_the_caller_says_counts_are_not_one_per_respondent():
    result = crosstab([[5, 3], [2, 8]], test=False)
    assert result.test is None and result.notes == ()
    np.testing.assert_allclose(result.row_percent, [[62.5, 37.5], [20, 80]])


def test_conclusion_reads_the_p_value():
    strong = crosstab(np.array([[50, 10], [10, 50]])).test
    assert conclusion(strong).startswith("两者有关联（卡方检验 p<0.001，关联强度 Cramér's V=")
    weak = crosstab(np.array([[30, 31], [29, 30]])).test
    p = chi2_contingency(np.array([[30, 31], [29, 30]]), correction=False).pvalue
    assert conclusion(weak) == f"看不出关联（卡方检验 p={p:.3f}）"
    assert format_p(0.0031) == "p=0.003" and format_p(0.0004) == "p<0.001"
    with pytest.raises(ValueError, match="alpha"):
        conclusion(strong, alpha=0)


@pytest.mark.parametrize("counts, labels, message", [
    ([1, 2, 3], None, "rows × columns"),
    (np.zeros((0, 3)), None, "at least one row"),
    ([[1, -2], [3, 4]], None, "non-negative whole"),
    ([[1, 2.5], [3, 4]], None, "non-negative whole"),
    ([[1, np.nan], [3, 4]], None, "finite"),
    ([["a", "b"], ["c", "d"]], None, "numbers"),
    ([[1, 2], [3, 4]], (["a"], ["x", "y"]), "row_labels must name each of the 2 rows"),
    ([[1, 2], [3, 4]], (["a", "b"], ["x"]), "column_labels must name each of the 2 columns"),
])
def test_bad_input_is_a_precise_value_error(counts, labels, message):
    with pytest.raises(ValueError, match=message):
        crosstab(counts, *(labels or ()))
