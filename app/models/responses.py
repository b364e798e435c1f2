"""Responses and their answers.

Answers sit in a long table with the campaign and community copied onto every row, so
the database itself counts (campaign, community, item, value) from one index; the
statistics never load answer rows into Python one by one.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import BigKey, UTCDateTime, enum_column


class Channel(str, enum.Enum):
    QR = "qr"            # a resident scanned a site's poster
    TICKET = "ticket"    # a single-use slip handed out at random
    MEETING = "meeting"  # a vote at a 坝坝会
    PAPER = "paper"      # a paper questionnaire typed in by staff
    IMPORT = "import"    # a row of an imported file

    @property
    def label(self) -> str:
        return {"qr": "扫码", "ticket": "问卷票", "meeting": "坝坝会", "paper": "纸质问卷",
                "import": "导入"}[self.value]

    @property
    def is_random_sample(self) -> bool:
        """Only slips handed out at random make a random sample (the Kunming method)."""
        return self is Channel.TICKET


class QualityFlag(enum.IntFlag):
    """Reasons to look twice at a response. Flagged responses are kept and counted apart."""

    #: Every answer of a block of scale items is the same (straight-lining).
    STRAIGHT_LINE = 1
    #: Completed much faster than the campaign's median.
    TOO_FAST = 2
    #: One of many responses from one network in a short time.
    BURST = 4

    @property
    def labels(self) -> list[str]:
        names = {QualityFlag.STRAIGHT_LINE: "整组答案完全相同", QualityFlag.TOO_FAST: "填得特别快",
                 QualityFlag.BURST: "同一网络短时间内大量提交"}
        return [label for flag, label in names.items() if flag in self]


class Response(db.Model):
    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True)
    #: The campaign answered (and so the survey version).
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"))
    #: The community the response counts for (the site's, or chosen at paper entry).
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"))
    #: The evaluation point, when the response came through a site's QR code.
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"))
    #: How the answers reached us; only ticket responses are a random sample.
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    #: When the form was first shown (from the signed submission token).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the answers were stored.
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Made when the form was rendered: a retried or double-tapped submit carries the same
    #: id, and the unique index turns the repeat into a no-op.
    submission_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    #: Keyed hash of the device's cookie id (never the id itself, never an IP address).
    device_hash: Mapped[str | None] = mapped_column(sa.String(32))
    #: Keyed hash of the network prefix (/24 or /48) for burst detection; no raw IP is kept.
    network_hash: Mapped[str | None] = mapped_column(sa.String(16))
    #: device_hash when the campaign allows one response per device, else None; the unique
    #: index (campaign_id, once_key) enforces the rule even for two submits racing.
    once_key: Mapped[str | None] = mapped_column(sa.String(32))
    #: QualityFlag bits.
    quality_flags: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Why an evaluator left this response out of the statistics; None while it counts.
    #: Who did it and when is in the audit log; the response itself is never deleted.
    exclusion_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: The staff member who typed in a paper questionnaire (None for residents' own answers).
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    #: The number written on a paper questionnaire; one paper is entered once (per community).
    paper_serial: Mapped[str | None] = mapped_column(sa.String(32))
    #: The 坝坝会 whose phone votes this response holds (channel ``meeting``).
    meeting_id: Mapped[int | None] = mapped_column(sa.ForeignKey("meetings.id"))

    answers: Mapped[list[Answer]] = relationship(back_populates="response", cascade="all, delete-orphan",
                                                 passive_deletes=True)

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "once_key"),
        # Each community numbers its own papers (from 1): a number is unique within one.
        sa.UniqueConstraint("campaign_id", "community_id", "paper_serial"),
        sa.Index("ix_responses_campaign_community", "campaign_id", "community_id"),
        # The burst check at submit counts one network's responses in the last ten minutes.
        sa.Index("ix_responses_campaign_network_time", "campaign_id", "network_hash", "submitted_at"),
    )

    @property
    def flags(self) -> QualityFlag:
        return QualityFlag(self.quality_flags)

    @property
    def excluded(self) -> bool:
        return self.exclusion_reason is not None


class Answer(db.Model):
    __tablename__ = "answers"

    response_id: Mapped[int] = mapped_column(
        BigKey, sa.ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True)
    #: The item's key in the survey definition.
    item: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    #: The answer code: the option or scale code; for a number its canonical decimal;
    #: '' for free text (the words are in ``text``). One row per ticked option.
    value: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # Copies of the response's campaign and community, so counting needs no join. No
    # foreign keys on them: the response row already guarantees them, and every extra
    # key check costs on the hot submit path.
    campaign_id: Mapped[int]
    community_id: Mapped[int]
    #: The value of a number item.
    number: Mapped[float | None] = mapped_column(sa.Float)
    #: The words of a free-text answer.
    text: Mapped[str | None] = mapped_column(sa.Text)

    response: Mapped[Response] = relationship(back_populates="answers")

    __table_args__ = (
        sa.Index("ix_answers_counting", "campaign_id", "community_id", "item", "value"),
    )
