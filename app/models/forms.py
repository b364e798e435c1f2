"""Forms handled once: a double click or a resent form does not create a thing twice."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class HandledForm(db.Model):
    """The one-time id of a staff form that created something, stored in the same
    transaction as what it created: the same id again finds its row and stops."""

    __tablename__ = "handled_forms"

    #: Random, put in the form when the page is shown.
    form_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    #: Where the first submission led (the thing it created), to send a repeat there too.
    result_url: Mapped[str] = mapped_column(sa.String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
