"""Campaigns: one survey version asked in a set of communities between two times."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .regions import Region
from .surveys import SurveyVersion
from .types import UTCDateTime, utcnow


class CampaignState(str, enum.Enum):
    DRAFT = "draft"          # no opening time set yet
    SCHEDULED = "scheduled"  # opens later
    OPEN = "open"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"draft": "未发布", "scheduled": "未开始", "open": "进行中", "closed": "已结束"}[self.value]


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What staff call it (2026年社区治理创新考评 问卷调查).
    name: Mapped[str] = mapped_column(sa.String(200))
    #: The questionnaire asked: one fixed version, so every response of the campaign means the same.
    survey_version_id: Mapped[int] = mapped_column(sa.ForeignKey("survey_versions.id"), index=True)
    #: When residents may start answering; None while the campaign is being prepared.
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When answering stops; None for no set end.
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: One response per device (a signed cookie); off for a shared tablet at a meeting.
    one_response_per_device: Mapped[bool] = mapped_column(default=True)
    #: The sampling plan the targets were computed with: confidence level and margin of error.
    confidence: Mapped[float] = mapped_column(default=0.95, server_default="0.95")
    margin: Mapped[float] = mapped_column(default=0.05, server_default="0.05")
    #: Every paper questionnaire is typed in twice, by two people, and stored once both agree.
    double_entry: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When a district admin made the satisfaction rates public (/results/<id>, Kunming Ⅱ-14.4); None
    #: while they are not (never published, or withdrawn).
    results_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    survey_version: Mapped[SurveyVersion] = relationship()
    communities: Mapped[list[CampaignCommunity]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan")

    __table_args__ = (
        sa.CheckConstraint("closes_at IS NULL OR opens_at IS NULL OR closes_at > opens_at",
                           name="closes_after_opening"),
        sa.CheckConstraint("confidence > 0 AND confidence < 1 AND margin > 0 AND margin < 1",
                           name="sampling_plan"),
    )

    def state_at(self, now: datetime) -> CampaignState:
        """The state is derived from the times, never stored, so it cannot disagree with them."""
        return self.state_between(self.opens_at, self.closes_at, now)

    @staticmethod
    def state_between(opens_at: datetime | None, closes_at: datetime | None, now: datetime) -> CampaignState:
        """The state of a campaign with these times (for callers that read only the two columns)."""
        if opens_at is None:
            return CampaignState.DRAFT
        if now < opens_at:
            return CampaignState.SCHEDULED
        if closes_at is not None and now >= closes_at:
            return CampaignState.CLOSED
        return CampaignState.OPEN

    @property
    def state(self) -> CampaignState:
        return self.state_at(utcnow())


class CampaignCommunity(db.Model):
    """A community a campaign runs in, with its target sample."""

    __tablename__ = "campaign_communities"

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), primary_key=True, index=True)
    #: Completed responses wanted from this community.
    target_sample: Mapped[int | None]

    campaign: Mapped[Campaign] = relationship(back_populates="communities")
    community: Mapped[Region] = relationship()
