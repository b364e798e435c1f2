"""Storing a response and its answers: the hottest write path of the product.

Every channel (QR form, ticket, paper entry, import, meeting) ends here. A response and
its answers go in one transaction in as few statements as the database allows: one
INSERT … ON CONFLICT DO NOTHING RETURNING for the response, one multi-row INSERT for
the answers, one INSERT … SELECT that adds them to the answer tallies, one COMMIT. The
unique submission id makes a retried submit a no-op, and the unique (campaign, once_key)
makes a second response from one device a no-op too, even when two submits race.

Bursts are judged in the same INSERT: a response from a network that has sent BURST_SIZE − 1
others to the campaign in the last BURST_WINDOW_SECONDS is stored flagged, by a count over the
index (campaign_id, network_hash, submitted_at); only then does one UPDATE flag those others.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .analysis.quality import BURST_SIZE, BURST_WINDOW_SECONDS, bursts, too_fast
from .definitions import SurveyDefinition
from .definitions.types import AnswerRow
from .evaluation import tallies
from .extensions import db
from .models import Channel, QualityFlag, Response, Ticket


class StoreOutcome(enum.Enum):
    """What store_response did."""

    STORED = "stored"
    #: The same submission id was stored before (a double tap, a retry): nothing new stored.
    DUPLICATE = "duplicate"
    #: This device already answered this campaign: nothing stored.
    ALREADY_ANSWERED = "already_answered"
    #: The response's ticket was used by another response: nothing stored.
    TICKET_USED = "ticket_used"
    #: A paper questionnaire with this number was entered already: nothing stored.
    PAPER_ENTERED = "paper_entered"


@dataclass(frozen=True)
class NewResponse:
    """One response to store, from any channel: its answers as (item key, answer row) pairs."""

    campaign_id: int
    community_id: int
    channel: Channel
    submission_id: str
    submitted_at: datetime
    answers: list[tuple[str, AnswerRow]]
    site_id: int | None = None
    started_at: datetime | None = None
    device_hash: str | None = None
    network_hash: str | None = None
    once_key: str | None = None
    quality_flags: int = 0
    #: The single-use ticket the response comes with; it is claimed in the same transaction.
    ticket_id: int | None = None
    #: Paper entry: who typed it in, and the number written on the paper.
    entered_by_id: int | None = None
    paper_serial: str | None = None


def insert_ignoring_conflicts(table, dialect: str | None = None):
    """An INSERT that can end ``.on_conflict_do_nothing()``, in the database's own dialect
    (or the one named, for a statement built once and kept)."""
    dialect = dialect or db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no conflict-free insert for {dialect}")


def store_response(new: NewResponse, before_commit: Callable[[int], None] | None = None) -> StoreOutcome:
    """Store one response with its answers, exactly once; commits.

    ``before_commit(response_id)`` runs inside the transaction (e.g. to write the audit
    entry of a staff member's paper entry), so it is stored with the response or not at all.
    On any error the transaction is rolled back and nothing of the response remains.
    """
    try:
        # Core statements on the session's connection: the ORM's execute adds nothing here but cost.
        connection = db.session.connection()
        params = {name: getattr(new, name) for name in _RESPONSE_COLUMNS}
        if new.network_hash is not None:
            params |= {"burst_since": new.submitted_at - timedelta(seconds=BURST_WINDOW_SECONDS)}
        stored = connection.execute(
            _insert_response_statement(connection.dialect.name, new.network_hash is not None), params).first()
        if stored is None:
            db.session.rollback()
            return _why_not_stored(new)
        response_id = stored.id
        if new.network_hash is not None and stored.quality_flags & QualityFlag.BURST:
            _flag_burst(new)
        if new.ticket_id is not None and not _claim_ticket(new.ticket_id, response_id, new.submitted_at):
            db.session.rollback()
            return StoreOutcome.TICKET_USED
        if new.answers:
            # The driver's own executemany: the answer columns are plain values that need none
            # of SQLAlchemy's per-row parameter processing, which cost more than the insert.
            connection.exec_driver_sql(_insert_answers_sql(connection.dialect.paramstyle), [
                (response_id, item, value, number, text, new.campaign_id, new.community_id)
                for item, (value, number, text) in new.answers
            ])
            tallies.add_responses([response_id])
        if before_commit is not None:
            before_commit(response_id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return StoreOutcome.STORED


@functools.cache
def _insert_answers_sql(paramstyle: str) -> str:
    """INSERT INTO answers (…) VALUES (?, …) in the driver's own placeholders."""
    columns = ("response_id", "item", "value", "number", "text", "campaign_id", "community_id")
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}[paramstyle]
    return f"INSERT INTO answers ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


_RESPONSE_COLUMNS = ("campaign_id", "community_id", "site_id", "channel", "started_at", "submitted_at",
                     "submission_id", "device_hash", "network_hash", "once_key", "quality_flags", "entered_by_id",
                     "paper_serial")


@functools.cache
def _insert_response_statement(dialect: str, from_a_network: bool):
    """The response's INSERT … ON CONFLICT DO NOTHING RETURNING (id, flags), built once per
    dialect with bound parameters: building it afresh on every submit cost more than running it.

    A response from a network is flagged BURST as it goes in when its network has sent
    BURST_SIZE − 1 others in the window before it: a scalar count inside the INSERT, the
    same window ``analysis.quality.bursts`` looks at (its start included), no statement of
    its own. Paper and imports have no network and are never a burst."""
    table = Response.__table__
    values = {name: sa.bindparam(name, type_=table.c[name].type) for name in _RESPONSE_COLUMNS}
    if from_a_network:
        earlier = (sa.select(sa.func.count()).select_from(table)
                   .where(table.c.campaign_id == values["campaign_id"],
                          table.c.network_hash == values["network_hash"],
                          # No upper bound: a post from the same network stamped a moment later may
                          # have committed first, and belongs to the burst all the same.
                          table.c.submitted_at >= sa.bindparam("burst_since", type_=table.c.submitted_at.type))
                   .scalar_subquery())
        burst = sa.case((earlier >= BURST_SIZE - 1, int(QualityFlag.BURST)), else_=0)
        values["quality_flags"] = values["quality_flags"].bitwise_or(burst)
    return (insert_ignoring_conflicts(table, dialect)
            .values(values)
            .on_conflict_do_nothing()
            .returning(table.c.id, table.c.quality_flags))


def _same_network_recently(new: NewResponse) -> list[sa.ColumnElement[bool]]:
    """The campaign's responses from the new one's network in the burst window that ends with it
    (the window ``analysis.quality.bursts`` looks at, its start included), and any stamped after
    it that committed before it."""
    table = Response.__table__
    return [table.c.campaign_id == new.campaign_id, table.c.network_hash == new.network_hash,
            table.c.submitted_at >= new.submitted_at - timedelta(seconds=BURST_WINDOW_SECONDS)]


def _flag_burst(new: NewResponse) -> None:
    """The new response completes (or continues) a burst: flag the others of its window too.

    Those already flagged are left alone, so in a long burst this touches only the rows a
    racing submit left unflagged. Only the quality_flags column changes: the answer tallies
    hold flagged answers and subtract them when read, so they need no change. Run before the
    answers and tallies are written, so this transaction locks responses before tallies, in
    the order every writer does (app/evaluation/tallies.py).
    """
    table = Response.__table__
    burst = int(QualityFlag.BURST)
    db.session.execute(
        sa.update(table)
        .where(*_same_network_recently(new), table.c.quality_flags.bitwise_and(burst) == 0)
        .values(quality_flags=table.c.quality_flags.bitwise_or(burst)))


def _claim_ticket(ticket_id: int, response_id: int, at: datetime) -> bool:
    """Mark an unused ticket as used by this response; False if another response has it.

    One conditional UPDATE: two submits racing on one ticket cannot both claim it.
    """
    claimed = db.session.execute(
        sa.update(Ticket.__table__)
        .where(Ticket.__table__.c.id == ticket_id, Ticket.__table__.c.used_at.is_(None))
        .values(used_at=at, response_id=response_id))
    return claimed.rowcount == 1


def _why_not_stored(new: NewResponse) -> StoreOutcome:
    """Which unique rule turned the insert into a no-op (asked only on that rare path)."""
    if db.session.execute(sa.select(Response.id).where(Response.submission_id == new.submission_id)).first():
        return StoreOutcome.DUPLICATE
    if new.paper_serial is not None and db.session.execute(
            sa.select(Response.id).where(Response.campaign_id == new.campaign_id,
                                         Response.community_id == new.community_id,
                                         Response.paper_serial == new.paper_serial)).first():
        return StoreOutcome.PAPER_ENTERED
    return StoreOutcome.ALREADY_ANSWERED


#: Fewest scale items in a section for identical answers to count as straight-lining.
STRAIGHT_LINE_MIN_ITEMS = 4


def quality_flags_at_submit(definition: SurveyDefinition, answers: list[tuple[str, AnswerRow]]) -> QualityFlag:
    """Flags that can be told from one response alone.

    Straight-lining: a section with at least STRAIGHT_LINE_MIN_ITEMS scale items, every
    one answered on the scale, all with the same level. (Speed needs the campaign's median and
    is judged later; bursts are judged as the response is stored.)
    """
    given = {}
    for key, (value, _number, _text) in answers:
        given[key] = value
    flags = QualityFlag(0)
    for section in definition.sections:
        likert = [item for item in section.items if item.type == "likert"]
        if len(likert) < STRAIGHT_LINE_MIN_ITEMS:
            continue
        values = [given.get(item.key) for item in likert]
        on_scale = all(v is not None and v in {lv.code for lv in item.scale.levels}
                       for v, item in zip(values, likert))
        if on_scale and len(set(values)) == 1:
            flags |= QualityFlag.STRAIGHT_LINE
    return flags


@dataclass(frozen=True)
class QualityCheck:
    responses: int
    too_fast: int
    bursts: int
    median_seconds: float | None


def refresh_quality_flags(campaign_id: int) -> QualityCheck:
    """Recompute the flags that depend on the campaign's other responses (too fast, bursts).

    Reads one small row per response (never per answer) and updates only the responses
    whose flags change. Straight-lining, judged at submit, is left as it is.
    """
    table = Response.__table__
    rows = db.session.execute(
        sa.select(table.c.id, table.c.started_at, table.c.submitted_at, table.c.network_hash, table.c.quality_flags)
        .where(table.c.campaign_id == campaign_id).order_by(table.c.id)).all()
    # Clamped at 0: a clock set wrong on one server must not make a duration negative.
    durations = [max(0.0, (r.submitted_at - r.started_at).total_seconds()) if r.started_at else None for r in rows]
    speed = too_fast(durations)
    burst = bursts([r.network_hash for r in rows], [r.submitted_at.timestamp() for r in rows])
    recomputed = QualityFlag.TOO_FAST | QualityFlag.BURST
    changes = []
    for i, r in enumerate(rows):
        flags = QualityFlag(r.quality_flags) & ~recomputed
        if i in speed.too_fast:
            flags |= QualityFlag.TOO_FAST
        if i in burst:
            flags |= QualityFlag.BURST
        if int(flags) != r.quality_flags:
            changes.append({"b_id": r.id, "b_flags": int(flags)})
    if changes:
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("b_id")).values(quality_flags=sa.bindparam("b_flags")),
            changes, execution_options={"synchronize_session": False})
    return QualityCheck(len(rows), len(speed.too_fast), len(burst), speed.median_seconds)
