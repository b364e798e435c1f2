"""Keeping ``answer_tallies`` equal to a GROUP BY over the counted answers.

The tallies hold, per (campaign, community, item, value), how many answers of counted (not
excluded) responses there are, so a summary reads a few thousand rows where it would count
millions. Every write of answers or of an exclusion changes them in its own transaction:

    store_response (QR, ticket, paper, double entry)   add_responses([id])
    a 坝坝会 vote that answers a campaign item          counting_response(...), add_counts
    an import, the demo (bulk)                          add_counts(count_rows(answer rows))
    a paper or import correction                        add_counts(new rows − deleted rows)
    exclude / include a response                        set_exclusion(response, reason or None)

Concurrency (PostgreSQL, READ COMMITTED): every statement that changes tallies changes each
(campaign, community, item, value) row once, in key order, so two transactions meet on their
shared rows in the same order and never deadlock; a transaction changes tallies in one
statement (or one ordered batch) after its other writes. Whether a response counts is read
under the response row's lock (``counting_response``), which an exclusion's UPDATE takes too,
so an answer added to a response and the response's exclusion never both miss, or both
take, that answer. ``rebuild`` locks the table against every other tally write while it
recounts. On SQLite one writer at a time does all of this in turn.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from ..extensions import db
from ..models import Answer, AnswerTally, Response

tallies = AnswerTally.__table__
answers = Answer.__table__
responses = Response.__table__


class TallyKey(NamedTuple):
    campaign_id: int
    community_id: int
    item: str
    value: str


class Difference(NamedTuple):
    """A tally that disagrees with the answers it counts."""

    key: TallyKey
    tallied: int
    counted: int


@functools.cache
def _statements(dialect: str) -> tuple[sa.Insert, sa.Insert, sa.Insert]:
    """The upserts, built once per dialect: from the stored answers of several responses, of
    one response (the submit path's, with no list to expand), and from counts."""
    # Imported here: app.submissions imports this module to keep tallies at submit.
    from ..submissions import insert_ignoring_conflicts

    def adding(insert):
        return insert.on_conflict_do_update(index_elements=list(tallies.primary_key.columns),
                                            set_={"n": tallies.c.n + insert.excluded.n})

    key = (answers.c.campaign_id, answers.c.community_id, answers.c.item, answers.c.value)

    def from_answers(where):
        return adding(insert_ignoring_conflicts(tallies, dialect).from_select(
            ["campaign_id", "community_id", "item", "value", "n"],
            sa.select(*key, sa.func.count() * sa.bindparam("sign", type_=sa.Integer))
            .where(where).group_by(*key).order_by(*key)))

    from_counts = adding(insert_ignoring_conflicts(tallies, dialect).values(
        {name: sa.bindparam(name) for name in ("campaign_id", "community_id", "item", "value", "n")}))
    return (from_answers(answers.c.response_id.in_(sa.bindparam("response_ids", expanding=True))),
            from_answers(answers.c.response_id == sa.bindparam("response_id")), from_counts)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def add_responses(response_ids: Collection[int], sign: int = 1) -> None:
    """Add (sign 1) or take away (sign -1) all stored answers of these responses, in one
    statement: for a response just stored, or one that starts or stops counting. The caller
    knows the change of counting is real (see set_exclusion). For a few responses at a time;
    bulk writers use add_counts."""
    if sign not in (1, -1):
        raise ValueError(f"sign must be 1 or -1, got {sign!r}")
    if not response_ids:
        return
    connection = db.session.connection()
    many, one, _counts = _statements(connection.dialect.name)
    if len(response_ids) == 1:
        connection.execute(one, {"response_id": next(iter(response_ids)), "sign": sign})
    else:
        connection.execute(many, {"response_ids": list(response_ids), "sign": sign})


def count_rows(rows: Iterable[Mapping]) -> Counter[TallyKey]:
    """Answer rows as inserted (mappings with campaign_id, community_id, item, value) → counts."""
    return Counter(TallyKey(r["campaign_id"], r["community_id"], r["item"], r["value"]) for r in rows)


def add_counts(changes: Mapping[TallyKey, int]) -> None:
    """Add each count (negative: take away) to its tally, in key order; zero changes are skipped."""
    rows = [{"campaign_id": k.campaign_id, "community_id": k.community_id, "item": k.item, "value": k.value,
             "n": n} for k, n in sorted(changes.items()) if n]
    if rows:
        # One statement per row on the driver's executemany, which keeps their order.
        db.session.execute(_statements(_dialect())[2], rows)


def counting_response(*where: sa.ColumnElement[bool]) -> tuple[int, bool]:
    """The id of the response ``where`` finds, and whether it counts now (is not excluded).

    Its row stays share-locked until the transaction ends on PostgreSQL, so an exclusion of it
    (an UPDATE of that row) waits for this transaction's answers, or this waits for the
    exclusion and reads it. On SQLite, call it after the transaction's first write, which holds
    the database's one write lock."""
    found = db.session.execute(sa.select(responses.c.id, responses.c.exclusion_reason).where(*where)
                               .with_for_update(read=True)).one()
    return found.id, found.exclusion_reason is None


def set_exclusion(response: Response, reason: str | None) -> bool:
    """Leave a response out of the statistics with ``reason``, or count it again (None), and
    move its answers out of or back into the tallies when whether it counts changes.

    Each UPDATE decides on the row as it is then (waiting for anyone else changing it): of two
    people excluding one response at the same moment only one takes its answers out, and a
    new reason for a response already excluded changes only the reason. Returns whether the
    response changed from counted to excluded or back."""
    counting_again = reason is None
    by_id = responses.c.id == response.id
    counted, excluded = responses.c.exclusion_reason.is_(None), responses.c.exclusion_reason.is_not(None)
    changed = False
    for _attempt in range(3):
        if db.session.execute(sa.update(responses).where(by_id, excluded if counting_again else counted)
                              .values(exclusion_reason=reason)).rowcount == 1:
            add_responses([response.id], 1 if counting_again else -1)
            changed = True
            break
        # Nothing to move: already counted, or already excluded (then only its reason changes,
        # unless someone counted it again in between, and the next attempt excludes it).
        if counting_again or db.session.execute(
                sa.update(responses).where(by_id, excluded).values(exclusion_reason=reason)).rowcount == 1:
            break
    else:
        raise RuntimeError(f"response {response.id}: its exclusion kept changing (or it does not exist)")
    # The ORM's copy of the row, without a second UPDATE at the next flush.
    set_committed_value(response, "exclusion_reason", reason)
    return changed


def _counted_answers(campaign_id: int) -> sa.Select:
    """(campaign, community, item, value, n) over the campaign's counted answers: all answers
    minus those of excluded responses (cheaper than joining every answer to its response; see
    queries.answer_counts)."""
    key = (answers.c.campaign_id, answers.c.community_id, answers.c.item, answers.c.value)
    everything = (sa.select(*key, sa.func.count().label("n")).where(answers.c.campaign_id == campaign_id)
                  .group_by(*key))
    excluded = (sa.select(*key, (-sa.func.count()).label("n"))
                .select_from(responses.join(answers, answers.c.response_id == responses.c.id))
                .where(responses.c.campaign_id == campaign_id, responses.c.exclusion_reason.is_not(None))
                .group_by(*key))
    both = sa.union_all(everything, excluded).subquery("both")
    total = sa.cast(sa.func.sum(both.c.n), sa.BigInteger)
    return (sa.select(both.c.campaign_id, both.c.community_id, both.c.item, both.c.value, total)
            .group_by(both.c.campaign_id, both.c.community_id, both.c.item, both.c.value)
            .having(sa.func.sum(both.c.n) > 0))


def rebuild(campaign_id: int) -> int:
    """Recount a campaign's tallies from its answers (after a bulk load, or to repair); returns
    the rows written. The caller commits. On PostgreSQL the table is locked against other
    tally writes (every campaign's submits wait) until then: a recount racing with a submit
    could count its answers twice or not at all."""
    if _dialect() == "postgresql":
        db.session.execute(sa.text("LOCK TABLE answer_tallies IN SHARE ROW EXCLUSIVE MODE"))
    db.session.execute(sa.delete(tallies).where(tallies.c.campaign_id == campaign_id))
    db.session.execute(sa.insert(tallies).from_select(
        ["campaign_id", "community_id", "item", "value", "n"], _counted_answers(campaign_id)))
    # (Counted again: psycopg's driver reports no row count for this INSERT … SELECT.)
    return db.session.scalar(sa.select(sa.func.count()).select_from(tallies).where(tallies.c.campaign_id == campaign_id))


def differences(campaign_id: int) -> list[Difference]:
    """Tallies that disagree with a fresh count of the campaign's counted answers (a tally of
    0 agrees with no answers); [] when all agree. For tests and checks: it counts everything."""
    counted = {TallyKey(*row[:4]): row[4] for row in db.session.execute(_counted_answers(campaign_id))}
    tallied = {TallyKey(*row[:4]): row[4] for row in db.session.execute(
        sa.select(tallies.c.campaign_id, tallies.c.community_id, tallies.c.item, tallies.c.value, tallies.c.n)
        .where(tallies.c.campaign_id == campaign_id))}
    return [Difference(key, tallied.get(key, 0), counted.get(key, 0))
            for key in sorted(counted.keys() | tallied.keys()) if tallied.get(key, 0) != counted.get(key, 0)]
