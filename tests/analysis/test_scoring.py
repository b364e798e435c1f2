"""Scoring by a scheme: each conversion on hand-computed examples, parents and the overall score,
and the indicators that cannot be scored reported with their reason, never guessed."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from app.analysis.scoring import (
    Reason,
    score_communities,
    score_community,
    survey_factor,
)
from app.definitions.schemes import build_scheme, load_schemes


def scheme(text: str):
    """A scheme from inline YAML (tags unchecked: no questionnaire is given)."""
    return build_scheme(yaml.safe_load(text), "<test>")


def leaf(text: str):
    """A one-indicator scheme around a leaf written as a flow mapping."""
    return scheme(f"id: t\ntitle: 测试\nindicators:\n  - {text}\n")


def rate(value: float) -> dict:
    return {"t:x": {"rate": value}}


@pytest.fixture(scope="module")
def shipped():
    return load_schemes()


# -- from a survey ----------------------------------------------------------------

LINEAR = 'id: a, label: 甲, points: 10, survey: {tags: ["t:x"], measure: rate, linear: {zero: 60, full: 100}}'
THRESHOLDS = ('id: a, label: 甲, points: 10, survey: {tags: ["t:x"], measure: rate, thresholds: '
              '[{at_least: 90, factor: 1}, {at_least: 80, factor: 0.8}, {at_least: 70, factor: 0.6}]}')


@pytest.mark.parametrize(("value", "points"), [
    (0.80, 5.0),    # (80 − 60) / (100 − 60) = 0.5 → 5
    (0.90, 7.5),    # 30 / 40
    (1.00, 10.0),
    (0.60, 0.0),
    (0.45, 0.0),    # below the zero anchor: clipped
])
def test_linear_between_two_anchors_clipped(value, points):
    result = score_community(leaf(f"{{{LINEAR}}}"), rate(value))
    assert result.indicators["a"].points == pytest.approx(points, abs=1e-12)
    assert result.total == pytest.approx(points, abs=1e-12)


def test_points_times_rate_is_the_line_from_0_to_100():
    result = score_community(leaf('{id: a, label: 甲, points: 8, survey: {tags: ["t:x"], measure: rate, '
                                  'linear: {zero: 0, full: 100}}}'), rate(0.85))
    assert result.total == pytest.approx(6.8)   # 8 × 85 %
    assert result.fraction == pytest.approx(0.85)


def test_an_index_is_read_on_its_0_to_100_scale():
    result = score_community(leaf('{id: a, label: 甲, points: 20, survey: {tags: ["t:x"], measure: index, '
                                  'linear: {zero: 50, full: 90}}}'), {"t:x": {"index": 77.0, "rate": 0.1}})
    assert result.total == pytest.approx(20 * 27 / 40)   # 13.5


@pytest.mark.parametrize(("value", "points"), [
    (0.95, 10.0), (0.90, 10.0),   # at the threshold counts
    (0.8999, 8.0), (0.80, 8.0), (0.75, 6.0), (0.70, 6.0), (0.6999, 0.0), (0.0, 0.0),
])
def test_thresholds(value, points):
    result = score_community(leaf(f"{{{THRESHOLDS}}}"), rate(value))
    assert result.total == pytest.approx(points)


def test_a_rate_meets_a_threshold_at_its_printed_percent_despite_floating_point():
    assert 0.29 * 100 < 29  # 28.999999999999996
    result = score_community(leaf('{id: a, label: 甲, points: 1, survey: {tags: ["t:x"], measure: rate, '
                                  'thresholds: [{at_least: 29, factor: 1}]}}'), rate(0.29))
    assert result.total == 1.0


def test_several_tags_are_averaged_and_all_are_needed():
    two = leaf('{id: a, label: 甲, points: 10, survey: {tags: ["t:x", "t:y"], measure: rate, '
               'linear: {zero: 0, full: 100}}}')
    result = score_community(two, {"t:x": {"rate": 0.9}, "t:y": {"rate": 0.7}})
    assert result.total == pytest.approx(8.0)   # 10 × (90 + 70) / 2 %
    partial = score_community(two, {"t:x": {"rate": 0.9}})
    assert partial.total is None
    assert [u.reason for u in partial.unscorable] == [Reason.MISSING_SURVEY]
    assert "t:x、t:y" in partial.unscorable[0].message


def test_survey_factor_takes_replicate_arrays():
    feed = leaf(f"{{{THRESHOLDS}}}").indicators[0].feed
    np.testing.assert_array_equal(survey_factor(feed, np.array([95.0, 85.0, 72.0, 10.0])), [1, 0.8, 0.6, 0])
    line = leaf(f"{{{LINEAR}}}").indicators[0].feed
    np.testing.assert_allclose(survey_factor(line, np.array([50.0, 80.0, 110.0])), [0, 0.5, 1])


@pytest.mark.parametrize(("figure", "words"), [({"rate": 85.0}, "pass 0.85"), ({"rate": float("inf")}, "finite"),
                                               ({"index": 120.0}, "between 0 and 100")])
def test_a_figure_out_of_range_is_an_error(figure, words):
    measure = next(iter(figure))
    s = leaf(f'{{id: a, label: 甲, points: 1, survey: {{tags: ["t:x"], measure: {measure}, '
             'linear: {zero: 0, full: 100}}}')
    with pytest.raises(ValueError, match=words):
        score_community(s, {"t:x": figure})


# -- entered by an evaluator -------------------------------------------------------

LEVELS = ("{id: a, label: 甲, points: 4, levels: [{factor: 0, label: 无}, {factor: 0.3, label: 3处},"
          " {factor: 0.6, label: 2处}, {factor: 0.8, label: 1处}, {factor: 1, label: 严密}]}")


@pytest.mark.parametrize(("factor", "points"), [(0, 0.0), (0.3, 1.2), (0.6, 2.4), (0.8, 3.2), (1, 4.0)])
def test_graded_levels_give_points_times_factor(factor, points):
    result = score_community(leaf(LEVELS), {}, {"a": factor})
    assert result.indicators["a"].points == pytest.approx(points)
    assert result.indicators["a"].fraction == factor


def test_a_factor_that_is_not_a_level_is_refused():
    with pytest.raises(ValueError, match=r"not one of its levels' factors \[0.0, 0.3, 0.6, 0.8, 1.0\]"):
        score_community(leaf(LEVELS), {}, {"a": 0.5})


BY_KIND = "{id: a, label: 甲, points: 6, standard: {label: 社区社会组织数量, unit: 个, at_least: {urban: 10, village: 5}, scoring: met}}"


@pytest.mark.parametrize(("kind", "value", "points"), [
    ("urban", 10, 6.0), ("urban", 12, 6.0), ("urban", 9, 0.0), ("village", 5, 6.0), ("village", 4, 0.0)])
def test_a_numeric_standard_met_or_not_by_community_kind(kind, value, points):
    result = score_community(leaf(BY_KIND), {}, {"a": value}, community_kind=kind)
    assert result.total == points


def test_a_standard_by_kind_needs_the_kind():
    result = score_community(leaf(BY_KIND), {}, {"a": 12})
    assert result.total is None
    assert [u.reason for u in result.unscorable] == [Reason.UNKNOWN_KIND]


@pytest.mark.parametrize(("value", "points"), [(6, 3.0), (10, 5.0), (15, 5.0), (0, 0.0)])
def test_a_numeric_standard_proportionally(value, points):
    s = leaf("{id: a, label: 甲, points: 5, standard: {label: 面积, unit: 平方米/百户, at_least: 10, scoring: proportional}}")
    assert score_community(s, {}, {"a": value}).total == pytest.approx(points)   # 5 × min(value / 10, 1)


def test_an_entered_share_of_full_marks():
    s = leaf("{id: a, label: 甲, points: 8, entered: {label: 得分率}}")
    assert score_community(s, {}, {"a": 75}).total == pytest.approx(6.0)
    with pytest.raises(ValueError, match="percent between 0 and 100"):
        score_community(s, {}, {"a": 0.75 * 1000})


@pytest.mark.parametrize(("entries", "words"), [
    ({"zz": 1}, "not an indicator"), ({"a": "0.6"}, "finite number"), ({"a": float("nan")}, "finite number")])
def test_bad_entries_are_errors(entries, words):
    with pytest.raises(ValueError, match=words):
        score_community(leaf(LEVELS), {}, entries)


# -- the tree, the overall score, what cannot be scored ----------------------------

TREE = """
id: t
title: 测试
points: 20
indicators:
  - id: a
    label: 甲
    points: 12
    children:
      - {id: a1, label: 甲一, points: 4, levels: [{factor: 0, label: 无}, {factor: 0.6, label: 一般}, {factor: 1, label: 好}]}
      - {id: a2, label: 甲二, points: 8, survey: {tags: ["t:x"], measure: rate, linear: {zero: 0, full: 100}}}
  - {id: b, label: 乙, points: 8, entered: {label: 得分率}}
"""


def test_parents_add_their_childrens_points():
    result = score_community(scheme(TREE), rate(0.75), {"a1": 0.6, "b": 50})
    # a1 = 4 × 0.6 = 2.4; a2 = 8 × 0.75 = 6; a = 8.4 of 12; b = 8 × 50 % = 4; total 12.4 of 20.
    assert result.indicators["a"].points == pytest.approx(8.4)
    assert result.indicators["a"].fraction == pytest.approx(0.7)
    assert result.total == pytest.approx(12.4)
    assert result.fraction == pytest.approx(0.62) and result.percent == pytest.approx(62.0)
    assert result.complete and result.unscorable == ()
    assert (result.entered_points, result.survey_points) == (pytest.approx(6.4), pytest.approx(6.0))
    assert list(result.indicators) == ["a", "a1", "a2", "b"]


def test_a_missing_entry_leaves_the_indicator_and_its_parents_unscored():
    result = score_community(scheme(TREE), rate(0.75), {"b": 50})
    assert result.total is None and result.fraction is None and not result.complete
    assert [(u.indicator, u.reason) for u in result.unscorable] == [("a1", Reason.MISSING_ENTRY)]
    assert result.unscorable[0].message == "尚未录入：甲一"
    parent = result.indicators["a"]
    assert parent.points is None and parent.unscorable[0].reason is Reason.INCOMPLETE
    assert "a1" in parent.unscorable[0].message
    # What could be scored still is.
    assert result.indicators["a2"].points == pytest.approx(6.0)
    assert result.indicators["b"].points == pytest.approx(4.0)


def test_a_placeholder_is_reported_as_not_scorable():
    s = scheme("""
id: t
title: 测试
points: 10
indicators:
  - {id: a, label: 甲, points: 6, entered: {label: 得分率}}
  - {id: rest, label: 其余指标（待填）, points: 4, to_fill: 原文在此截断}
  - {id: c, label: 丙, points: 待填, entered: {label: 得分率}}
""")
    result = score_community(s, {}, {"a": 100, "c": 100})
    assert result.total is None
    assert [(u.indicator, u.reason) for u in result.unscorable] == [("rest", Reason.PLACEHOLDER),
                                                                    ("c", Reason.PLACEHOLDER)]
    assert "原文在此截断" in result.unscorable[0].message and "分值" in result.unscorable[1].message
    assert result.indicators["a"].points == 6.0


def test_weighted_composite():
    s = scheme("""
id: t
title: 测试
combine: weighted
indicators:
  - {id: self, label: 社区自评, weight: 0.2, entered: {label: 得分率}}
  - {id: street, label: 街道互评, weight: 0.3, entered: {label: 得分率}}
  - {id: residents, label: 群众满意度测评, weight: 0.5, survey: {tags: ["t:x"], measure: rate, linear: {zero: 0, full: 100}}}
""")
    result = score_community(s, rate(0.9), {"self": 95, "street": 80})
    # 0.2 × 0.95 + 0.3 × 0.80 + 0.5 × 0.90 = 0.19 + 0.24 + 0.45 = 0.88
    assert result.fraction == pytest.approx(0.88)
    assert result.percent == pytest.approx(88.0)
    assert result.total is None   # the composite has no full points: reported on the 百分制
    assert result.entered_points is None


def test_shipped_panzhihua_scores_everything_but_its_cut_off_part(shipped):
    panzhihua = shipped["panzhihua-xiqu"]
    entries = {leaf.id: leaf.feed.factors[-1] for leaf in panzhihua.leaves if leaf.feed.kind == "levels"}
    entries["org-coordination"] = 0.6    # 4 × 0.6 = 2.4
    entries["mgmt-funds-use"] = 0.6      # 7 × 0.6 = 4.2
    result = score_community(panzhihua, {}, entries)
    assert result.total is None
    assert [(u.indicator, u.reason) for u in result.unscorable] == [("benefit-rest", Reason.PLACEHOLDER)]
    assert result.indicators["org"].points == pytest.approx(18.4)
    assert result.indicators["mgmt"].points == pytest.approx(47.2)
    assert result.indicators["benefit"].points is None


def raw_of(scheme) -> dict:
    return yaml.safe_load(Path(scheme.source).read_text(encoding="utf-8"))


def test_shipped_panzhihua_once_its_cut_off_part_is_filled(shipped):
    raw = raw_of(shipped["panzhihua-xiqu"])
    rest = raw["indicators"][2]["children"][2]
    rest.pop("to_fill")
    rest.update({"label": "补充指标", "levels": [{"factor": 0, "label": "差"}, {"factor": 1, "label": "好"}]})
    filled = build_scheme(copy.deepcopy(raw), "<filled>")
    entries = {leaf.id: leaf.feed.factors[-1] for leaf in filled.leaves}
    assert score_community(filled, {}, entries).total == pytest.approx(100.0)


def test_shipped_kunming_scores_nothing_until_its_points_are_filled(shipped):
    kunming = shipped["kunming"]
    figures = {tag: {"rate": 0.9} for tag in kunming.survey_tags}
    result = score_community(kunming, figures, {}, community_kind="urban")
    assert result.total is None
    assert {u.reason for u in result.unscorable} == {Reason.PLACEHOLDER}
    assert len(result.unscorable) == 17 + 54   # every indicator and every standard says 待填


def test_shipped_jinniu_scores_once_weights_are_written(shipped):
    raw = raw_of(shipped["jinniu-funds"])
    assert score_community(shipped["jinniu-funds"], {}, {}).unscorable[0].reason is Reason.PLACEHOLDER
    for indicator, weight in zip(raw["indicators"], [0.1, 0.2, 0.3, 0.4]):
        indicator["weight"] = weight
    jinniu = build_scheme(raw, "<weighted>")
    result = score_community(jinniu, {"funds:satisfaction": {"rate": 0.8}},
                             {"self": 100, "street-peer": 90, "district": 70})
    assert result.fraction == pytest.approx(0.1 * 1 + 0.2 * 0.9 + 0.3 * 0.7 + 0.4 * 0.8)   # 0.81


def test_score_communities_scores_each_community_with_its_kind():
    s = leaf(BY_KIND)
    results = score_communities(s, {}, {"c1": {"a": 7}, "c2": {"a": 7}}, community_kinds={"c1": "urban", "c2": "village"})
    assert {c: r.total for c, r in results.items()} == {"c1": 0.0, "c2": 6.0}
    assert results["c2"].community == "c2"
    assert score_communities(s, {}, {}, communities=["c3"])["c3"].unscorable[0].reason is Reason.MISSING_ENTRY


# -- replicate arrays (for the bootstrap) -------------------------------------------

REPLICATE_TREE = """
id: t
title: 测试
indicators:
  - id: p
    label: 甲
    children:
      - {id: a, label: 甲1, points: 10, survey: {tags: ["t:x"], measure: rate, linear: {zero: 60, full: 100}}}
      - {id: b, label: 甲2, points: 6, survey: {tags: ["t:y", "t:z"], measure: index,
         thresholds: [{at_least: 90, factor: 1}, {at_least: 80, factor: 0.8}, {at_least: 70, factor: 0.6}]}}
      - {id: c, label: 甲3, points: 4, levels: [{factor: 0, label: 差}, {factor: 0.6, label: 中}, {factor: 1, label: 好}]}
"""


def test_replicate_arrays_score_as_one_value_at_a_time():
    """Arrays of replicate figures go through the same tree, rules and rounding as floats."""
    s = scheme(REPLICATE_TREE)
    rng = np.random.default_rng(7)
    rates, y, z = rng.uniform(0.5, 1, 200), rng.uniform(60, 100, 200), rng.uniform(60, 100, 200)
    rates[:3] = [0.6, 0.8, 1.0]  # anchors and a threshold exactly
    y[:3], z[:3] = [80, 90, 70], [80, 90, 70]
    entries = {"c": 0.6}
    together = score_community(s, {"t:x": {"rate": rates}, "t:y": {"index": y}, "t:z": {"index": z}}, entries)
    assert together.total.shape == (200,) and together.survey_points.shape == (200,)
    for r in range(200):
        alone = score_community(s, {"t:x": {"rate": float(rates[r])}, "t:y": {"index": float(y[r])},
                                    "t:z": {"index": float(z[r])}}, entries)
        assert together.total[r] == pytest.approx(alone.total, abs=1e-9)
        assert together.indicators["b"].points[r] == pytest.approx(alone.indicators["b"].points, abs=1e-9)
        assert together.survey_points[r] == pytest.approx(alone.survey_points, abs=1e-9)
    assert together.entered_points == pytest.approx(2.4)  # the entered part stays one number
    assert together.indicators["b"].points[:3].tolist() == pytest.approx([4.8, 6.0, 3.6])


def test_replicate_arrays_through_a_weighted_composite(shipped):
    raw = raw_of(shipped["jinniu-funds"])
    for indicator, weight in zip(raw["indicators"], [0.1, 0.2, 0.3, 0.4]):
        indicator["weight"] = weight
    jinniu = build_scheme(raw, "<weighted>")
    rates = np.array([0.5, 0.8, 0.95])
    result = score_community(jinniu, {"funds:satisfaction": {"rate": rates}},
                             {"self": 100, "street-peer": 90, "district": 70})
    assert result.fraction == pytest.approx(0.1 + 0.18 + 0.21 + 0.4 * rates, abs=1e-9)
