"""Column types shared by the models."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timezone-aware timestamp, stored in UTC.

    SQLite keeps no time zone and hands back naive values; this type makes every value
    read back aware (UTC) on both databases, and refuses naive values going in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware one (datetime.now(timezone.utc))")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


#: JSON, stored as JSONB on PostgreSQL.
JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")

#: A 64-bit key that is still SQLite's rowid alias (so it autoincrements there).
BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def enum_column(enum_class, length: int = 16) -> sa.Enum:
    """An enum stored as its values in a VARCHAR, the same on both databases."""
    return sa.Enum(enum_class, native_enum=False, length=length, validate_strings=True,
                   values_callable=lambda e: [m.value for m in e])
