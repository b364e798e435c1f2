"""A community's population margins for one campaign: what an evaluator enters so that the
campaign's respondents can be raked to the community's make-up (app.evaluation.weighting).
Who changed what is in the audit log (object type ``population_margins``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class PopulationMargin(db.Model):
    """How many residents of a community fall in one category of one variable (say, women)."""

    __tablename__ = "population_margins"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"))
    #: Which respondent variable: "age_band" or "sex" (the questionnaire's respondent:… tags).
    variable: Mapped[str] = mapped_column(sa.String(32))
    #: The answer code of the category, as in the questionnaire ("1".."5", "m", "f").
    code: Mapped[str] = mapped_column(sa.String(32))
    #: Residents in the category (a count from the 人口普查 or the community's own records).
    population: Mapped[int] = mapped_column(sa.Integer)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "community_id", "variable", "code", name="uq_population_margins_key"),
        sa.CheckConstraint("population >= 0", name="population_not_negative"),
    )
