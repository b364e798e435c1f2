"""Paper questionnaires typed in by staff: once, or twice by two people (double entry).

Single entry stores the response at once. Double entry keeps each keying as a
PaperKeying and stores the response only when the second keying, by another person,
agrees with the first — or, when they differ, once someone has looked at the paper and
settled each difference. Nothing of a paper counts in the statistics before that.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from .. import audit
from ..definitions import SurveyDefinition
from ..definitions.types import AnswerRow
from ..evaluation import tallies
from ..extensions import db
from ..models import Account, Answer, Channel, PaperKeying, QualityFlag, Response
from ..submissions import NewResponse, StoreOutcome, insert_ignoring_conflicts, quality_flags_at_submit, store_response

Answers = list[tuple[str, AnswerRow]]


def answers_to_json(answers: Answers) -> list[list]:
    """Answer rows as stored in a keying: [item, value, number, text] lists."""
    return [[item, value, number, text] for item, (value, number, text) in answers]


def answers_from_json(rows: Iterable[list]) -> Answers:
    return [(item, (value, number, text)) for item, value, number, text in rows]


def by_item(answers: Answers) -> dict[str, frozenset[AnswerRow]]:
    out: dict[str, set] = {}
    for item, row in answers:
        out.setdefault(item, set()).add(row)
    return {item: frozenset(rows) for item, rows in out.items()}


def differing_items(definition: SurveyDefinition, first: Answers, second: Answers) -> list[str]:
    """The keys of the items the two keyings answered differently, in questionnaire order.

    An item left blank in one keying and answered in the other differs too; the order of
    ticks in a multiple-choice answer does not matter.
    """
    a, b = by_item(first), by_item(second)
    return [item.key for item in definition.items if a.get(item.key, frozenset()) != b.get(item.key, frozenset())]


def formdata_of(definition: SurveyDefinition, answers: Answers, leave_out: Iterable[str] = ()) -> MultiDict:
    """The answers as a paper-entry form would post them (codes, numbers, text), so a
    stored keying can be shown again in the entry form; items in ``leave_out`` stay blank."""
    skip = set(leave_out)
    data = MultiDict()
    for item_key, (value, number, text) in answers:
        item = definition.items_by_key.get(item_key)
        if item is None or item_key in skip:
            continue
        data.add(item_key, text if item.type == "text" else value)
    return data


def shown_answer(definition: SurveyDefinition, item_key: str, answers: Answers) -> str:
    """An item's answer as staff read it: codes with their labels (“2 满意”) in the
    questionnaire's order, or the number or words; “（空）” when unanswered."""
    item = definition.items_by_key[item_key]
    order = {c.code: i for i, c in enumerate(item.choices)}
    labels = {c.code: c.label for c in item.choices}
    rows = sorted((row for key, row in answers if key == item_key), key=lambda row: order.get(row[0], len(order)))
    parts = []
    for value, _number, text in rows:
        if item.type == "text":
            parts.append(text or "")
        elif value in labels:
            parts.append(f"{value} {labels[value]}")
        else:
            parts.append(value)
    # "；" and not "、": some option labels hold a "、" of their own.
    return "；".join(parts) if parts else "（空）"


class KeyingOutcome(enum.Enum):
    #: Single entry: the response is stored.
    STORED = "stored"
    #: Double entry: the first keying is kept; the paper waits for someone else to key it.
    FIRST_KEPT = "first_kept"
    #: Double entry: the second keying agreed with the first; the response is stored.
    AGREED = "agreed"
    #: Double entry: the second keying differs from the first; the paper waits to be settled.
    DIFFERS = "differs"
    #: The same person tried to key the paper a second time (a second keying must be by someone else).
    SAME_PERSON = "same_person"
    #: This paper's response is already stored (both keyings agreed, or it was settled, or single entry).
    ALREADY_STORED = "already_stored"
    #: Both keyings are in and differ: the paper waits to be settled, a third keying is refused.
    AWAITING_RESOLUTION = "awaiting_resolution"
    #: The same form was submitted again (a double click, a retry): nothing new stored.
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class KeyingResult:
    outcome: KeyingOutcome
    #: The first keying of the paper (double entry), for a link to settle its differences.
    first: PaperKeying | None = None
    #: Items that differ between the two keyings (double entry).
    differences: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Paper:
    """One paper questionnaire to store: where it counts, its number, its answers, who typed it."""

    campaign_id: int
    community_id: int
    serial: str | None
    answers: Answers
    account: Account
    submission_id: str
    at: datetime


def enter_paper(paper: Paper, definition: SurveyDefinition, double_entry: bool) -> KeyingResult:
    """Store one typing of a paper questionnaire; commits (or rolls back) before returning."""
    if not double_entry:
        outcome = _store(paper, definition, entered_by_id=paper.account.id, audit_after={})
        return KeyingResult({StoreOutcome.STORED: KeyingOutcome.STORED,
                             StoreOutcome.DUPLICATE: KeyingOutcome.DUPLICATE}.get(outcome, KeyingOutcome.ALREADY_STORED))
    if paper.serial is None:
        raise ValueError("double entry needs the paper's number")
    if _response_exists(paper):
        return KeyingResult(KeyingOutcome.ALREADY_STORED)
    keyings = _keyings(paper)
    if any(k.submission_id == paper.submission_id for k in keyings):
        return KeyingResult(KeyingOutcome.DUPLICATE, keyings[0])
    if len(keyings) >= 2:
        return KeyingResult(KeyingOutcome.AWAITING_RESOLUTION, keyings[0],
                            differing_items(definition, *(answers_from_json(k.answers) for k in keyings[:2])))
    if keyings and keyings[0].entered_by_id == paper.account.id:
        return KeyingResult(KeyingOutcome.SAME_PERSON, keyings[0])

    pass_number = len(keyings) + 1
    keying_id = _insert_keying(paper, pass_number)
    if keying_id is None:
        # Someone keyed this paper at the same moment: look again from the start.
        db.session.rollback()
        return enter_paper(paper, definition, double_entry) if pass_number == 1 else \
            KeyingResult(KeyingOutcome.AWAITING_RESOLUTION, keyings[0])
    audit.record("enter", "paper_keying", keying_id, actor=paper.account, after={
        "paper_serial": paper.serial, "pass": pass_number, "community_id": paper.community_id})
    if pass_number == 1:
        db.session.commit()
        return KeyingResult(KeyingOutcome.FIRST_KEPT)

    first = keyings[0]
    differences = differing_items(definition, answers_from_json(first.answers), paper.answers)
    if differences:
        db.session.commit()
        return KeyingResult(KeyingOutcome.DIFFERS, first, differences)
    outcome = _store(paper, definition, entered_by_id=first.entered_by_id, keying_ids=(first.id, keying_id),
                     audit_after={"double_entry": "agreed"})
    if outcome is StoreOutcome.STORED:
        return KeyingResult(KeyingOutcome.AGREED, first)
    return KeyingResult(KeyingOutcome.ALREADY_STORED, first)


class SettleRefused(ValueError):
    """Settling refused; the message is for the staff member (Chinese)."""


def settle_paper(first: PaperKeying, second: PaperKeying, paper: Paper, definition: SurveyDefinition) -> StoreOutcome:
    """Store the response of a paper whose two keyings differed, with the answers read off
    the paper by ``paper.account`` — a third person, neither keyer. The audit entry keeps,
    for every item where the settled answer differs from either keying, both keyings'
    answers and the settled one (so a change to an item both keyings agreed on shows too)."""
    if paper.account.id in (first.entered_by_id, second.entered_by_id):
        raise SettleRefused("核对要由录入这两遍以外的第三个人来做：请另一位同事拿原件核对。")
    first_answers, second_answers = answers_from_json(first.answers), answers_from_json(second.answers)
    changed = set(differing_items(definition, first_answers, paper.answers)) | \
        set(differing_items(definition, second_answers, paper.answers)) | \
        set(differing_items(definition, first_answers, second_answers))
    keys = [item.key for item in definition.items if item.key in changed]
    before = {key: {"first": shown_answer(definition, key, first_answers),
                    "second": shown_answer(definition, key, second_answers)} for key in keys}
    after = {key: shown_answer(definition, key, paper.answers) for key in keys}
    return _store(paper, definition, entered_by_id=first.entered_by_id, keying_ids=(first.id, second.id),
                  audit_action="resolve", audit_before=before, audit_after={"double_entry": "settled"} | after)


def _store(paper: Paper, definition: SurveyDefinition, *, entered_by_id: int, keying_ids: tuple[int, ...] = (),
           audit_action: str = "create", audit_before: dict | None = None, audit_after: dict) -> StoreOutcome:
    def link_and_audit(response_id: int) -> None:
        if keying_ids:
            db.session.execute(sa.update(PaperKeying).where(PaperKeying.id.in_(keying_ids))
                               .values(response_id=response_id))
        audit.record(audit_action, "response", response_id, actor=paper.account, before=audit_before,
                     after={"channel": Channel.PAPER.value, "community_id": paper.community_id,
                            "paper_serial": paper.serial} | audit_after)

    return store_response(NewResponse(
        campaign_id=paper.campaign_id, community_id=paper.community_id, channel=Channel.PAPER,
        submission_id=paper.submission_id, submitted_at=paper.at, answers=paper.answers,
        entered_by_id=entered_by_id, paper_serial=paper.serial,
        quality_flags=int(quality_flags_at_submit(definition, paper.answers))), before_commit=link_and_audit)


def _response_exists(paper: Paper) -> bool:
    return db.session.execute(sa.select(Response.id).where(
        Response.campaign_id == paper.campaign_id, Response.community_id == paper.community_id,
        Response.paper_serial == paper.serial)).first() is not None


def _keyings(paper: Paper) -> list[PaperKeying]:
    return list(db.session.scalars(sa.select(PaperKeying).where(
        PaperKeying.campaign_id == paper.campaign_id, PaperKeying.community_id == paper.community_id,
        PaperKeying.paper_serial == paper.serial).order_by(PaperKeying.pass_number)))


def _insert_keying(paper: Paper, pass_number: int) -> int | None:
    """Insert a keying; None when another one took its place (same pass, or same submission)."""
    return db.session.execute(
        insert_ignoring_conflicts(PaperKeying.__table__)
        .values(campaign_id=paper.campaign_id, community_id=paper.community_id, paper_serial=paper.serial,
                pass_number=pass_number, entered_by_id=paper.account.id, entered_at=paper.at,
                submission_id=paper.submission_id, answers=answers_to_json(paper.answers))
        .on_conflict_do_nothing()
        .returning(PaperKeying.__table__.c.id)).scalar()


@dataclass
class WaitingPaper:
    """A paper of a double-entry campaign whose response is not stored yet."""

    community_id: int
    serial: str
    first: PaperKeying
    second: PaperKeying | None = None

    @property
    def differs(self) -> bool:
        return self.second is not None


def waiting_papers(campaign_id: int, community_ids: Iterable[int]) -> list[WaitingPaper]:
    """Papers keyed once (waiting for a second person) or twice with differences (waiting to be settled)."""
    keyings = db.session.scalars(
        sa.select(PaperKeying).where(PaperKeying.campaign_id == campaign_id,
                                     PaperKeying.community_id.in_(list(community_ids)),
                                     PaperKeying.response_id.is_(None))
        .order_by(PaperKeying.community_id, PaperKeying.paper_serial, PaperKeying.pass_number))
    papers: dict[tuple[int, str], WaitingPaper] = {}
    for keying in keyings:
        key = (keying.community_id, keying.paper_serial)
        if key not in papers:
            papers[key] = WaitingPaper(keying.community_id, keying.paper_serial, keying)
        else:
            papers[key].second = keying
    return list(papers.values())


def waiting_counts(campaign_id: int, community_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Per community: (papers keyed once, papers whose two keyings differ), counted by the database."""
    rows = db.session.execute(
        sa.select(PaperKeying.community_id, PaperKeying.paper_serial, sa.func.count())
        .where(PaperKeying.campaign_id == campaign_id, PaperKeying.community_id.in_(list(community_ids)),
               PaperKeying.response_id.is_(None))
        .group_by(PaperKeying.community_id, PaperKeying.paper_serial)).all()
    counts: dict[int, list[int]] = {}
    for community_id, _serial, n in rows:
        counts.setdefault(community_id, [0, 0])[0 if n == 1 else 1] += 1
    return {community_id: (once, differ) for community_id, (once, differ) in counts.items()}


#: Channels whose answers staff typed in, and so may correct from the paper.
CORRECTABLE_CHANNELS = frozenset({Channel.PAPER, Channel.IMPORT})


def stored_answers(response_id: int) -> Answers:
    rows = db.session.execute(sa.select(Answer.item, Answer.value, Answer.number, Answer.text)
                              .where(Answer.response_id == response_id).order_by(Answer.item, Answer.value))
    return [(item, (value, number, text)) for item, value, number, text in rows]


def correct_answers(response: Response, answers: Answers, reason: str, definition: SurveyDefinition, *,
                    actor: Account) -> list[str]:
    """Replace a typed-in response's answers with the ones read again off the paper; the
    response itself stays (same id, same times). The audit entry keeps every changed item
    before and after, and the reason. Returns the changed items ([] changes nothing).
    Residents' own answers are never corrected."""
    if response.channel not in CORRECTABLE_CHANNELS:
        raise ValueError("only answers typed in by staff can be corrected")
    reason = reason.strip()
    if not reason:
        raise ValueError("a correction needs a reason")
    old = stored_answers(response.id)
    changed = differing_items(definition, old, answers)
    if not changed:
        return []
    # The tallies change by what this transaction itself deleted and inserted, once, in one ordered
    # batch, and only while the response counts (read under its lock, after the first write).
    deleted = db.session.execute(sa.delete(Answer).where(Answer.response_id == response.id)
                                 .returning(Answer.campaign_id, Answer.community_id, Answer.item, Answer.value)).all()
    rows = [{"response_id": response.id, "item": item, "value": value, "number": number, "text": text,
             "campaign_id": response.campaign_id, "community_id": response.community_id}
            for item, (value, number, text) in answers]
    if rows:
        db.session.execute(sa.insert(Answer.__table__), rows)
    _id, counts = tallies.counting_response(Response.id == response.id)
    if counts:
        change = tallies.count_rows(rows)
        change.subtract(tallies.count_rows(row._mapping for row in deleted))
        tallies.add_counts(change)
    straight = QualityFlag.STRAIGHT_LINE
    response.quality_flags = int((QualityFlag(response.quality_flags) & ~straight)
                                 | (quality_flags_at_submit(definition, answers) & straight))
    audit.record("correct", "response", response.id, actor=actor,
                 before={key: shown_answer(definition, key, old) for key in changed},
                 after={key: shown_answer(definition, key, answers) for key in changed} | {"reason": reason})
    return changed
