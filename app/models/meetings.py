"""坝坝会 live polling: a meeting, its questions, residents' phone votes and staff's
show-of-hands counts.

Everything a meeting's big screen and residents' phones show lives in these tables, never
in one process's memory, so any worker on any server can answer.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import Account
from .campaigns import Campaign
from .regions import Region
from .types import BigKey, JSONDocument, UTCDateTime, enum_column, utcnow


class QuestionKind(str, enum.Enum):
    YES_NO = "yes_no"              # 同意 / 不同意
    CHOOSE_ONE = "choose_one"      # options typed on the spot
    SATISFACTION = "satisfaction"  # the five-level satisfaction scale
    SURVEY_ITEM = "survey_item"    # a single-choice or scale item of a questionnaire

    @property
    def label(self) -> str:
        return {"yes_no": "同意不同意", "choose_one": "单选", "satisfaction": "满意度（五级）",
                "survey_item": "问卷里的题"}[self.value]


class Meeting(db.Model):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The community holding the meeting: its votes count for it.
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: The campaign the meeting's questionnaire questions feed: each phone's votes on them
    #: become one response of channel ``meeting`` (never a random sample). None: the
    #: meeting stands alone and its votes reach no statistics.
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("campaigns.id"))
    #: What the meeting is about (老旧小区改造方案征求意见 …).
    topic: Mapped[str] = mapped_column(sa.String(200))
    #: Where it is held (小区中心广场 …).
    place: Mapped[str] = mapped_column(sa.String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: People present, counted by staff and changed as people arrive; the share who voted is of these.
    attendance: Mapped[int] = mapped_column(default=0, server_default="0")
    #: The short numeric code residents type to join (also in the join QR code).
    join_code: Mapped[str] = mapped_column(sa.String(6), unique=True)
    #: The question on the big screen now (its position); None before the first.
    current_position: Mapped[int | None]
    #: When staff ended the meeting; votes are refused after.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    community: Mapped[Region] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    created_by: Mapped[Account | None] = relationship()
    questions: Mapped[list[MeetingQuestion]] = relationship(
        back_populates="meeting", order_by="MeetingQuestion.position", cascade="all, delete-orphan")

    __table_args__ = (sa.CheckConstraint("attendance >= 0", name="attendance_not_negative"),)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def current_question(self) -> MeetingQuestion | None:
        return next((q for q in self.questions if q.position == self.current_position), None)


class MeetingQuestion(db.Model):
    __tablename__ = "meeting_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"))
    #: Its place in the meeting, from 1.
    position: Mapped[int]
    kind: Mapped[QuestionKind] = mapped_column(enum_column(QuestionKind))
    text: Mapped[str] = mapped_column(sa.String(300))
    #: The answers to choose from, as [code, label] pairs in the order shown.
    options: Mapped[list] = mapped_column(JSONDocument)
    #: For a question taken from the campaign's questionnaire: the item's key.
    source: Mapped[str | None] = mapped_column(sa.String(100))
    #: Voting is open from opened_at until closed_at (derived, never a stored flag).
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    meeting: Mapped[Meeting] = relationship(back_populates="questions")

    __table_args__ = (sa.UniqueConstraint("meeting_id", "position"),)

    @property
    def voting_open(self) -> bool:
        return self.opened_at is not None and self.closed_at is None

    @property
    def codes(self) -> list[str]:
        return [code for code, _label in self.options]


class MeetingVote(db.Model):
    """One phone's vote on one question: the unique (question, device) makes a second vote a no-op."""

    __tablename__ = "meeting_votes"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True)
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_questions.id", ondelete="CASCADE"))
    option: Mapped[str] = mapped_column(sa.String(32))
    #: Keyed hash of the phone's cookie id (never the id itself, never an IP address).
    device_hash: Mapped[str] = mapped_column(sa.String(32))
    voted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("question_id", "device_hash"),
        sa.Index("ix_meeting_votes_question_option", "question_id", "option"),
    )


class HandCount(db.Model):
    """How many hands went up for one answer, counted by staff for people without a phone."""

    __tablename__ = "hand_counts"

    question_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_questions.id", ondelete="CASCADE"),
                                             primary_key=True)
    option: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    count: Mapped[int]

    __table_args__ = (sa.CheckConstraint("count >= 0", name="count_not_negative"),)
