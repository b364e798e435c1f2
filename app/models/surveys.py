"""Surveys and their versions. A version is immutable once a response refers to it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..definitions import SurveyDefinition, stored_definition
from ..extensions import db
from .types import JSONDocument, UTCDateTime, utcnow


class Survey(db.Model):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The definition's id in surveys/*.yaml (e.g. kunming-questionnaire).
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[SurveyVersion]] = relationship(
        back_populates="survey", order_by="SurveyVersion.number")

    @property
    def latest_version(self) -> SurveyVersion | None:
        return self.versions[-1] if self.versions else None


class SurveyVersion(db.Model):
    __tablename__ = "survey_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id"))
    #: 1, 2, 3 … within its survey.
    number: Mapped[int]
    #: The whole definition, scales included, as loaded (SurveyDefinition.to_dict()).
    #: Deferred: pages use survey_definition, built once per process from it.
    definition: Mapped[dict] = mapped_column(JSONDocument, deferred=True)
    #: SHA-256 of the canonical definition: tells whether a file changed.
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    survey: Mapped[Survey] = relationship(back_populates="versions")

    __table_args__ = (sa.UniqueConstraint("survey_id", "number"),)

    @property
    def survey_definition(self) -> SurveyDefinition:
        return stored_definition(self.content_hash, lambda: self.definition)

    @property
    def label(self) -> str:
        return f"{self.survey.title}（第 {self.number} 版）"


class AnsweredVersionError(RuntimeError):
    """A survey version that has responses was about to be changed."""


@sa.event.listens_for(SurveyVersion, "before_update")
def _refuse_changing_answered_version(mapper, connection, target: SurveyVersion) -> None:
    state = sa.inspect(target)
    if not any(state.attrs[name].history.has_changes() for name in ("definition", "content_hash", "number")):
        return
    answered = connection.execute(sa.text(
        "SELECT 1 FROM responses JOIN campaigns ON campaigns.id = responses.campaign_id "
        "WHERE campaigns.survey_version_id = :v LIMIT 1"), {"v": target.id}).first()
    if answered:
        raise AnsweredVersionError(
            f"survey version {target.id} has responses and cannot change; save the edit as a new version")
