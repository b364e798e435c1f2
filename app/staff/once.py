"""Creating forms handled once: each such form carries a random id, stored with what it
created in the same transaction. A double click or a resent form finds the id taken and
is sent to what the first one made, instead of making a second campaign or ticket batch."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa

from ..extensions import db
from ..models import HandledForm
from ..submissions import insert_ignoring_conflicts


def new_form_id() -> str:
    return uuid.uuid4().hex


def earlier_result(form_id: str) -> str | None:
    """Where the form with this id led, if it was handled already."""
    return db.session.scalar(sa.select(HandledForm.result_url).where(HandledForm.form_id == form_id))


def mark_handled(form_id: str, result_url: str, account_id: int | None) -> bool:
    """Record the form as handled, in the caller's transaction; False if another request
    with the same form got there first (the caller then rolls back)."""
    inserted = db.session.execute(
        insert_ignoring_conflicts(HandledForm.__table__)
        .values(form_id=form_id, result_url=result_url, account_id=account_id)
        .on_conflict_do_nothing()
        .returning(HandledForm.__table__.c.form_id)).scalar()
    return inserted is not None


def run_once(form_id: str, account_id: int | None, create: Callable[[], str]) -> tuple[str | None, bool]:
    """Run ``create`` (which returns the address of what it made) and record the form, in one
    transaction, and commit. Returns (address, True); for a form handled before, nothing is
    done and it returns (the first one's address, False)."""
    earlier = earlier_result(form_id)
    if earlier:
        return earlier, False
    url = create()
    if not mark_handled(form_id, url, account_id):
        db.session.rollback()  # the same form, sent twice at once: the other request made it
        return earlier_result(form_id), False
    db.session.commit()
    return url, True
