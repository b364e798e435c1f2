"""Writing the audit log. Every staff write calls record() inside its own transaction, so
an action and its audit entry are stored together or not at all."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask import has_request_context
from flask_login import current_user
from sqlalchemy.orm import aliased

from .extensions import db
from .models import (Account, AuditEntry, CampaignCommunity, IndicatorEntry, Meeting, MeetingQuestion, PaperKeying,
                     Region, Response, SchemeSetting, Site, TicketBatch)


def snapshot(obj, fields: tuple[str, ...]) -> dict:
    """The named fields of a record as JSON-safe values (times as ISO text, enums as values)."""
    out = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, enum.Enum):
            value = value.value
        out[name] = value
    return out


def acting_account() -> Account | None:
    """The logged-in staff member, or None on the command line."""
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user._get_current_object()
    return None


#: Object types whose region is a column of their own row: (model, column holding the region's id).
_REGION_COLUMN = {
    "site": (Site, "community_id"),
    "response": (Response, "community_id"),
    "ticket_batch": (TicketBatch, "community_id"),
    "paper_keying": (PaperKeying, "community_id"),
    "account": (Account, "region_id"),
    "region": (Region, "id"),
    "meeting": (Meeting, "community_id"),
    "indicator_entry": (IndicatorEntry, "community_id"),
}

#: Object types that belong to no region: one survey version serves every district.
_NO_REGION = {"survey_version"}


def object_region_id(object_type: str, object_id) -> int | None:
    """The region an audited record belongs to, read from the database (the record must be
    flushed): a site, response, ticket batch or paper keying → its community; an account →
    its region; a region → itself; a campaign → the lowest region covering all its
    communities; a survey version → None. None too for a record that is not there.

    An object type with no rule is refused, so a new kind of audited record cannot slip
    past the audit log's scoping unnoticed.
    """
    if object_type in _NO_REGION:
        return None
    key = _integer_key(object_id)
    if object_type == "campaign":
        return None if key is None else campaign_region_id(key)
    if object_type == "scheme_setting":
        setting = db.session.get(SchemeSetting, key) if key is not None else None
        return None if setting is None else campaign_region_id(setting.campaign_id)
    if object_type == "meeting_question":
        return None if key is None else db.session.scalar(
            sa.select(Meeting.community_id).join(MeetingQuestion, MeetingQuestion.meeting_id == Meeting.id)
            .where(MeetingQuestion.id == key))
    if object_type not in _REGION_COLUMN:
        raise ValueError(f"no region rule for audited object type {object_type!r}: add one in app/audit.py")
    model, column = _REGION_COLUMN[object_type]
    obj = db.session.get(model, key) if key is not None else None
    return getattr(obj, column) if obj is not None else None


def campaign_region_id(campaign_id: int) -> int | None:
    """The lowest region covering every community of a campaign: its one community, the
    street of communities all in one street, else their district (None across districts or
    with no communities). One query, whatever the number of communities."""
    street = aliased(Region)
    rows = db.session.execute(
        sa.select(CampaignCommunity.community_id, street.id, street.parent_id)
        .join(Region, Region.id == CampaignCommunity.community_id)
        .outerjoin(street, street.id == Region.parent_id)
        .where(CampaignCommunity.campaign_id == campaign_id)).all()
    for level in range(3):  # community, street, district
        ids = {row[level] for row in rows}
        if len(ids) == 1:
            return ids.pop()
    return None


def _integer_key(object_id) -> int | None:
    if isinstance(object_id, int):
        return object_id
    text = str(object_id)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


#: Passed as ``region`` to say "work it out from the object" (the default).
DERIVE = object()


def record(action: str, object_type: str, object_id, *, before: dict | None = None,
           after: dict | None = None, actor: Account | None = None,
           region: Region | int | None = DERIVE) -> AuditEntry:
    """Add an audit entry to the session (the caller commits).

    ``region`` scopes who reads the entry; by default it is derived from the object
    (object_region_id), which must therefore be flushed already. Pass it when the object
    is not in the database, or None for an entry of no region.
    """
    if region is DERIVE:
        region_id = object_region_id(object_type, object_id)
    else:
        region_id = region.id if isinstance(region, Region) else region
    entry = AuditEntry(account=actor or acting_account(), action=action, object_type=object_type,
                       object_id=str(object_id), before=before, after=after, region_id=region_id)
    db.session.add(entry)
    return entry
