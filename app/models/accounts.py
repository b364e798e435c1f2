"""Staff accounts, each scoped to a subtree of the regions."""

from __future__ import annotations

import enum
import hashlib
import hmac
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .regions import Region, RegionLevel
from .types import UTCDateTime, enum_column, utcnow


class Role(str, enum.Enum):
    ADMIN = "admin"            # a district's organiser: everything in the district
    STREET = "street"          # street (街道) staff: their street's communities
    COMMUNITY = "community"    # community (社区) staff: their community
    EVALUATOR = "evaluator"    # reads statistics in their scope, changes nothing

    @property
    def label(self) -> str:
        return {"admin": "区级管理员", "street": "街道工作人员", "community": "社区工作人员",
                "evaluator": "考评人员"}[self.value]

    @property
    def may_change(self) -> bool:
        return self is not Role.EVALUATOR

    @property
    def may_exclude(self) -> bool:
        """Leaving responses out of the statistics is for evaluators and the district, not for
        the street or community being evaluated."""
        return self in (Role.ADMIN, Role.EVALUATOR)

    @property
    def may_score(self) -> bool:
        """Scoring communities (entering levels, the district's points and weights) and reading
        the ranking is for evaluators and the district, never for those being scored."""
        return self in (Role.ADMIN, Role.EVALUATOR)


#: The level of region each role's account is rooted at (an evaluator may be a district's or a street's).
ROLE_LEVELS = {
    Role.ADMIN: {RegionLevel.DISTRICT},
    Role.STREET: {RegionLevel.STREET},
    Role.COMMUNITY: {RegionLevel.COMMUNITY},
    Role.EVALUATOR: {RegionLevel.DISTRICT, RegionLevel.STREET},
}


class Account(UserMixin, db.Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What the person types to log in.
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: Their name as colleagues know it (shown in the audit log).
    display_name: Mapped[str] = mapped_column(sa.String(100))
    #: werkzeug's salted scrypt hash; the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    #: The root of what the account sees and changes: a district, a street or a community.
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: A disabled account cannot log in; accounts are disabled, never deleted (the audit log names them).
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def set_password(self, password: str) -> None:
        # scrypt (werkzeug's default) unless configured otherwise; tests use a cheap method.
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def session_key(self) -> str:
        """A keyed fingerprint of the password hash: it changes with the password, so a
        session made before a password reset no longer logs anyone in."""
        secret = current_app.config["SECRET_KEY"].encode()
        return hmac.new(secret, self.password_hash.encode(), hashlib.sha256).hexdigest()[:20]

    def get_id(self) -> str:  # Flask-Login: what the session remembers
        return f"{self.id}:{self.session_key}"

    def __repr__(self) -> str:
        return f"<Account {self.username} {self.role.value}>"
