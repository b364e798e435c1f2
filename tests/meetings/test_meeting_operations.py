"""Running a 坝坝会: questions, votes by phone exactly once, hands counted apart, the live state."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.meetings import operations as ops
from app.meetings.queries import live_state, results
from app.models import Answer, AuditEntry, Channel, MeetingVote, QuestionKind, Response
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


@pytest.fixture
def campaign_meeting(app, make):
    """A meeting in a community of an open campaign, feeding it."""
    community = make.community("翠湖社区", households=3000)
    campaign = make.campaign(communities=[community])
    meeting = ops.create_meeting(community, "议事会", "广场", utcnow(), attendance=30, campaign=campaign)
    db.session.commit()
    return meeting


def item_of(meeting, item_type: str):
    return next(i for i in meeting.campaign.survey_version.survey_definition.items if i.type == item_type)


def test_a_question_from_the_campaigns_questionnaire_takes_the_items_answers_once(campaign_meeting, make):
    item = item_of(campaign_meeting, "likert")
    question = ops.add_question(campaign_meeting, QuestionKind.SURVEY_ITEM, item.text, item=item)
    assert question.options == [[c.code, c.label] for c in item.choices] and question.source == item.key
    with pytest.raises(ValueError, match="already"):
        ops.add_question(campaign_meeting, QuestionKind.SURVEY_ITEM, item.text, item=item)
    with pytest.raises(ValueError, match="single-choice or scale"):
        ops.add_question(campaign_meeting, QuestionKind.SURVEY_ITEM, "x", item=item_of(campaign_meeting, "text"))
    follow_up = campaign_meeting.campaign.survey_version.survey_definition.items_by_key["joined_sat"]
    with pytest.raises(ValueError, match="only after another answer"):
        ops.add_question(campaign_meeting, QuestionKind.SURVEY_ITEM, follow_up.text, item=follow_up)
    # Another questionnaire's item of the same key, with other answers.
    other = make.version({"title": "另一份", "sections": [{"title": "一", "items": [
        {"key": "joined", "type": "single", "text": "去过吗？", "tags": ["test:join"], "options": [
            {"code": "1", "label": "去过"}, {"code": "2", "label": "没去过"}, {"code": "3", "label": "记不清"}]}]}]})
    foreign = other.survey_definition.items_by_key["joined"]
    with pytest.raises(ValueError, match="not in the campaign"):
        ops.add_question(campaign_meeting, QuestionKind.SURVEY_ITEM, "x", item=foreign)


def test_a_meeting_without_a_campaign_asks_no_questionnaire_question(meeting, make):
    item = next(i for i in make.version().survey_definition.items if i.type == "likert")
    with pytest.raises(ValueError, match="campaign"):
        ops.add_question(meeting, QuestionKind.SURVEY_ITEM, item.text, item=item)


def test_a_meeting_feeds_only_a_campaign_its_community_takes_part_in(app, make):
    campaign = make.campaign(communities=[make.community()])
    with pytest.raises(ValueError, match="take part"):
        ops.create_meeting(make.community(), "议事会", "广场", utcnow(), campaign=campaign)


def test_a_phones_votes_on_questionnaire_questions_make_one_meeting_response(campaign_meeting):
    """Each phone's votes on the questionnaire's items become one response of channel meeting,
    never a random sample; quick questions and hands reach no statistics."""
    meeting = campaign_meeting
    sat, joined = item_of(meeting, "likert"), item_of(meeting, "single")
    q_sat = ops.add_question(meeting, QuestionKind.SURVEY_ITEM, sat.text, item=sat)
    q_quick = ops.add_question(meeting, QuestionKind.YES_NO, "同意加装电梯吗？")
    q_joined = ops.add_question(meeting, QuestionKind.SURVEY_ITEM, joined.text, item=joined)
    for q in (q_sat, q_quick, q_joined):
        ops.open_voting(q, utcnow())
    ops.set_hand_counts(q_sat, {"5": 7})
    db.session.commit()
    assert vote(q_sat, "5", "phone-1") is ops.VoteOutcome.COUNTED
    assert vote(q_quick, "1", "phone-1") is ops.VoteOutcome.COUNTED
    assert vote(q_joined, "2", "phone-1") is ops.VoteOutcome.COUNTED
    assert vote(q_joined, "1", "phone-1") is ops.VoteOutcome.ALREADY_VOTED
    assert vote(q_joined, "1", "phone-2") is ops.VoteOutcome.COUNTED
    responses = db.session.scalars(sa.select(Response).order_by(Response.id)).all()
    assert [(r.channel, r.meeting_id, r.community_id, r.campaign_id) for r in responses] == \
        [(Channel.MEETING, meeting.id, meeting.community_id, meeting.campaign_id)] * 2
    assert not Channel.MEETING.is_random_sample
    answers = {(a.response_id, a.item, a.value, a.campaign_id, a.community_id)
               for a in db.session.scalars(sa.select(Answer))}
    first, second = (r.id for r in responses)
    c, k = meeting.campaign_id, meeting.community_id
    assert answers == {(first, sat.key, "5", c, k), (first, joined.key, "2", c, k), (second, joined.key, "1", c, k)}
    assert responses[0].submission_id == ops.meeting_submission_id(meeting.id, "phone-1")


@pytest.mark.parametrize("state", ["closed", "scheduled"])
def test_votes_reach_no_statistics_while_the_campaign_is_not_open(app, make, state):
    community = make.community()
    campaign = make.campaign(communities=[community], state=state)
    meeting = ops.create_meeting(community, "议事会", "广场", utcnow(), campaign=campaign)
    item = item_of(meeting, "likert")
    question = ops.add_question(meeting, QuestionKind.SURVEY_ITEM, item.text, item=item)
    ops.open_voting(question, utcnow())
    db.session.commit()
    assert vote(question, "4") is ops.VoteOutcome.COUNTED  # the meeting counts it …
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 0  # … the campaign does not


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
