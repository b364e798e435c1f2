"""A short-lived copy of what residents' phones poll, kept in Redis where REDIS_URL is set.

Hundreds of phones in one courtyard ask every few seconds which question is on and whether
voting is open. That changes only when staff act, so every worker on every server reads it
from Redis and only one of them asks the database when it has expired. Staff actions drop it
at once; the short lifetime bounds how stale a copy written during a racing read can be. The
database stays the only record: without Redis, or with Redis down, phones are answered from
it directly.
"""

from __future__ import annotations

import logging

import redis
from flask import current_app

log = logging.getLogger(__name__)

#: Seconds a copy lives: at most this long behind after a racing staff action.
LIFETIME_SECONDS = 1
EXTENSION_KEY = "minyi.meeting_state_cache"


class PhoneStateCache:
    def __init__(self, url: str | None):
        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5) if url else None

    def _key(self, code: str) -> str:
        return f"minyi:meeting:{code}:phone"

    def get(self, code: str) -> bytes | None:
        if self._redis is None:
            return None
        try:
            return self._redis.get(self._key(code))
        except redis.RedisError:
            log.warning("meeting state cache unavailable; answering from the database", exc_info=True)
            return None

    def put(self, code: str, payload: bytes) -> None:
        if self._redis is not None:
            try:
                self._redis.set(self._key(code), payload, ex=LIFETIME_SECONDS)
            except redis.RedisError:
                log.warning("meeting state cache unavailable", exc_info=True)

    def forget(self, code: str) -> None:
        if self._redis is not None:
            try:
                self._redis.delete(self._key(code))
            except redis.RedisError:
                # The copy expires by itself within LIFETIME_SECONDS.
                log.warning("meeting state cache unavailable; a copy may live out its lifetime", exc_info=True)


def phone_state_cache() -> PhoneStateCache:
    cache = current_app.extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = current_app.extensions[EXTENSION_KEY] = PhoneStateCache(current_app.config.get("REDIS_URL"))
    return cache
