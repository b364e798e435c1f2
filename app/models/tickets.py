"""Single-use tickets: slips with a QR code, handed out at random, each good for one response."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import Account
from .campaigns import Campaign
from .regions import Region, new_site_token
from .types import BigKey, UTCDateTime, utcnow


def new_ticket_token() -> str:
    """Like a site's token: 128 random bits, never starting with "-"."""
    return new_site_token()


class TicketBatch(db.Model):
    """A print run of tickets for one community of a campaign."""

    __tablename__ = "ticket_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"))
    #: Who asked for the batch (None from the command line).
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship()
    community: Mapped[Region] = relationship()
    account: Mapped[Account | None] = relationship()
    tickets: Mapped[list[Ticket]] = relationship(back_populates="batch", order_by="Ticket.id")


class Ticket(db.Model):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket_batches.id"), index=True)
    # Copies of the batch's campaign and community, so issued and used counts need no join.
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"))
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"))
    #: The unguessable part of the ticket's URL and QR code.
    token: Mapped[str] = mapped_column(sa.String(32), unique=True, default=new_ticket_token)
    #: When the ticket's response was stored; None while unused.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The one response the ticket produced.
    response_id: Mapped[int | None] = mapped_column(BigKey, sa.ForeignKey("responses.id"), unique=True)

    batch: Mapped[TicketBatch] = relationship(back_populates="tickets")
    campaign: Mapped[Campaign] = relationship()
    community: Mapped[Region] = relationship()

    __table_args__ = (sa.Index("ix_tickets_campaign_community", "campaign_id", "community_id"),)
