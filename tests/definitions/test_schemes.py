"""Reading surveys/schemes/: the shipped schemes load and say what their documents say, and every
bad scheme is rejected with a coded problem naming the file, the indicator and the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from app.definitions import DefinitionError, load_all
from app.definitions.schemes import (
    SchemeCode,
    SurveyFeed,
    build_scheme,
    load_scheme_file,
    load_schemes,
)

ROOT = Path(__file__).resolve().parents[2]
SURVEYS = ROOT / "surveys"
SCHEMES = SURVEYS / "schemes"
SHIPPED = ["jinniu-funds", "kunming", "panzhihua-xiqu"]


@pytest.fixture(scope="module")
def surveys():
    return load_all(SURVEYS)


@pytest.fixture(scope="module")
def shipped(surveys):
    return load_schemes(SCHEMES, surveys)


# -- the shipped files ------------------------------------------------------------

def test_every_shipped_scheme_loads_without_problems(shipped):
    assert sorted(shipped) == SHIPPED
    for scheme_id, scheme in shipped.items():
        assert scheme.id == scheme_id
        assert Path(scheme.source) == SCHEMES / f"{scheme_id}.yaml"


def test_load_schemes_reads_the_questionnaires_beside_it_by_default():
    assert sorted(load_schemes()) == SHIPPED


def test_kunming_has_the_four_items_and_exactly_seventeen_indicators(shipped):
    kunming = shipped["kunming"]
    assert [i.id for i in kunming.at_depth(1)] == ["I-1", "I-2", "I-3", "I-4"]
    indicators = kunming.at_depth(2)
    assert len(indicators) == 17
    assert [i.id for i in indicators] == [f"II-{n}" for n in range(1, 18)]
    assert [i.label for i in indicators][:4] == ["党组织领导核心作用", "基层政府主导作用", "发挥群众自治组织作用",
                                                "社会力量协同参与"]
    # Ⅰ-1 holds Ⅱ-1…4, Ⅰ-2 Ⅱ-5…9, Ⅰ-3 Ⅱ-10…13, Ⅰ-4 Ⅱ-14…17 (附件2).
    assert [len(item.children) for item in kunming.at_depth(1)] == [4, 5, 4, 4]
    # The numbered standards: 3, 2, 4, 3, 3, 2, 3, 4, 5, 4, 2, 3, 3, 4, 3, 3, 3.
    assert [len(i.children) for i in indicators] == [3, 2, 4, 3, 3, 2, 3, 4, 5, 4, 2, 3, 3, 4, 3, 3, 3]


def test_kunming_total_points_are_left_to_fill_because_the_document_gives_none(shipped):
    """附件2 has no 分值 column: no points are invented; each indicator and standard says 待填."""
    kunming = shipped["kunming"]
    assert kunming.points is None and not kunming.points_to_fill  # the sum of its items
    for indicator, depth in kunming.walk():
        assert indicator.points is None, indicator.id
        if depth >= 2:
            assert "points" in indicator.to_fill, indicator.id
    raw = yaml.safe_load((SCHEMES / "kunming.yaml").read_text(encoding="utf-8"))
    assert "points" not in raw


def test_kunming_questionnaire_standards_are_fed_from_the_kunming_questionnaire(shipped, surveys):
    kunming = shipped["kunming"]
    fed = {leaf.id: leaf.feed for leaf in kunming.leaves if isinstance(leaf.feed, SurveyFeed)}
    assert sorted(fed) == ["II-1.3", "II-12.2", "II-14.4", "II-17.1", "II-17.3"]
    questionnaire_tags = {t for item in surveys["kunming-questionnaire"].items for t in item.tags}
    for leaf_id, feed in fed.items():
        assert feed.tags == (f"kunming:{leaf_id}",)
        assert set(feed.tags) <= questionnaire_tags
        assert kunming.indicators_by_id[leaf_id].method == "问卷调查"
    assert kunming.questionnaire == "kunming-questionnaire"


def test_kunming_numeric_standards_are_the_documents(shipped):
    by_id = shipped["kunming"].indicators_by_id
    organisations = by_id["II-4.1"].feed
    assert dict(organisations.at_least_by_kind) == {"urban": 10, "village": 5}
    assert "不少于10个" in by_id["II-4.1"].note and "不少于5个" in by_id["II-4.1"].note
    assert by_id["II-11.1"].feed.at_least == 30 and "不低于30平方米" in by_id["II-11.1"].note
    assert by_id["II-16.1"].feed.at_least == 3 and "不低于3%" in by_id["II-16.1"].note
    assert {by_id[i].feed.scoring for i in ("II-4.1", "II-11.1", "II-16.1")} == {"met"}


def test_panzhihua_has_the_tables_points_and_levels(shipped):
    scheme = shipped["panzhihua-xiqu"]
    assert scheme.points == 100
    assert [(i.label, i.points) for i in scheme.at_depth(1)] == [("组织保障", 20), ("项目管理", 50), ("项目效益", 30)]
    by_id = scheme.indicators_by_id
    assert [c.points for c in by_id["org"].children] == [4, 4, 4, 4, 4]
    assert [c.points for c in by_id["org-leadership"].children] == [2, 2]
    assert [c.points for c in by_id["mgmt"].children] == [5, 10, 5, 5, 10, 7, 5, 3]
    assert by_id["org-coordination"].feed.factors == (0, 0.3, 0.6, 0.8, 1)
    assert [lv.label for lv in by_id["org-coordination"].feed.levels] == [
        "无领导协调机构", "领导协调机构存在3处及以上设置不严密", "2处不严密", "1处不严密", "严密"]
    # Rows whose 0.3 and 0.8 cells are blank have three levels.
    for three in ("org-supervision", "mgmt-goals", "mgmt-funds-use"):
        assert by_id[three].feed.factors == (0, 0.6, 1), three


def test_panzhihua_leaves_the_cut_off_part_as_a_placeholder(shipped):
    scheme = shipped["panzhihua-xiqu"]
    rest = scheme.indicators_by_id["benefit-rest"]
    assert rest.feed.kind == "to_fill" and "截断" in rest.feed.reason
    assert rest.points == 14  # 30 (the heading) − 8 − 8
    assert scheme.placeholders == ("benefit-rest",)


def test_jinniu_is_four_weighted_parts_with_weights_to_fill(shipped):
    scheme = shipped["jinniu-funds"]
    assert scheme.combine == "weighted"
    assert [i.label for i in scheme.indicators] == ["社区自评", "街道互评", "区级考评", "群众满意度测评"]
    assert all(i.weight is None and i.to_fill == ("weight",) for i in scheme.indicators)
    assert scheme.survey_tags == {"funds:satisfaction"}
    assert scheme.questionnaire == "pilot-satisfaction"


def test_every_label_shown_to_users_is_chinese(shipped):
    def chinese(text: str) -> bool:
        return any("\u4e00" <= ch <= "\u9fff" for ch in text)

    for scheme in shipped.values():
        assert chinese(scheme.title)
        for indicator, _ in scheme.walk():
            assert chinese(indicator.label), indicator.id
            feed = indicator.feed
            for level in getattr(feed, "levels", ()):
                assert chinese(level.label), indicator.id
            if feed is not None and feed.kind in ("standard", "entered"):
                assert chinese(feed.label), indicator.id


# -- bad schemes ------------------------------------------------------------------

def scheme_yaml(indicators: str, head: str = "id: bad\ntitle: 测试方案\n") -> str:
    """A whole scheme file around some indicators written flush left."""
    return head + "indicators:\n" + textwrap.indent(textwrap.dedent(indicators).strip("\n"), "  ") + "\n"


LEVELS = "[{factor: 0, label: 无}, {factor: 1, label: 有}]"
Q = "id: bad\ntitle: 测试方案\nquestionnaire: kunming-questionnaire\n"

#: (what is wrong, the file, the problem's code, where, words the message must contain)
BAD_SCHEMES = [
    ("children's points do not add up", scheme_yaml(f"""
        - id: a
          label: 甲
          points: 10
          children:
            - {{id: a1, label: 甲一, points: 4, levels: {LEVELS}}}
            - {{id: a2, label: 甲二, points: 5, levels: {LEVELS}}}
     """), SchemeCode.POINTS_SUM, "indicator 'a'", "add up to 9, not the 10"),
    ("scheme points do not add up", scheme_yaml(f"""
        - {{id: a, label: 甲, points: 4, levels: {LEVELS}}}
     """, head="id: bad\ntitle: 测试方案\npoints: 100\n"), SchemeCode.POINTS_SUM, "", "add up to 4, not the 100"),
    ("points given exceed the parent though some are to fill", scheme_yaml(f"""
        - id: a
          label: 甲
          points: 10
          children:
            - {{id: a1, label: 甲一, points: 12, levels: {LEVELS}}}
            - {{id: a2, label: 甲二, points: 待填, levels: {LEVELS}}}
     """), SchemeCode.POINTS_EXCEED, "indicator 'a'", "12"),
    ("weights do not add up to 1", scheme_yaml("""
        - {id: a, label: 甲, weight: 0.5, entered: {label: 得分率}}
        - {id: b, label: 乙, weight: 0.4, entered: {label: 得分率}}
     """, head="id: bad\ntitle: 测试方案\ncombine: weighted\n"), SchemeCode.WEIGHTS_SUM, "", "0.9, not 1"),
    ("weights already above 1", scheme_yaml("""
        - {id: a, label: 甲, weight: 0.7, entered: {label: 得分率}}
        - {id: b, label: 乙, weight: 0.6, entered: {label: 得分率}}
        - {id: c, label: 丙, weight: 待填, entered: {label: 得分率}}
     """, head="id: bad\ntitle: 测试方案\ncombine: weighted\n"), SchemeCode.WEIGHTS_EXCEED, "", "1.3"),
    ("a weight out of range", scheme_yaml("""
        - {id: a, label: 甲, weight: 1.5, entered: {label: 得分率}}
     """, head="id: bad\ntitle: 测试方案\ncombine: weighted\n"), SchemeCode.WEIGHT_RANGE, "indicator 'a'", "1.5"),
    ("a weight missing under weighted", scheme_yaml("""
        - {id: a, label: 甲, entered: {label: 得分率}}
     """, head="id: bad\ntitle: 测试方案\ncombine: weighted\n"), SchemeCode.WEIGHT_MISSING, "indicator 'a'",
     "combines by weight"),
    ("a weight under a sum", scheme_yaml(f"""
        - {{id: a, label: 甲, points: 2, weight: 1, levels: {LEVELS}}}
     """), SchemeCode.WEIGHT_NOT_HERE, "indicator 'a'", "combine: weighted"),
    ("a level factor above 1", scheme_yaml("""
        - {id: a, label: 甲, points: 2, levels: [{factor: 0, label: 无}, {factor: 1.2, label: 有}]}
     """), SchemeCode.LEVEL_FACTOR_RANGE, "indicator 'a'", "1.2"),
    ("a negative level factor", scheme_yaml("""
        - {id: a, label: 甲, points: 2, levels: [{factor: -0.1, label: 无}, {factor: 1, label: 有}]}
     """), SchemeCode.LEVEL_FACTOR_RANGE, "indicator 'a'", "-0.1"),
    ("level factors not increasing", scheme_yaml("""
        - {id: a, label: 甲, points: 2, levels: [{factor: 0, label: 无}, {factor: 0.6, label: 一般},
                                                  {factor: 0.3, label: 较差}, {factor: 1, label: 好}]}
     """), SchemeCode.LEVELS_NOT_INCREASING, "indicator 'a'", "0, 0.6, 0.3, 1"),
    ("one level only", scheme_yaml("""
        - {id: a, label: 甲, points: 2, levels: [{factor: 1, label: 有}]}
     """), SchemeCode.LEVELS_FORM, "indicator 'a'", "at least two levels"),
    ("duplicate indicator id", scheme_yaml(f"""
        - {{id: a, label: 甲, points: 2, levels: {LEVELS}}}
        - {{id: a, label: 乙, points: 2, levels: {LEVELS}}}
     """), SchemeCode.DUPLICATE_INDICATOR, "indicator 'a'", "used twice"),
    ("a tag on no item of the questionnaire", scheme_yaml("""
        - {id: a, label: 甲, points: 2, survey: {tags: ["kunming:II-9.9"], measure: rate,
                                                  linear: {zero: 0, full: 100}}}
     """, head=Q), SchemeCode.UNKNOWN_TAG, "indicator 'a'", "'kunming:II-9.9'"),
    ("a tag on no scale item", scheme_yaml("""
        - {id: a, label: 甲, points: 2, survey: {tags: ["respondent:sex"], measure: rate,
                                                  linear: {zero: 0, full: 100}}}
     """, head=Q), SchemeCode.TAG_NOT_ON_SCALE, "indicator 'a'", "'respondent:sex'"),
    ("an unknown questionnaire", scheme_yaml(f"""
        - {{id: a, label: 甲, points: 2, levels: {LEVELS}}}
     """, head="id: bad\ntitle: 测试方案\nquestionnaire: nowhere\n"), SchemeCode.UNKNOWN_QUESTIONNAIRE, "",
     "'nowhere'"),
    ("a survey feed without a questionnaire", scheme_yaml("""
        - {id: a, label: 甲, points: 2, survey: {tags: ["kunming:II-1.3"], measure: rate,
                                                  linear: {zero: 0, full: 100}}}
     """), SchemeCode.NO_QUESTIONNAIRE, "indicator 'a'", "questionnaire"),
    ("an unknown measure", scheme_yaml("""
        - {id: a, label: 甲, points: 2, survey: {tags: ["kunming:II-1.3"], measure: mean,
                                                  linear: {zero: 0, full: 100}}}
     """, head=Q), SchemeCode.BAD_MEASURE, "indicator 'a'", "'mean'"),
    ("both linear and thresholds", scheme_yaml("""
        - {id: a, label: 甲, points: 2, survey: {tags: ["kunming:II-1.3"], measure: rate,
           linear: {zero: 0, full: 100}, thresholds: [{at_least: 90, factor: 1}]}}
     """, head=Q), SchemeCode.SURVEY_FORM, "indicator 'a'", "exactly one of"),
    ("linear anchors reversed", scheme_yaml("""
        - {id: a, label: 甲, points: 2, survey: {tags: ["kunming:II-1.3"], measure: rate,
                                                  linear: {zero: 90, full: 60}}}
     """, head=Q), SchemeCode.LINEAR_ANCHORS, "indicator 'a'", "zero=90, full=60"),
    ("thresholds rising", scheme_yaml("""
        - {id: a, label: 甲, points: 2, survey: {tags: ["kunming:II-1.3"], measure: rate,
           thresholds: [{at_least: 80, factor: 0.8}, {at_least: 90, factor: 1}]}}
     """, head=Q), SchemeCode.THRESHOLDS_ORDER, "indicator 'a'", "highest 'at_least' down"),
    ("a leaf with no feed", scheme_yaml("""
        - {id: a, label: 甲, points: 2}
     """), SchemeCode.LEAF_FEED, "indicator 'a'", "got none"),
    ("a leaf with two feeds", scheme_yaml(f"""
        - {{id: a, label: 甲, points: 2, levels: {LEVELS}, entered: {{label: 得分率}}}}
     """), SchemeCode.LEAF_FEED, "indicator 'a'", "got levels, entered"),
    ("a feed on a parent", scheme_yaml(f"""
        - id: a
          label: 甲
          points: 2
          entered: {{label: 得分率}}
          children:
            - {{id: a1, label: 甲一, points: 2, levels: {LEVELS}}}
     """), SchemeCode.FEED_ON_PARENT, "indicator 'a'", "'entered'"),
    ("a leaf without points", scheme_yaml(f"""
        - {{id: a, label: 甲, levels: {LEVELS}}}
     """), SchemeCode.POINTS_MISSING, "indicator 'a'", "待填"),
    ("points that are text", scheme_yaml(f"""
        - {{id: a, label: 甲, points: 十分, levels: {LEVELS}}}
     """), SchemeCode.BAD_TYPE, "indicator 'a'", "'十分'"),
    ("a standard of zero", scheme_yaml("""
        - {id: a, label: 甲, points: 2, standard: {label: 数量, unit: 个, at_least: 0, scoring: met}}
     """), SchemeCode.STANDARD_VALUE, "indicator 'a'", "above 0"),
    ("a standard by an unknown kind", scheme_yaml("""
        - {id: a, label: 甲, points: 2, standard: {label: 数量, at_least: {town: 3}, scoring: met}}
     """), SchemeCode.STANDARD_FORM, "indicator 'a'", "village"),
    ("an unknown field", scheme_yaml(f"""
        - {{id: a, label: 甲, points: 2, levles: [], levels: {LEVELS}}}
     """), SchemeCode.UNKNOWN_FIELD, "indicator 'a'", "'levles'"),
    ("an empty placeholder", scheme_yaml("""
        - {id: a, label: 甲, points: 2, to_fill: ""}
     """), SchemeCode.TO_FILL_FORM, "indicator 'a'", "what is missing"),
    ("a bad scheme id", scheme_yaml(f"""
        - {{id: a, label: 甲, points: 2, levels: {LEVELS}}}
     """, head="id: Bad Id\ntitle: 测试方案\n"), SchemeCode.BAD_ID, "", "'Bad Id'"),
    ("no indicators", "id: bad\ntitle: 测试方案\nindicators: []\n", SchemeCode.NO_INDICATORS, "", "at least one"),
]


@pytest.mark.parametrize(("what", "text", "code", "where", "words"),
                         [pytest.param(*case, id=case[0]) for case in BAD_SCHEMES])
def test_a_bad_scheme_is_rejected_with_its_coded_message(tmp_path, surveys, what, text, code, where, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_scheme_file(path, surveys)
    matching = [p for p in caught.value.problems if p.code is code]
    assert matching, [str(p) for p in caught.value.problems]
    problem = matching[0]
    assert problem.where == where
    assert words in problem.message
    assert str(problem).startswith(f"{path}:")


def test_every_problem_of_a_file_is_reported_together(tmp_path, surveys):
    text = scheme_yaml("""
        - {id: a, label: 甲, points: 2, levels: [{factor: 0, label: 无}, {factor: 2, label: 有}]}
        - {id: a, label: 乙, points: 2}
    """)
    with pytest.raises(DefinitionError) as caught:
        build_scheme(yaml.safe_load(text), "bad.yaml", surveys)
    codes = {p.code for p in caught.value.problems}
    assert {SchemeCode.LEVEL_FACTOR_RANGE, SchemeCode.DUPLICATE_INDICATOR, SchemeCode.LEAF_FEED} <= codes


def test_placeholders_are_accepted_where_a_number_is_not_known(surveys):
    text = scheme_yaml(f"""
        - id: a
          label: 甲
          points: 10
          children:
            - {{id: a1, label: 甲一, points: 4, levels: {LEVELS}}}
            - {{id: a2, label: 甲二, points: 待填, levels: {LEVELS}}}
            - {{id: a3, label: 甲三, points: 待填, standard: {{label: 数量, unit: 个, at_least: 待填, scoring: met}}}}
            - {{id: a4, label: 甲四, points: 待填, to_fill: 原文缺此项}}
    """, head="id: ok\ntitle: 测试方案\npoints: 待填\n")
    scheme = build_scheme(yaml.safe_load(text), "ok.yaml", surveys)
    assert scheme.points_to_fill
    assert scheme.placeholders == ("", "a2", "a3", "a4")
    assert scheme.indicators_by_id["a3"].to_fill == ("points", "at_least")


def test_without_surveys_the_tags_are_not_checked():
    text = scheme_yaml("""
        - {id: a, label: 甲, points: 2, survey: {tags: ["x:y"], measure: index, linear: {zero: 0, full: 100}}}
    """)
    scheme = build_scheme(yaml.safe_load(text))
    assert scheme.survey_tags == {"x:y"}


def test_two_files_with_one_id_are_refused(tmp_path, surveys):
    text = scheme_yaml(f"- {{id: a, label: 甲, points: 2, levels: {LEVELS}}}", head="id: same\ntitle: 方案\n")
    (tmp_path / "one.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "two.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_schemes(tmp_path, surveys)
    assert [p.code for p in caught.value.problems] == [SchemeCode.DUPLICATE_SCHEME_ID]


def test_invalid_yaml_is_reported_not_raised_raw(tmp_path, surveys):
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_scheme_file(path, surveys)
    assert caught.value.problems[0].code is SchemeCode.YAML
