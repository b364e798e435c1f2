"""Running a meeting: documented write functions. Staff actions record their audit entry in
the same transaction (callers commit); a resident's vote commits itself, exactly once."""

from __future__ import annotations

import enum
import functools
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from .. import audit
from ..definitions import Item
from ..evaluation import tallies
from ..extensions import db
from ..models import (Account, Answer, Campaign, CampaignState, Channel, HandCount, Meeting, MeetingQuestion, MeetingVote,
                      QuestionKind, Region, RegionLevel, Response)
from ..submissions import insert_ignoring_conflicts

#: The answers of the quick kinds of question, as [code, label] pairs in the order shown.
YES_NO = [["1", "同意"], ["2", "不同意"]]
SATISFACTION = [["5", "非常满意"], ["4", "满意"], ["3", "一般"], ["2", "不满意"], ["1", "非常不满意"]]
#: Most answers one question may have (they must fit on the big screen).
MAX_OPTIONS = 8
JOIN_CODE_DIGITS = 6


def new_join_code() -> str:
    """Six random digits, not starting with 0 (so it never loses a digit in a spreadsheet)."""
    return str(secrets.randbelow(9 * 10 ** (JOIN_CODE_DIGITS - 1)) + 10 ** (JOIN_CODE_DIGITS - 1))


def create_meeting(community: Region, topic: str, place: str, starts_at: datetime, *, attendance: int = 0,
                   campaign: Campaign | None = None, actor: Account | None = None) -> Meeting:
    """A meeting in a community, with a join code no other meeting has.

    With a ``campaign`` (one the community takes part in), the meeting may ask questions of
    the campaign's questionnaire, and phones' votes on them reach its statistics.
    """
    if community.level is not RegionLevel.COMMUNITY:
        raise ValueError("a meeting belongs to a community")
    if campaign is not None and community.id not in {cc.community_id for cc in campaign.communities}:
        raise ValueError("the community does not take part in the campaign")
    if attendance < 0:
        raise ValueError("attendance cannot be negative")
    code = new_join_code()
    # 900,000 codes: a clash is rare, so ask about this one code; the unique index is the last word.
    while db.session.scalar(sa.select(Meeting.id).where(Meeting.join_code == code)) is not None:
        code = new_join_code()
    meeting = Meeting(community=community, topic=topic.strip(), place=place.strip(), starts_at=starts_at,
                      attendance=attendance, join_code=code, campaign=campaign,
                      created_by=actor or audit.acting_account())
    db.session.add(meeting)
    db.session.flush()
    audit.record("create", "meeting", meeting.id, actor=actor, after=audit.snapshot(
        meeting, ("community_id", "campaign_id", "topic", "place", "starts_at", "attendance", "join_code")))
    return meeting


def options_for(kind: QuestionKind, options: list[str] | None = None, item: Item | None = None) -> list[list[str]]:
    """The [code, label] answers of a question of a kind: fixed for yes/no and satisfaction,
    typed labels (numbered 1, 2, …) for choose-one, a questionnaire item's own choices."""
    if kind is QuestionKind.YES_NO:
        return [list(o) for o in YES_NO]
    if kind is QuestionKind.SATISFACTION:
        return [list(o) for o in SATISFACTION]
    if kind is QuestionKind.CHOOSE_ONE:
        labels = [label.strip() for label in options or [] if label.strip()]
        if not 2 <= len(labels) <= MAX_OPTIONS:
            raise ValueError(f"a choose-one question needs 2 to {MAX_OPTIONS} answers")
        if len(set(labels)) != len(labels):
            raise ValueError("two answers are the same")
        return [[str(n), label] for n, label in enumerate(labels, start=1)]
    if item is None or item.type not in ("single", "likert"):
        raise ValueError("a questionnaire question must be a single-choice or scale item")
    return [[c.code, c.label] for c in item.choices]


def add_question(meeting: Meeting, kind: QuestionKind, text: str, *, options: list[str] | None = None,
                 item: Item | None = None, actor: Account | None = None) -> MeetingQuestion:
    """Add a question at the end of the meeting. A questionnaire question (``item``) must come
    from the meeting's campaign, once per meeting: a phone gives one answer per item."""
    if meeting.ended:
        raise ValueError("the meeting has ended")
    text = text.strip()
    if not text:
        raise ValueError("a question needs its words")
    source = None
    if kind is QuestionKind.SURVEY_ITEM:
        if meeting.campaign is None or item is None:
            raise ValueError("a questionnaire question needs the meeting's campaign and one of its items")
        if meeting.campaign.survey_version.survey_definition.items_by_key.get(item.key) != item:
            raise ValueError("the item is not in the campaign's questionnaire")
        if any(q.source == item.key for q in meeting.questions):
            raise ValueError("the item is asked in this meeting already")
        if item.show_if is not None:
            raise ValueError("an item asked only after another answer cannot be put to a whole meeting")
        source = item.key
    question = MeetingQuestion(meeting=meeting, position=len(meeting.questions) + 1, kind=kind, text=text,
                               options=options_for(kind, options, item), source=source)
    db.session.add(question)
    db.session.flush()
    audit.record("create", "meeting_question", question.id, actor=actor,
                 after={"meeting_id": meeting.id, "position": question.position, "kind": kind.value,
                        "text": text, "options": question.options})
    return question


def show_question(meeting: Meeting, position: int, *, actor: Account | None = None) -> bool:
    """Put the question at ``position`` on the big screen (next, previous). False if there is none."""
    if not any(q.position == position for q in meeting.questions) or meeting.current_position == position:
        return False
    before = {"current_position": meeting.current_position}
    meeting.current_position = position
    audit.record("show", "meeting", meeting.id, actor=actor, before=before, after={"current_position": position})
    return True


def open_voting(question: MeetingQuestion, now: datetime, *, actor: Account | None = None) -> bool:
    """Start taking votes (again, after a close: the votes so far stay). False if already open."""
    if question.voting_open or question.meeting.ended:
        return False
    question.opened_at, question.closed_at = question.opened_at or now, None
    audit.record("open", "meeting_question", question.id, actor=actor)
    return True


def close_voting(question: MeetingQuestion, now: datetime, *, actor: Account | None = None) -> bool:
    if not question.voting_open:
        return False
    question.closed_at = now
    audit.record("close", "meeting_question", question.id, actor=actor)
    return True


def set_attendance(meeting: Meeting, attendance: int, *, actor: Account | None = None) -> bool:
    if attendance < 0:
        raise ValueError("attendance cannot be negative")
    if attendance == meeting.attendance:
        return False
    before = {"attendance": meeting.attendance}
    meeting.attendance = attendance
    audit.record("edit", "meeting", meeting.id, actor=actor, before=before, after={"attendance": attendance})
    return True


def set_hand_counts(question: MeetingQuestion, counts: dict[str, int], *, actor: Account | None = None) -> bool:
    """Record the show of hands per answer (replacing earlier counts of those answers)."""
    unknown = set(counts) - set(question.codes)
    if unknown:
        raise ValueError(f"no such answers: {sorted(unknown)}")
    if any(n < 0 for n in counts.values()):
        raise ValueError("a count cannot be negative")
    existing = {h.option: h for h in db.session.scalars(sa.select(HandCount).where(HandCount.question_id == question.id))}
    before = {code: h.count for code, h in existing.items() if code in counts}
    changed = False
    for code, n in counts.items():
        if code in existing:
            changed |= existing[code].count != n
            existing[code].count = n
        else:
            db.session.add(HandCount(question_id=question.id, option=code, count=n))
            changed |= n != 0
    if changed:
        db.session.flush()
        audit.record("hands", "meeting_question", question.id, actor=actor, before=before, after=dict(counts))
    return changed


def end_meeting(meeting: Meeting, now: datetime, *, actor: Account | None = None) -> bool:
    """End the meeting: every open question closes, and no vote is taken after."""
    if meeting.ended:
        return False
    for question in meeting.questions:
        if question.voting_open:
            question.closed_at = now
    meeting.ended_at = now
    audit.record("close", "meeting", meeting.id, actor=actor, after={"ended_at": now.isoformat()})
    return True


class VoteOutcome(enum.Enum):
    COUNTED = "counted"
    #: This phone voted on this question already: nothing counted.
    ALREADY_VOTED = "already_voted"
    #: Voting on the question is not open (not yet, or closed, or the meeting ended).
    NOT_OPEN = "not_open"
    #: No such question (in the meeting of the join code given): the phone shows an old one.
    NO_SUCH_QUESTION = "no_such_question"
    #: The answer is not one of the question's.
    NO_SUCH_OPTION = "no_such_option"


@dataclass(frozen=True)
class Vote:
    question_id: int
    option: str
    device_hash: str
    at: datetime


def cast_vote(vote: Vote, *, join_code: str | None = None) -> VoteOutcome:
    """Count one phone's vote, exactly once; commits (or rolls back) before returning.

    With ``join_code``, the question must belong to that meeting (the phone's page names
    both, and the one query checks them together). The question is read for its state and
    answers, then one INSERT … ON CONFLICT DO
    NOTHING: the unique (question, device) turns a second vote, even a racing one, into a
    no-op. A close that commits between the read and the insert still lets this vote in
    (it was cast while the screen said open). A vote on a questionnaire question of a
    meeting that feeds an open campaign is also that phone's answer to the item, in the
    same transaction (see _answer_for_campaign).
    """
    if not 0 < vote.question_id < 2**31:
        return VoteOutcome.NO_SUCH_QUESTION
    # Core statements built once, on the session's connection: hundreds of votes a second,
    # and neither building a statement nor the ORM's unit of work is free.
    connection = db.session.connection()
    statements = _vote_statements(connection.dialect.name)
    if join_code is None:
        row = connection.execute(statements.question, {"question_id": vote.question_id}).first()
    else:
        row = connection.execute(statements.question_in_meeting,
                                 {"question_id": vote.question_id, "join_code": join_code}).first()
    try:
        if row is None:
            return VoteOutcome.NO_SUCH_QUESTION
        if row.opened_at is None or row.closed_at is not None or row.ended_at is not None:
            return VoteOutcome.NOT_OPEN
        if vote.option not in {code for code, _label in row.options}:
            return VoteOutcome.NO_SUCH_OPTION
        inserted = connection.execute(statements.insert_vote, {
            "question_id": vote.question_id, "option": vote.option, "device_hash": vote.device_hash,
            "voted_at": vote.at}).scalar()
        if inserted is not None and row.source is not None and row.campaign_id is not None and \
                Campaign.state_between(row.opens_at, row.closes_at, vote.at) is CampaignState.OPEN:
            _answer_for_campaign(row, vote)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return VoteOutcome.COUNTED if inserted is not None else VoteOutcome.ALREADY_VOTED


@dataclass(frozen=True)
class _VoteStatements:
    question: sa.Select
    question_in_meeting: sa.Select
    insert_vote: sa.Insert


@functools.cache
def _vote_statements(dialect: str) -> _VoteStatements:
    question = (
        sa.select(MeetingQuestion.options, MeetingQuestion.opened_at, MeetingQuestion.closed_at,
                  MeetingQuestion.source, Meeting.id.label("meeting_id"), Meeting.ended_at, Meeting.community_id,
                  Meeting.campaign_id, Campaign.opens_at, Campaign.closes_at)
        .join(Meeting, Meeting.id == MeetingQuestion.meeting_id)
        .outerjoin(Campaign, Campaign.id == Meeting.campaign_id)
        .where(MeetingQuestion.id == sa.bindparam("question_id")))
    votes = MeetingVote.__table__
    return _VoteStatements(
        question=question,
        question_in_meeting=question.where(Meeting.join_code == sa.bindparam("join_code")),
        insert_vote=insert_ignoring_conflicts(votes, dialect).values(
            question_id=sa.bindparam("question_id"), option=sa.bindparam("option"),
            device_hash=sa.bindparam("device_hash"), voted_at=sa.bindparam("voted_at"))
        .on_conflict_do_nothing().returning(votes.c.id))


def meeting_submission_id(meeting_id: int, device_hash: str) -> str:
    """The one response of a phone in a meeting has an id derived from both, so every vote of
    that phone finds it and no two of its votes can make two responses."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"minyi:meeting:{meeting_id}:{device_hash}"))


def _answer_for_campaign(row, vote: Vote) -> None:
    """Add the vote to the phone's response for this meeting (made at its first such vote):
    channel ``meeting``, which the statistics never take for a random sample. Hand counts stay
    in the meeting record: a raised hand has no respondent to hang an answer on."""
    responses, answers = Response.__table__, Answer.__table__
    submission_id = meeting_submission_id(row.meeting_id, vote.device_hash)
    response_id = db.session.execute(
        insert_ignoring_conflicts(responses)
        .values(campaign_id=row.campaign_id, community_id=row.community_id, channel=Channel.MEETING,
                submitted_at=vote.at, submission_id=submission_id, device_hash=vote.device_hash,
                meeting_id=row.meeting_id)
        .on_conflict_do_nothing()
        .returning(responses.c.id)).scalar()
    counts = True  # a response made just now counts
    if response_id is None:
        # Read under the response's lock: an exclusion at the same moment waits for this answer.
        response_id, counts = tallies.counting_response(responses.c.submission_id == submission_id)
    db.session.execute(sa.insert(answers).values(
        response_id=response_id, item=row.source, value=vote.option, number=None, text=None,
        campaign_id=row.campaign_id, community_id=row.community_id))
    if counts:
        tallies.add_counts({tallies.TallyKey(row.campaign_id, row.community_id, row.source, vote.option): 1})
