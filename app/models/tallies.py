"""Counts of counted answers, kept up to date as answers and exclusions are written.

A summary of a city's campaign would otherwise count millions of answer rows each time it is
shown; this table holds those counts already made, one row per (campaign, community, item,
value). Every write of answers or of an exclusion changes it in the same transaction
(app/evaluation/tallies.py), so it never disagrees with the answers it counts.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class AnswerTally(db.Model):
    __tablename__ = "answer_tallies"

    # No foreign keys, like the copies on answers: the answers counted already guarantee
    # them, and a key check would cost on every submit.
    campaign_id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(primary_key=True)
    #: The item's key in the survey definition.
    item: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    #: The answer code, as in ``answers.value``.
    value: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    #: How many answers of counted (not excluded) responses have this value. A row is kept
    #: at 0 when the last such answer is excluded: deleting it would race with a submit
    #: adding to it.
    n: Mapped[int] = mapped_column(sa.BigInteger)
