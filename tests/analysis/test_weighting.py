"""Raking and weighted estimates, checked against R's survey package (rake(); svymean() on
svydesign(ids = ~1, weights = ~w) with deff = "replace"; confint with degf) and statsmodels'
DescrStatsW (the weighted mean; with unit weights, the t interval). Closed forms to 1e-9, raking
(iterative) to 1e-6.

DescrStatsW takes weights as frequencies, so its weighted standard error is a different quantity
from a survey's; it is compared only where the two coincide (unit weights)."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.weightstats import DescrStatsW

from app.analysis.weighting import rake, weighted_mean, weighted_proportion

CLOSED = 1e-9
ITERATIVE = 1e-6


@pytest.fixture(scope="module")
def r_survey():
    """Rscript with the survey package, or a skip saying why; under CI its absence is an error."""
    problem = None
    if not shutil.which("Rscript"):
        problem = "no Rscript on PATH"
    else:
        check = subprocess.run(["Rscript", "-e", "library(survey)"], check=False, capture_output=True, text=True)
        if check.returncode != 0:
            problem = f"R's survey package does not load: {check.stderr.strip()[-200:]}"
    if problem:
        if os.environ.get("CI"):
            raise RuntimeError(f"CI must check against R: {problem} (.ci/run installs r-cran-survey)")
        pytest.skip(f"R reference tests need Rscript and r-cran-survey ({problem}; apt-get install r-cran-survey)")


def run_r(script: str, columns: dict[str, np.ndarray], tmp_path) -> np.ndarray:
    """Run an R script with the columns as data frame ``d`` (read from a CSV); it prints numbers,
    one per line."""
    data = tmp_path / "data.csv"
    names = list(columns)
    rows = zip(*(columns[k] for k in names))
    data.write_text(",".join(names) + "\n" + "\n".join(",".join(repr(float(x)) for x in row) for row in rows) + "\n")
    program = tmp_path / "reference.R"
    program.write_text("suppressPackageStartupMessages(library(survey))\n"
                       f"d <- read.csv({str(data)!r})\n" + textwrap.dedent(script))
    done = subprocess.run(["Rscript", str(program)], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return np.array([float(x) for x in done.stdout.split()])


def sample_with_skew(n: int, seed: int):
    """Respondents skewed young (as QR scanners are), scores related to age."""
    rng = np.random.default_rng(seed)
    age = rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1])
    sex = rng.choice(2, size=n, p=[0.45, 0.55])
    score = np.clip(rng.normal(60 + 8 * age, 15), 0, 100).round()
    return age, sex, score


AGE_MARGIN = [900.0, 1100.0, 1200.0, 800.0]
SEX_MARGIN = [1950.0, 2050.0]


def test_raking_matches_r_survey_and_weighted_mean_its_svymean(r_survey, tmp_path):
    age, sex, score = sample_with_skew(300, seed=1)
    raked = rake([age, sex], [AGE_MARGIN, SEX_MARGIN])
    assert raked.converged and raked.capped == ()
    estimate = weighted_mean(score, raked.weights)
    reference = run_r(f"""
        d$age <- factor(d$age, levels = 0:3); d$sex <- factor(d$sex, levels = 0:1)
        design <- svydesign(ids = ~1, weights = ~one, data = d)
        raked <- rake(design, list(~age, ~sex),
                      list(data.frame(age = factor(0:3), Freq = c({", ".join(map(str, AGE_MARGIN))})),
                           data.frame(sex = factor(0:1), Freq = c({", ".join(map(str, SEX_MARGIN))}))),
                      control = list(maxit = 1000, epsilon = 1e-13))
        d$w <- weights(raked)
        fixed <- svydesign(ids = ~1, weights = ~w, data = d)
        m <- svymean(~score, fixed, deff = "replace")
        ci <- confint(m, df = degf(fixed), level = 0.95)
        cat(sprintf("%.17g", c(coef(m), SE(m), deff(m), ci, d$w)), sep = "\\n")
    """, {"age": age, "sex": sex, "score": score, "one": np.ones(len(age))}, tmp_path)
    mean, se, deff, low, high = reference[:5]
    np.testing.assert_allclose(raked.weights, reference[5:], rtol=ITERATIVE)
    # The estimates are closed forms of the weights: as close as the weights themselves.
    assert estimate.estimate == pytest.approx(mean, rel=ITERATIVE)
    assert estimate.standard_error == pytest.approx(se, rel=ITERATIVE)
    assert estimate.design_effect == pytest.approx(deff, rel=ITERATIVE)
    assert (estimate.interval.low, estimate.interval.high) == pytest.approx((low, high), rel=ITERATIVE)


def test_weighted_estimates_match_r_survey_for_given_weights(r_survey, tmp_path):
    rng = np.random.default_rng(2)
    y = rng.integers(1, 6, 150) * 20.0
    w = rng.gamma(2.0, 1.5, 150)
    top = y >= 80
    mean, proportion = weighted_mean(y, w), weighted_proportion(top, w)
    reference = run_r("""
        design <- svydesign(ids = ~1, weights = ~w, data = d)
        out <- c()
        for (f in list(~y, ~top)) {
          m <- svymean(f, design, deff = "replace")
          out <- c(out, coef(m), SE(m), deff(m), confint(m, df = degf(design)))
        }
        cat(sprintf("%.17g", out), sep = "\\n")
    """, {"y": y, "w": w, "top": top.astype(float)}, tmp_path)
    for estimate, expected in [(mean, reference[:5]), (proportion, reference[5:])]:
        got = [estimate.estimate, estimate.standard_error, estimate.design_effect,
               estimate.interval.low, estimate.interval.high]
        np.testing.assert_allclose(got, expected, rtol=CLOSED)


def test_weighted_mean_against_descrstatsw():
    rng = np.random.default_rng(3)
    y = rng.normal(70, 12, 80)
    w = rng.uniform(0.2, 3, 80)
    assert weighted_mean(y, w).estimate == pytest.approx(DescrStatsW(y, weights=w).mean, abs=CLOSED)
    # Unit weights: the design-based interval is the ordinary t interval.
    plain = weighted_mean(y)
    low, high = DescrStatsW(y).tconfint_mean(alpha=0.05)
    assert (plain.interval.low, plain.interval.high) == pytest.approx((low, high), abs=CLOSED)
    assert plain.design_effect == pytest.approx(1.0, abs=CLOSED)
    assert plain.effective_n == pytest.approx(80, abs=CLOSED)


def test_kish_effective_n():
    assert weighted_mean([1.0, 2.0, 3.0, 4.0], [1, 1, 2, 2]).effective_n == pytest.approx(36 / 10, abs=CLOSED)


def test_caps_hold_and_are_reported():
    age, sex, _ = sample_with_skew(400, seed=4)
    # The oldest band is rare in the sample and large in the population: big weights without a cap.
    margins = [[500.0, 500.0, 1000.0, 2000.0], SEX_MARGIN]
    free = rake([age, sex], margins)
    mean_weight = 4000 / 400
    assert free.weights.max() > 3 * mean_weight
    capped = rake([age, sex], margins, cap=3)
    assert capped.weight_cap == pytest.approx(3 * mean_weight)
    assert capped.weights.max() <= capped.weight_cap * (1 + 1e-12)
    assert capped.capped and set(capped.capped) <= set(np.flatnonzero(age == 3).tolist())
    if capped.converged:
        for codes, margin in zip([age, sex], margins):
            np.testing.assert_allclose(np.bincount(codes, weights=capped.weights), margin, rtol=ITERATIVE)


def test_an_impossible_cap_does_not_pretend_to_converge():
    age = np.array([0] * 99 + [1])
    result = rake([age], [[50.0, 50.0]], cap=2, max_iterations=50)
    assert not result.converged and result.max_margin_error > 0.1


@pytest.mark.parametrize(("categories", "margins", "message"), [
    ([[0, 0, 1]], [[10.0, 10.0, 5.0]], "no respondents in categories \\[2\\]"),
    ([[0, 1], [0, 1]], [[1.0, 1.0], [1.0, 2.0]], "must agree"),
    ([[0, 3]], [[1.0, 1.0]], "whole numbers 0..1"),
    ([[0, 1]], [], "one population margin"),
])
def test_bad_margins_are_refused(categories, margins, message):
    with pytest.raises(ValueError, match=message):
        rake(categories, margins)


def test_gaps_are_refused_not_scored():
    with pytest.raises(ValueError, match="leave out who did not answer"):
        weighted_mean([80.0, np.nan])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.integers(20, 300),
       st.lists(st.floats(0.5, 10), min_size=3, max_size=3), st.lists(st.floats(0.5, 10), min_size=2, max_size=2))
def test_raking_reproduces_the_margins(seed, n, age_shares, sex_shares):
    rng = np.random.default_rng(seed)
    age, sex = rng.integers(0, 3, n), rng.integers(0, 2, n)
    if len(np.unique(age * 2 + sex)) < 6:
        # With an empty age × sex cell the margins may be reachable only in the limit (weights
        # tending to 0), and raking rightly reports no convergence; with every cell filled they are.
        return
    total = 1000.0
    age_margin = np.array(age_shares) / sum(age_shares) * total
    sex_margin = np.array(sex_shares) / sum(sex_shares) * total
    result = rake([age, sex], [age_margin, sex_margin])
    assert result.converged
    np.testing.assert_allclose(np.bincount(age, weights=result.weights), age_margin, rtol=ITERATIVE)
    np.testing.assert_allclose(np.bincount(sex, weights=result.weights), sex_margin, rtol=ITERATIVE)
