"""Writing the audit log. Every staff write calls record() inside its own transaction, so
an action and its audit entry are stored together or not at all."""

from __future__ import annotations

import enum
from datetime import datetime

from flask import has_request_context
from flask_login import current_user

from .extensions import db
from .models import Account, AuditEntry


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


def record(action: str, object_type: str, object_id, *, before: dict | None = None,
           after: dict | None = None, actor: Account | None = None) -> AuditEntry:
    entry = AuditEntry(account=actor or acting_account(), action=action, object_type=object_type,
                       object_id=str(object_id), before=before, after=after)
    db.session.add(entry)
    return entry
