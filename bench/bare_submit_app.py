"""The yardstick of bench/submit_throughput.py: a bare Flask endpoint that stores a posted
survey the cheapest way there is.

It validates nothing and checks no token: it reads the form, inserts the response row and
then every answer row with the database driver's own ``executemany``, and commits, in one
connection per worker kept open for the worker's life. ``POST /bare/tallied`` also adds each
answer to its tally (``answer_tallies``, one upsert per answer row, by ``executemany``), so
it writes the very rows Minyi's submit path writes (app/submissions.py); ``POST /bare``
leaves the tallies out. The ratio of Minyi to these is what validation, tokens, the
campaign lookup, the device cookie and the ORM layer cost.

Served by the same gunicorn command line as the real app; configured by the environment:
BARE_DATABASE_URL (an SQLAlchemy-style URL, sqlite:/// or postgresql://), BARE_CAMPAIGN,
BARE_COMMUNITY, BARE_SITE, BARE_TEXT_ITEMS and BARE_NUMBER_ITEMS (comma-separated keys, so
a text answer goes to the ``text`` column and a number to ``number``, as Minyi stores them).
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

from flask import Flask, request

app = Flask(__name__)

URL = os.environ["BARE_DATABASE_URL"]
CAMPAIGN = int(os.environ["BARE_CAMPAIGN"])
COMMUNITY = int(os.environ["BARE_COMMUNITY"])
SITE = int(os.environ["BARE_SITE"])
TEXT_ITEMS = frozenset(filter(None, os.environ.get("BARE_TEXT_ITEMS", "").split(",")))
NUMBER_ITEMS = frozenset(filter(None, os.environ.get("BARE_NUMBER_ITEMS", "").split(",")))
CONTROL = frozenset({"csrf_token", "submission"})
SQLITE = URL.startswith("sqlite")
MARK = "?" if SQLITE else "%s"



def _marks(n: int) -> str:
    return ", ".join([MARK] * n)


INSERT_RESPONSE = (
    "INSERT INTO responses (campaign_id, community_id, site_id, started_at, submitted_at, submission_id, channel,"
    f" device_hash, network_hash, once_key, quality_flags) VALUES ({_marks(6)}, 'qr', NULL, NULL, NULL, 0)"
    " RETURNING id")
INSERT_ANSWER = ("INSERT INTO answers (response_id, item, value, number, text, campaign_id, community_id)"
                 f" VALUES ({_marks(7)})")
ADD_TO_TALLY = (f"INSERT INTO answer_tallies (campaign_id, community_id, item, value, n) VALUES ({_marks(4)}, 1)"
                " ON CONFLICT (campaign_id, community_id, item, value) DO UPDATE SET n = answer_tallies.n + 1")

_connection = None


def connection():
    """One connection per worker process, opened after gunicorn forked it."""
    global _connection
    if _connection is None:
        if SQLITE:
            import sqlite3
            _connection = sqlite3.connect(URL.split("///", 1)[1], timeout=5)
            # The pragmas the app sets on its own SQLite connections (app/__init__.py).
            _connection.execute("PRAGMA journal_mode=WAL")
            _connection.execute("PRAGMA foreign_keys=ON")
            _connection.execute("PRAGMA busy_timeout=5000")
        else:
            import psycopg
            _connection = psycopg.connect(URL.replace("postgresql+psycopg://", "postgresql://"))
    return _connection


@app.post("/bare")
def submit():
    return store(tallied=False)


@app.post("/bare/tallied")
def submit_tallied():
    return store(tallied=True)


def store(*, tallied: bool):
    form = request.form
    now = datetime.now(UTC)
    stamp = now.replace(tzinfo=None).isoformat(sep=" ") if SQLITE else now
    rows = []
    for key in form:
        if key in CONTROL:
            continue
        for value in form.getlist(key):
            if value == "":  # an empty box: Minyi stores no row for it
                continue
            if key in TEXT_ITEMS:
                rows.append((key, "", None, value))
            elif key in NUMBER_ITEMS:
                rows.append((key, value, float(value), None))
            else:
                rows.append((key, value, None, None))
    conn = connection()
    cursor = conn.cursor()
    try:
        cursor.execute(INSERT_RESPONSE, (CAMPAIGN, COMMUNITY, SITE, stamp, stamp, uuid.uuid4().hex))
        response_id = cursor.fetchone()[0]
        cursor.executemany(INSERT_ANSWER, [(response_id, k, v, n, t, CAMPAIGN, COMMUNITY) for k, v, n, t in rows])
        if tallied:  # in key order, as Minyi adds them, so two submits never wait on each other crosswise
            cursor.executemany(ADD_TO_TALLY, sorted({(CAMPAIGN, COMMUNITY, k, v) for k, v, _n, _t in rows}))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        cursor.close()
    return "", 303, {"Location": "/thanks"}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
