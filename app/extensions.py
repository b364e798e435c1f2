"""Flask extensions, created unbound and bound to an application in create_app()."""

import functools
import hashlib
import hmac
import threading

from flask import current_app, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints, so Alembic can alter them on SQLite and PostgreSQL alike.
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()


def _hashed_client_address() -> str:
    """Rate limits count per client, by a keyed hash of its address: no raw IP goes to the store."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, (request.remote_addr or "").encode(), hashlib.sha256).hexdigest()[:24]


limiter = Limiter(key_func=_hashed_client_address)


@functools.cache
def _parsed(limit_value: str) -> list[RateLimitItem]:
    return parse_many(limit_value)


def within_limit(limit_value: str, scope: str) -> bool:
    """Count this request against ``limit_value`` (e.g. "30 per minute; 300 per hour") for the
    client's hashed address, in Flask-Limiter's storage; False once it is past any part of it.

    For a check made inside a view, where a refusal can still show the page as it was posted
    (Flask-Limiter's decorators refuse before the view runs). With the storage unreachable the
    request is let through, as Flask-Limiter's own limits are (RATELIMIT_SWALLOW_ERRORS).
    """
    if not limiter.enabled:
        return True
    key = _hashed_client_address()
    try:
        return all(limiter.limiter.hit(item, scope, key) for item in _parsed(limit_value))
    except Exception as error:  # a storage outage must not stop residents answering
        if not _storage_down.is_set():  # said once per process, not on every submit
            _storage_down.set()
            current_app.logger.error("rate limit storage unavailable (%s): %s counted in this process's memory",
                                     type(error).__name__, scope)
        # Each process counts on its own meanwhile, as Flask-Limiter's own limits fall back.
        return all(_memory_limiter().hit(item, scope, key) for item in _parsed(limit_value))


_storage_down = threading.Event()


@functools.cache
def _memory_limiter() -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(MemoryStorage())
