"""Running a 坝坝会: questions, votes by phone exactly once, hands counted apart, the live state."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.meetings import operations as ops
from app.meetings.queries import live_state, results
from app.models import AuditEntry, MeetingVote, QuestionKind
from app.models.types import utcnow


@pytest.fixture
def meeting(app, make):
    community = make.community("翠湖社区", households=3000)
    meeting = ops.create_meeting(community, " 老旧小区改造方案征求意见 ", "小区中心广场", utcnow(), attendance=40)
    ops.add_question(meeting, QuestionKind.YES_NO, "同意加装电梯吗？")
    ops.add_question(meeting, QuestionKind.SATISFACTION, "对改造方案满意吗？")
    ops.add_question(meeting, QuestionKind.CHOOSE_ONE, "先改哪一处？", options=["道路", "路灯", " 停车 "])
    ops.show_question(meeting, 1)
    db.session.commit()
    return meeting


def vote(question, option: str, device: str = "phone-1") -> ops.VoteOutcome:
    return ops.cast_vote(ops.Vote(question.id, option, device, utcnow()))


def test_a_meeting_gets_a_six_digit_code_and_its_questions_their_answers(meeting):
    assert len(meeting.join_code) == 6 and meeting.join_code.isdigit() and meeting.join_code[0] != "0"
    assert meeting.topic == "老旧小区改造方案征求意见"
    yes_no, satisfaction, choose = meeting.questions
    assert [q.position for q in meeting.questions] == [1, 2, 3]
    assert yes_no.options == [["1", "同意"], ["2", "不同意"]]
    assert [label for _code, label in satisfaction.options] == ["非常满意", "满意", "一般", "不满意", "非常不满意"]
    assert choose.options == [["1", "道路"], ["2", "路灯"], ["3", "停车"]]
    assert meeting.current_question is yes_no


@pytest.mark.parametrize("labels", [["只有一个"], ["甲", "甲"], [str(n) for n in range(9)], ["", " "]])
def test_a_choose_one_question_needs_two_to_eight_different_answers(meeting, labels):
    with pytest.raises(ValueError):
        ops.add_question(meeting, QuestionKind.CHOOSE_ONE, "选哪个？", options=labels)


def test_a_question_from_a_questionnaire_takes_the_items_answers(meeting, make):
    version = make.version()
    item = next(i for i in version.survey_definition.items if i.type == "likert")
    question = ops.add_question(meeting, QuestionKind.SURVEY_ITEM, item.text, item=item, source=f"t:{item.key}")
    assert question.options == [[c.code, c.label] for c in item.choices]
    text_item = next(i for i in version.survey_definition.items if i.type == "text")
    with pytest.raises(ValueError):
        ops.add_question(meeting, QuestionKind.SURVEY_ITEM, text_item.text, item=text_item)


def test_votes_count_once_per_phone_and_only_while_open(meeting):
    question = meeting.questions[0]
    assert vote(question, "1") is ops.VoteOutcome.NOT_OPEN  # not opened yet
    ops.open_voting(question, utcnow())
    db.session.commit()
    assert vote(question, "1") is ops.VoteOutcome.COUNTED
    assert vote(question, "2") is ops.VoteOutcome.ALREADY_VOTED  # a second vote, even a different one
    assert vote(question, "9", "phone-2") is ops.VoteOutcome.NO_SUCH_OPTION
    assert vote(question, "2", "phone-2") is ops.VoteOutcome.COUNTED
    ops.close_voting(question, utcnow())
    db.session.commit()
    assert vote(question, "1", "phone-3") is ops.VoteOutcome.NOT_OPEN
    # The same phone votes on the next question.
    second = meeting.questions[1]
    ops.open_voting(second, utcnow())
    db.session.commit()
    assert vote(second, "5") is ops.VoteOutcome.COUNTED
    counts = {(o.code, o.phones) for o in results([question])[0].options}
    assert counts == {("1", 1), ("2", 1)}


def test_no_vote_counts_after_the_meeting_ends(meeting):
    question = meeting.questions[0]
    ops.open_voting(question, utcnow())
    ops.end_meeting(meeting, utcnow())
    db.session.commit()
    assert not question.voting_open
    assert vote(question, "1") is ops.VoteOutcome.NOT_OPEN
    assert not ops.open_voting(question, utcnow())


def test_racing_votes_from_one_phone_count_once(app, meeting):
    question = meeting.questions[0]
    ops.open_voting(question, utcnow())
    db.session.commit()
    question_id = question.id
    barrier = threading.Barrier(8)
    outcomes = []

    def run(device: str):
        with app.app_context():
            barrier.wait()
            outcomes.append(ops.cast_vote(ops.Vote(question_id, "1", device, utcnow())))

    threads = [threading.Thread(target=run, args=("same-phone" if i < 6 else f"other-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(o.value for o in outcomes) == sorted(["counted"] * 3 + ["already_voted"] * 5)
    assert db.session.scalar(sa.select(sa.func.count(MeetingVote.id))) == 3


def test_hands_are_counted_apart_and_audited(meeting):
    question = meeting.questions[0]
    ops.open_voting(question, utcnow())
    db.session.commit()
    vote(question, "1")
    assert ops.set_hand_counts(question, {"1": 12, "2": 3})
    db.session.commit()
    assert not ops.set_hand_counts(question, {"1": 12})  # the same count again changes nothing
    result = results([question])[0]
    assert [(o.label, o.phones, o.hands, o.total) for o in result.options] == [("同意", 1, 12, 13), ("不同意", 0, 3, 3)]
    assert (result.phones, result.hands, result.total) == (1, 15, 16)
    with pytest.raises(ValueError):
        ops.set_hand_counts(question, {"7": 1})
    with pytest.raises(ValueError):
        ops.set_hand_counts(question, {"1": -1})
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "hands"))
    assert entry.after == {"1": 12, "2": 3} and entry.region_id == meeting.community_id


def test_the_live_state_shows_the_current_question_and_changes_version_with_each_vote(meeting):
    question = meeting.questions[0]
    ops.open_voting(question, utcnow())
    db.session.commit()
    before = live_state(meeting)
    assert before["question"]["text"] == "同意加装电梯吗？" and before["question"]["open"]
    assert before["question"]["of"] == 3 and before["question"]["share_voted"] == 0
    vote(question, "2")
    after = live_state(meeting)
    assert after["version"] != before["version"]
    assert after["question"]["options"][1] == {"code": "2", "label": "不同意", "phones": 1, "hands": 0}
    assert after["question"]["share_voted"] == round(1 / 40, 3)
    assert live_state(meeting)["version"] == after["version"]  # nothing new, same version
    ops.set_attendance(meeting, 0)
    assert live_state(meeting)["question"]["share_voted"] is None


def test_next_and_previous_move_the_screen_and_are_audited(meeting):
    assert ops.show_question(meeting, 2)
    assert not ops.show_question(meeting, 4)  # there is no fourth
    assert not ops.show_question(meeting, 2)  # already shown
    db.session.commit()
    assert meeting.current_question.text == "对改造方案满意吗？"
    shows = db.session.scalars(sa.select(AuditEntry.after).where(AuditEntry.action == "show")).all()
    assert shows == [{"current_position": 1}, {"current_position": 2}]
    started = meeting.starts_at
    assert abs((utcnow() - started)) < timedelta(minutes=5)
