"""The audit log: who did what to which record, when, with the values before and after."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import Account
from .regions import Region
from .types import JSONDocument, UTCDateTime, utcnow


class AuditEntry(db.Model):
    """One staff action. Entries are only ever added: nothing updates or deletes them."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: Who acted; None for the command line (the server's operator).
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    #: create, edit, open, close, import, exclude, include, login, account …
    action: Mapped[str] = mapped_column(sa.String(32))
    #: The kind of record (campaign, site, account, response …) and its id.
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str] = mapped_column(sa.String(64))
    #: The record's fields before and after the action (None for a creation or a pure event).
    before: Mapped[dict | None] = mapped_column(JSONDocument)
    after: Mapped[dict | None] = mapped_column(JSONDocument)
    #: The region the record belongs to when the entry was written (a site's community, a
    #: campaign's lowest region covering all its communities …): who may read the entry.
    #: None for records of no region, such as survey versions, which every district shares.
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)

    account: Mapped[Account | None] = relationship()
    region: Mapped[Region | None] = relationship()

    __table_args__ = (sa.Index("ix_audit_entries_object", "object_type", "object_id"),)
