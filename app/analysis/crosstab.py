"""Cross-tabulation (交叉分析) of a count table: margins, the three percentage tables and the
chi-square test of independence with Cramér's V, expected counts and, for 2 × 2, Fisher's exact test.

Counts in, named results out; no Flask, no database. Percentages run from 0 to 100 and are NaN where
their denominator is 0. The test uses Pearson's statistic without Yates' correction (the same
statistic Cramér's V is made of); rows and columns without any count are left out of it, and a
table with fewer than two rows or columns left has no test. The notes (``Crosstab.notes``) say each
of these in Chinese for the people who read the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2_contingency, fisher_exact

#: An expected count below this is small (Cochran's rule: at most a fifth of the cells may be).
LOW_EXPECTED = 5
#: The share of cells with a small expected count above which the chi-square p-value is rough.
LOW_EXPECTED_SHARE = 0.2
#: Any expected count below this makes the p-value rough, whatever the share.
TINY_EXPECTED = 1
#: How many row or column labels a note names before it says 等 N 个.
NAMED_IN_NOTE = 10


@dataclass(frozen=True)
class IndependenceTest:
    """Pearson's chi-square test of independence on the rows and columns that have counts."""

    statistic: float
    pvalue: float
    dof: int
    #: Cramér's V, sqrt(chi² / (n · (min(r, c) − 1))): 0 no association, 1 complete.
    cramers_v: float
    #: Positions (in the input) of the rows and columns the test used.
    rows_tested: tuple[int, ...]
    columns_tested: tuple[int, ...]
    #: Share of the tested cells whose expected count is below 5, and the smallest expected count.
    low_expected_share: float
    min_expected: float
    #: More than 20 % of tested cells expect fewer than 5, or one expects fewer than 1: p is rough.
    small_expected: bool
    #: Fisher's exact two-sided p when the tested table is 2 × 2, else None.
    fisher_pvalue: float | None


@dataclass(frozen=True)
class Crosstab:
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    counts: np.ndarray
    row_totals: np.ndarray
    column_totals: np.ndarray
    total: int
    #: Each cell as a percentage of its row, of its column, of the whole table (0–100, NaN for 0/0).
    row_percent: np.ndarray
    column_percent: np.ndarray
    total_percent: np.ndarray
    #: The margins as percentages of the whole table (the 合计 column and row).
    row_total_percent: np.ndarray
    column_total_percent: np.ndarray
    #: Expected counts under independence, row total × column total / n (NaN when n = 0).
    expected: np.ndarray
    #: None when there is nothing to test (see notes).
    test: IndependenceTest | None
    #: Labels of the rows and columns left out of the test because they have no count.
    dropped_rows: tuple[str, ...]
    dropped_columns: tuple[str, ...]
    #: What a reader must know about the table and its test, in Chinese.
    notes: tuple[str, ...]


def _counts(counts) -> np.ndarray:
    table = np.asarray(counts)
    if table.ndim != 2:
        raise ValueError(f"counts must be a rows × columns table, got shape {table.shape}")
    if 0 in table.shape:
        raise ValueError(f"counts needs at least one row and one column, got shape {table.shape}")
    if table.dtype == object or not (np.issubdtype(table.dtype, np.number) or table.dtype == bool):
        raise ValueError(f"counts must be numbers, got {table.dtype}")
    if not np.all(np.isfinite(table)):
        raise ValueError("counts must be finite (no NaN or infinity)")
    if np.any(table < 0) or np.any(table != np.round(table)):
        raise ValueError("counts must be non-negative whole numbers")
    return table.astype(np.int64)


def _labels(labels: Sequence[str] | None, size: int, name: str) -> tuple[str, ...]:
    if labels is None:
        return tuple(str(i + 1) for i in range(size))
    labels = tuple(labels)
    if len(labels) != size:
        raise ValueError(f"{name} must name each of the {size} {name.split('_')[0]}s, got {len(labels)}")
    return labels


def _divide(numerator: np.ndarray, denominator) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, 100.0 * numerator / np.where(denominator > 0, denominator, 1), np.nan)


def _named(labels: Sequence[str]) -> str:
    named = "、".join(f"「{label}」" for label in labels[:NAMED_IN_NOTE])
    return named + (f"等 {len(labels)} 个" if len(labels) > NAMED_IN_NOTE else "")


def independence_test(counts) -> IndependenceTest | None:
    """The chi-square test of the rows and columns of ``counts`` that have any count; None when
    fewer than two rows or two columns do (nothing to test)."""
    table = _counts(counts)
    rows = np.flatnonzero(table.sum(axis=1) > 0)
    columns = np.flatnonzero(table.sum(axis=0) > 0)
    if len(rows) < 2 or len(columns) < 2:
        return None
    tested = table[np.ix_(rows, columns)]
    result = chi2_contingency(tested, correction=False)
    n = tested.sum()
    statistic = float(result.statistic)
    cramers_v = float(np.sqrt(statistic / (n * (min(tested.shape) - 1))))
    expected = result.expected_freq
    low_share = float(np.mean(expected < LOW_EXPECTED))
    min_expected = float(expected.min())
    fisher = float(fisher_exact(tested).pvalue) if tested.shape == (2, 2) else None
    return IndependenceTest(statistic, float(result.pvalue), int(result.dof), min(cramers_v, 1.0),
                            tuple(int(r) for r in rows), tuple(int(c) for c in columns), low_share, min_expected,
                            low_share > LOW_EXPECTED_SHARE or min_expected < TINY_EXPECTED, fisher)


def crosstab(counts, row_labels: Sequence[str] | None = None, column_labels: Sequence[str] | None = None, *,
             test: bool = True) -> Crosstab:
    """The cross-tab of a rows × columns count table with its margins, percentages and, unless
    ``test`` is false (counts that are not one per respondent, e.g. ticks of a multiple-choice
    question), the chi-square test of independence. Labels default to 1, 2, …"""
    table = _counts(counts)
    row_labels = _labels(row_labels, table.shape[0], "row_labels")
    column_labels = _labels(column_labels, table.shape[1], "column_labels")
    row_totals = table.sum(axis=1)
    column_totals = table.sum(axis=0)
    total = int(table.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.outer(row_totals, column_totals) / total if total else np.full(table.shape, np.nan)
    notes = []
    empty_rows = tuple(label for label, n in zip(row_labels, row_totals) if n == 0)
    empty_columns = tuple(label for label, n in zip(column_labels, column_totals) if n == 0)
    result = None
    dropped_rows: tuple[str, ...] = ()
    dropped_columns: tuple[str, ...] = ()
    if total == 0:
        notes.append("表里一个回答也没有，算不出百分比，也不能做检验。")
    elif not test:
        pass  # the caller says why
    else:
        result = independence_test(table)
        if result is None:
            notes.append("有回答的只有一行或一列，无法检验两者是否有关联。")
        else:
            dropped_rows, dropped_columns = empty_rows, empty_columns
            if dropped_rows:
                notes.append(f"{_named(dropped_rows)}这几行没有回答，不参加检验。" if len(dropped_rows) > 1
                             else f"{_named(dropped_rows)}这一行没有回答，不参加检验。")
            if dropped_columns:
                notes.append(f"{_named(dropped_columns)}这几列没有回答，不参加检验。" if len(dropped_columns) > 1
                             else f"{_named(dropped_columns)}这一列没有回答，不参加检验。")
            if result.small_expected:
                cells = len(result.rows_tested) * len(result.columns_tested)
                low = round(result.low_expected_share * cells)
                warning = (f"有 {low} 个格子（占 {result.low_expected_share:.0%}）的期望频数小于 {LOW_EXPECTED}，"
                           f"最小的只有 {result.min_expected:.2f}，卡方检验的 p 值不够准，只能作参考")
                if result.fisher_pvalue is not None:
                    warning += f"；这是 2×2 表，请看 Fisher 精确检验：{format_p(result.fisher_pvalue)}"
                else:
                    warning += "；可以把回答少的选项合并后再看"
                notes.append(warning + "。")
    return Crosstab(row_labels, column_labels, table, row_totals, column_totals, total,
                    _divide(table, row_totals[:, None]), _divide(table, column_totals[None, :]),
                    _divide(table, total), _divide(row_totals, total), _divide(column_totals, total),
                    expected, result, dropped_rows, dropped_columns, tuple(notes))


def format_p(p: float) -> str:
    """A p-value as people read it: p=0.003, or p<0.001."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def conclusion(test: IndependenceTest | None, alpha: float = 0.05) -> str | None:
    """The test in plain words (Chinese), e.g. 两者有关联（卡方检验 p=0.003）; None without a test.
    A 2 × 2 table with small expected counts is judged by Fisher's exact p instead."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, got {alpha!r}")
    if test is None:
        return None
    if test.small_expected and test.fisher_pvalue is not None:
        p, name, caveat = test.fisher_pvalue, "Fisher 精确检验", ""
    else:
        p, name = test.pvalue, "卡方检验"
        caveat = "；期望频数偏小，仅供参考" if test.small_expected else ""
    if p < alpha:
        return f"两者有关联（{name} {format_p(p)}，关联强度 Cramér's V={test.cramers_v:.2f}{caveat}）"
    return f"看不出关联（{name} {format_p(p)}{caveat}）"
