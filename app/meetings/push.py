"""Push a meeting's state to residents' phones as it changes (Server-Sent Events).

Polling costs the server for every phone every few seconds even though a phone's state
changes only when staff act; a courtyard of 500 phones asking every 3 s is ~170 requests a
second per meeting. Pushed, each phone holds one idle connection and hears about a change
at once.

How it works, on any number of workers and servers:

- a staff action commits, then publishes the meeting's join code on one Redis channel;
- every worker process runs one subscriber (a greenlet under gevent) that, for a code some
  of its phones are watching, reads the phone state from the database once and wakes those
  phones' streams, which send it;
- a stream lives a few minutes and sends a comment line now and then (so proxies and
  phones see it alive), then ends; the browser's EventSource reconnects by itself and reads
  the state afresh, so a change lost with a dropped connection is made good.

Push needs Redis (to reach every worker) and a server that can hold thousands of idle
connections: gunicorn's gevent worker. Elsewhere (``make run``'s sync workers, no Redis,
Redis down) the events URL answers 204, which tells EventSource to stop, and the page
polls state.json instead. ``MEETING_PUSH`` = "auto" (the default: on under gevent with
Redis), "on" (tests, threads) or "off".
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator

import redis
from flask import Flask, current_app

from .queries import meeting_by_code, phone_state_json

log = logging.getLogger(__name__)

CHANNEL = "minyi:meetings:changed"
EXTENSION_KEY = "minyi.meeting_push"
#: A comment line this often keeps the connection from looking dead to proxies and phones.
HEARTBEAT_SECONDS = 20
#: A stream ends after a random time in this range (spread, so phones do not all come back at once).
STREAM_SECONDS = (240.0, 360.0)
#: How long phones wait for the subscriber when a worker starts it.
STARTUP_SECONDS = 5.0
#: How long the browser waits before reconnecting (the SSE ``retry`` field).
RETRY_MS = 3000


def gevent_patched() -> bool:
    """True in a gunicorn gevent worker (sockets patched): idle streams then cost a greenlet, not a thread."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


class MeetingPush:
    """This process's phones waiting on meetings, and the one Redis subscription that wakes them."""

    def __init__(self, url: str, read_state: Callable[[str], bytes | None], *, serves_streams: bool):
        self._url, self._read_state = url, read_state
        #: Whether this process holds phones' streams (else it only publishes staff actions).
        self.serves_streams = serves_streams
        self._publisher = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._lock = threading.Lock()
        self._watching: dict[str, int] = {}
        #: code -> (generation, payload); a payload of None ends the code's streams (they reconnect).
        self._latest: dict[str, tuple[int, bytes | None]] = {}
        self._wake: dict[str, threading.Event] = {}
        self._subscribed = threading.Event()
        self._started = 0.0  # when the subscriber was started (monotonic), 0 before
        self._stopping = False
        self._pubsub = None

    # -- staff side -------------------------------------------------------------------

    def publish(self, code: str) -> None:
        """Tell every worker that the meeting changed (after the change is committed)."""
        try:
            self._publisher.publish(CHANNEL, code)
        except redis.RedisError:
            # Phones that miss it see the change when their stream is renewed or, if push is
            # down, at their next poll.
            log.warning("meeting push unavailable; phones will see the change later", exc_info=True)

    # -- phone side -------------------------------------------------------------------

    def ready(self) -> bool:
        """Start the subscriber if needed; True once it listens (else phones should poll).
        Phones that come while it starts wait for it (a few seconds at most): told to poll,
        they would poll for the whole meeting."""
        if not self.serves_streams:
            return False
        if not self._started:
            with self._lock:
                if not self._started:
                    self._started = time.monotonic()
                    threading.Thread(target=self._listen, name="meeting-push", daemon=True).start()
        if not self._subscribed.is_set():
            self._subscribed.wait(max(0.0, self._started + STARTUP_SECONDS - time.monotonic()))
        return self._subscribed.is_set()

    def stream(self, code: str) -> Iterator[bytes]:
        """The event stream of one phone: the state now, then each change, until it is renewed."""
        with self._lock:
            self._watching[code] = self._watching.get(code, 0) + 1
            seen = self._latest.get(code, (0, b""))[0]
        try:
            # Read after starting to watch, so a change committed meanwhile is sent too.
            payload = self._read_state(code)
            if payload is None:
                return
            yield f"retry: {RETRY_MS}\n".encode() + _event(payload)
            ends = time.monotonic() + random.uniform(*STREAM_SECONDS)
            while (left := ends - time.monotonic()) > 0:
                with self._lock:
                    generation, payload = self._latest.get(code, (0, b""))
                    wake = self._wake.setdefault(code, threading.Event())
                if generation != seen:
                    seen = generation
                    if payload is None:
                        return
                    yield _event(payload)
                    continue
                if not wake.wait(min(HEARTBEAT_SECONDS, left)):
                    yield b": \n\n"
        finally:
            with self._lock:
                self._watching[code] -= 1
                if not self._watching[code]:
                    del self._watching[code]
                    self._latest.pop(code, None)
                    self._wake.pop(code, None)

    # -- the subscriber ---------------------------------------------------------------

    def stop(self) -> None:
        """End the subscriber (and so every stream): for tests and an orderly shutdown."""
        self._stopping = True
        if self._pubsub is not None:
            try:  # from another thread than the one reading: it wakes with an error and ends
                self._pubsub.close()
            except Exception:  # broad on purpose: shutting down, the connection may be half-closed already
                log.debug("meeting push subscription closed uncleanly", exc_info=True)

    def _listen(self) -> None:
        delay = 0.5
        while not self._stopping:
            try:
                client = redis.Redis.from_url(self._url, socket_connect_timeout=2, health_check_interval=30)
                pubsub = self._pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                pubsub.get_message(timeout=2)  # the subscribe confirmation: we listen from here on
                self._subscribed.set()
                delay = 0.5
                for message in pubsub.listen():
                    self._changed(message["data"].decode(errors="replace"))
            except Exception:  # broad on purpose: a subscriber that dies silently would freeze every phone
                if not self._stopping:
                    log.warning("meeting push subscription lost; phones poll until it is back", exc_info=True)
            finally:
                if self._pubsub is not None and not self._stopping:  # stop() closes it itself
                    self._pubsub.close()
            # Changes may have been missed while unsubscribed: end every stream, so each phone
            # reconnects (and, until we are back, is told to poll).
            self._subscribed.clear()
            with self._lock:
                codes = list(self._watching)
            for code in codes:
                self._wake_with(code, None)
            time.sleep(delay)
            delay = min(delay * 2, 10)

    def _changed(self, code: str) -> None:
        with self._lock:
            if code not in self._watching:
                return
        try:
            payload = self._read_state(code)
        except Exception:  # broad on purpose: the database hiccuped: the phones reconnect and read again
            log.warning("meeting state unreadable; ending its streams", exc_info=True)
            payload = None
        self._wake_with(code, payload)

    def _wake_with(self, code: str, payload: bytes | None) -> None:
        with self._lock:
            if code not in self._watching:
                return
            generation = self._latest.get(code, (0, b""))[0] + 1
            self._latest[code] = (generation, payload)
            wake = self._wake.pop(code, None)
        if wake is not None:
            wake.set()


def _event(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def meeting_push() -> MeetingPush | None:
    """This process's push (None without Redis, or with push turned off). Every process with
    it publishes staff actions; only one that can hold idle connections serves streams."""
    app = current_app._get_current_object()
    if EXTENSION_KEY not in app.extensions:
        mode, url = app.config.get("MEETING_PUSH", "auto"), app.config.get("REDIS_URL")
        push = None
        if url and mode != "off":
            push = MeetingPush(url, lambda code: _read_in_context(app, code),
                               serves_streams=mode == "on" or gevent_patched())
        app.extensions[EXTENSION_KEY] = push
    return app.extensions[EXTENSION_KEY]


def _read_in_context(app: Flask, code: str) -> bytes | None:
    """The phone state of a meeting, read from the database outside any request (streams
    outlive theirs); the connection goes back to the pool at once, never held by an idle phone."""
    with app.app_context():
        meeting = meeting_by_code(code)
        return None if meeting is None else phone_state_json(meeting)[1]
