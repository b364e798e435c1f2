"""Importing an XLSForm: each supported row type maps to our item, everything else is
refused together (sheet row and name), and what is written passes `surveys check`.

Each test writes its workbook inline as tables, as pyxform's own tests do; the .xlsx is
built with openpyxl in tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook

from app.definitions import load_all
from app.definitions.loader import load_scales
from app.definitions.xlsform import Caution, Refusal, XLSFormRefused, convert_xlsform, survey_id_from

ROOT = Path(__file__).resolve().parents[2]
SCALES = load_scales(ROOT / "surveys" / "scales.yaml")

YES_NO = """
| list_name | name | label | label::中文 (zh) |
| yn        | 1    | Yes   | 是               |
| yn        | 2    | No    | 否               |
"""
SATISFACTION = """
| list_name | name | label::中文 (zh) |
| sat       | 5    | 非常满意          |
| sat       | 4    | 满意              |
| sat       | 3    | 一般              |
| sat       | 2    | 不满意            |
| sat       | 1    | 非常不满意        |
| sat       | dk   | 不了解/说不清     |
"""
SETTINGS = """
| form_title     | form_id       |
| 社区服务满意度调查 | Service_Sat-2024 |
"""


def table(text: str) -> list[list[str | None]]:
    """Rows of a table written one row per line as | a | b |; an empty cell is None, blank lines are skipped."""
    rows = []
    for line in filter(str.strip, text.splitlines()):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append([c or None for c in cells])
    return rows


def write_xlsform(folder: Path, survey: str, choices: str | None = None, settings: str | None = SETTINGS,
                  name: str = "form.xlsx") -> Path:
    """An .xlsx with the sheets given as tables; the survey table's first line is row 1."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    for sheet_name, text in (("survey", survey), ("choices", choices), ("settings", settings)):
        if text is None:
            continue
        if sheet_name != "survey":
            sheet = workbook.create_sheet(sheet_name)
        for row in table(text):
            sheet.append(row)
    path = folder / name
    workbook.save(path)
    return path


def convert(tmp_path: Path, survey: str, choices: str | None = None, **kwargs):
    return convert_xlsform(write_xlsform(tmp_path, survey, choices, **kwargs), SCALES)


def refused(tmp_path: Path, survey: str, choices: str | None = None, **kwargs) -> XLSFormRefused:
    with pytest.raises(XLSFormRefused) as caught:
        convert(tmp_path, survey, choices, **kwargs)
    return caught.value


def codes_of(findings) -> list:
    return [f.code for f in findings]


@pytest.fixture
def surveys_dir(app, tmp_path) -> Path:
    """A copy of surveys/ that the app reads and writes, so nothing lands in the repository."""
    folder = tmp_path / "surveys"
    shutil.copytree(ROOT / "surveys", folder)
    app.config["SURVEYS_DIR"] = str(folder)
    return folder


# -- each type ------------------------------------------------------------------------

def test_a_select_one_becomes_single_with_codes_and_chinese_labels(tmp_path):
    result = convert(tmp_path, """
        | type          | name   | label::English (en) | label::中文 (zh) |
        | select_one yn | Joined | Joined?             | 您参加过议事会吗？ |
    """, YES_NO)
    item = result.definition.items_by_key["joined"]
    assert item.type == "single"
    assert [(c.code, c.label) for c in item.options] == [("1", "是"), ("2", "否")]
    assert item.text == "您参加过议事会吗？"
    assert item.text_en == "Joined?"


def test_a_chinese_label_column_is_preferred_over_the_plain_label(tmp_path):
    result = convert(tmp_path, """
        | type | name | label        | label::中文   | hint       | hint::中文 |
        | text | a    | Your advice? | 您有什么建议？ | A few words | 写几个字   |
    """)
    item = result.definition.items_by_key["a"]
    assert (item.text, item.help) == ("您有什么建议？", "写几个字")
    assert item.text_en is None  # the plain label's language is not known to be English


@pytest.mark.parametrize(("xlsform_type", "expected"), [
    ("select_multiple ch", {"type": "multiple", "codes": ["wx", "board"]}),
    ("integer", {"type": "number", "integer": True}),
    ("int", {"type": "number", "integer": True}),
    ("decimal", {"type": "number", "integer": False}),
    ("text", {"type": "text", "max_length": 500}),
    ("string", {"type": "text", "max_length": 500}),
], ids=["select_multiple", "integer", "int-alias", "decimal", "text", "string-alias"])
def test_each_supported_type_maps_to_our_item(tmp_path, xlsform_type, expected):
    result = convert(tmp_path, f"""
        | type           | name | label::中文 |
        | {xlsform_type} | q1   | 问题一       |
    """, """
        | list_name | name  | label::中文 |
        | ch        | wx    | 微信群       |
        | ch        | board | 公开栏       |
    """)
    item = result.definition.items_by_key["q1"]
    assert item.type == expected["type"]
    assert item.text == "问题一"
    if "codes" in expected:
        assert [c.code for c in item.options] == expected["codes"]
    if "integer" in expected:
        assert item.integer is expected["integer"]
    if "max_length" in expected:
        assert item.max_length == expected["max_length"]


def test_numeric_choice_names_in_the_workbook_become_text_codes(tmp_path):
    workbook = Workbook()
    survey = workbook.active
    survey.title = "survey"
    for row in (["type", "name", "label"], ["select_one yn", "q1", "您参加过吗？"]):
        survey.append(row)
    choices = workbook.create_sheet("choices")
    for row in (["list_name", "name", "label"], ["yn", 1, "参加过"], ["yn", 2, "没参加过"]):
        choices.append(row)
    path = tmp_path / "numeric.xlsx"
    workbook.save(path)
    item = convert_xlsform(path, SCALES).definition.items_by_key["q1"]
    assert [c.code for c in item.options] == ["1", "2"]


def test_a_satisfaction_list_becomes_likert_with_the_named_scale(tmp_path):
    result = convert(tmp_path, """
        | type           | name    | label::中文 (zh)      |
        | select_one sat | service | 您对社区服务满意吗？ |
    """, SATISFACTION)
    item = result.definition.items_by_key["service"]
    assert item.type == "likert"
    assert item.scale.key == "satisfaction5"
    assert not item.options
    assert "scale: satisfaction5" in result.yaml_text


def test_a_satisfaction_list_in_another_order_is_likert_with_a_warning(tmp_path):
    reordered = "\n".join([SATISFACTION.strip().splitlines()[0]] + SATISFACTION.strip().splitlines()[:0:-1])
    result = convert(tmp_path, """
        | type           | name    | label::中文 (zh)      |
        | select_one sat | service | 您对社区服务满意吗？ |
    """, reordered)
    assert result.definition.items_by_key["service"].scale.key == "satisfaction5"
    assert codes_of(result.warnings) == [Caution.LIKERT_ORDER, Caution.PLACEHOLDER_TAGS]


def test_a_list_that_differs_from_every_scale_stays_single(tmp_path):
    almost = SATISFACTION.replace("不了解/说不清", "不知道")
    result = convert(tmp_path, """
        | type           | name    | label::中文 (zh)      |
        | select_one sat | service | 您对社区服务满意吗？ |
    """, almost)
    item = result.definition.items_by_key["service"]
    assert item.type == "single"
    assert item.options[-1].label == "不知道"


def test_the_basic_satisfaction_wording_maps_to_its_own_scale(tmp_path):
    basic = SATISFACTION.replace("一般", "基本满意")
    result = convert(tmp_path, """
        | type           | name    | label::中文 (zh)      |
        | select_one sat | service | 您对社区服务满意吗？ |
    """, basic)
    assert result.definition.items_by_key["service"].scale.key == "satisfaction5_basic"


# -- groups, required, relevant, constraints --------------------------------------------

def test_groups_become_sections_titled_by_their_label(tmp_path):
    result = convert(tmp_path, """
        | type        | name  | label::中文   |
        | text        | intro | 您住在哪个小区？ |
        | begin group | part1 | 一、满意度     |
        | text        | a     | 问题甲         |
        | text        | b     | 问题乙         |
        | end group   |       |               |
        | begin_group | part2 | 二、建议       |
        | text        | c     | 问题丙         |
        | end_group   |       |               |
        | text        | d     | 问题丁         |
    """)
    sections = result.definition.sections
    assert [(s.title, [i.key for i in s.items]) for s in sections] == [
        (None, ["intro"]), ("一、满意度", ["a", "b"]), ("二、建议", ["c"]), (None, ["d"])]


def test_a_nested_group_is_flattened_into_its_section_with_a_warning(tmp_path):
    result = convert(tmp_path, """
        | type        | name  | label::中文 |
        | begin group | outer | 一、外层     |
        | text        | a     | 问题甲       |
        | begin group | inner | 内层         |
        | text        | b     | 问题乙       |
        | end group   |       |             |
        | text        | c     | 问题丙       |
        | end group   |       |             |
    """)
    assert [(s.title, [i.key for i in s.items]) for s in result.definition.sections] == [
        ("一、外层", ["a", "b", "c"])]
    nested = [w for w in result.warnings if w.code is Caution.NESTED_GROUP]
    assert [(w.row, w.name) for w in nested] == [(4, "inner")]


@pytest.mark.parametrize(("cell", "required"), [
    ("yes", True), ("true", True), ("TRUE", True), ("true()", True), ("no", False), ("false", False), (None, False)])
def test_required_yes_or_true_is_required(tmp_path, cell, required):
    result = convert(tmp_path, f"""
        | type | name | label::中文 | required |
        | text | a    | 问题甲       | {cell or ""} |
    """)
    assert result.definition.items_by_key["a"].required is required


def test_a_conditional_required_is_optional_with_a_warning(tmp_path):
    result = convert(tmp_path, """
        | type          | name | label::中文 | required        |
        | select_one yn | a    | 问题甲       | yes             |
        | text          | b    | 问题乙       | ${a} = '1'      |
    """, YES_NO)
    assert result.definition.items_by_key["b"].required is False
    assert [(w.code, w.row) for w in result.warnings if w.code is Caution.REQUIRED_EXPR] == [
        (Caution.REQUIRED_EXPR, 3)]


@pytest.mark.parametrize(("relevant", "values"), [
    ("${joined} = '1'", {"1"}),
    ('${joined} = "1"', {"1"}),
    ("${joined} = 1", {"1"}),
    ("${joined}='2'", {"2"}),
    ("selected(${joined}, '1')", {"1"}),
    ("${joined} = '1' or ${joined} = '2'", {"1", "2"}),
    ("selected(${joined}, '1') or selected(${joined}, '2')", {"1", "2"}),
    ("(${joined} = '1') or (${joined} = '2')", {"1", "2"}),
])
def test_simple_relevant_becomes_show_if(tmp_path, relevant, values):
    result = convert(tmp_path, f"""
        | type          | name     | label::中文 | relevant    |
        | select_one yn | joined   | 参加过吗？   |             |
        | text          | why      | 为什么？     | {relevant}  |
    """, YES_NO)
    show_if = result.definition.items_by_key["why"].show_if
    assert show_if.item == "joined"
    assert show_if.values == frozenset(values)
    written = yaml.safe_load(result.yaml_text)["sections"][0]["items"][1]["show_if"]
    assert written == ({"item": "joined", "equals": next(iter(values))} if len(values) == 1
                       else {"item": "joined", "in": sorted(values)})


def test_selected_on_a_select_multiple_becomes_show_if_in(tmp_path):
    result = convert(tmp_path, """
        | type               | name | label::中文 | relevant                                        |
        | select_multiple ch | seen | 在哪看到？   |                                                 |
        | text               | what | 看到什么？   | selected(${seen}, 'wx') or selected(${seen}, 'tv') |
    """, """
        | list_name | name | label::中文 |
        | ch        | wx   | 微信群       |
        | ch        | tv   | 电视         |
        | ch        | none | 都没看到     |
    """)
    show_if = result.definition.items_by_key["what"].show_if
    assert (show_if.item, show_if.values) == ("seen", frozenset({"wx", "tv"}))


def test_a_group_relevant_applies_to_each_item_in_the_group(tmp_path):
    result = convert(tmp_path, """
        | type          | name   | label::中文 | relevant         |
        | select_one yn | joined | 参加过吗？   |                  |
        | begin group   | more   | 参加的情况   | ${joined} = '1'  |
        | text          | when   | 什么时候？   |                  |
        | text          | where  | 在哪里？     |                  |
        | end group     |        |             |                  |
        | text          | advice | 建议         |                  |
    """, YES_NO)
    items = result.definition.items_by_key
    assert items["when"].show_if.values == frozenset({"1"})
    assert items["where"].show_if.item == "joined"
    assert items["advice"].show_if is None


def test_relevant_on_both_a_group_and_an_item_in_it_is_refused(tmp_path):
    problems = refused(tmp_path, """
        | type          | name   | label::中文 | relevant        |
        | select_one yn | joined | 参加过吗？   |                 |
        | select_one yn | again  | 还参加吗？   |                 |
        | begin group   | more   | 参加的情况   | ${joined} = '1' |
        | text          | when   | 什么时候？   | ${again} = '1'  |
        | text          | where  | 在哪里？     |                 |
        | end group     |        |             |                 |
    """, YES_NO)
    assert [(f.code, f.row, f.name) for f in problems.refusals] == [(Refusal.RELEVANT_TWICE, 5, "when")]
    assert "row 4" in problems.refusals[0].message


def test_a_complex_group_relevant_is_refused_once_at_the_group(tmp_path):
    problems = refused(tmp_path, """
        | type          | name   | label::中文 | relevant           |
        | select_one yn | joined | 参加过吗？   |                    |
        | begin group   | more   | 参加的情况   | ${joined} != '2'   |
        | text          | when   | 什么时候？   |                    |
        | text          | where  | 在哪里？     |                    |
        | end group     |        |             |                    |
    """, YES_NO)
    assert [(f.code, f.row, f.name) for f in problems.refusals] == [(Refusal.RELEVANT_FORM, 3, "more")]


@pytest.mark.parametrize(("xlsform_type", "constraint", "bounds"), [
    ("integer", ". >= 0 and . <= 120", (0, 120)),
    ("integer", ".>=18", (18, None)),
    ("integer", ". <= 100", (None, 100)),
    ("integer", ". > 0 and . < 10", (1, 9)),
    ("integer", "0 <= . and . <= 5", (0, 5)),
    ("decimal", ". >= 0.5 and . <= 99.5", (0.5, 99.5)),
])
def test_simple_constraints_become_min_and_max(tmp_path, xlsform_type, constraint, bounds):
    result = convert(tmp_path, f"""
        | type           | name  | label::中文 | constraint   |
        | {xlsform_type} | years | 住了几年？   | {constraint} |
    """)
    item = result.definition.items_by_key["years"]
    assert (item.min, item.max) == bounds
    assert not [w for w in result.warnings if w.code is Caution.CONSTRAINT]


@pytest.mark.parametrize(("xlsform_type", "constraint"), [
    ("integer", ". >= 0 or . = 999"),
    ("integer", ". != 3"),
    ("integer", ". >= 10 and . <= 5"),
    ("decimal", ". > 0"),
    ("integer", "regex(., '^[0-9]+$')"),
    ("text", "regex(., '^1[0-9]{10}$')"),
    ("select_one yn", ". != '2'"),
])
def test_other_constraints_are_dropped_with_a_warning(tmp_path, xlsform_type, constraint):
    result = convert(tmp_path, f"""
        | type           | name | label::中文 | constraint   |
        | {xlsform_type} | q    | 问题         | {constraint} |
    """, YES_NO)
    item = result.definition.items_by_key["q"]
    assert (item.min, item.max) == (None, None)
    dropped = [w for w in result.warnings if w.code is Caution.CONSTRAINT]
    assert [(w.row, w.name) for w in dropped] == [(2, "q")]
    assert constraint in dropped[0].message


def test_length_and_count_constraints_become_max_length_and_choice_limits(tmp_path):
    result = convert(tmp_path, """
        | type               | name   | label::中文 | constraint                                    |
        | text               | advice | 建议         | string-length(.) <= 200                       |
        | select_multiple ch | seen   | 在哪看到？   | count-selected(.) >= 1 and count-selected(.) <= 2 |
    """, """
        | list_name | name | label::中文 |
        | ch        | wx   | 微信群       |
        | ch        | tv   | 电视         |
        | ch        | bd   | 公开栏       |
    """)
    items = result.definition.items_by_key
    assert items["advice"].max_length == 200
    assert (items["seen"].min_choices, items["seen"].max_choices) == (1, 2)


# -- tags, keys, ids ------------------------------------------------------------------

def test_tags_come_from_a_tags_column(tmp_path):
    result = convert(tmp_path, """
        | type | name | label::中文 | tags                              |
        | text | a    | 问题甲       | kunming:II-14.4 pilot:satisfaction |
        | text | b    | 问题乙       | needs:elderly_care, needs:legal   |
    """)
    items = result.definition.items_by_key
    assert items["a"].tags == ("kunming:II-14.4", "pilot:satisfaction")
    assert items["b"].tags == ("needs:elderly_care", "needs:legal")
    assert Caution.PLACEHOLDER_TAGS not in codes_of(result.warnings)


def test_without_tags_every_item_gets_the_form_tag_and_a_warning(tmp_path):
    result = convert(tmp_path, """
        | type | name | label::中文 |
        | text | a    | 问题甲       |
        | text | b    | 问题乙       |
    """)
    assert {item.tags for item in result.definition.items} == {("xlsform:service_sat-2024",)}
    placeholder = [w for w in result.warnings if w.code is Caution.PLACEHOLDER_TAGS]
    assert len(placeholder) == 1
    assert "xlsform:service_sat-2024" in placeholder[0].message


def test_an_item_left_untagged_in_a_tags_column_gets_the_form_tag_named_by_row(tmp_path):
    result = convert(tmp_path, """
        | type | name | label::中文 | tags            |
        | text | a    | 问题甲       | kunming:II-14.4 |
        | text | b    | 问题乙       |                 |
    """)
    assert result.definition.items_by_key["b"].tags == ("xlsform:service_sat-2024",)
    placeholder = [w for w in result.warnings if w.code is Caution.PLACEHOLDER_TAGS]
    assert "row 3" in placeholder[0].message


@pytest.mark.parametrize(("form_id", "survey_id"), [
    ("Service_Sat-2024", "service_sat-2024"),
    ("My Survey (v2)", "my-survey-v2"),
    ("2024 满意度 survey", "survey"),
    ("满意度调查", None),
])
def test_survey_id_from_form_id(form_id, survey_id):
    assert survey_id_from(form_id) == survey_id


def test_the_id_comes_from_form_id_and_the_title_from_form_title(tmp_path):
    result = convert(tmp_path, """
        | type | name | label::中文 |
        | text | a    | 问题甲       |
    """)
    assert (result.definition.id, result.definition.title) == ("service_sat-2024", "社区服务满意度调查")


# -- refusals -------------------------------------------------------------------------

def test_everything_that_cannot_be_carried_over_is_listed_together_with_row_and_name(tmp_path):
    problems = refused(tmp_path, """
        | type          | name      | label::中文 | relevant                          | calculation |
        | start         | start     |             |                                   |             |
        | today         | today     |             |                                   |             |
        | deviceid      | deviceid  |             |                                   |             |
        | select_one yn | joined    | 参加过吗？   |                                   |             |
        | date          | when      | 哪一天？     |                                   |             |
        | geopoint      | where     | 在哪里？     |                                   |             |
        | image         | photo     | 拍照         |                                   |             |
        | calculate     | score     |             |                                   | 1 + 1       |
        | begin repeat  | members   | 家庭成员     |                                   |             |
        | text          | member    | 姓名         |                                   |             |
        | end repeat    |           |             |                                   |             |
        | text          | why       | 为什么？     | ${joined} = '1' and ${when} != '' |             |
        | text          | Q-1       | 问题         |                                   |             |
        | text          | errors    | 问题         |                                   |             |
    """, YES_NO, settings="""
        | form_title | form_id |
        | 问卷        | f       |
    """)
    listed = [(f.code, f.sheet, f.row, f.name) for f in problems.refusals]
    # Metadata rows (start, today, deviceid) are dropped with a warning, not refused.
    assert listed == [
        (Refusal.UNSUPPORTED_TYPE, "survey", 6, "when"),
        (Refusal.UNSUPPORTED_TYPE, "survey", 7, "where"),
        (Refusal.UNSUPPORTED_TYPE, "survey", 8, "photo"),
        (Refusal.UNSUPPORTED_TYPE, "survey", 9, "score"),
        (Refusal.UNSUPPORTED_TYPE, "survey", 10, "members"),
        (Refusal.RELEVANT_FORM, "survey", 13, "why"),
        (Refusal.BAD_KEY, "survey", 14, "Q-1"),
        (Refusal.RESERVED_KEY, "survey", 15, "errors"),
    ]
    assert "unsupported type 'geopoint'" in problems.refusals[1].message
    assert str(problems.refusals[0]) == "form.xlsx: survey row 6 (when): unsupported type 'date'"
    assert [(w.code, w.row) for w in problems.warnings if w.code is Caution.METADATA] == [
        (Caution.METADATA, 2), (Caution.METADATA, 3), (Caution.METADATA, 4)]


@pytest.mark.parametrize(("relevant", "code"), [
    ("${joined} != '1'", Refusal.RELEVANT_FORM),
    ("not(selected(${joined}, '1'))", Refusal.RELEVANT_FORM),
    ("${joined} = '1' or ${age} = '2'", Refusal.RELEVANT_FORM),
    ("${age} > 60", Refusal.RELEVANT_FORM),
    ("${age} = 60", Refusal.RELEVANT_NOT_CHOICE),
    ("${joined} = '3'", Refusal.RELEVANT_VALUE),
    ("selected(${seen}, 'wx')", Refusal.RELEVANT_TARGET),
])
def test_relevant_we_cannot_express_is_refused(tmp_path, relevant, code):
    problems = refused(tmp_path, f"""
        | type          | name   | label::中文 | relevant    |
        | select_one yn | joined | 参加过吗？   |             |
        | integer       | age    | 年龄         |             |
        | text          | why    | 为什么？     | {relevant}  |
        | text          | seen   | 看到什么？   |             |
    """, YES_NO)
    assert [(f.code, f.row, f.name) for f in problems.refusals] == [(code, 4, "why")]


def test_equals_on_a_select_multiple_is_refused_with_a_hint(tmp_path):
    problems = refused(tmp_path, """
        | type               | name | label::中文 | relevant      |
        | select_multiple yn | seen | 看到过吗？   |               |
        | text               | what | 看到什么？   | ${seen} = '1' |
    """, YES_NO)
    assert codes_of(problems.refusals) == [Refusal.RELEVANT_EQUALS_MULTIPLE]
    assert "selected(${seen}, 'x')" in problems.refusals[0].message


def test_behaviour_columns_or_other_and_bad_choices_are_refused(tmp_path):
    problems = refused(tmp_path, """
        | type                   | name | label::中文 | choice_filter   | read_only |
        | select_one yn or_other | a    | 问题甲       |                 |           |
        | select_one town        | b    | 问题乙       |                 |           |
        | select_one yn          | c    | 问题丙       | filter = ${a}   |           |
        | text                   | d    | 问题丁       |                 | yes       |
        | text                   | e    |             |                 |           |
    """, YES_NO + """
        | town      | a.b  | 甲街道 |
        | town      | c    |        |
    """)
    listed = [(f.code, f.sheet, f.row) for f in problems.refusals]
    assert listed == [
        (Refusal.UNSUPPORTED_TYPE, "survey", 2),
        (Refusal.CHOICE_CODE, "choices", 4),
        (Refusal.CHOICE_LABEL, "choices", 5),
        (Refusal.COLUMN, "survey", 4),
        (Refusal.COLUMN, "survey", 5),
        (Refusal.NO_LABEL, "survey", 6),
    ]
    assert "choice_filter" in problems.refusals[3].message
    assert "read_only" in problems.refusals[4].message


def test_names_that_clash_when_lowercased_are_refused(tmp_path):
    problems = refused(tmp_path, """
        | type | name | label::中文 |
        | text | Age  | 问题甲       |
        | text | age  | 问题乙       |
    """)
    assert [(f.code, f.row, f.name) for f in problems.refusals] == [(Refusal.DUPLICATE_KEY, 3, "age")]


def test_a_form_id_that_makes_no_id_is_refused_asking_for_id(tmp_path):
    problems = refused(tmp_path, """
        | type | name | label::中文 |
        | text | a    | 问题甲       |
    """, settings="""
        | form_title | form_id   |
        | 问卷        | 满意度调查 |
    """)
    assert codes_of(problems.refusals) == [Refusal.BAD_ID]
    assert "--id" in problems.refusals[0].message


@pytest.mark.parametrize("survey_id", ["Bad Id", "1st", "scales", "x" * 65])
def test_a_bad_id_option_is_refused(tmp_path, survey_id):
    path = write_xlsform(tmp_path, """
        | type | name | label::中文 |
        | text | a    | 问题甲       |
    """)
    with pytest.raises(XLSFormRefused) as caught:
        convert_xlsform(path, SCALES, survey_id)
    assert codes_of(caught.value.refusals) == [Refusal.BAD_ID]


def test_a_workbook_pyxform_cannot_read_is_refused(tmp_path):
    path = tmp_path / "not-a-form.xlsx"
    path.write_text("this is not a workbook", encoding="utf-8")
    with pytest.raises(XLSFormRefused) as caught:
        convert_xlsform(path, SCALES)
    assert codes_of(caught.value.refusals) == [Refusal.NOT_XLSFORM]


def test_an_unclosed_group_is_reported_in_pyxforms_words(tmp_path):
    problems = refused(tmp_path, """
        | type        | name  | label::中文 |
        | begin group | part1 | 一、满意度   |
        | text        | a     | 问题甲       |
    """)
    assert codes_of(problems.refusals) == [Refusal.NOT_XLSFORM]
    assert "group" in problems.refusals[0].message.lower()


# -- warnings -------------------------------------------------------------------------

def test_notes_and_display_columns_are_dropped_with_warnings(tmp_path):
    result = convert(tmp_path, """
        | type | name  | label::中文      | hint::中文     | appearance | constraint_message::中文 |
        | note | hello | 您好！感谢参与。   |                |            |                        |
        | text | a     | 问题甲            | 写几个字就行    | multiline  |                        |
        | text | b     | 问题乙            |                | multiline  | 太长了                  |
    """)
    assert [i.key for i in result.definition.items] == ["a", "b"]
    assert result.definition.items_by_key["a"].help == "写几个字就行"
    warnings = [(w.code, w.row, w.name) for w in result.warnings]
    assert (Caution.NOTE, 2, "hello") in warnings
    dropped = {w.message.split("'")[1]: w.message for w in result.warnings if w.code is Caution.COLUMN}
    assert sorted(dropped) == ["appearance", "constraint_message"]
    assert "rows 3, 4" in dropped["appearance"]


# -- the command ----------------------------------------------------------------------

SMALL_FORM = """
    | type           | name    | label::中文 (zh)        | required | relevant         | constraint           | tags              |
    | begin group    | sat     | 一、您对社区满意吗？     |          |                  |                      |                   |
    | select_one sat | service | 您对社区服务满意吗？     | yes      |                  |                      | pilot:satisfaction |
    | select_one yn  | joined  | 您参加过坝坝会吗？       | yes      |                  |                      | pilot:participation |
    | integer        | times   | 参加过几次？             |          | ${joined} = '1'  | . >= 1 and . <= 50   | pilot:participation |
    | end group      |         |                         |          |                  |                      |                   |
    | text           | advice  | 您还有什么建议？         |          |                  |                      | pilot:suggestions |
"""


def test_the_command_writes_a_file_that_loads_and_passes_surveys_check(runner, surveys_dir, tmp_path):
    path = write_xlsform(tmp_path, SMALL_FORM, SATISFACTION + """
        | yn        | 1    | 参加过            |
        | yn        | 2    | 没参加过          |
    """)
    result = runner.invoke(args=["surveys", "import-xlsform", str(path)])
    assert result.exit_code == 0, result.output
    written = surveys_dir / "service_sat-2024.yaml"
    assert f"wrote {written}" in result.stdout

    definition = load_all(surveys_dir)["service_sat-2024"]
    assert [(s.title, [i.key for i in s.items]) for s in definition.sections] == [
        ("一、您对社区满意吗？", ["service", "joined", "times"]), (None, ["advice"])]
    assert definition.items_by_key["service"].scale.key == "satisfaction5"
    assert (definition.items_by_key["times"].min, definition.items_by_key["times"].max) == (1, 50)

    check = runner.invoke(args=["surveys", "check"])
    assert check.exit_code == 0, check.output
    assert "ok  service_sat-2024: 4 items" in check.output


def test_chinese_survives_as_utf8_in_the_written_file(runner, surveys_dir, tmp_path):
    path = write_xlsform(tmp_path, """
        | type          | name   | label::English | label::中文     |
        | select_one yn | joined | Joined?        | 您参加过议事会吗？ |
    """, YES_NO)
    assert runner.invoke(args=["surveys", "import-xlsform", str(path), "--id", "hearing"]).exit_code == 0
    raw = (surveys_dir / "hearing.yaml").read_bytes()
    assert "您参加过议事会吗？".encode() in raw
    assert b"\\u" not in raw
    written = yaml.safe_load(raw.decode("utf-8"))
    assert list(written) == ["id", "title", "sections"]
    item = written["sections"][0]["items"][0]
    assert list(item) == ["key", "type", "text", "text_en", "options", "tags"]
    assert item["options"] == [{"code": "1", "label": "是"}, {"code": "2", "label": "否"}]


def test_the_command_lists_every_refusal_exits_1_and_writes_nothing(runner, surveys_dir, tmp_path):
    path = write_xlsform(tmp_path, """
        | type     | name  | label::中文 | relevant                          |
        | start    | start |             |                                   |
        | text     | a     | 问题甲       |                                   |
        | date     | day   | 哪天？       |                                   |
        | text     | b     | 问题乙       | ${a} = 'x' and ${day} = today()   |
    """)
    before = sorted(p.name for p in surveys_dir.iterdir())
    result = runner.invoke(args=["surveys", "import-xlsform", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert not any("unsupported type 'start'" in line for line in lines)
    assert "form.xlsx: survey row 4 (day): unsupported type 'date'" in lines
    assert any(line.startswith("form.xlsx: survey row 5 (b): relevant") for line in lines)
    assert lines[-1] == "2 problem(s) found; nothing was written."
    assert sorted(p.name for p in surveys_dir.iterdir()) == before


def test_an_existing_file_is_kept_unless_force(runner, surveys_dir, tmp_path):
    path = write_xlsform(tmp_path, """
        | type | name | label::中文 |
        | text | a    | 问题甲       |
    """)
    target = surveys_dir / "service_sat-2024.yaml"
    target.write_text("# someone's edits\n", encoding="utf-8")

    kept = runner.invoke(args=["surveys", "import-xlsform", str(path)])
    assert kept.exit_code == 1
    assert f"form.xlsx: {target} already exists; pass --force to overwrite it" in kept.stderr.splitlines()
    assert target.read_text(encoding="utf-8") == "# someone's edits\n"

    forced = runner.invoke(args=["surveys", "import-xlsform", str(path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["id"] == "service_sat-2024"


def test_an_id_another_file_already_uses_is_refused(runner, surveys_dir, tmp_path):
    path = write_xlsform(tmp_path, """
        | type | name | label::中文 |
        | text | a    | 问题甲       |
    """)
    (surveys_dir / "needs-survey.yaml").rename(surveys_dir / "needs.yaml")
    moved = runner.invoke(args=["surveys", "import-xlsform", str(path), "--id", "needs-survey"])
    assert moved.exit_code == 1
    assert "already used by" in moved.stderr
    assert not (surveys_dir / "needs-survey.yaml").exists()


def test_warnings_are_printed_after_a_successful_import(runner, surveys_dir, tmp_path):
    path = write_xlsform(tmp_path, """
        | type | name  | label::中文 |
        | note | hello | 您好！       |
        | text | a     | 问题甲       |
    """)
    result = runner.invoke(args=["surveys", "import-xlsform", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: form.xlsx: survey row 2 (hello): note dropped" in result.stderr
    assert "warning: form.xlsx: survey: items without tags got the tag 'xlsform:service_sat-2024'" in result.stderr
