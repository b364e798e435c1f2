"""The form built from a definition: what it accepts, what it tells the resident, what it stores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from werkzeug.datastructures import MultiDict

from app.definitions import DefinitionError
from app.definitions.forms import make_survey_form
from app.definitions.loader import build_survey, load_scales
from app.definitions.types import (MSG_BAD_CHOICE, MSG_NOT_INTEGER, MSG_NOT_NUMBER, MSG_REQUIRED_CHOICE,
                                   MSG_REQUIRED_MULTI, MSG_REQUIRED_TEXT)

ROOT = Path(__file__).resolve().parents[2]
SCALES = load_scales(ROOT / "surveys" / "scales.yaml")


def definition(text: str):
    return build_survey(yaml.safe_load(text), "<test>", SCALES)


#: One item of each type, all required, with limits to break.
REQUIRED = definition("""
id: form-required
title: 每种题型
sections:
  - items:
      - {key: choice, type: single, required: true, text: 参加过吗, tags: [t:x],
         options: [{code: "1", label: 参加过}, {code: "2", label: 没参加过}]}
      - {key: rating, type: likert, scale: satisfaction5, required: true, text: 满意吗, tags: [t:x]}
      - {key: ticks, type: multiple, required: true, min_choices: 2, max_choices: 3, text: 从哪里看到, tags: [t:x],
         options: [{code: a, label: 微信群}, {code: b, label: 公开栏}, {code: c, label: 坝坝会},
                   {code: d, label: 宣传单}, {code: e, label: 电视}]}
      - {key: years, type: number, required: true, min: 0, max: 100, integer: true, unit: 年, text: 住了几年, tags: [t:x]}
      - {key: words, type: text, required: true, max_length: 10, text: 一句话建议, tags: [t:x]}
""")

#: A post that REQUIRED accepts; tests spoil one answer at a time.
VALID = {"choice": "1", "rating": "4", "ticks": ["a", "b"], "years": "12", "words": "多办活动"}
VALID_ROWS = [("choice", ("1", None, None)), ("rating", ("4", None, None)), ("ticks", ("a", None, None)),
              ("ticks", ("b", None, None)), ("years", ("12", 12.0, None)), ("words", ("", None, "多办活动"))]


@dataclass
class Posted:
    ok: bool
    errors: dict[str, list[str]]
    rows: list
    hidden: set[str]


@pytest.fixture
def post(app):
    """Fill a definition's form from a POST body and validate it, as the submit path does."""
    app.config["WTF_CSRF_ENABLED"] = False

    def post(survey, data: dict) -> Posted:
        with app.test_request_context(method="POST", data=MultiDict(data)):
            form = make_survey_form(survey)()
            ok = form.validate()
            return Posted(ok, dict(form.errors), form.answer_rows() if ok else [], set(form.hidden))
    return post


def test_a_complete_post_is_valid_and_gives_one_row_per_answer(post):
    result = post(REQUIRED, VALID)
    assert result.ok, result.errors
    assert result.rows == VALID_ROWS


@pytest.mark.parametrize("key, sent, message", [
    ("choice", None, MSG_REQUIRED_CHOICE),
    ("choice", "", MSG_REQUIRED_CHOICE),
    ("rating", None, MSG_REQUIRED_CHOICE),
    ("rating", "", MSG_REQUIRED_CHOICE),
    ("ticks", None, MSG_REQUIRED_MULTI),
    ("years", None, MSG_REQUIRED_TEXT),
    ("years", "", MSG_REQUIRED_TEXT),
    ("years", "   ", MSG_REQUIRED_TEXT),
    ("words", None, MSG_REQUIRED_TEXT),
    ("words", "", MSG_REQUIRED_TEXT),
    ("words", " \t\r\n　", MSG_REQUIRED_TEXT),  # whitespace only, ideographic space too
])
def test_a_required_item_left_empty_gets_the_plain_message_for_its_type(post, key, sent, message):
    data = dict(VALID)
    if sent is None:
        del data[key]
    else:
        data[key] = sent
    result = post(REQUIRED, data)
    assert not result.ok
    assert result.errors == {key: [message]}


def test_optional_items_may_be_left_empty_and_store_nothing(post):
    optional = definition("""
    id: form-optional
    title: 都是选填
    sections:
      - items:
          - {key: choice, type: single, text: 参加过吗, tags: [t:x], options: [{code: "1", label: 是}, {code: "2", label: 否}]}
          - {key: rating, type: likert, scale: satisfaction5, text: 满意吗, tags: [t:x]}
          - {key: ticks, type: multiple, min_choices: 2, text: 从哪里看到, tags: [t:x],
             options: [{code: a, label: 微信群}, {code: b, label: 公开栏}, {code: c, label: 坝坝会}]}
          - {key: years, type: number, min: 1, max: 100, text: 住了几年, tags: [t:x]}
          - {key: words, type: text, text: 一句话建议, tags: [t:x]}
    """)
    for data in ({}, {"choice": "", "rating": "", "years": "", "words": "  "}):
        result = post(optional, data)
        assert result.ok, (data, result.errors)
        assert result.rows == []


# -- choices ----------------------------------------------------------------------

@pytest.mark.parametrize("key, sent", [
    ("choice", "3"),
    ("choice", "参加过"),  # the label, not the code
    ("rating", "6"),
    ("rating", "DK"),
    ("ticks", ["a", "z"]),
])
def test_a_choice_that_was_not_offered_is_refused(post, key, sent):
    result = post(REQUIRED, dict(VALID, **{key: sent}))
    assert result.errors == {key: [MSG_BAD_CHOICE]}


def test_likert_accepts_the_off_scale_dont_know_and_stores_its_code(post):
    result = post(REQUIRED, dict(VALID, rating="dk"))
    assert result.ok, result.errors
    assert ("rating", ("dk", None, None)) in result.rows
    assert [row for key, row in result.rows if key == "rating"] == [("dk", None, None)]


@pytest.mark.parametrize("ticked, message", [
    (["a"], "请至少选 2 项。"),
    (["a", "b", "c", "d"], "最多只能选 3 项。"),
    (["a", "b", "c", "d", "e"], "最多只能选 3 项。"),
])
def test_multiple_choice_limits_are_enforced_with_the_number_in_the_message(post, ticked, message):
    result = post(REQUIRED, dict(VALID, ticks=ticked))
    assert result.errors == {"ticks": [message]}


@pytest.mark.parametrize("ticked", [["a", "b"], ["a", "c", "e"]])
def test_multiple_choice_within_its_limits_stores_each_code(post, ticked):
    result = post(REQUIRED, dict(VALID, ticks=ticked))
    assert result.ok, result.errors
    assert [row[0] for key, row in result.rows if key == "ticks"] == ticked


def test_a_code_ticked_twice_is_stored_once(post):
    result = post(REQUIRED, dict(VALID, ticks=["b", "a", "b"]))
    assert result.ok, result.errors
    assert [row for key, row in result.rows if key == "ticks"] == [("b", None, None), ("a", None, None)]


def test_a_code_ticked_twice_does_not_count_twice_towards_min_choices(post):
    # A forged ticks=a&ticks=a would otherwise pass min_choices=2 and store one answer.
    result = post(REQUIRED, dict(VALID, ticks=["a", "a"]))
    assert result.errors == {"ticks": ["请至少选 2 项。"]}


EXCLUSIVE = definition("""
id: form-exclusive
title: 互斥选项
sections:
  - items:
      - {key: heard, type: multiple, required: true, text: 听说过哪些项目, tags: [t:x],
         options: [{code: eldercare, label: 日间照料}, {code: jobs, label: 就业超市},
                   {code: none, label: 都没听说过, exclusive: true}]}
""")


@pytest.mark.parametrize("ticked, errors", [
    (["none"], {}),
    (["eldercare", "jobs"], {}),
    (["none", "jobs"], {"heard": ["“都没听说过”不能和其他选项一起选。"]}),
    (["eldercare", "none", "jobs"], {"heard": ["“都没听说过”不能和其他选项一起选。"]}),
    (["none", "none"], {}),  # the same code twice is still one answer
])
def test_an_exclusive_option_cannot_be_ticked_with_another(post, ticked, errors):
    result = post(EXCLUSIVE, {"heard": ticked})
    assert result.errors == errors
    if not errors:
        assert [row[0] for _, row in result.rows] == list(dict.fromkeys(ticked))


def test_an_exclusive_option_alone_is_answerable_or_the_definition_is_refused(post):
    text = """
    id: form-exclusive-min
    title: 互斥选项和最少选几项
    sections:
      - items:
          - {key: heard, type: multiple, required: true, min_choices: 2, text: 听说过哪些项目, tags: [t:x],
             options: [{code: eldercare, label: 日间照料}, {code: jobs, label: 就业超市}, {code: meals, label: 助餐},
                       {code: none, label: 都没听说过, exclusive: true}]}
    """
    try:
        survey = definition(text)
    except DefinitionError:
        return  # refusing the contradiction in the file is a fix too
    result = post(survey, {"heard": ["none"]})
    assert result.ok, result.errors


# -- numbers ----------------------------------------------------------------------

#: A non-integer number item, for decimals.
AMOUNT = definition("""
id: form-amount
title: 小数
sections:
  - items:
      - {key: amount, type: number, min: 0, max: 10, unit: 公里, text: 离社区多远, tags: [t:x]}
""")


#: A number item with room for thousands.
THOUSANDS = definition("""
id: form-thousands
title: 人数
sections:
  - items:
      - {key: people, type: number, min: 0, max: 100000, integer: true, text: 小区住了多少人, tags: [t:x]}
""")


@pytest.mark.parametrize("survey, key, typed, code, number", [
    (REQUIRED, "years", "12", "12", 12.0),
    (REQUIRED, "years", " 12 ", "12", 12.0),
    (REQUIRED, "years", "１２", "12", 12.0),  # full-width digits from a Chinese keypad
    (REQUIRED, "years", "12.0", "12", 12.0),
    (REQUIRED, "years", "012", "12", 12.0),
    (REQUIRED, "years", "+7", "7", 7.0),
    (REQUIRED, "years", "0", "0", 0.0),
    (REQUIRED, "years", "100", "100", 100.0),
    (THOUSANDS, "people", "1,000", "1000", 1000.0),  # a comma groups thousands
    (THOUSANDS, "people", "１，２００", "1200", 1200.0),  # full-width comma too
    (AMOUNT, "amount", "0.000001", "0.000001", 0.000001),  # never "1e-06"
    (AMOUNT, "amount", "3.25", "3.25", 3.25),
    (AMOUNT, "amount", "．5", "0.5", 0.5),  # full-width point
    (AMOUNT, "amount", "10", "10", 10.0),
])
def test_a_number_is_read_leniently_and_stored_with_a_canonical_code(post, survey, key, typed, code, number):
    result = post(survey, dict(VALID, **{key: typed}) if survey is REQUIRED else {key: typed})
    assert result.ok, result.errors
    [row] = [row for k, row in result.rows if k == key]
    assert row == (code, number, None)


@pytest.mark.parametrize("typed", ["abc", "1e5", "nan", "inf", "-inf", "12abc", "1.2.3", "0x10", ".", "十二",
                                   "2,5", "1,00", "12,"])  # a comma never marks decimals
def test_what_is_not_a_plain_number_is_refused(post, typed):
    result = post(REQUIRED, dict(VALID, years=typed))
    assert result.errors == {"years": [MSG_NOT_NUMBER]}


@pytest.mark.parametrize("typed", ["2.5", "0.1", "1,000.5"])
def test_a_fraction_for_a_whole_number_is_refused(post, typed):
    result = post(REQUIRED, dict(VALID, years=typed))
    assert result.errors == {"years": [MSG_NOT_INTEGER]}


@pytest.mark.parametrize("survey, key, typed, bounds", [
    (REQUIRED, "years", "101", "0 到 100"),
    (REQUIRED, "years", "-1", "0 到 100"),
    (AMOUNT, "amount", "10.5", "0 到 10"),
    (AMOUNT, "amount", "-0.5", "0 到 10"),
])
def test_a_number_out_of_range_is_refused_naming_both_bounds(post, survey, key, typed, bounds):
    result = post(survey, dict(VALID, **{key: typed}) if survey is REQUIRED else {key: typed})
    assert list(result.errors) == [key]
    [message] = result.errors[key]
    assert bounds in message
    assert survey.items_by_key[key].unit in message


# -- text -------------------------------------------------------------------------

@pytest.mark.parametrize("typed, accepted", [
    ("一二三四五六七八九十", True),
    ("一二三四五六七八九十一", False),
    ("a" * 9, True),
    ("😀" * 10, True),  # counted in characters, not bytes or UTF-16 units
])
def test_text_is_limited_to_max_length_characters(post, typed, accepted):
    result = post(REQUIRED, dict(VALID, words=typed))
    if accepted:
        assert result.ok, result.errors
        assert ("words", ("", None, typed)) in result.rows
    else:
        assert result.errors == {"words": [f"最多填写 10 个字，现在是 {len(typed)} 个字。"]}


def test_text_is_stored_without_surrounding_whitespace(post):
    result = post(REQUIRED, dict(VALID, words="  多办活动\n"))
    assert result.ok, result.errors
    assert [row for key, row in result.rows if key == "words"] == [("", None, "多办活动")]


@pytest.mark.parametrize("typed, stored", [
    # The textarea's maxlength counts a line break as one character; browsers post it as CRLF.
    ("一二三四五\r\n六七八九", "一二三四五\n六七八九"),
    ("一二三四五\n六七八九", "一二三四五\n六七八九"),
    ("  一二三四五六七八九十  ", "一二三四五六七八九十"),
], ids=["crlf", "lf", "spaces"])
def test_text_length_is_measured_on_what_is_stored(post, typed, stored):
    result = post(REQUIRED, dict(VALID, words=typed))
    assert result.ok, result.errors
    assert [row for key, row in result.rows if key == "words"] == [("", None, stored)]


def test_a_crlf_still_counts_once_when_the_text_is_too_long(post):
    result = post(REQUIRED, dict(VALID, words="一二三四五\r\n六七八九十"))
    assert result.errors == {"words": ["最多填写 10 个字，现在是 11 个字。"]}


# -- skip logic -------------------------------------------------------------------

CHAIN = definition("""
id: form-chain
title: 跳题
sections:
  - items:
      - {key: a, type: single, required: true, text: 参加过议事会吗, tags: [t:x],
         options: [{code: "1", label: 参加过}, {code: "2", label: 没参加过}]}
      - {key: b, type: likert, scale: satisfaction5, required: true, text: 满意吗, tags: [t:x],
         show_if: {item: a, equals: "1"}}
      - {key: c, type: text, required: true, text: 哪里不满意, tags: [t:x],
         show_if: {item: b, in: ["1", "2"]}}
      - {key: n, type: number, required: true, integer: true, min: 1, max: 9, text: 参加过几次, tags: [t:x],
         show_if: {item: a, equals: "1"}}
      - {key: seen, type: multiple, required: true, text: 从哪里看到, tags: [t:x],
         options: [{code: wechat, label: 微信群}, {code: board, label: 公开栏}, {code: none, label: 都没有}]}
      - {key: seen_sat, type: likert, scale: satisfaction5, required: true, text: 对宣传满意吗, tags: [t:x],
         show_if: {item: seen, in: [wechat, board]}}
""")


def test_a_hidden_item_is_neither_validated_nor_stored_even_when_sent(post):
    # a = 2 hides b, c and n; what is sent for them anyway is bad and must be ignored.
    result = post(CHAIN, {"a": "2", "b": "9", "c": "x" * 5000, "n": "abc", "seen": ["none"], "seen_sat": "zz"})
    assert result.ok, result.errors
    assert result.hidden == {"b", "c", "n", "seen_sat"}
    assert result.rows == [("a", ("2", None, None)), ("seen", ("none", None, None))]


def test_an_item_shown_by_its_condition_is_required(post):
    result = post(CHAIN, {"a": "1", "seen": ["none"]})
    assert result.errors == {"b": [MSG_REQUIRED_CHOICE], "n": [MSG_REQUIRED_TEXT]}


@pytest.mark.parametrize("data, hidden, stored", [
    # a hides b, so c (which follows b) is hidden too, whatever was sent for b.
    ({"a": "2", "b": "1", "c": "太吵", "seen": ["none"]}, {"b", "c", "n", "seen_sat"}, ["a", "seen"]),
    # a shows b; b = 5 hides c.
    ({"a": "1", "b": "5", "c": "太吵", "n": "2", "seen": ["none"]}, {"c", "seen_sat"}, ["a", "b", "n", "seen"]),
    # a shows b; b = 1 shows c.
    ({"a": "1", "b": "1", "c": "太吵", "n": "2", "seen": ["none"]}, {"seen_sat"}, ["a", "b", "c", "n", "seen"]),
])
def test_a_chain_of_conditions_hides_everything_below_a_hidden_item(post, data, hidden, stored):
    result = post(CHAIN, data)
    assert result.ok, result.errors
    assert result.hidden == hidden
    assert [key for key, _ in result.rows] == stored


@pytest.mark.parametrize("ticked, shown", [
    (["none"], False),
    (["wechat"], True),
    (["board"], True),
    (["none", "board"], True),  # any listed code ticked is enough
    (["wechat", "board"], True),
])
def test_show_if_in_on_a_multiple_choice_holds_when_any_listed_code_is_ticked(post, ticked, shown):
    result = post(CHAIN, {"a": "2", "seen": ticked})
    assert ("seen_sat" not in result.hidden) is shown
    if shown:
        assert result.errors == {"seen_sat": [MSG_REQUIRED_CHOICE]}
    else:
        assert result.ok, result.errors


# -- the form class ---------------------------------------------------------------

def test_the_form_class_is_built_once_per_definition():
    form_class = make_survey_form(CHAIN)
    assert make_survey_form(CHAIN) is form_class
    # The same content read again is the same class; different content is another.
    again = definition(yaml.safe_dump(CHAIN.to_dict(), allow_unicode=True))
    assert again is not CHAIN and make_survey_form(again) is form_class
    assert make_survey_form(AMOUNT) is not form_class


def test_the_form_has_one_field_per_item_in_definition_order(app):
    app.config["WTF_CSRF_ENABLED"] = False
    with app.test_request_context():
        form = make_survey_form(CHAIN)()
        item_fields = [field.name for field in form if field.name in CHAIN.items_by_key]
    assert item_fields == [item.key for item in CHAIN.items]


def test_answer_rows_before_validate_is_an_error_not_a_guess(app):
    survey = definition("""
    id: form-order
    title: 顺序
    sections:
      - items:
          - {key: advice, type: text, text: 您的建议, tags: [t:x]}
    """)
    with app.test_request_context(method="POST", data={"advice": "x"}):
        form = make_survey_form(survey)(meta={"csrf": False})
        with pytest.raises(RuntimeError, match="validate"):
            form.answer_rows()
