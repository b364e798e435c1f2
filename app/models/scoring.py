"""What evaluators add to a scoring scheme for one campaign: the district's numbers where the
scheme says 待填, and the levels and figures they enter per community. Who changed what is in the
audit log (object types ``scheme_setting`` and ``indicator_entry``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import Account
from .campaigns import Campaign
from .regions import Region
from .types import JSONDocument, UTCDateTime, utcnow


class SchemeSetting(db.Model):
    """A campaign scored by a scheme, with the district's numbers for the scheme's 待填."""

    __tablename__ = "scheme_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    #: The scheme's id (surveys/schemes/<file>.yaml ``id``).
    scheme_id: Mapped[str] = mapped_column(sa.String(64))
    #: Indicator id ("" for the scheme) → {"points" | "weight" | "at_least": number, "entered": label}.
    fill_ins: Mapped[dict] = mapped_column(JSONDocument, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    #: 定稿: once set, the scores stand as filed; entries and numbers are refused until it is lifted.
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))

    campaign: Mapped[Campaign] = relationship()
    updated_by: Mapped[Account | None] = relationship(foreign_keys=[updated_by_id])
    locked_by: Mapped[Account | None] = relationship(foreign_keys=[locked_by_id])

    __table_args__ = (sa.UniqueConstraint("campaign_id", "scheme_id"),)


class IndicatorEntry(db.Model):
    """An evaluator's value for one indicator of one community: a level's factor, a measured
    number, or a 得分率 in percent (what the scheme's feed asks for)."""

    __tablename__ = "indicator_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    scheme_id: Mapped[str] = mapped_column(sa.String(64))
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"))
    indicator_id: Mapped[str] = mapped_column(sa.String(64))
    value: Mapped[float] = mapped_column(sa.Float)
    #: What the evaluator saw (材料, 实地) that supports the value; optional.
    note: Mapped[str | None] = mapped_column(sa.Text)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))

    community: Mapped[Region] = relationship()
    entered_by: Mapped[Account | None] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "scheme_id", "community_id", "indicator_id", name="uq_indicator_entries_key"),
    )
