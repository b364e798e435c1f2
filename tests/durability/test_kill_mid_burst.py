"""Durability: the server is SIGKILLed in the middle of a burst of submissions, and comes back.

A real gunicorn serves residents' forms against a throwaway database (SQLite, and
PostgreSQL where TEST_DATABASE_URL is set). Client threads open the Kunming questionnaire,
fill it in and post it, as phones do; a 303 to the thank-you page is the acknowledgement.
A client that gets no answer (connection refused, reset, timeout) or a 5xx sends the very
same form again (same CSRF token, same signed submission token, so the same submission id)
until it is acknowledged; every tenth first post is sent and hung up on at once, like a
phone losing its signal, so some retries meet a submission the server stored meanwhile.
Part way through, once a transaction storing a response is seen open, the master and all
its workers are killed with SIGKILL at once, cutting off whatever transactions they were
in, and gunicorn is started again on the same port and database. Afterwards the database
itself must show that:

- every acknowledged submission is stored exactly once, and nothing else is stored;
- every stored response holds exactly the answers its client sent (none half stored);
- the answer tallies equal a fresh count of the answers.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import random
import re
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from app import create_app
from app.config import database_url
from app.definitions import SurveyDefinition
from app.definitions.loader import load_survey_file
from app.definitions.types import ITEM_TYPES
from app.extensions import db
from app.resident.operations import read_submission_token
from tests.helpers import parse_form
from tests.live_server import ROOT, LiveServer, throwaway_database

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
SECRET_KEY = "durability-test-secret-key-shared-by-every-server-process"
SURVEY_FILE = ROOT / "surveys" / "kunming-questionnaire.yaml"

CLIENTS = 16
SUBMISSIONS_PER_CLIENT = 15
#: The kill comes once this share of all submissions is acknowledged (and a post is on its way);
#: another comes at the next share if the first cut off no post (then it proved nothing).
KILL_AT = (0.4, 0.6, 0.8)
#: The whole burst, kills and restarts included, must be over by then (it takes 10-25 s; the
#: margin is for a machine busy with other work).
BURST_SECONDS = 90
REQUEST_TIMEOUT = 10
#: Every this many submissions, the first post is sent and the connection closed at once: its
#: answer is lost while the server may well store it, so the retry must be a no-op.
HANG_UP_EVERY = 10
#: …and the resident taps 提交 again this long after (time for the server to get to the first).
HANG_UP_PAUSE = 1.0


# -- the clients -------------------------------------------------------------------------------

@dataclass
class Attempt:
    """One POST of a filled-in form."""

    submission_id: str
    start: float
    #: The wall clock at the start, to compare with the server's submitted_at (same machine).
    wall: float = field(default_factory=time.time)
    end: float = 0.0
    #: The HTTP status, or 0 when no answer came (refused, reset, timed out).
    status: int = 0
    error: str | None = None


@dataclass
class Burst:
    """What the clients share: what was sent, what was acknowledged, what went wrong."""

    port: int
    definition: SurveyDefinition
    campaign_id: int
    community_id: int
    site_token: str
    total: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    deadline: float = 0.0
    #: submission id → the answer rows its client sent: {(item, value, number, text)}
    sent: dict[str, frozenset] = field(default_factory=dict)
    acknowledged: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    posts_in_flight: int = 0
    post_retries: int = 0
    get_retries: int = 0
    server_errors: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def acks(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)
        self.stop.set()


class HungUp(Exception):
    """The client closed the connection without waiting for the answer."""


def client_address(n: int) -> str:
    """Client n's address, as the proxy in front (TRUSTED_PROXIES=1) reports it: each client its
    own, as residents' phones are, so the per-address submit limit is not what is tested."""
    return f"10.{n}.0.1"


def _http(port: int, method: str, path: str, cookies: dict[str, str], body: str | None = None, *,
          client: int, hang_up: bool = False):
    """One request on a fresh connection (sync workers close each one anyway); keeps the cookies.
    ``hang_up``: send it and close at once, like a phone losing its signal (raises HungUp)."""
    headers = {"X-Forwarded-For": client_address(client)}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, path, body=body.encode() if body is not None else None, headers=headers)
        if hang_up:
            raise HungUp
        response = conn.getresponse()
        data = response.read()
        for raw in response.headers.get_all("Set-Cookie") or ():
            name, _, value = raw.partition(";")[0].partition("=")
            cookies[name.strip()] = value.strip()
        return response.status, response.headers.get("Location", ""), data.decode("utf-8", "replace")
    finally:
        conn.close()


def fill_in(definition: SurveyDefinition, rng: random.Random, note: str) -> tuple[list[tuple[str, str]], frozenset]:
    """A resident's valid answers: the posted (name, value) pairs and the answer rows they must
    become. Items hidden by their show_if are left out; optional ones sometimes skipped."""
    posted: list[tuple[str, str]] = []
    rows = set()
    given: dict[str, str | list[str] | None] = {}
    hidden: set[str] = set()
    for item in definition.items:
        cond = item.show_if
        if cond is not None and (cond.item in hidden or not cond.holds(given.get(cond.item))):
            hidden.add(item.key)
            continue
        value: str | list[str] | None = None
        if item.required or rng.random() < 0.7:
            if item.type in ("likert", "single"):
                value = rng.choice(item.choices).code
            elif item.type == "multiple":
                exclusive = [c.code for c in item.choices if c.exclusive]
                others = [c.code for c in item.choices if not c.exclusive]
                if exclusive and rng.random() < 0.2:
                    value = [rng.choice(exclusive)]
                else:
                    value = rng.sample(others, rng.randint(1, min(3, item.max_choices or 3, len(others))))
            elif item.type == "number":
                value = str(rng.randint(int(item.min or 0), int(item.max if item.max is not None else 100)))
            elif item.type == "text":
                value = f"希望社区多办些活动（{note}）"
        given[item.key] = value
        if value is None:
            continue
        posted += [(item.key, v) for v in value] if isinstance(value, list) else [(item.key, value)]
        for code, number, text in ITEM_TYPES[item.type].encode_value(item, value):
            rows.add((item.key, code, number, text))
    return posted, frozenset(rows)


def run_client(burst: Burst, n: int) -> None:
    """One phone after another (fresh cookies each): open the form, fill it in, post it until acknowledged."""
    try:
        _submit_all(burst, n)
    except BaseException:  # noqa: BLE001 - reported by the test, not lost in the thread
        burst.fail(f"client {n} crashed:\n{traceback.format_exc()}")


def _submit_all(burst: Burst, n: int) -> None:
    rng = random.Random(2026 + n)
    for k in range(SUBMISSIONS_PER_CLIENT):
        cookies: dict[str, str] = {}
        page = _open_form(burst, cookies, n)
        if page is None:
            return
        submission = read_submission_token(SECRET_KEY, page.submission, burst.campaign_id, 3600)
        if submission is None:
            burst.fail(f"client {n}: the form's submission token does not read back")
            return
        posted, rows = fill_in(burst.definition, rng, f"{n}-{k}")
        body = urlencode([("csrf_token", page.csrf_token), ("submission", page.submission), *posted])
        with burst.lock:
            burst.sent[submission.id] = rows
        hang_up = (n * SUBMISSIONS_PER_CLIENT + k) % HANG_UP_EVERY == 0
        if not _post_until_acknowledged(burst, n, page.action, body, submission.id, cookies, hang_up):
            return


def _pause(tries: int) -> None:
    time.sleep(min(0.5, 0.02 * 2 ** tries) * random.uniform(0.5, 1.0))


def _open_form(burst: Burst, cookies: dict[str, str], n: int):
    path = f"/s/{burst.site_token}"
    tries = 0
    while not burst.stop.is_set():
        if time.monotonic() > burst.deadline:
            burst.fail(f"GET {path}: no form before the deadline")
            return None
        try:
            status, _, html = _http(burst.port, "GET", path, cookies, client=n)
        except (OSError, http.client.HTTPException):
            status, html = 0, ""
        if status == 200:
            return parse_form(status, html)
        if status and status < 500:
            burst.fail(f"GET {path} answered {status}: {html[:300]}")
            return None
        if status:
            with burst.lock:
                burst.server_errors[f"GET {status}"] += 1
        with burst.lock:
            burst.get_retries += 1
        tries += 1
        _pause(tries)
    return None


def _post_until_acknowledged(burst: Burst, n: int, action: str, body: str, sid: str, cookies: dict[str, str],
                             hang_up: bool) -> bool:
    """POST the form until a 303 to the thank-you page; False if that cannot be (the test fails).
    ``hang_up``: the first try is sent and not waited for (its answer lost, its work maybe done)."""
    tries = 0
    while not burst.stop.is_set():
        if time.monotonic() > burst.deadline:
            burst.fail(f"client {n}: submission {sid} not acknowledged before the deadline")
            return False
        attempt = Attempt(sid, time.monotonic())
        with burst.lock:
            burst.posts_in_flight += 1
        try:
            attempt.status, location, text = _http(burst.port, "POST", action, cookies, body, client=n,
                                                   hang_up=hang_up and tries == 0)
        except (OSError, http.client.HTTPException, HungUp) as e:
            attempt.error, location, text = type(e).__name__, "", ""
        attempt.end = time.monotonic()
        with burst.lock:
            burst.posts_in_flight -= 1
            burst.attempts.append(attempt)
        if attempt.status == 303:
            if f"/s/{burst.site_token}/thanks" not in location:
                burst.fail(f"client {n}: 303 to {location!r}, not the thank-you page")
                return False
            with burst.lock:
                burst.acknowledged.append(sid)
            return True
        if 0 < attempt.status < 500:
            words = re.sub(r"\s+", " ", text)[:400]
            burst.fail(f"client {n}: POST answered {attempt.status}: {words}")
            return False
        with burst.lock:
            burst.post_retries += 1
            if attempt.status:
                burst.server_errors[f"POST {attempt.status}"] += 1
        tries += 1
        if attempt.error == "HungUp":
            time.sleep(HANG_UP_PAUSE)
        else:
            _pause(tries)
    return False


# -- the database --------------------------------------------------------------------------------

def prepare(url: str):
    """Migrate the fresh database and open a campaign of the Kunming questionnaire at one site,
    one response per phone OFF (every client's submissions count). Returns the app and the setup."""
    from flask_migrate import upgrade

    from app.models import CommunityKind, RegionLevel
    from app.models.types import utcnow
    from app.staff.operations import add_region, add_site, create_campaign, sync_survey

    app = create_app({"TESTING": True, "SECRET_KEY": SECRET_KEY, "SQLALCHEMY_DATABASE_URI": database_url(url, ""),
                      "SURVEYS_DIR": str(ROOT / "surveys")})
    definition = load_survey_file(SURVEY_FILE)
    with app.app_context():
        said = io.StringIO()
        try:
            with contextlib.redirect_stderr(said):  # Alembic's log lines, shown only if it fails
                upgrade()
        except BaseException:
            print(said.getvalue())
            raise
        district = add_region("D1", "五华区", RegionLevel.DISTRICT)
        street = add_region("S1", "华山街道", RegionLevel.STREET, district)
        community = add_region("C1", "翠湖社区", RegionLevel.COMMUNITY, street, households=3000,
                               kind=CommunityKind.URBAN)
        site = add_site(community, "社区综合文化服务中心")
        now = utcnow()
        campaign = create_campaign("停电演练", sync_survey(definition).version, {community: 400},
                                   opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=1),
                                   one_response_per_device=False)
        db.session.commit()
        setup = (campaign.id, community.id, site.token)
        db.session.remove()
        db.engine.dispose()
    return app, definition, setup


def stored_submissions(app, submission_ids) -> set[str]:
    from app.models import Response
    with app.app_context():
        try:
            return set(db.session.scalars(sa.select(Response.submission_id)
                                          .where(Response.submission_id.in_(list(submission_ids)))))
        finally:
            db.session.remove()
            db.engine.dispose()


# -- the test ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_server_killed_mid_burst_loses_nothing_and_doubles_nothing(backend, tmp_path):
    if backend == "postgresql" and not TEST_DATABASE_URL:
        reason = "TEST_DATABASE_URL is not set, so the kill is NOT tried on PostgreSQL (make test sets it)"
        print(f"\n{reason}")
        pytest.skip(reason)
    began = time.monotonic()
    with throwaway_database(backend, tmp_path, TEST_DATABASE_URL) as database:
        app, definition, (campaign_id, community_id, site_token) = prepare(database.url)
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FLASK_APP")}
        env.update(DATABASE_URL=database.url, SECRET_KEY=SECRET_KEY, BASE_URL="http://127.0.0.1",
                   PYTHONPATH=str(ROOT), MEETING_PUSH="off", TRUSTED_PROXIES="1")
        # SQLite: sync workers, as one writer at a time asks; PostgreSQL: gevent, as in production.
        worker_class = "sync" if backend == "sqlite" else "gevent"
        server = LiveServer(env, tmp_path / "gunicorn.log", workers=2, worker_class=worker_class)
        burst = Burst(server.port, definition, campaign_id, community_id, site_token,
                      total=CLIENTS * SUBMISSIONS_PER_CLIENT)
        clients = [threading.Thread(target=run_client, args=(burst, n), name=f"client-{n}") for n in range(CLIENTS)]
        kills = []  # (time of the kill, write transactions open just before, what was stored once all were dead)
        probe = database.write_probe()
        try:
            server.start()
            server.wait_ready()
            burst.deadline = time.monotonic() + BURST_SECONDS
            burst_began = time.monotonic()
            for client in clients:
                client.start()
            for share in KILL_AT:
                if kills and _cut_off(burst, kills[-1][0]):
                    break
                # A post on its way, so the kill lands in a request, not between two.
                while not burst.stop.is_set() and (burst.acks() < share * burst.total or burst.posts_in_flight < 2):
                    if not any(c.is_alive() for c in clients):
                        break
                    time.sleep(0.002)
                if burst.stop.is_set() or not any(c.is_alive() for c in clients):
                    break
                writers = _aim(probe, clients)
                killed_at = time.monotonic()
                server.kill()
                down = time.monotonic()
                # Every process is dead, so the database holds now what it held at the kill.
                with burst.lock:
                    sent_before = set(burst.sent)
                stored = stored_submissions(app, sent_before)
                server.start()
                server.wait_ready()
                kills.append((killed_at, writers, stored, time.monotonic() - down))
            for client in clients:
                client.join(timeout=max(1.0, burst.deadline - time.monotonic() + REQUEST_TIMEOUT))
            burst_seconds = time.monotonic() - burst_began
        finally:
            burst.stop.set()
            for client in clients:
                client.join(timeout=REQUEST_TIMEOUT + 5)
            server.stop()
            probe.close()
        log = server.log_text()

        report = _report(burst, kills)
        print(f"\n[{backend}, gunicorn {worker_class} × 2] {report['text']}; burst {burst_seconds:.1f} s, "
              f"test {time.monotonic() - began:.1f} s")
        assert not burst.failures, "\n".join(burst.failures[:10]) + "\n--- server log ---\n" + log[-3000:]
        assert not any(c.is_alive() for c in clients)
        assert kills, "the burst ended before the server could be killed: make it bigger"
        assert report["cut_off"] >= 1 and burst.post_retries >= 1, \
            "no post was cut off by the kill, so nothing was proved"

        submitted_at = _check_database(app, burst)
        # A hung-up post that the server stored all the same: its retry came later and stored nothing.
        stored_first = 0
        for sid, tries in _attempts_by_submission(burst).items():
            if tries[0].error == "HungUp" and submitted_at[sid] < tries[1].wall:
                stored_first += 1
        print(f"hung-up posts stored by their first try, their retries no-ops: {stored_first}")
        assert stored_first >= 1, "no retry met a submission stored already, so idempotence was not tried"
        # The killed server's last words may be anything; the restarted ones must have had no errors.
        after_restart = log.split(f"--- start {server.starts} ---")[-1]
        assert "Traceback" not in after_restart, after_restart[-3000:]


def _aim(probe, clients, seconds: float = 3.0) -> int:
    """Wait (a little) for a transaction storing a response to be open, so the kill cuts it
    off mid-way; returns how many were open at the last look."""
    until = time.monotonic() + seconds
    writers = probe.writers()
    while not writers and time.monotonic() < until and any(c.is_alive() for c in clients):
        time.sleep(0.001)
        writers = probe.writers()
    return writers


def _attempts_by_submission(burst: Burst) -> dict[str, list[Attempt]]:
    found: dict[str, list[Attempt]] = {}
    for attempt in sorted(burst.attempts, key=lambda a: a.start):
        found.setdefault(attempt.submission_id, []).append(attempt)
    return found


def _cut_off(burst: Burst, killed_at: float) -> int:
    """Posts on their way at the kill that got no answer."""
    with burst.lock:
        return sum(1 for a in burst.attempts if a.start < killed_at < a.end and a.status == 0 and a.error != "HungUp")


def _report(burst: Burst, kills) -> dict:
    parts = [f"{len(burst.acknowledged)}/{burst.total} acknowledged by {CLIENTS} clients"]
    cut_total = 0
    for i, (killed_at, writers, stored, downtime) in enumerate(kills, start=1):
        in_flight = [a for a in burst.attempts if a.start < killed_at < a.end and a.error != "HungUp"]
        cut = [a for a in in_flight if a.status == 0]
        answered = len(in_flight) - len(cut)
        committed = sum(1 for a in cut if a.submission_id in stored)
        cut_total += len(cut)
        parts.append(f"kill {i} at {sum(1 for a in burst.attempts if a.status == 303 and a.end < killed_at)} acks: "
                     f"{len(in_flight)} posts in flight ({answered} answered anyway, {len(cut)} cut off: "
                     f"{committed} of them stored before the kill, {len(cut) - committed} not), "
                     f"{writers} transaction(s) storing a response open just before; "
                     f"down {downtime:.1f} s")
    hung_up = sum(1 for a in burst.attempts if a.error == "HungUp")
    parts.append(f"{hung_up} posts hung up on after sending; {burst.post_retries} posts sent again in all, "
                 f"{burst.get_retries} form loads again"
                 + (f", 5xx: {dict(burst.server_errors)}" if burst.server_errors else ""))
    return {"text": "; ".join(parts), "cut_off": cut_total}


def _check_database(app, burst: Burst) -> dict[str, float]:
    """Every check of what is stored; returns each stored submission's submitted_at (a Unix time)."""
    from app.evaluation import tallies
    from app.models import Answer, AnswerTally, Response

    with app.app_context():
        try:
            copies = dict(db.session.execute(
                sa.select(Response.submission_id, sa.func.count()).where(Response.campaign_id == burst.campaign_id)
                .group_by(Response.submission_id)).all())
            acknowledged = set(burst.acknowledged)
            assert len(acknowledged) == len(burst.acknowledged) == burst.total
            lost = acknowledged - copies.keys()
            assert not lost, f"{len(lost)} acknowledged submissions are not stored"
            twice = {sid: n for sid, n in copies.items() if n != 1}
            assert not twice, f"submissions stored more than once: {twice}"
            never_sent = copies.keys() - burst.sent.keys()
            assert not never_sent, f"stored, but never sent by any client: {never_sent}"

            stored_rows: dict[str, set] = {sid: set() for sid in copies}
            for sid, item, value, number, text in db.session.execute(
                    sa.select(Response.submission_id, Answer.item, Answer.value, Answer.number, Answer.text)
                    .join(Answer, Answer.response_id == Response.id)
                    .where(Response.campaign_id == burst.campaign_id)):
                stored_rows[sid].add((item, value, number, text))
            wrong = {sid: (len(rows), len(burst.sent[sid])) for sid, rows in stored_rows.items()
                     if rows != burst.sent[sid]}
            assert not wrong, f"responses whose stored answers differ from those sent (stored, sent): {wrong}"
            assert sum(len(rows) for rows in stored_rows.values()) == db.session.scalar(
                sa.select(sa.func.count()).select_from(Answer).where(Answer.campaign_id == burst.campaign_id))

            # The tallies: the app's own check against the answers, and a count of what the clients sent.
            assert tallies.differences(burst.campaign_id) == []
            sent_counts = Counter((item, value) for sid in acknowledged for item, value, _, _ in burst.sent[sid])
            tallied = {(item, value): n for item, value, n in db.session.execute(
                sa.select(AnswerTally.item, AnswerTally.value, AnswerTally.n)
                .where(AnswerTally.campaign_id == burst.campaign_id, AnswerTally.community_id == burst.community_id))
                if n}
            assert tallied == dict(sent_counts)

            return {sid: (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
                    for sid, at in db.session.execute(sa.select(Response.submission_id, Response.submitted_at)
                                                      .where(Response.campaign_id == burst.campaign_id))}
        finally:
            db.session.remove()
            db.engine.dispose()
