"""Reading surveys/: the shipped files load, and every bad file is rejected with a coded
problem naming the file and the item."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from app.definitions import DefinitionError, definition_from_dict, load_all, load_survey_file
from app.definitions.errors import Code
from app.definitions.loader import load_scales

ROOT = Path(__file__).resolve().parents[2]
SURVEYS = ROOT / "surveys"
SHIPPED = ["kunming-questionnaire", "needs-survey", "pilot-satisfaction"]
#: The tag form surveys/README.md asks for: `scheme:indicator`.
TAG_FORM = re.compile(r"[a-z][a-z0-9_-]*:[A-Za-z0-9_.-]+")
#: Who answered: the option codes weighting relies on, the same in every shipped survey.
RESPONDENT_CODES = {
    "age_band": ["1", "2", "3", "4", "5"],
    "sex": ["m", "f"],
    "residence_years": ["1", "2", "3", "4"],
}


@pytest.fixture(scope="module")
def shipped():
    return load_all(SURVEYS)


@pytest.fixture(scope="module")
def scales():
    return load_scales(SURVEYS / "scales.yaml")


def survey_yaml(items: str, head: str = "id: bad\ntitle: 测试问卷\n") -> str:
    """A whole definition file around some items written one per line, flush left."""
    return head + "sections:\n  - items:\n" + textwrap.indent(textwrap.dedent(items).strip("\n"), "      ") + "\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def named(cases: list) -> list:
    """Parametrize cases, each named by its first column (a pytest.param keeps its own id and marks)."""
    return [case if isinstance(case, type(pytest.param())) else pytest.param(*case, id=case[0]) for case in cases]


def problems_of(path: Path, scales) -> list:
    with pytest.raises(DefinitionError) as caught:
        load_survey_file(path, scales)
    return caught.value.problems


# -- the shipped files ------------------------------------------------------------

def test_the_shipped_folder_loads_exactly_the_three_surveys(shipped):
    assert sorted(shipped) == SHIPPED
    for survey_id, definition in shipped.items():
        assert definition.id == survey_id
        assert Path(definition.source) == SURVEYS / f"{survey_id}.yaml"


@pytest.mark.parametrize("survey_id", SHIPPED)
def test_every_shipped_item_has_a_tag_of_the_form_scheme_indicator(shipped, survey_id):
    for item in shipped[survey_id].items:
        assert item.tags, item.key
        assert all(TAG_FORM.fullmatch(tag) for tag in item.tags), (item.key, item.tags)


@pytest.mark.parametrize("survey_id", SHIPPED)
def test_every_shipped_survey_asks_who_answered_with_the_weighting_codes(shipped, survey_id):
    items = shipped[survey_id].items_by_key
    for key, codes in RESPONDENT_CODES.items():
        item = items[key]
        assert item.type == "single"
        assert not item.required, f"{key} must be optional"
        assert [c.code for c in item.choices] == codes
        assert f"respondent:{key}" in item.tags
        assert item.show_if is None


def test_the_respondent_items_are_the_same_in_every_shipped_survey(shipped):
    """Weighting pools answers across surveys: same key, same wording, same codes."""
    as_dicts = {sid: [d.items_by_key[k].to_dict() for k in RESPONDENT_CODES] for sid, d in shipped.items()}
    assert as_dicts["pilot-satisfaction"] == as_dicts["kunming-questionnaire"] == as_dicts["needs-survey"]


@pytest.mark.parametrize("tag", ["kunming:II-1.3", "kunming:II-12.2", "kunming:II-14.4", "kunming:II-17.1",
                                 "kunming:II-17.3", "overall:satisfaction"])
def test_the_kunming_questionnaire_covers_each_survey_standard(shipped, tag):
    tagged = [item.key for item in shipped["kunming-questionnaire"].items if tag in item.tags]
    assert tagged, f"no item tagged {tag}"
    if tag == "overall:satisfaction":
        assert tagged == ["overall"]  # the one item driver analysis compares against


@pytest.mark.parametrize("survey_id", SHIPPED)
def test_every_shipped_show_if_looks_back_at_a_choice_item_and_its_codes(shipped, survey_id):
    items = shipped[survey_id].items
    position = {item.key: n for n, item in enumerate(items)}
    conditional = [item for item in items if item.show_if is not None]
    assert conditional, "every shipped survey has skip logic"
    for item in conditional:
        target = items[position[item.show_if.item]]
        assert position[target.key] < position[item.key], item.key
        assert target.type in ("single", "multiple", "likert"), item.key
        assert item.show_if.values <= target.codes, item.key


@pytest.mark.parametrize("survey_id", SHIPPED)
def test_a_shipped_file_has_as_many_items_as_its_yaml_lists(shipped, survey_id):
    raw = yaml.safe_load((SURVEYS / f"{survey_id}.yaml").read_text(encoding="utf-8"))
    keys = [item["key"] for section in raw["sections"] for item in section["items"]]
    assert [item.key for item in shipped[survey_id].items] == keys


# -- bad files --------------------------------------------------------------------

TWO_OPTIONS = '[{code: "1", label: 是}, {code: "2", label: 否}]'

#: (what is wrong, the file, the problem's code, where, words the message must contain)
BAD_DEFINITIONS = [
    ("unknown item type", survey_yaml("""
        - {key: q1, type: text, text: 您的建议, tags: ["t:x"]}
        - {key: q2, type: slider, text: 打几分, tags: ["t:x"]}
     """), Code.UNKNOWN_ITEM_TYPE, "item 'q2'", "'slider'"),
    ("duplicate item key", survey_yaml("""
        - {key: q1, type: text, text: 您的建议, tags: ["t:x"]}
        - {key: q1, type: text, text: 还有什么, tags: ["t:x"]}
     """), Code.DUPLICATE_KEY, "item 'q1'", "'q1'"),
    ("unknown scale", survey_yaml("""
        - {key: q2, type: likert, scale: satisfaction7, text: 满意吗, tags: ["t:x"]}
     """), Code.UNKNOWN_SCALE, "item 'q2'", "satisfaction5"),
    ("show_if to a later item", survey_yaml(f"""
        - {{key: q2, type: text, text: 为什么, tags: ["t:x"], show_if: {{item: q3, equals: "1"}}}}
        - {{key: q3, type: single, text: 参加过吗, tags: ["t:x"], options: {TWO_OPTIONS}}}
     """), Code.SHOW_IF_UNKNOWN, "item 'q2'", "'q3'"),
    ("show_if to an unknown item", survey_yaml(f"""
        - {{key: q1, type: single, text: 参加过吗, tags: ["t:x"], options: {TWO_OPTIONS}}}
        - {{key: q2, type: text, text: 为什么, tags: ["t:x"], show_if: {{item: q9, equals: "1"}}}}
     """), Code.SHOW_IF_UNKNOWN, "item 'q2'", "'q9'"),
    ("show_if value not a code", survey_yaml(f"""
        - {{key: q1, type: single, text: 参加过吗, tags: ["t:x"], options: {TWO_OPTIONS}}}
        - {{key: q2, type: text, text: 为什么, tags: ["t:x"], show_if: {{item: q1, in: ["1", "3"]}}}}
     """), Code.SHOW_IF_BAD_VALUE, "item 'q2'", "'3'"),
    ("show_if on a number item", survey_yaml("""
        - {key: q1, type: number, text: 住了几年, tags: ["t:x"]}
        - {key: q2, type: text, text: 为什么, tags: ["t:x"], show_if: {item: q1, equals: "1"}}
     """), Code.SHOW_IF_NOT_CHOICE, "item 'q2'", "number"),
    ("missing tags", survey_yaml("""
        - {key: q2, type: text, text: 您的建议}
     """), Code.NO_TAGS, "item 'q2'", "tags"),
    ("tag without a scheme", survey_yaml("""
        - {key: q2, type: text, text: 您的建议, tags: ["II-14.4"]}
     """), Code.BAD_TAG, "item 'q2'", "'II-14.4'"),
    ("text max_length over the ceiling", survey_yaml("""
        - {key: q2, type: text, text: 您的建议, tags: ["t:x"], max_length: 5000}
     """), Code.MAX_LENGTH, "item 'q2'", "5000"),
    ("number min greater than max", survey_yaml("""
        - {key: q2, type: number, text: 住了几年, tags: ["t:x"], min: 10, max: 1}
     """), Code.BAD_RANGE, "item 'q2'", "min (10)"),
    ("duplicate option code", survey_yaml("""
        - {key: q2, type: single, text: 参加过吗, tags: ["t:x"], options: [{code: "1", label: 是}, {code: "1", label: 否}]}
     """), Code.DUPLICATE_CODE, "item 'q2'", "'1'"),
    ("option code with a space", survey_yaml("""
        - {key: q2, type: single, text: 参加过吗, tags: ["t:x"], options: [{code: "a b", label: 是}, {code: c, label: 否}, {code: d, label: 说不清}]}
     """), Code.BAD_CODE, "item 'q2'", "'a b'"),
    ("exclusive option on a single choice", survey_yaml("""
        - {key: q2, type: single, text: 参加过吗, tags: ["t:x"], options: [{code: "1", label: 是}, {code: "2", label: 否, exclusive: true}]}
     """), Code.EXCLUSIVE_NOT_MULTIPLE, "item 'q2'", "'2'"),
    ("exclusive that is not true or false", survey_yaml("""
        - {key: q2, type: multiple, text: 从哪里看到, tags: ["t:x"], options: [{code: a, label: 微信群}, {code: none, label: 都没有, exclusive: "yes"}]}
     """), Code.BAD_TYPE, "item 'q2'", "'exclusive'"),
    ("single choice with one option", survey_yaml("""
        - {key: q2, type: single, text: 参加过吗, tags: ["t:x"], options: [{code: "1", label: 是}]}
     """), Code.NO_OPTIONS, "item 'q2'", "two options"),
    ("unknown field on an item", survey_yaml(f"""
        - {{key: q2, type: single, text: 参加过吗, tags: ["t:x"], options: {TWO_OPTIONS}, colour: red}}
     """), Code.UNKNOWN_FIELD, "item 'q2'", "'colour'"),
    ("a likert field on a single item", survey_yaml(f"""
        - {{key: q2, type: single, scale: satisfaction5, text: 参加过吗, tags: ["t:x"], options: {TWO_OPTIONS}}}
     """), Code.FIELD_NOT_FOR_TYPE, "item 'q2'", "'scale'"),
    ("item key in capitals", survey_yaml("""
        - {key: q1, type: text, text: 您的建议, tags: ["t:x"]}
        - {key: Q2, type: text, text: 还有什么, tags: ["t:x"]}
     """), Code.BAD_ID, "section 1 item 2", "'Q2'"),
    ("no title", survey_yaml("""
        - {key: q1, type: text, text: 您的建议, tags: ["t:x"]}
     """, head="id: bad\n"), Code.MISSING, "", "'title'"),
    ("invalid YAML", "id: bad\ntitle: 测试问卷\nsections:\n  - items: [\n", Code.YAML, "", "not valid YAML"),
    ("a list instead of a mapping", "- id: bad\n- title: 测试问卷\n", Code.NOT_A_MAPPING, "", "mapping"),
]


@pytest.mark.parametrize("what, text, code, where, words", named(BAD_DEFINITIONS))
def test_a_bad_definition_is_rejected_with_one_coded_problem_naming_file_and_item(
        tmp_path, scales, what, text, code, where, words):
    path = write(tmp_path, "bad.yaml", text)
    problems = problems_of(path, scales)
    assert [p.code for p in problems] == [code]
    problem = problems[0]
    assert problem.where == where
    assert problem.file == str(path)
    assert str(problem).startswith(f"{path}:")
    assert where in str(problem)
    assert words in problem.message



#: Values of the wrong shape: each must come back as a problem naming the item, never a crash
#: (`flask surveys check` would print a traceback instead of the list of problems).
MALFORMED = [
    pytest.param(survey_yaml("- {key: q2, type: [single], text: 参加过吗, tags: [t:x]}"), "item 'q2'",
                 id="item type given as a list"),
    pytest.param(survey_yaml("- {key: q2, type: likert, scale: [satisfaction5], text: 满意吗, tags: [t:x]}"),
                 "item 'q2'",
                 id="scale given as a list"),
    pytest.param(survey_yaml(f"""
        - {{key: q1, type: single, text: 参加过吗, tags: [t:x], options: {TWO_OPTIONS}}}
        - {{key: q2, type: text, text: 为什么, tags: [t:x], show_if: {{item: [q1], equals: "1"}}}}
     """), "item 'q2'",
                 id="show_if item given as a list"),
    pytest.param(survey_yaml("- {key: q1, type: text, text: 您的建议, tags: [t:x]}",
                             head="id: bad\ntitle: 测试问卷\nscales: [satisfaction5]\n"), "",
                 id="file-level scales given as a list"),
]


@pytest.mark.parametrize("text, where", MALFORMED)
def test_a_value_of_the_wrong_shape_is_a_problem_not_a_crash(tmp_path, scales, text, where):
    path = write(tmp_path, "bad.yaml", text)
    # A rejected item can leave the survey empty, which is reported too (NO_ITEMS, file-wide).
    problems = [p for p in problems_of(path, scales) if p.code is not Code.NO_ITEMS]
    assert problems and all(p.where == where and p.file == str(path) for p in problems)



#: Values the loader lets through although they cannot mean what the author wrote.
ACCEPTED_BUT_WRONG = [
    pytest.param(survey_yaml('- {key: q2, type: number, text: 住了几年, tags: [t:x], integer: "no"}'), "item 'q2'",
                 id="integer given as the string no"),
    pytest.param(survey_yaml("- {key: q2, type: number, text: 住了几年, tags: [t:x], min: .nan, max: 100}"), "item 'q2'",
                 id="number bound that is NaN"),
    pytest.param(survey_yaml("- {key: q2, type: multiple, text: 从哪里看到, tags: [t:x], max_choices: 0, "
                             "options: [{code: a, label: 微信群}, {code: b, label: 公开栏}]}"), "item 'q2'",
                 id="max_choices of zero"),
    pytest.param(survey_yaml("- {key: q2, type: likert, scale: s, text: 满意吗, tags: [t:x]}", head=textwrap.dedent("""\
                     id: bad
                     title: 测试问卷
                     scales:
                       s:
                         levels:
                           - {code: "very good", label: 很好, score: 100}
                           - {code: null, label: 不好, score: 0}
                         satisfied: ["very good"]
                 """)), "scale 's'",
                 id="scale level codes that are not codes"),
]


@pytest.mark.parametrize("text, where", ACCEPTED_BUT_WRONG)
def test_a_value_that_cannot_mean_what_was_written_is_a_problem(tmp_path, scales, text, where):
    path = write(tmp_path, "bad.yaml", text)
    problems = problems_of(path, scales)
    assert problems[0].where == where  # a rejected scale may also leave its item with an unknown scale


# `$` also matches before a final newline: the names must be matched whole (fullmatch).
@pytest.mark.parametrize("text, where", [
    (survey_yaml("""
        - {key: "q1\\n", type: text, text: 您的建议, tags: [t:x]}
        - {key: q2, type: text, text: 还有什么, tags: [t:x]}
     """), "section 1 item 1"),
    (survey_yaml('- {key: q1, type: text, text: 您的建议, tags: ["t:x\\n"]}'), "item 'q1'"),
    (survey_yaml('- {key: q1, type: text, text: 您的建议, tags: [t:x]}', head='id: "bad\\n"\ntitle: 测试\n'), ""),
    (survey_yaml('- {key: q1, type: single, text: 参加过吗, tags: [t:x], options: [{code: "1\\n", label: 是}, {code: "2", label: 否}]}'),
     "item 'q1'"),
], ids=["item key", "tag", "survey id", "option code"])
def test_a_name_with_a_trailing_newline_is_rejected(tmp_path, scales, text, where):
    path = write(tmp_path, "bad.yaml", text)
    assert [p.where for p in problems_of(path, scales)] == [where]


def test_every_problem_of_a_file_is_reported_at_once(tmp_path, scales):
    path = write(tmp_path, "bad.yaml", survey_yaml("""
        - {key: q1, type: slider, text: 打几分, tags: ["t:x"]}
        - {key: q2, type: text, text: 您的建议}
        - {key: q3, type: number, text: 住了几年, tags: ["t:x"], min: 10, max: 1}
        - {key: q4, type: text, text: 还有什么, tags: ["t:x"]}
     """))
    problems = problems_of(path, scales)
    assert [(p.where, p.code) for p in problems] == [
        ("item 'q1'", Code.UNKNOWN_ITEM_TYPE), ("item 'q2'", Code.NO_TAGS), ("item 'q3'", Code.BAD_RANGE)]
    # The exception's text is every problem, one a line.
    with pytest.raises(DefinitionError) as caught:
        load_survey_file(path, scales)
    assert str(caught.value).splitlines() == [str(p) for p in problems]


GOOD_FILE = survey_yaml("""
    - {key: q1, type: likert, scale: satisfaction5, text: 满意吗, tags: ["t:x"]}
""", head="id: good\ntitle: 好问卷\n")


def test_load_all_reports_the_problems_of_every_bad_file(tmp_path):
    shutil.copy(SURVEYS / "scales.yaml", tmp_path / "scales.yaml")
    write(tmp_path, "a-good.yaml", GOOD_FILE)
    first = write(tmp_path, "b-bad.yaml", survey_yaml("- {key: q1, type: text, text: 您的建议}"))
    second = write(tmp_path, "c-bad.yaml", survey_yaml("- {key: q7, type: number, text: 几年, tags: [t:x], min: 3, max: 2}"))
    with pytest.raises(DefinitionError) as caught:
        load_all(tmp_path)
    assert [(p.file, p.where, p.code) for p in caught.value.problems] == [
        (str(first), "item 'q1'", Code.NO_TAGS), (str(second), "item 'q7'", Code.BAD_RANGE)]


def test_load_all_of_good_files_gives_them_by_id(tmp_path):
    shutil.copy(SURVEYS / "scales.yaml", tmp_path / "scales.yaml")
    write(tmp_path, "a-good.yaml", GOOD_FILE)
    write(tmp_path, "notes.txt", "not a definition")
    found = load_all(tmp_path)
    assert list(found) == ["good"]
    assert found["good"].items[0].scale.key == "satisfaction5"


def test_two_files_with_the_same_id_are_rejected_naming_the_second(tmp_path):
    shutil.copy(SURVEYS / "scales.yaml", tmp_path / "scales.yaml")
    write(tmp_path, "a.yaml", GOOD_FILE)
    second = write(tmp_path, "b.yaml", GOOD_FILE.replace("好问卷", "另一份"))
    with pytest.raises(DefinitionError) as caught:
        load_all(tmp_path)
    [problem] = caught.value.problems
    assert problem.file == str(second) and "'good'" in problem.message


# -- stored versions --------------------------------------------------------------

@pytest.mark.parametrize("survey_id", SHIPPED)
def test_a_stored_definition_rebuilds_to_the_same_content(shipped, survey_id):
    definition = shipped[survey_id]
    rebuilt = definition_from_dict(definition.to_dict())
    assert rebuilt.content_hash == definition.content_hash
    assert rebuilt.items == definition.items
    assert rebuilt == definition
    # Its scales travel with it: no scales.yaml was needed to rebuild.
    likert = [item for item in rebuilt.items if item.type == "likert"]
    assert likert and all(item.scale.levels for item in likert)


def test_changing_one_label_changes_the_content_hash(shipped):
    definition = shipped["kunming-questionnaire"]
    data = definition.to_dict()
    item = data["sections"][1]["items"][0]
    assert item["key"] == "hearing_joined"
    item["options"][0]["label"] = "参加过一次"
    changed = definition_from_dict(data)
    assert changed.content_hash != definition.content_hash
    assert changed.items_by_key["hearing_joined"].options[0].label == "参加过一次"
    # And back again, the same hash: the hash is of content, not of object identity.
    item["options"][0]["label"] = definition.items_by_key["hearing_joined"].options[0].label
    assert definition_from_dict(data).content_hash == definition.content_hash


# -- scales -----------------------------------------------------------------------

@pytest.mark.parametrize("key, satisfied", [
    ("satisfaction5", {"5", "4"}),
    ("satisfaction5_basic", {"5", "4", "3"}),
])
def test_which_levels_count_as_satisfied_is_a_property_of_the_scale(scales, key, satisfied):
    scale = scales[key]
    assert scale.satisfied == satisfied
    assert [lv.code for lv in scale.levels] == ["5", "4", "3", "2", "1"]
    assert [lv.score for lv in scale.levels] == [100, 80, 60, 40, 20]
    assert [c.code for c in scale.off_scale] == ["dk"]
    assert "dk" not in {lv.code for lv in scale.levels}
    assert [c.code for c in scale.choices] == ["5", "4", "3", "2", "1", "dk"]


@pytest.mark.parametrize("what, text, code", named([
    ("satisfied code that is not a level", """
        s:
          levels:
            - {code: "2", label: 好, score: 100}
            - {code: "1", label: 不好, score: 0}
          satisfied: ["3"]
     """, Code.SCALE_SATISFIED),
    ("an off-scale code counted as satisfied", """
        s:
          levels:
            - {code: "2", label: 好, score: 100}
            - {code: "1", label: 不好, score: 0}
          satisfied: ["2", dk]
          off_scale: [{code: dk, label: 说不清}]
     """, Code.SCALE_SATISFIED),
    ("one level only", """
        s:
          levels:
            - {code: "1", label: 好, score: 100}
          satisfied: ["1"]
     """, Code.SCALE_LEVELS),
    ("an off-scale code that is also a level", """
        s:
          levels:
            - {code: "2", label: 好, score: 100}
            - {code: "1", label: 不好, score: 0}
          satisfied: ["2"]
          off_scale: [{code: "1", label: 说不清}]
     """, Code.DUPLICATE_CODE),
    ("a level without a score", """
        s:
          levels:
            - {code: "2", label: 好}
            - {code: "1", label: 不好, score: 0}
          satisfied: ["2"]
     """, Code.SCALE_LEVELS),
]))
def test_a_bad_scale_is_rejected(tmp_path, what, text, code):
    path = write(tmp_path, "scales.yaml", textwrap.dedent(text))
    with pytest.raises(DefinitionError) as caught:
        load_scales(path)
    assert [(p.file, p.where, p.code) for p in caught.value.problems] == [(str(path), "scale 's'", code)]


# -- the command line -------------------------------------------------------------

def test_surveys_check_lists_each_shipped_survey_as_ok(runner, app):
    assert Path(app.config["SURVEYS_DIR"]) == SURVEYS
    result = runner.invoke(args=["surveys", "check"])
    assert result.exit_code == 0, result.output
    ok = [line.split() for line in result.output.splitlines() if line.startswith("ok") and " scheme " not in line]
    assert [words[1].rstrip(":") for words in ok] == SHIPPED
    schemes = [line.split()[2].rstrip(":") for line in result.output.splitlines() if line.startswith("ok  scheme ")]
    assert schemes == sorted(p.stem for p in (SURVEYS / "schemes").glob("*.yaml")) and schemes
    for words in ok:
        raw = yaml.safe_load((SURVEYS / f"{words[1].rstrip(':')}.yaml").read_text(encoding="utf-8"))
        assert int(words[2]) == sum(len(section["items"]) for section in raw["sections"])


def test_surveys_check_fails_naming_the_file_and_the_item(runner, app, tmp_path):
    shutil.copy(SURVEYS / "scales.yaml", tmp_path / "scales.yaml")
    write(tmp_path, "good.yaml", GOOD_FILE)
    bad = write(tmp_path, "bad.yaml", survey_yaml("""
        - {key: q1, type: text, text: 您的建议, tags: ["t:x"]}
        - {key: q2, type: likert, scale: satisfaction7, text: 满意吗, tags: ["t:x"]}
     """))
    app.config["SURVEYS_DIR"] = str(tmp_path)
    result = runner.invoke(args=["surveys", "check"])
    assert result.exit_code == 1
    assert f"{bad}: item 'q2': unknown scale 'satisfaction7'" in result.output
    assert "1 problem(s) found" in result.output
    assert not any(line.startswith("ok") for line in result.output.splitlines())


def test_surveys_check_fails_on_a_bad_scoring_scheme(runner, app, tmp_path):
    shutil.copy(SURVEYS / "scales.yaml", tmp_path / "scales.yaml")
    write(tmp_path, "good.yaml", GOOD_FILE)
    (tmp_path / "schemes").mkdir()
    (tmp_path / "schemes" / "bad.yaml").write_text(
        "id: bad\ntitle: 坏方案\npoints: 10\nindicators:\n"
        "  - {id: A, label: 甲, points: 4, entered: {label: 得分率}}\n", encoding="utf-8")
    app.config["SURVEYS_DIR"] = str(tmp_path)
    result = runner.invoke(args=["surveys", "check"])
    assert result.exit_code == 1 and "problem(s) found in the scoring schemes" in result.output
    assert "bad.yaml" in result.output


@pytest.mark.parametrize("key", ["validate", "errors", "data", "meta", "definition", "process", "hidden",
                                 "submission", "csrf_token", "answer_rows"])
def test_an_item_key_the_form_itself_uses_is_refused(tmp_path, scales, key):
    path = write(tmp_path, "bad.yaml", survey_yaml(f"- {{key: {key}, type: text, text: 您的建议, tags: [t:x]}}"))
    problems = problems_of(path, scales)
    assert [(p.code, p.where) for p in problems if p.code is not Code.NO_ITEMS] == [(Code.RESERVED_KEY, f"item '{key}'")]
