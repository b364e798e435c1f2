"""The submit path's shortcut (read_valid_answers) agrees with the WTForms form it stands in for.

Residents' valid posts skip building the form; anything else goes to the form, which shows
what to put right. The shortcut may only ever accept what the form accepts, and must store
exactly the rows the form would. Checked here on random posts against the form itself.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from app.definitions.forms import make_survey_form, read_valid_answers
from app.definitions.loader import build_survey, load_scales

ROOT = Path(__file__).resolve().parents[2]

SURVEY = build_survey(yaml.safe_load("""
id: shortcut-check
title: 每种题型和跳题
sections:
  - items:
      - {key: choice, type: single, required: true, text: 参加过吗, tags: [t:x],
         options: [{code: "1", label: 参加过}, {code: "2", label: 没参加过}, {code: "3", label: 不清楚}]}
      - {key: rating, type: likert, scale: satisfaction5, required: true, text: 满意吗, tags: [t:x]}
      - {key: ticks, type: multiple, min_choices: 2, max_choices: 3, text: 从哪里看到, tags: [t:x],
         options: [{code: a, label: 微信群}, {code: b, label: 公开栏}, {code: c, label: 坝坝会},
                   {code: d, label: 宣传单}, {code: none, label: 都没看到过, exclusive: true}]}
      - {key: why, type: multiple, required: true, show_if: {item: choice, in: ["1"]}, text: 为什么参加,
         tags: [t:x], options: [{code: a, label: 关心}, {code: b, label: 被叫来}]}
      - {key: how, type: single, required: true, show_if: {item: why, in: [a]}, text: 常来吗, tags: [t:x],
         options: [{code: "1", label: 常来}, {code: "2", label: 偶尔}]}
      - {key: years, type: number, min: 0, max: 100, integer: true, text: 住了几年, tags: [t:x]}
      - {key: money, type: number, required: true, text: 花了多少, tags: [t:x]}
      - {key: words, type: text, required: true, max_length: 10, text: 一句话建议, tags: [t:x]}
      - {key: more, type: text, text: 还有吗, tags: [t:x]}
"""), "<test>", load_scales(ROOT / "surveys" / "scales.yaml"))

APP = Flask(__name__)
APP.config.update(SECRET_KEY="shortcut", WTF_CSRF_ENABLED=False)

CODES = ["1", "2", "3", "4", "5", "9", "0", "a", "b", "c", "d", "none", "", " ", "x", "1 "]
NUMBERS = ["12", "１２", "1,000", "2.5", "-1", "0", "100", "101", "abc", "", "  ", "1e3", ".5", "12。5", "+3"]
texts = st.one_of(st.sampled_from(["多办活动", "  ", "", "一二三四五六七八九十", "一二三四五六七八九十一", "a\r\nb"]),
                  st.text(max_size=14))


def values_for(key: str):
    item = SURVEY.items_by_key[key]
    if item.type in ("single", "likert"):
        return st.lists(st.sampled_from(CODES), max_size=1)
    if item.type == "multiple":
        return st.lists(st.sampled_from(CODES), max_size=4)
    if item.type == "number":
        return st.lists(st.sampled_from(NUMBERS), max_size=1)
    return st.lists(texts, max_size=1)


#: A valid post; each example spoils one or two of its items with random values, so that the
#: rest of the post stays valid and whatever the shortcut gets wrong about one item shows.
VALID = {"choice": ["1"], "rating": ["4"], "ticks": ["a", "c"], "why": ["a"], "how": ["2"], "years": ["12"],
         "money": ["1,000"], "words": ["多办活动"], "more": [""]}


@st.composite
def posts(draw):
    post = dict(VALID)
    for key in draw(st.lists(st.sampled_from(list(VALID)), min_size=1, max_size=2, unique=True)):
        post[key] = draw(values_for(key))
    return post


def judged_by_the_form(posted: MultiDict):
    with APP.test_request_context(method="POST", data=posted):
        form = make_survey_form(SURVEY)()
        return (form.answer_rows() if form.validate() else None), form.errors


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(posts())
def test_the_shortcut_accepts_exactly_what_the_form_accepts_and_stores_the_same_rows(post):
    posted = MultiDict([(key, value) for key, values in post.items() for value in values])
    rows, errors = judged_by_the_form(posted)
    assert read_valid_answers(SURVEY, posted) == rows, errors


def test_a_plainly_valid_post_takes_the_shortcut():
    posted = MultiDict([("choice", "1"), ("rating", "4"), ("ticks", "a"), ("ticks", "c"), ("why", "a"),
                        ("how", "2"), ("years", "１２"), ("money", "1,000"), ("words", " 多办活动\r\n"), ("more", "")])
    rows = read_valid_answers(SURVEY, posted)
    assert rows == [("choice", ("1", None, None)), ("rating", ("4", None, None)), ("ticks", ("a", None, None)),
                    ("ticks", ("c", None, None)), ("why", ("a", None, None)), ("how", ("2", None, None)),
                    ("years", ("12", 12.0, None)), ("money", ("1000", 1000.0, None)), ("words", ("", None, "多办活动"))]
    assert rows == judged_by_the_form(posted)[0]


def test_answers_to_hidden_items_are_dropped_as_the_form_drops_them():
    # "why" is asked only of those who took part; "how" only of those who came out of concern.
    posted = MultiDict([("choice", "2"), ("rating", "5"), ("why", "b"), ("how", "9"), ("money", "0"),
                        ("words", "好")])
    rows = read_valid_answers(SURVEY, posted)
    assert [key for key, _row in rows] == ["choice", "rating", "money", "words"]
    assert rows == judged_by_the_form(posted)[0]
