"""Scores with their survey uncertainty: tag figures as ratios over answers, the interval of a
community's total against scipy.stats.bootstrap (paired resampling of respondents, percentile
method, same seed: the same resamples) to the scoring's rounding, a threshold scheme recounted plainly, and the
ranking only over communities with a total."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import yaml
from scipy.stats import bootstrap

from app.analysis.score_intervals import TagTallies, replicate_tag_figures, score_with_intervals, tag_figures
from app.definitions.schemes import build_scheme

#: Scoring rounds each share of full marks to 9 decimals (so a rate printed as 80 % meets an 80 %
#: threshold), i.e. points to 1e-9 of an indicator's full points: 1e-7 of a 100-point indicator.
ROUNDED = 1e-7


def scheme(text: str):
    return build_scheme(yaml.safe_load(text), "<test>")


LINEAR = scheme("""
id: t
title: 测试
indicators:
  - {id: a, label: 满意率, points: 100, survey: {tags: ["t:x"], measure: rate, linear: {zero: 0, full: 100}}}
""")

MIXED = scheme("""
id: t
title: 测试
indicators:
  - {id: a, label: 满意率, points: 30, survey: {tags: ["t:x"], measure: rate,
     thresholds: [{at_least: 90, factor: 1}, {at_least: 75, factor: 0.6}]}}
  - {id: b, label: 满意度指数, points: 20, survey: {tags: ["t:x", "t:y"], measure: index, linear: {zero: 60, full: 100}}}
  - {id: c, label: 台账, points: 50, levels: [{factor: 0, label: 无}, {factor: 0.6, label: 部分}, {factor: 1, label: 齐全}]}
""")


def tallies(respondents: int, seed: int, tags=("t:x",), level: float = 0.8) -> TagTallies:
    """Each respondent answers 1–2 items per tag on a 100/80/60/40/20 scale (0 answered now and then)."""
    rng = np.random.default_rng(seed)
    valid = rng.integers(0, 3, size=(respondents, len(tags)))
    satisfied = rng.binomial(valid, level)
    points = satisfied * rng.choice([80.0, 100.0], size=valid.shape) + (valid - satisfied) * 40.0
    return TagTallies(tuple(tags), valid, satisfied, points)


def test_tag_figures_are_ratios_over_answers_not_means_of_respondents():
    t = TagTallies(("t:x", "t:y"), np.array([[2, 0], [1, 0], [1, 0]]), np.array([[2, 0], [0, 0], [1, 0]]),
                   np.array([[180.0, 0], [40.0, 0], [80.0, 0]]))
    assert tag_figures(t) == {"t:x": {"rate": 0.75, "index": 75.0}}  # 3/4 and 300/4; nobody answered t:y
    draws = np.array([[0, 0, 0], [1, 1, 2], [1, 1, 1]])
    replicate = replicate_tag_figures(t, draws)
    assert replicate["t:x"]["rate"].tolist() == [1.0, 1 / 3, 0.0]
    assert replicate["t:x"]["index"].tolist() == pytest.approx([90.0, 160 / 3, 40.0])
    with pytest.raises(ValueError, match="more satisfied"):
        TagTallies(("t:x",), np.array([[1]]), np.array([[2]]), np.array([[100.0]]))


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_the_first_communitys_interval_is_scipys_paired_bootstrap(confidence):
    first, second = tallies(83, seed=1), tallies(60, seed=2)
    result = score_with_intervals(LINEAR, {"c1": first, "c2": second}, {}, {}, ["c1", "c2"],
                                  replicates=999, seed=17, confidence=confidence)
    valid, satisfied = first.valid[:, 0].astype(float), first.satisfied[:, 0].astype(float)
    reference = bootstrap((satisfied, valid), lambda s, v, axis=-1: 100 * s.sum(axis=axis) / v.sum(axis=axis),
                          paired=True, n_resamples=999, method="percentile", confidence_level=confidence,
                          rng=np.random.default_rng([17, zlib.crc32(b"c1")]))
    c1 = result.communities[0]
    assert c1.score.total == pytest.approx(100 * satisfied.sum() / valid.sum(), abs=ROUNDED)
    assert c1.low == pytest.approx(reference.confidence_interval.low, abs=ROUNDED)
    assert c1.high == pytest.approx(reference.confidence_interval.high, abs=ROUNDED)


def test_a_threshold_and_an_entry_recounted_plainly_and_reproducibly():
    data = {f"c{i}": tallies(40 + 5 * i, seed=i, tags=("t:x", "t:y"), level=0.6 + 0.05 * i) for i in range(5)}
    entries = {c: {"c": 0.6} for c in data}
    order = list(data)
    result = score_with_intervals(MIXED, data, entries, {}, order, replicates=200, seed=3)
    again = score_with_intervals(MIXED, data, entries, {}, order, replicates=200, seed=3, block_size=500)
    assert [c.low for c in again.communities] == [c.low for c in result.communities]
    # By hand: the same draws, each replicate scored by the rules written out.
    replicate_totals = []
    for c in order:
        rng = np.random.default_rng([3, zlib.crc32(c.encode())])  # each community's own stream
        t = data[c]
        draws = rng.integers(0, t.respondents, size=(200, t.respondents), dtype=np.int32)
        v, s, p = (np.asarray(m, dtype=float)[draws].sum(axis=1) for m in (t.valid, t.satisfied, t.points))
        rate = 100 * s[:, 0] / v[:, 0]
        a = 30 * np.where(rate >= 90, 1.0, np.where(rate >= 75, 0.6, 0.0))
        index = (p[:, 0] / v[:, 0] + p[:, 1] / v[:, 1]) / 2
        b = 20 * np.clip((index - 60) / 40, 0, 1)
        replicate_totals.append(a + b + 30.0)
        low, high = np.quantile(a + b + 30.0, [0.025, 0.975])
        scored = result.communities[order.index(c)]
        assert (scored.low, scored.high) == (pytest.approx(low, abs=ROUNDED), pytest.approx(high, abs=ROUNDED))
    replicate_totals = np.column_stack(replicate_totals)
    ranks = 1 + (replicate_totals[:, None, :] > replicate_totals[:, :, None]).sum(axis=2)
    for c in range(5):
        ordered = np.sort(ranks[:, c])
        assert result.ranking.rank_low[c] == ordered[int(np.ceil(0.025 * 200)) - 1]
        assert result.ranking.rank_high[c] == ordered[int(np.ceil(0.975 * 200)) - 1]


def test_only_communities_with_a_total_are_ranked():
    data = {c: tallies(50, seed=i, tags=("t:x", "t:y")) for i, c in enumerate(["c1", "c2", "c3"])}
    entries = {"c1": {"c": 1.0}, "c3": {"c": 0.0}}  # c2 not yet entered
    result = score_with_intervals(MIXED, data, entries, {}, ["c1", "c2", "c3", "c4"], replicates=100)
    assert result.ranked == ["c1", "c3"]
    c2, c4 = result.communities[1], result.communities[3]
    assert c2.score.total is None and c2.low is None and c2.respondents == 50
    assert c4.respondents == 0 and {u.indicator for u in c4.score.unscorable} == {"a", "b", "c"}
    assert result.ranking.ranks.tolist() == [1, 2]


WEIGHTED = scheme("""
id: t
title: 测试
combine: weighted
indicators:
  - {id: self, label: 自评, weight: 0.4, entered: {label: 自评得分率}}
  - {id: residents, label: 群众满意度, weight: 0.6, survey: {tags: ["t:x"], measure: rate, linear: {zero: 0, full: 100}}}
""")


def test_a_weighted_composite_without_full_points_is_ranked_on_its_percent():
    data = {c: tallies(80, seed=10 + i, level=level) for i, (c, level) in enumerate([("c1", 0.9), ("c2", 0.5)])}
    entries = {"c1": {"self": 70.0}, "c2": {"self": 90.0}}
    result = score_with_intervals(WEIGHTED, data, entries, {}, ["c1", "c2"], replicates=300, seed=3)
    assert result.ranked == ["c1", "c2"]
    for community, scored in zip(["c1", "c2"], result.communities):
        own = data[community]
        rate = own.satisfied.sum() / own.valid.sum()
        # 百分制: 0.4 × the entered 得分率 + 0.6 × the satisfaction rate, both in percent
        assert scored.score.total is None
        assert scored.value == pytest.approx(0.4 * entries[community]["self"] + 60 * rate, abs=ROUNDED)
        assert scored.low < scored.value < scored.high
        # the entered part is fixed: the interval is 0.6 × the rate's bootstrap interval, shifted
        reference = bootstrap((own.satisfied[:, 0], own.valid[:, 0]), lambda s, v: s.sum() / v.sum(),
                              paired=True, vectorized=False, n_resamples=300, method="percentile",
                              random_state=np.random.default_rng([3, zlib.crc32(community.encode())]))
        assert scored.low == pytest.approx(0.4 * entries[community]["self"] + 60 * reference.confidence_interval.low,
                                           abs=1e-6)
        assert scored.high == pytest.approx(0.4 * entries[community]["self"] + 60 * reference.confidence_interval.high,
                                            abs=1e-6)
    assert result.ranking.scores.tolist() == pytest.approx([c.value for c in result.communities])


def test_one_communitys_change_leaves_the_others_intervals_alone():
    data = {c: tallies(60, seed=20 + i, tags=("t:x", "t:y")) for i, c in enumerate(["c1", "c2", "c3"])}
    before = score_with_intervals(MIXED, data, {"c1": {"c": 1.0}, "c3": {"c": 0.6}}, {}, ["c1", "c2", "c3"],
                                  replicates=200, seed=9)
    # c2 gets its entry (so it is now resampled too), and the order changes: c3's interval stays put
    after = score_with_intervals(MIXED, data, {"c1": {"c": 1.0}, "c2": {"c": 0.0}, "c3": {"c": 0.6}}, {},
                                 ["c3", "c2", "c1"], replicates=200, seed=9)
    assert (before.communities[2].low, before.communities[2].high) == (after.communities[0].low,
                                                                       after.communities[0].high)
    assert (before.communities[0].low, before.communities[0].high) == (after.communities[2].low,
                                                                       after.communities[2].high)
