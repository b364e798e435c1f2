"""Bootstrap score and rank intervals. The score interval of the first community is checked against
scipy.stats.bootstrap (percentile method, same seed: it draws the same resamples) to 1e-9; ranks and
pairwise verdicts against a plain re-count over the replicates; the rest by cases whose answer is
known (clearly apart, identical) and by reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import bootstrap

from app.analysis.ranking import bootstrap_rank_intervals, bootstrap_replicate_means, rank_intervals

CLOSED = 1e-9


def communities(count: int, respondents: int, seed: int = 0, spread: float = 15.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.clip(rng.normal(rng.uniform(60, 90), spread, respondents), 0, 100) for _ in range(count)]


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_first_score_interval_is_scipys_percentile_bootstrap(confidence):
    data = communities(2, 57, seed=3)
    for first, second in [(0, 1), (1, 0)]:
        result = bootstrap_rank_intervals([data[first], data[second]], replicates=999, seed=11,
                                          confidence=confidence)
        reference = bootstrap((data[first],), np.mean, n_resamples=999, method="percentile",
                              confidence_level=confidence, rng=np.random.default_rng(11))
        assert result.score_low[0] == pytest.approx(reference.confidence_interval.low, abs=CLOSED)
        assert result.score_high[0] == pytest.approx(reference.confidence_interval.high, abs=CLOSED)


def test_ranks_and_pairs_recounted_plainly():
    data = communities(12, 30, seed=5, spread=25)
    fixed = np.linspace(0, 3, 12)
    result = bootstrap_rank_intervals(data, fixed, replicates=400, seed=2)
    replicate = fixed + bootstrap_replicate_means(data, replicates=400, seed=2)
    assert np.allclose(result.scores, fixed + [d.mean() for d in data], atol=CLOSED)
    # Rank = 1 + how many scored strictly higher.
    ranks = 1 + (replicate[:, None, :] > replicate[:, :, None]).sum(axis=2)
    assert result.ranks.tolist() == (1 + (result.scores[None, :] > result.scores[:, None]).sum(axis=1)).tolist()
    for c in range(12):
        ordered = np.sort(ranks[:, c])
        # The 2.5 % and 97.5 % points as the smallest rank reached by that share of replicates.
        assert result.rank_low[c] == ordered[int(np.ceil(0.025 * 400)) - 1]
        assert result.rank_high[c] == ordered[int(np.ceil(0.975 * 400)) - 1]
    for a in range(12):
        for b in range(12):
            share = ((replicate[:, a] > replicate[:, b]).sum() + 0.5 * (replicate[:, a] == replicate[:, b]).sum()) / 400
            assert result.indistinguishable[a, b] == (0.025 < share < 0.975)


def test_intervals_from_replicates_scored_elsewhere_match_the_mean_bootstrap():
    """rank_intervals on replicates made by hand gives what bootstrap_rank_intervals gives, and is
    recounted plainly for replicates that are no mean (a threshold applied to each)."""
    data = communities(6, 40, seed=9, spread=20)
    fixed = np.arange(6.0)
    replicate = fixed + bootstrap_replicate_means(data, replicates=300, seed=4)
    scores = fixed + np.array([d.mean() for d in data])
    by_hand = rank_intervals(scores, replicate, seed=4)
    direct = bootstrap_rank_intervals(data, fixed, replicates=300, seed=4)
    for field in ("scores", "score_low", "score_high", "ranks", "rank_low", "rank_high", "indistinguishable"):
        assert np.array_equal(getattr(by_hand, field), getattr(direct, field)), field
    stepped = np.where(replicate >= 75, 10.0, 5.0)  # a threshold: 10 points at 75 or more, else 5
    result = rank_intervals(np.where(scores >= 75, 10.0, 5.0), stepped)
    ranks = 1 + (stepped[:, None, :] > stepped[:, :, None]).sum(axis=2)
    for c in range(6):
        ordered = np.sort(ranks[:, c])
        assert result.rank_low[c] == ordered[int(np.ceil(0.025 * 300)) - 1]
        assert result.rank_high[c] == ordered[int(np.ceil(0.975 * 300)) - 1]
    assert result.replicates == 300
    with pytest.raises(ValueError, match="shape"):
        rank_intervals(scores, replicate[:, :5])
    with pytest.raises(ValueError, match="finite"):
        rank_intervals(scores, np.full_like(replicate, np.nan))


def test_clearly_apart_and_identical_communities():
    rng = np.random.default_rng(1)
    apart = [rng.normal(level, 1, 200) for level in (90, 70, 50, 30)]
    result = bootstrap_rank_intervals(apart, seed=1)
    assert result.ranks.tolist() == [1, 2, 3, 4]
    assert result.rank_low.tolist() == result.rank_high.tolist() == [1, 2, 3, 4]
    assert result.pairs_not_told_apart() == []
    same = rng.normal(75, 10, 200)
    twins = bootstrap_rank_intervals([same, same.copy(), apart[3]], seed=1)
    assert twins.ranks.tolist() == [1, 1, 3]  # equal scores share the better rank
    assert twins.pairs_not_told_apart() == [(0, 1)]
    assert twins.not_told_apart_from(1) == [0]
    assert (twins.rank_low[0], twins.rank_high[0]) == (1, 2)


def test_reproducible_whatever_the_chunking():
    data = communities(6, 50, seed=9)
    runs = [bootstrap_rank_intervals(data, seed=4, replicates=300, block_size=size) for size in (50, 777, 10**6)]
    for other in runs[1:]:
        assert np.array_equal(other.score_low, runs[0].score_low)
        assert np.array_equal(other.rank_high, runs[0].rank_high)
    assert not np.array_equal(bootstrap_rank_intervals(data, seed=5, replicates=300).score_low, runs[0].score_low)


def test_a_community_of_one_respondent_has_no_spread():
    result = bootstrap_rank_intervals([[80.0], [20.0, 40.0]], seed=0)
    assert result.score_low[0] == result.score_high[0] == 80.0


@pytest.mark.parametrize(("contributions", "fixed", "message"), [
    ([[1.0]], None, "at least 2 communities"),
    ([[1.0], []], None, "community 1 has no respondents"),
    ([[1.0], [np.nan]], None, "must be finite"),
    ([[1.0], [2.0]], [1.0], "one entry per community"),
])
def test_bad_input_is_refused(contributions, fixed, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_rank_intervals(contributions, fixed)
