"""What a meeting's screens show, counted by the database."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import HandCount, Meeting, MeetingQuestion, MeetingVote


@dataclass(frozen=True)
class OptionCount:
    code: str
    label: str
    phones: int
    hands: int

    @property
    def total(self) -> int:
        return self.phones + self.hands


@dataclass(frozen=True)
class QuestionResult:
    question: MeetingQuestion
    options: list[OptionCount]

    @property
    def phones(self) -> int:
        return sum(o.phones for o in self.options)

    @property
    def hands(self) -> int:
        return sum(o.hands for o in self.options)

    @property
    def total(self) -> int:
        return self.phones + self.hands


def results(questions: list[MeetingQuestion]) -> list[QuestionResult]:
    """Each question's counts per answer, phone votes and hands apart: two GROUP BY queries."""
    ids = [q.id for q in questions]
    phones = {(q, o): n for q, o, n in db.session.execute(
        sa.select(MeetingVote.question_id, MeetingVote.option, sa.func.count())
        .where(MeetingVote.question_id.in_(ids)).group_by(MeetingVote.question_id, MeetingVote.option))}
    hands = {(h.question_id, h.option): h.count for h in db.session.scalars(
        sa.select(HandCount).where(HandCount.question_id.in_(ids)))}
    return [QuestionResult(q, [OptionCount(code, label, phones.get((q.id, code), 0), hands.get((q.id, code), 0))
                               for code, label in q.options]) for q in questions]


def live_state(meeting: Meeting) -> dict:
    """What the big screen and residents' phones poll: small, and the same for every viewer.

    ``version`` changes whenever anything shown changes, so a client can skip redrawing.
    """
    question = meeting.current_question
    state = {"meeting": meeting.id, "topic": meeting.topic, "attendance": meeting.attendance,
             "ended": meeting.ended, "question": None}
    if question is not None:
        result = results([question])[0]
        state["question"] = {
            "id": question.id, "position": question.position, "of": len(meeting.questions),
            "text": question.text, "open": question.voting_open and not meeting.ended,
            "options": [{"code": o.code, "label": o.label, "phones": o.phones, "hands": o.hands}
                        for o in result.options],
            "phones": result.phones, "hands": result.hands, "total": result.total,
            "share_voted": round(result.total / meeting.attendance, 3) if meeting.attendance else None,
        }
    state["version"] = _version(state)
    return state


def phone_state(meeting: Meeting) -> dict:
    """What residents' phones poll: the question and whether voting is open, never the running
    counts (a tally seen before voting sways the vote). It changes only when staff act."""
    question = meeting.current_question
    state = {"meeting": meeting.id, "topic": meeting.topic, "ended": meeting.ended, "question": None}
    if question is not None:
        state["question"] = {
            "id": question.id, "position": question.position, "of": len(meeting.questions), "text": question.text,
            "open": question.voting_open and not meeting.ended,
            "options": [{"code": code, "label": label} for code, label in question.options]}
    state["version"] = _version(state)
    return state


#: A meeting's join code: six digits.
JOIN_CODE_RE = re.compile(r"\d{6}")


def meeting_by_code(code: str) -> Meeting | None:
    if not JOIN_CODE_RE.fullmatch(code):
        return None
    return db.session.scalar(sa.select(Meeting).where(Meeting.join_code == code))


def phone_state_json(meeting: Meeting) -> tuple[str, bytes]:
    """The phone state's version and its compact JSON (one line: it is also an SSE data line)."""
    state = phone_state(meeting)
    return state["version"], json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()


def _version(state: dict) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
