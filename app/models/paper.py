"""Double entry of paper questionnaires: each paper typed in twice, by two people.

Survey offices key a paper twice and compare (as EpiData does): a slip of one keyer's
finger then shows up as a difference instead of a wrong answer. Each keying is kept as a
PaperKeying; the response itself is stored only once both agree, or once a third person
has looked at the paper and settled every difference. Until then the paper counts nowhere.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import Account
from .types import BigKey, JSONDocument, UTCDateTime, utcnow


class PaperKeying(db.Model):
    """One person's typing of one paper questionnaire (the first or the second time)."""

    __tablename__ = "paper_keyings"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"))
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"))
    #: The number written on the paper: what ties the two keyings together.
    paper_serial: Mapped[str] = mapped_column(sa.String(32))
    #: 1 for the first keying, 2 for the second (by someone else).
    pass_number: Mapped[int] = mapped_column(sa.SmallInteger)
    entered_by_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Made when the form was shown: a retried submit of the same keying is a no-op.
    submission_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    #: The answers as typed: a list of [item, value, number, text] rows, as stored for a response.
    answers: Mapped[list] = mapped_column(JSONDocument)
    #: The response stored once the two keyings agreed or were settled; None while waiting.
    response_id: Mapped[int | None] = mapped_column(BigKey, sa.ForeignKey("responses.id"))

    entered_by: Mapped[Account] = relationship()

    __table_args__ = (
        # (The generated name would pass PostgreSQL's 63-character limit.)
        sa.UniqueConstraint("campaign_id", "community_id", "paper_serial", "pass_number",
                            name="uq_paper_keyings_paper_pass"),
        sa.CheckConstraint("pass_number IN (1, 2)", name="first_or_second"),
    )
