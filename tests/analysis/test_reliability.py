"""Reliability and drivers, checked against pingouin's cronbach_alpha (alpha to 1e-9; its interval
is rounded to 3 decimals, so to 5e-4), scipy's pearsonr for the corrected item–total correlations
and spearmanr for the drivers (1e-9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy.stats import pearsonr, spearmanr

from app.analysis.reliability import (
    Quadrant,
    cronbach_alpha,
    drivers,
    item_total_correlations,
    spearman,
)

CLOSED = 1e-9


def pingouin_alpha(matrix: np.ndarray):
    return pingouin.cronbach_alpha(pd.DataFrame(matrix), nan_policy="listwise")


def block(respondents: int, items: int, seed: int, missing: float = 0.0) -> np.ndarray:
    """Scale answers (20..100) driven by one shared opinion, as a block of satisfaction items is."""
    rng = np.random.default_rng(seed)
    opinion = rng.normal(0, 1, (respondents, 1))
    latent = opinion + rng.normal(0, 1.2, (respondents, items))
    scores = (np.clip(np.round(latent + 3.5), 1, 5) * 20).astype(float)
    scores[rng.random(scores.shape) < missing] = np.nan
    return scores


@pytest.mark.parametrize(("items", "missing"), [(2, 0.0), (4, 0.0), (6, 0.05)])
def test_alpha_matches_pingouin(items, missing):
    matrix = block(150, items, seed=items, missing=missing)
    result = cronbach_alpha(matrix)
    alpha, _ = pingouin_alpha(matrix)
    assert result.alpha == pytest.approx(alpha, abs=CLOSED)
    # pingouin (0.5–0.7) takes n for Feldt's interval before its listwise deletion, counting
    # respondents it then leaves out; fed the complete rows, it uses the n the interval is about.
    _, interval = pingouin_alpha(matrix[~np.isnan(matrix).any(axis=1)])
    assert (result.interval.low, result.interval.high) == pytest.approx(tuple(interval), abs=5e-4)
    assert result.n == int((~np.isnan(matrix).any(axis=1)).sum()) and result.items == items


def test_item_total_correlations():
    matrix = block(120, 5, seed=1)
    matrix[:, 4] = np.random.default_rng(9).integers(1, 6, 120) * 20.0  # an item that does not belong
    results = item_total_correlations(matrix)
    for j, result in enumerate(results):
        rest = matrix.sum(axis=1) - matrix[:, j]
        assert result.corrected_correlation == pytest.approx(pearsonr(matrix[:, j], rest).statistic, abs=CLOSED)
        alpha, _ = pingouin_alpha(np.delete(matrix, j, axis=1))
        assert result.alpha_if_deleted == pytest.approx(alpha, abs=CLOSED)
    # Dropping the stray item raises alpha; dropping any other lowers it.
    whole = cronbach_alpha(matrix).alpha
    assert results[4].alpha_if_deleted > whole > max(r.alpha_if_deleted for r in results[:4])


def test_spearman_matches_scipy_with_ties_and_gaps():
    rng = np.random.default_rng(2)
    x = rng.integers(1, 6, 200).astype(float)
    y = np.clip(x + rng.integers(-2, 3, 200), 1, 5)
    x[:7] = np.nan
    rho, p, n = spearman(x, y)
    reference = spearmanr(x, y, nan_policy="omit")
    assert n == 193
    assert rho == pytest.approx(reference.statistic, abs=CLOSED) and p == pytest.approx(reference.pvalue, abs=CLOSED)


def test_drivers_and_their_quadrants():
    rng = np.random.default_rng(3)
    overall = rng.integers(1, 6, 300).astype(float)
    noise = rng.normal(0, 1, (300, 4))
    # Items 0 and 1 follow overall closely, items 2 and 3 hardly.
    items = np.column_stack([overall + 0.5 * noise[:, 0], overall + 0.6 * noise[:, 1],
                             noise[:, 2] + 0.05 * overall, noise[:, 3]])
    performance = [0.9, 0.5, 0.95, 0.4]   # satisfaction rates
    analysis = drivers(items, overall, performance, ["环境", "治安", "停车", "文化"])
    for j, driver in enumerate(analysis.drivers):
        assert driver.importance == pytest.approx(spearmanr(items[:, j], overall).statistic, abs=CLOSED)
    assert analysis.performance_cut == pytest.approx(0.7)
    assert [d.quadrant for d in analysis.drivers] == [Quadrant.KEEP_UP, Quadrant.FIX_FIRST,
                                                       Quadrant.POSSIBLE_OVERKILL, Quadrant.LOW_PRIORITY]
    assert Quadrant.FIX_FIRST.label == "重点改进区"


def test_an_item_nobody_varies_on_gets_no_quadrant():
    overall = np.arange(10.0)
    analysis = drivers(np.column_stack([overall, np.ones(10)]), overall, [0.5, 0.6], ["a", "b"])
    assert analysis.drivers[1].quadrant is None and np.isnan(analysis.drivers[1].importance)


@pytest.mark.parametrize(("scores", "message"), [
    ([[1.0, 2.0]], "at least 2 respondents"),
    ([[1.0], [2.0]], "at least 2 items"),
    ([[3.0, 3.0], [3.0, 3.0]], "undefined"),
])
def test_bad_blocks_are_refused(scores, message):
    with pytest.raises(ValueError, match=message):
        cronbach_alpha(scores)
