"""坝坝会 live polling under load: residents voting from their phones while the big screen counts.

The requirement: 500 residents voting in one meeting, and 20 meetings at once, on a 2-core
machine: every vote counted once, the big screen still within 2 seconds. This script proves
it (or shows by how much it does not) against the real server, in one run:

1. makes a throwaway database (PostgreSQL by default, dropped at the end even on failure;
   ``--database sqlite`` uses a temporary file), migrates it, and adds a district, a street,
   communities, a staff account and, per scenario, meetings with one open question each;
2. starts gunicorn (``wsgi:app``) on a free 127.0.0.1 port with that database, once with
   ``REDIS_URL`` set (phones' state cached in Redis) and once without;
3. drives it with asyncio/aiohttp clients that behave like static/js/live.js: each resident
   (its own cookies) opens /m/<code>; where the page offers push (gevent workers with Redis)
   it holds the event stream /m/<code>/events open to the end of the window, else it polls
   /m/<code>/state.json with If-None-Match every 3 s ± 25 % (the next poll timed from the end
   of the last, as the page does); it votes at a random moment of the voting window as the
   page's script does (POST /m/<code>/vote; a 200 means counted) and sends the same vote
   again (a retry after a lost answer: must be 409); one logged-in big screen per meeting
   polls /meetings/<id>/state.json every second and records the phone count it shows;
4. checks the database afterwards: exactly the acknowledged votes are stored (same phone,
   same answer), every second tap refused, no 5xx; and the screen lag (the k-th acknowledged
   vote is seen when the screen first shows k phone votes) against the 2-second target;
5. measures what each kind of request costs the server (CPU of the gunicorn workers and
   their PostgreSQL backends, a few hundred requests of each kind on the idle server), so
   a miss can be traced to the request that eats the CPU.

Scenarios: (a) 1 meeting × 500 residents; (b) 20 meetings × 500 residents at once.

    .venv/bin/pip install -e '.[test,bench]'      # aiohttp, the client (not in `make install`)
    .venv/bin/python bench/meeting_load.py         # both scenarios, Redis on and off, PostgreSQL
    .venv/bin/python bench/meeting_load.py --scenario a --redis on --database sqlite

Exit status 1 if any check fails (correctness or the 2-second target), 2 on a setup error.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import errno
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    import aiohttp
except ImportError:  # pragma: no cover - a hint, not a feature
    sys.exit("bench/meeting_load.py needs aiohttp: .venv/bin/pip install -e '.[test,bench]'")

BIN = Path(sys.executable).parent
PASSWORD = "bench-password-2026"
TARGET_LAG_S = 2.0
RESETS = {errno.ECONNRESET, errno.EPIPE}


# -- small helpers ---------------------------------------------------------------------

_stopping = False


def stop(*_) -> None:
    """SIGTERM and Ctrl-C (also when started in the background, where SIGINT is ignored): cancel
    the clients, or interrupt the setup; the finally blocks stop gunicorn and drop the database."""
    global _stopping
    again, _stopping = _stopping, True
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise KeyboardInterrupt from None
    if again:
        raise KeyboardInterrupt
    for task in asyncio.all_tasks(loop):
        task.cancel()


def check_stop() -> None:
    """Between steps: a stop that came while a step was ending (and so was lost) still stops."""
    if _stopping:
        raise KeyboardInterrupt

def now() -> float:
    return time.monotonic()


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of a list (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def say(*parts) -> None:
    print(*parts, flush=True)


_INPUT = re.compile(r"<input\b[^>]*>", re.I)
_VALUE = re.compile(r'\bvalue="([^"]*)"')
_OPTION = re.compile(r'<button\b[^>]*\bname="option"[^>]*\bvalue="([^"]*)"', re.I)


def hidden_inputs(html: str) -> dict[str, str]:
    found = {}
    for tag in _INPUT.findall(html):
        name = re.search(r'\bname="([^"]*)"', tag)
        value = _VALUE.search(tag)
        if name and value:
            found[name.group(1)] = value.group(1)
    return found


def take_cookies(jar: dict[str, str], headers) -> None:
    """Keep a response's cookies in a plain dict (one per resident: cheaper than a CookieJar each)."""
    for raw in headers.getall("Set-Cookie", ()):
        pair, _, attributes = raw.partition(";")
        name, _, value = pair.strip().partition("=")
        attributes = attributes.lower()
        if "max-age=0" in attributes or "expires=thu, 01 jan 1970" in attributes:
            jar.pop(name, None)
        else:
            jar[name] = value.strip('"')


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, all cores."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


# -- the database, and the server's processes (bench/ is on sys.path when a script runs) ---------

from processes import children_of, process_cpu  # noqa: E402
from throwaway_db import Database, upgrade_quietly  # noqa: E402


# -- setting up meetings in-process ---------------------------------------------------------

@dataclass
class Meet:
    id: int
    code: str
    question_id: int
    options: list[str]
    #: (time the screen's answer arrived, phone votes it showed)
    screen: list[tuple[float, int]] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)


class Setup:
    """The application in this process, for making meetings and reading the votes back."""

    def __init__(self, db_url: str, secret: str, communities: int):
        os.environ.pop("REDIS_URL", None)  # staff writes here need no cache; the server gets its own env
        os.environ.update(DATABASE_URL=db_url, SECRET_KEY=secret, BASE_URL="http://127.0.0.1")
        from app import create_app
        self.app = create_app()
        self.secret = secret
        self.n = 0
        with self.app.app_context():
            upgrade_quietly()
            from app.extensions import db
            from app.models import CommunityKind, RegionLevel, Role
            from app.staff.operations import add_region, create_account
            district = add_region("BD1", "压测区", RegionLevel.DISTRICT)
            street = add_region("BS1", "压测街道", RegionLevel.STREET, district)
            for i in range(communities):
                add_region(f"BC{i + 1:03d}", f"压测社区{i + 1}", RegionLevel.COMMUNITY, street,
                           households=3000, kind=CommunityKind.URBAN)
            create_account("bench", "压测大屏", PASSWORD, Role.ADMIN, district)
            db.session.commit()
            db.engine.dispose()

    def meetings(self, count: int, attendance: int, label: str) -> list[Meet]:
        from app.extensions import db
        from app.meetings import operations as ops
        from app.models import QuestionKind, Region, RegionLevel
        from app.models.types import utcnow
        import sqlalchemy as sa
        made = []
        with self.app.app_context():
            communities = db.session.scalars(sa.select(Region).where(Region.level == RegionLevel.COMMUNITY)
                                             .order_by(Region.code)).all()
            for i in range(count):
                self.n += 1
                meeting = ops.create_meeting(communities[i % len(communities)], f"压测 {label} 第{i + 1}场",
                                             "小区中心广场", utcnow(), attendance=attendance)
                question = ops.add_question(meeting, QuestionKind.SATISFACTION, "您对老旧小区改造方案满意吗？")
                ops.show_question(meeting, 1)
                ops.open_voting(question, utcnow())
                made.append((meeting, question))
            db.session.commit()
            result = [Meet(m.id, m.join_code, q.id, list(q.codes)) for m, q in made]
            db.engine.dispose()
        return result

    def stored_votes(self, question_ids: list[int]) -> list[tuple[int, str, str]]:
        from app.extensions import db
        from app.models import MeetingVote
        import sqlalchemy as sa
        with self.app.app_context():
            rows = db.session.execute(sa.select(MeetingVote.question_id, MeetingVote.device_hash, MeetingVote.option)
                                      .where(MeetingVote.question_id.in_(question_ids))).all()
            db.engine.dispose()
        return [tuple(r) for r in rows]

    def device_hash(self, device_cookie: str | None) -> str | None:
        from app.resident import operations as resident_ops
        device = resident_ops.read_device(self.secret, device_cookie)
        return None if device.is_new else resident_ops.device_hash(self.secret, device.id)


# -- the server ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Paths of the staff pool where one runs apart (--staff-workers): the big screens and staff pages.
STAFF_PATHS = ("/staff/", "/meetings/")


class Server:
    def __init__(self, args, env: dict[str, str], log_path: Path, *, workers: int | None = None,
                 worker_class: str | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        worker_class = worker_class or args.worker_class
        command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers or args.workers),
                   "--worker-class", worker_class, "--log-level", "warning"]
        if worker_class == "gthread":
            command += ["--threads", str(args.threads)]
        if worker_class == "gevent":
            command += ["--worker-connections", str(args.worker_connections)]
        command += ["wsgi:app"]
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = now() + timeout
        async with aiohttp.ClientSession() as s:
            while now() < deadline:
                check_stop()
                if self.proc.poll() is not None:
                    raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log_path}:\n"
                                       + self.log_path.read_text()[-3000:])
                try:
                    async with s.get(self.base + "/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s")

    def pids(self) -> list[int]:
        return [self.proc.pid] + children_of(self.proc.pid)

    def problems(self) -> tuple[Counter, list[str]]:
        """What went wrong in the server's log, and the first lines of it (the log is deleted at the end)."""
        text = self.log_path.read_text(errors="replace")
        found = Counter({"tracebacks": text.count("Traceback (most recent call last)"),
                         "worker timeouts": text.count("WORKER TIMEOUT"),
                         "errors": len(re.findall(r"\[ERROR\]", text))})
        excerpt = [line for line in text.splitlines() if line.strip()][:12] if any(found.values()) else []
        return found, excerpt

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # our own gunicorn master, by its pid; it stops its workers
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the process group we started
                self.proc.wait()
        self.log.close()


class CpuMeter:
    """CPU seconds spent by the server's processes (gunicorn master and workers, and the
    PostgreSQL backends of the bench database) between two readings."""

    def __init__(self, servers: list[Server], database: Database):
        self.servers, self.database = servers, database

    def read(self) -> dict:
        gunicorn = {pid: process_cpu(pid) for server in self.servers for pid in server.pids()}
        postgres = {pid: process_cpu(pid) for pid in self.database.backend_pids()}
        return {"gunicorn": {p: t for p, t in gunicorn.items() if t is not None},
                "postgres": {p: t for p, t in postgres.items() if t is not None},
                "machine": machine_ticks(), "at": now()}

    @staticmethod
    def delta(before: dict, after: dict) -> dict:
        def part(name):
            return sum(t - before[name].get(p, 0) for p, t in after[name].items())
        busy = after["machine"][0] - before["machine"][0]
        total = after["machine"][1] - before["machine"][1]
        return {"gunicorn": part("gunicorn"), "postgres": part("postgres"),
                "machine_busy": busy / total if total else 0.0, "seconds": after["at"] - before["at"]}


# -- the clients ---------------------------------------------------------------------------------

@dataclass
class Call:
    kind: str
    start: float
    end: float
    status: int  # 0: no answer (connection error, timeout)


@dataclass
class Resident:
    meet: Meet
    join_at: float
    vote_offset: float
    cookies: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    version: str | None = None
    events_url: str | None = None
    vote_url: str | None = None
    pushed: int = 0  # states received on the event stream
    resend: bool = False  # sends its vote a second time
    option: str | None = None
    vote_status: int | None = None
    tap_status: int | None = None
    acked_at: float | None = None


class Load:
    """One scenario run: residents and screens against one server."""

    def __init__(self, args, base: str, staff_base: str, meets: list[Meet], residents: int, rng: random.Random,
                 meter: CpuMeter):
        self.args, self.base, self.staff_base, self.meets, self.rng, self.meter = args, base, staff_base, meets, rng, meter
        self.calls: list[Call] = []
        self.errors: Counter = Counter()
        self.residents = [Resident(m, rng.uniform(0, args.join_seconds), rng.uniform(0, args.window),
                                   resend=rng.random() < args.resend)
                          for m in meets for _ in range(residents)]
        self.settled = 0  # residents whose join ended (well or not)
        self.voted = 0  # residents whose vote (and second tap) ended, or who never joined
        self.all_joined = asyncio.Event()
        self.window_over = asyncio.Event()
        self.votes_done = asyncio.Event()
        self.t_start = self.t0 = self.t_end = self.t_votes_done = None
        self.cpu_window: dict | None = None
        self.client_cpu_window = 0.0
        self.retried = 0  # requests sent again after the server closed a kept-alive connection

    async def call(self, session, kind: str, method: str, path: str, *, jar=None, headers=None, data=None):
        headers = dict(headers or {})
        if jar:
            headers["Cookie"] = cookie_header(jar)
        start = now()
        for attempt in (1, 2):
            try:
                base = self.staff_base if path.startswith(STAFF_PATHS) else self.base
                async with session.request(method, base + path, headers=headers, data=data,
                                           allow_redirects=False) as r:
                    body = await r.read()
                    status = r.status
                    if jar is not None:
                        take_cookies(jar, r.headers)
                    etag = r.headers.get("ETag")
                break
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as e:
                # A kept-alive connection the server closed just as it was reused (the screens
                # keep theirs): a browser sends the request again on a new one, and so do we, once.
                if attempt == 1 and (isinstance(e, aiohttp.ServerDisconnectedError) or e.errno in RESETS):
                    self.retried += 1
                    continue
                self.errors[f"{kind}: {type(e).__name__}"] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                self.errors[f"{kind}: {type(e).__name__}"] += 1
            body, status, etag = b"", 0, None
            break
        end = now()
        self.calls.append(Call(kind, start, end, status))
        return status, body, etag, end

    # residents
    async def resident(self, phones, r: Resident) -> None:
        await asyncio.sleep(r.join_at)
        for _attempt in range(3):  # a page that does not come is reloaded
            status, body, _, _ = await self.call(phones, "join", "GET", f"/m/{r.meet.code}", jar=r.cookies)
            if status == 200:
                break
        r.form = hidden_inputs(body.decode("utf-8", "replace")) if status == 200 else {}
        options = _OPTION.findall(body.decode("utf-8", "replace")) if status == 200 else []
        joined = "csrf_token" in r.form and "question" in r.form and bool(options)
        if not joined:
            self.errors[f"join: no vote form (status {status})"] += 1
        r.option = self.rng.choice(options) if options else None
        page = body.decode("utf-8", "replace")
        m = re.search(r'data-version="([^"]*)"', page)
        r.version = m.group(1) if m else None
        m = re.search(r'data-events-url="([^"]*)"', page)
        r.events_url = m.group(1) if m else None
        m = re.search(r'data-vote-url="([^"]*)"', page)
        r.vote_url = m.group(1) if m else None
        poller = None
        if joined:
            # Joined means listening: the page and, where push is offered, its stream's first
            # state, so the voting window starts on a server done with the joins.
            listening = asyncio.Event()
            poller = asyncio.create_task(self.listen_phone(r, listening) if r.events_url
                                         else self.poll_phone(phones, r))
            if r.events_url:
                await asyncio.wait({asyncio.create_task(listening.wait()), poller},
                                   return_when=asyncio.FIRST_COMPLETED)
        self.settled += 1
        if self.settled == len(self.residents):
            self.t0 = now()
            self.all_joined.set()
        if not joined:
            self._voted()
            return
        await self.all_joined.wait()
        await asyncio.sleep(max(0.0, self.t0 + r.vote_offset - now()))
        vote = {"csrf_token": r.form["csrf_token"], "question": r.form["question"], "option": r.option}
        path, json_answer = (r.vote_url, {"Accept": "application/json"}) if r.vote_url else (f"/m/{r.meet.code}", None)
        ok = 200 if r.vote_url else 303
        r.vote_status, _, _, end = await self.call(phones, "vote", "POST", path, jar=r.cookies, data=vote,
                                                   headers=json_answer)
        # The same vote sent again, by a share of the phones (--resend) and by every phone that
        # got no answer: the page's buttons are off while a vote is on its way, so a double tap
        # sends one request; a second comes from a tap after a lost answer. It must count nothing.
        if r.vote_status != ok or r.resend:
            r.tap_status, _, _, tap_end = await self.call(phones, "tap", "POST", path, jar=r.cookies, data=vote,
                                                          headers=json_answer)
        if r.vote_status == ok or r.tap_status == ok:
            r.acked_at = end if r.vote_status == ok else tap_end
            r.meet.acks.append(r.acked_at)
        self._voted()
        await poller

    def _voted(self) -> None:
        self.voted += 1
        if self.voted == len(self.residents):
            self.t_votes_done = now()
            self.votes_done.set()

    async def listen_phone(self, r: Resident, listening: asyncio.Event) -> None:
        """Hold the page's event stream open to the end of the window, as EventSource does;
        ``listening`` is set at the first state (or when the page falls back to polling)."""
        start = now()
        try:
            async with self.streams.get(self.base + r.events_url, headers={
                    "Cookie": cookie_header(r.cookies), "Accept": "text/event-stream"}) as answer:
                self.calls.append(Call("stream open", start, now(), answer.status))
                if answer.status == 204:  # push not offered here (now): the page polls instead
                    listening.set()
                    await self.poll_phone(self.phones, r)
                    return
                if answer.status != 200:
                    self.errors[f"stream open: status {answer.status}"] += 1
                    return

                async def read():
                    async for line in answer.content:
                        if line.startswith(b"data: "):
                            r.pushed += 1
                            listening.set()
                reader = asyncio.create_task(read())
                ended = asyncio.create_task(self.window_over.wait())
                await asyncio.wait({reader, ended}, return_when=asyncio.FIRST_COMPLETED)
                if not ended.done():
                    self.errors["stream ended before the window did"] += 1
                    ended.cancel()
                reader.cancel()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            self.calls.append(Call("stream open", start, now(), 0))
            self.errors[f"stream: {type(e).__name__}"] += 1

    async def poll_phone(self, phones, r: Resident) -> None:
        interval = self.args.phone_poll
        while True:
            await asyncio.sleep(interval * (0.75 + self.rng.random() * 0.5))
            if self.window_over.is_set():
                return
            headers = {"If-None-Match": f'"{r.version}"'} if r.version else {}
            status, body, etag, _ = await self.call(phones, "phone poll", "GET", f"/m/{r.meet.code}/state.json",
                                                    jar=r.cookies, headers=headers)
            if status == 200 and etag:
                r.version = etag.strip('"')

    # big screens
    async def login(self, session) -> dict[str, str]:
        jar: dict[str, str] = {}
        status, body, _, _ = await self.call(session, "login", "GET", "/staff/login", jar=jar)
        token = hidden_inputs(body.decode("utf-8", "replace")).get("csrf_token")
        status, _, _, _ = await self.call(session, "login", "POST", "/staff/login", jar=jar, data={
            "csrf_token": token or "", "username": "bench", "password": PASSWORD})
        if status != 303:
            raise RuntimeError(f"staff login answered {status}, not 303")
        return jar

    async def screen(self, session, meet: Meet, jar: dict[str, str]) -> None:
        version, phones, deadline = None, 0, None
        while True:
            asked = now()
            headers = {"If-None-Match": f'"{version}"'} if version else {}
            status, body, _, end = await self.call(session, "screen poll", "GET", f"/meetings/{meet.id}/state.json",
                                                   jar=jar, headers=headers)
            if status == 200:
                state = json.loads(body)
                version, phones = state["version"], state["question"]["phones"]
            if status in (200, 304):
                meet.screen.append((end, phones))
            if self.votes_done.is_set():
                deadline = deadline or now() + self.args.tail
                if phones >= len(meet.acks) or now() > deadline:
                    return
            # Like the page: the next poll a second after this one was sent, however long it took.
            await asyncio.sleep(max(0.0, asked + self.args.screen_poll - now()))

    async def window_timer(self) -> None:
        await self.all_joined.wait()
        before, client_before = self.meter.read(), time.process_time()
        await asyncio.sleep(max(0.0, self.t0 + self.args.window - now()))
        self.cpu_window = CpuMeter.delta(before, self.meter.read())
        self.client_cpu_window = time.process_time() - client_before
        self.window_over.set()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.args.timeout)
        # Phones: a new connection for each request (a phone asks every 2¼ s or more, longer than
        # gunicorn keeps a connection open), at most --connections at once; the requests beyond
        # wait their turn, as they would in the server's listen queue. Screens keep theirs alive.
        phone_conn = aiohttp.TCPConnector(limit=self.args.connections, force_close=True)
        screen_conn = aiohttp.TCPConnector(limit=0)
        # Event streams: one held connection per phone, for as long as the window lasts.
        stream_conn = aiohttp.TCPConnector(limit=0, force_close=True)
        stream_timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.args.timeout, sock_read=None)
        async with aiohttp.ClientSession(connector=phone_conn, cookie_jar=aiohttp.DummyCookieJar(),
                                         timeout=timeout) as phones, \
                aiohttp.ClientSession(connector=screen_conn, cookie_jar=aiohttp.DummyCookieJar(),
                                      timeout=timeout) as screens, \
                aiohttp.ClientSession(connector=stream_conn, cookie_jar=aiohttp.DummyCookieJar(),
                                      timeout=stream_timeout) as self.streams:
            self.phones = phones
            jars = [await self.login(screens) for _ in self.meets]
            self.t_start = now()
            screen_tasks = [asyncio.create_task(self.screen(screens, m, j)) for m, j in zip(self.meets, jars)]
            timer = asyncio.create_task(self.window_timer())
            await asyncio.gather(*(self.resident(phones, r) for r in self.residents))
            await timer
            await asyncio.gather(*screen_tasks)
            self.t_end = now()


# -- measuring each request's cost on the idle server ---------------------------------------------

async def profile(base: str, staff_base: str, meet: Meet, screen_jar: dict[str, str], meter: CpuMeter, n: int,
                  concurrency: int = 8) -> dict[str, float]:
    """Server CPU milliseconds per request of each kind, from n requests of it at a time."""
    results = {}
    timeout = aiohttp.ClientTimeout(total=60)
    # Connections as in the run: a new one per phone request, screens' kept alive.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=concurrency, force_close=True)) as s, \
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout,
                                  connector=aiohttp.TCPConnector(limit=concurrency)) as kept:
        async def fetch(method, path, jar=None, headers=None, data=None):
            headers = dict(headers or {})
            if jar is not None:
                headers["Cookie"] = cookie_header(jar)
            session = kept if path.startswith("/meetings/") else s
            async with session.request(method, (staff_base if path.startswith(STAFF_PATHS) else base) + path, headers=headers, data=data,
                                       allow_redirects=False) as r:
                body = await r.read()
                if jar is not None:
                    take_cookies(jar, r.headers)
                return r.status, body, r.headers.get("ETag")

        rounds, per_round = 3, max(1, n // 3)
        samples: dict[str, list[tuple[float, float]]] = {}
        statuses: dict[str, Counter] = {}

        async def measure(kind, make_request, first):
            before = meter.read()
            answers = await asyncio.gather(*(make_request(first + i) for i in range(per_round)))
            d = CpuMeter.delta(before, meter.read())
            samples.setdefault(kind, []).append(((d["gunicorn"] + d["postgres"]) / per_round,
                                                 d["postgres"] / per_round))
            statuses.setdefault(kind, Counter()).update(answers)

        jars = [dict() for _ in range(rounds * per_round)]
        forms = [None] * (rounds * per_round)

        async def join(i):
            status, body, _ = await fetch("GET", f"/m/{meet.code}", jar=jars[i])
            forms[i] = hidden_inputs(body.decode("utf-8", "replace"))
            return status

        async def vote(i):
            f = forms[i]
            return (await fetch("POST", f"/m/{meet.code}/vote", jar=jars[i], headers={"Accept": "application/json"},
                                data={"csrf_token": f.get("csrf_token", ""), "question": f.get("question", ""),
                                      "option": meet.options[i % len(meet.options)]}))[0]

        async def stream_open(i):
            # Open the event stream, read the first state, hang up: what each phone costs once.
            async with s.get(base + f"/m/{meet.code}/events", headers={"Cookie": cookie_header(jars[i])}) as r:
                if r.status == 200:
                    await r.content.readuntil(b"\n\n")  # the retry field and the first state
                return r.status

        async def tap(i):
            return await vote(i)

        _, _, phone_etag = await fetch("GET", f"/m/{meet.code}/state.json")
        _, _, screen_etag = await fetch("GET", f"/meetings/{meet.id}/state.json", jar=dict(screen_jar))

        async def phone_poll(i):
            return (await fetch("GET", f"/m/{meet.code}/state.json", jar=jars[i],
                                headers={"If-None-Match": phone_etag}))[0]

        async def screen_poll(i):
            return (await fetch("GET", f"/meetings/{meet.id}/state.json", jar=dict(screen_jar),
                                headers={"If-None-Match": screen_etag}))[0]

        async def screen_full(i):
            return (await fetch("GET", f"/meetings/{meet.id}/state.json", jar=dict(screen_jar)))[0]

        async def health(i):
            return (await fetch("GET", "/healthz"))[0]

        await asyncio.gather(*(health(i) for i in range(per_round)))  # every worker awake, connected, warm
        # Rounds of each kind in turn, and the median round: other work on a shared machine
        # disturbs a round now and then.
        for r in range(rounds):
            first = r * per_round
            await measure("healthz (SELECT 1)", health, first)
            await measure("phone poll (304)", phone_poll, first)
            await measure("resident page GET", join, first)
            await measure("event stream open", stream_open, first)
            await measure("vote (200)", vote, first)
            await measure("second tap (409)", tap, first)
            await measure("screen poll (304)", screen_poll, first)
            await measure("screen poll (200)", screen_full, first)
    for kind, found in samples.items():
        middle = sorted(found)[len(found) // 2]
        results[kind] = (middle[0], middle[1], dict(statuses[kind]))
    return results


# -- one scenario run -----------------------------------------------------------------------------

@dataclass
class Outcome:
    scenario: str
    redis: bool
    meetings: int
    residents: int
    row: dict
    checks: list[tuple[str, bool, str]]
    costs: dict


def lags(meets: list[Meet]) -> tuple[list[float], int]:
    """Each acknowledged vote's wait until the screen showed it; and how many it never showed."""
    found, unseen = [], 0
    for m in meets:
        times = [t for t, _ in m.screen]
        shown = [p for _, p in m.screen]  # never decreases: votes are only added
        for k, acked in enumerate(sorted(m.acks), start=1):
            i = bisect.bisect_left(shown, k)
            if i == len(shown):
                unseen += 1
            else:
                found.append(max(0.0, times[i] - acked))
    return found, unseen


def run_scenario(args, setup: Setup, database: Database, scenario: str, meetings: int, residents: int,
                 redis: bool, run_dir: Path, seed: int) -> Outcome:
    check_stop()
    label = f"{scenario}{'-redis' if redis else ''}"
    say(f"\n== scenario {scenario}: {meetings} meeting{'s' if meetings > 1 else ''} × {residents} residents, "
        f"Redis {'on' if redis else 'off'} ==")
    t_setup = now()
    meets = setup.meetings(meetings + 1, residents, label)
    meets, profile_meet = meets[:meetings], meets[meetings]
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=database.url, SECRET_KEY=setup.secret, BASE_URL="http://127.0.0.1")
    if redis:
        env["REDIS_URL"] = args.redis_url
    server = Server(args, env, run_dir / f"gunicorn-{label}.log")
    servers = [server]
    if args.staff_workers:
        servers.append(Server(args, env, run_dir / f"gunicorn-{label}-staff.log", workers=args.staff_workers,
                              worker_class="sync"))
    staff = servers[-1]
    try:
        for s in servers:
            asyncio.run(s.wait_ready())
        check_stop()
        meter = CpuMeter(servers, database)
        say(f"server up at {server.base} after {now() - t_setup:.1f} s (setup included)"
            + (f"; staff and big screens on their own pool at {staff.base}" if staff is not server else ""))
        load = Load(args, server.base, staff.base, meets, residents, random.Random(seed), meter)
        cpu0 = time.process_time()
        asyncio.run(load.run())
        check_stop()
        client_cpu = time.process_time() - cpu0
        costs = {}
        if args.profile:
            async def do_profile():
                async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
                    jar = await load.login(s)
                return await profile(server.base, staff.base, profile_meet, jar, meter, args.profile)
            costs = asyncio.run(do_profile())
            check_stop()
        problems, problems_excerpt = server.problems()
        if staff is not server:
            staff_problems, staff_excerpt = staff.problems()
            problems.update(staff_problems)
            problems_excerpt += staff_excerpt
    finally:
        for s in servers:
            s.stop()

    # -- figures
    by_kind: dict[str, list[Call]] = {}
    for c in load.calls:
        by_kind.setdefault(c.kind, []).append(c)
    statuses = {k: Counter(c.status for c in v) for k, v in by_kind.items()}
    five_xx = sum(1 for c in load.calls if c.status >= 500)
    no_answer = sum(1 for c in load.calls if c.status == 0)
    t0, window_end = load.t0, load.t0 + args.window
    phone_polls = [c for c in by_kind.get("phone poll", []) if t0 <= c.start < window_end]
    screen_polls = [c for c in by_kind.get("screen poll", []) if c.start >= t0]
    votes = by_kind.get("vote", [])
    joins = by_kind.get("join", [])
    lag, unseen = lags(meets)
    joined = [r for r in load.residents if r.option is not None]
    acked = [r for r in load.residents if r.acked_at is not None]
    first_acked = [r for r in acked if r.vote_status == 200]
    listened = [r for r in joined if r.events_url]
    resent = [r for r in first_acked if r.tap_status is not None]
    taps_refused = sum(1 for r in resent if r.tap_status == 409)
    # The database against what the phones were told: a 303 must be stored, once, with its answer;
    # a vote that got no answer at all (both posts unanswered) may or may not be stored.
    stored = setup.stored_votes([m.question_id for m in meets])
    rows_by_phone = Counter((q, h) for q, h, _ in stored)
    stored_option = {(q, h): o for q, h, o in stored}
    phone_of = {id(r): (r.meet.question_id, setup.device_hash(r.cookies.get("minyi_device"))) for r in joined}
    lost = sum(1 for r in acked if stored_option.get(phone_of[id(r)]) != r.option)
    twice = sum(n - 1 for n in rows_by_phone.values() if n > 1)
    strangers = len(set(rows_by_phone) - set(phone_of.values()))
    unanswered_votes = [r for r in joined if r.acked_at is None]
    unanswered_stored = sum(1 for r in unanswered_votes if phone_of[id(r)] in stored_option)
    per_question_ok = all(sum(1 for q, _, _ in stored if q == m.question_id) == len(m.acks) for m in meets)
    final_shown = {m.id: (m.screen[-1][1] if m.screen else 0) for m in meets}

    lat = lambda calls, p: pct([c.end - c.start for c in calls], p)  # noqa: E731
    say(f"joined {len(joined)}/{len(load.residents)} in {t0 - load.t_start:.1f} s (page GET p50 {ms(lat(joins, 50))} ms, "
        f"p99 {ms(lat(joins, 99))} ms); voting window {args.window:g} s; last vote answered "
        f"{load.t_votes_done - t0:.1f} s after its start, screens done at {load.t_end - t0:.1f} s")
    if listened:
        say(f"phones on the event stream: {len(listened)}/{len(joined)}, each got "
            f"{min(r.pushed for r in listened)}–{max(r.pushed for r in listened)} state(s) pushed")
    say("responses: " + "; ".join(f"{k} " + " ".join(f"{s or 'none'}×{n}" for s, n in sorted(v.items()))
                                  for k, v in statuses.items()))
    if load.retried:
        say(f"sent again on a new connection after the server closed a kept-alive one (as browsers do): "
            f"{load.retried}")
    if load.errors:
        say("client-side failures: " + "; ".join(f"{k} ×{n}" for k, n in load.errors.most_common()))
    if any(problems.values()):
        say("server log: " + ", ".join(f"{k} {n}" for k, n in problems.items() if n))
        for line in problems_excerpt:
            say("  | " + line)
    w = load.cpu_window
    server_cores = (w["gunicorn"] + w["postgres"]) / w["seconds"]
    client_cores = load.client_cpu_window / w["seconds"]
    busy_cores = w["machine_busy"] * (os.cpu_count() or 1)
    say(f"voting window: server {w['gunicorn']:.1f} s CPU gunicorn + {w['postgres']:.1f} s PostgreSQL "
        f"= {server_cores:.2f} cores; client {client_cores:.2f} cores; machine busy {busy_cores:.2f} of "
        f"{os.cpu_count()} cores, so other work took {max(0.0, busy_cores - server_cores - client_cores):.2f}")

    checks = [
        ("every resident's vote acknowledged (200)", len(acked) == len(load.residents),
         f"{len(acked)}/{len(load.residents)}"
         + (f"; {len(unanswered_votes)} got no answer ({unanswered_stored} of them stored nonetheless)"
            if unanswered_votes else "")),
        ("votes stored per question = votes acknowledged", per_question_ok and len(stored) == len(acked),
         f"stored {len(stored)}, acknowledged {len(acked)}"),
        ("no acknowledged vote lost, none counted twice", lost == 0 and twice == 0 and strangers == 0,
         f"{lost} lost or changed, {twice} twice, {strangers} from unknown phones"),
        ("every vote sent again after a 200 refused (409)", taps_refused == len(resent),
         f"{taps_refused}/{len(resent)}"),
        ("no 5xx", five_xx == 0, f"{five_xx}"),
        ("every request answered (none timed out or refused)", no_answer == 0, f"{no_answer} unanswered"),
        ("screens end showing every stored vote", sum(final_shown.values()) == len(stored),
         f"shown {sum(final_shown.values())}, stored {len(stored)}"),
        (f"screen lag max < {TARGET_LAG_S:g} s, every vote seen", unseen == 0 and bool(lag) and max(lag) < TARGET_LAG_S,
         f"max {secs(max(lag) if lag else None)} s" + (f", {unseen} never shown" if unseen else "")),
    ]
    for name, ok, detail in checks:
        say(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")

    row = {
        "acked": len(acked), "stored": len(stored), "dups": taps_refused, "5xx": five_xx,
        "vote50": lat(votes, 50), "vote99": lat(votes, 99),
        "poll_rps": len(phone_polls) / args.window, "poll50": lat(phone_polls, 50), "poll99": lat(phone_polls, 99),
        "screen50": lat(screen_polls, 50), "screen99": lat(screen_polls, 99),
        "lag50": pct(lag, 50), "lag99": pct(lag, 99), "lagmax": max(lag) if lag else None,
        "client_cpu": client_cpu, "wall": now() - t_setup, "server_cores": server_cores,
        "pushed": len(listened),
    }
    return Outcome(scenario, redis, meetings, residents, row, checks, costs)


# -- report ----------------------------------------------------------------------------------------

def print_report(outcomes: list[Outcome], args) -> None:
    threads = f" --threads {args.threads}" if args.worker_class == "gthread" else ""
    say(f"\n== summary: gunicorn --workers {args.workers} --worker-class {args.worker_class}{threads}; "
        "latencies in ms, lag in s; phone polls inside the voting window ==")
    head = (f"{'scen':<4} {'redis':<5} {'resid':>6} {'acked':>6} {'stored':>6} {'dup409':>6} {'5xx':>4} "
            f"{'vote p50/p99':>13} {'poll/s':>6} {'poll p50/p99':>13} {'screen p50/p99':>14} "
            f"{'lag p50/p99/max':>16} {'srv cores':>9} {'cli CPU':>7} {'wall s':>6}")
    say(head)
    say("-" * len(head))
    for o in outcomes:
        r = o.row
        say(f"{o.scenario:<4} {'on' if o.redis else 'off':<5} {o.meetings * o.residents:>6} {r['acked']:>6} "
            f"{r['stored']:>6} {r['dups']:>6} {r['5xx']:>4} {ms(r['vote50']) + '/' + ms(r['vote99']):>13} "
            f"{r['poll_rps']:>6.0f} {ms(r['poll50']) + '/' + ms(r['poll99']):>13} "
            f"{ms(r['screen50']) + '/' + ms(r['screen99']):>14} "
            f"{secs(r['lag50']) + '/' + secs(r['lag99']) + '/' + secs(r['lagmax']):>16} "
            f"{r['server_cores']:>9.2f} {r['client_cpu']:>7.1f} {r['wall']:>6.0f}")

    pairs = {}
    for o in outcomes:
        pairs.setdefault(o.scenario, {})[o.redis] = o
    for scenario, pair in pairs.items():
        if True in pair and False in pair:
            on, off = pair[True].row, pair[False].row

            def ratio(key):
                return f"{off[key] / on[key]:.2f}" if off[key] and on[key] else "-"
            say(f"scenario {scenario}, Redis off / on: phone poll p50 {ratio('poll50')}×, p99 {ratio('poll99')}×, "
                f"polls/s {ratio('poll_rps')}×; screen poll p50 {ratio('screen50')}×; "
                f"screen lag max {ratio('lagmax')}×")

    costed = [o for o in outcomes if o.costs]
    if costed:
        pg = args.database == "postgresql"
        say(f"\n== server CPU per request, ms{': all (of which in PostgreSQL)' if pg else ''}; after each run, 3 rounds of "
            f"{max(1, args.profile // 3)} of each kind, 8 at a time, the median round ==")
        kinds = list(costed[0].costs)
        say(f"{'request':<22}" + "".join(f"{o.scenario + (' redis on' if o.redis else ' redis off'):>16}"
                                         for o in costed))
        for kind in kinds:
            say(f"{kind:<22}" + "".join(f"{o.costs[kind][0] * 1000:>9.2f} ({o.costs[kind][1] * 1000:.2f})" if pg
                                        else f"{o.costs[kind][0] * 1000:>16.2f}" for o in costed))
        odd = [(o.scenario, k, v[2]) for o in costed for k, v in o.costs.items()
               if set(v[2]) - {200, 303, 304, 409}]
        for scenario, kind, statuses in odd:
            say(f"  note: {kind} in {scenario} answered {statuses}")
        say("\nwhat the voting window asks of the server at those costs (requests/s × ms = cores), "
            "against what it got:")
        for o in costed:
            phones = o.meetings * o.residents
            polls = 0 if o.row["pushed"] else phones / args.phone_poll
            asked = [("phone polls", polls, "phone poll (304)"),
                     ("votes", phones / args.window, "vote (200)"),
                     ("votes sent again", phones * args.resend / args.window, "second tap (409)"),
                     ("screen polls", o.meetings / args.screen_poll, "screen poll (200)")]
            need = [(name, rate, rate * o.costs[kind][0]) for name, rate, kind in asked]
            total = sum(cores for _, _, cores in need)
            say(f"  {o.scenario} Redis {'on ' if o.redis else 'off'}: {total:.2f} cores asked = "
                + " + ".join(f"{name} {rate:.0f}/s {cores:.2f}" for name, rate, cores in need)
                + f"; server got {o.row['server_cores']:.2f} cores, served {o.row['poll_rps']:.0f} polls/s")


# -- main ------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="an admin connection to the PostgreSQL server that makes (and drops) the throwaway database")
    parser.add_argument("--scenario", choices=["a", "b", "both"], default="both",
                        help="a: 1 meeting; b: --meetings at once")
    parser.add_argument("--meetings", type=int, default=20, help="meetings at once in scenario b")
    parser.add_argument("--residents", type=int, default=500, help="residents per meeting")
    parser.add_argument("--redis", choices=["default", "both", "on", "off"], default="default",
                        help="run each scenario with REDIS_URL set (on: phones' state pushed under gevent), "
                             "without (off: phones poll), or both; default: scenario a both ways, scenario b on "
                             "(20 × 500 polling is past this machine: see bench/README.md)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", choices=["gevent", "sync", "gthread"], default="gevent",
                        help="gunicorn worker class: gevent holds phones' event streams (push, with Redis); "
                             "sync and gthread cannot, so phones poll")
    parser.add_argument("--worker-connections", type=int, default=8000,
                        help="connections one gevent worker may hold (one per listening phone)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--staff-workers", type=int, default=2,
                        help="sync workers of a second gunicorn serving staff pages and big screens (/staff/, "
                             "/meetings/), as nginx would route them, so a crowd of phones cannot delay the "
                             "screens; 0: one server for all")
    parser.add_argument("--window", type=float, default=30, help="voting window, seconds")
    parser.add_argument("--join-seconds", type=float, default=60,
                        help="residents open the page spread over this many seconds; the window starts once all have "
                             "(a join costs the page and its event stream, ~8 ms of server CPU: 10,000 in 10 s is "
                             "past 2 cores, and requests the client gave up on would spill into the window)")
    parser.add_argument("--phone-poll", type=float, default=None, help="phone poll interval, s (default: the app's)")
    parser.add_argument("--screen-poll", type=float, default=None, help="screen poll interval, s (default: the app's)")
    parser.add_argument("--connections", type=int, default=1000, help="most connections the phones hold at once")
    parser.add_argument("--resend", type=float, default=0.1,
                        help="share of phones that send their vote a second time (must be refused); "
                             "phones whose vote got no answer always do")
    parser.add_argument("--timeout", type=float, default=60, help="a request not answered by then counts as failed")
    parser.add_argument("--tail", type=float, default=15,
                        help="after the last vote, screens poll at most this long to show every vote")
    parser.add_argument("--profile", type=int, default=300,
                        help="requests of each kind for the per-request server CPU (0: skip)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    from app.meetings.routes import PHONE_POLL_MS, SCREEN_POLL_MS
    args.phone_poll = args.phone_poll or PHONE_POLL_MS / 1000
    args.screen_poll = args.screen_poll or SCREEN_POLL_MS / 1000

    scenarios = {"a": [("a", 1)], "b": [("b", args.meetings)], "both": [("a", 1), ("b", args.meetings)]}[args.scenario]
    def redis_modes(scenario: str) -> list[bool]:
        if args.redis == "default":
            return [True, False] if scenario == "a" else [True]
        return {"both": [True, False], "on": [True], "off": [False]}[args.redis]

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    started = now()
    database = Database(args.database, args.pg_url)
    outcomes: list[Outcome] = []
    try:
        database.create()
        with tempfile.TemporaryDirectory(prefix="minyi-bench-logs-") as logs:
            setup = Setup(database.url, secrets.token_hex(32), max(args.meetings, 1))
            say(f"Minyi 坝坝会 load benchmark, {date.today().isoformat()}, {os.cpu_count()} cores, "
                f"load average {os.getloadavg()[0]:.2f} before start")
            say(f"database: {database.version} (throwaway, {database.kind})")
            threads = f", {args.threads} threads each" if args.worker_class == "gthread" else ""
            say(f"gunicorn: --workers {args.workers} --worker-class {args.worker_class}{threads}"
                + (f"; staff pages and big screens on a second gunicorn, --workers {args.staff_workers} sync"
                   if args.staff_workers else ""))
            say(f"phones poll every {args.phone_poll:g} s ± 25 %, screens every {args.screen_poll:g} s; "
                f"joins spread over {args.join_seconds:g} s, voting window {args.window:g} s; "
                "Redis runs: " + "; ".join(f"{scenario} " + ", ".join("on" if m else "off" for m in redis_modes(scenario))
                                           for scenario, _ in scenarios))
            for i, (scenario, meetings) in enumerate(scenarios):
                for j, redis in enumerate(redis_modes(scenario)):
                    outcomes.append(run_scenario(args, setup, database, scenario, meetings, args.residents, redis,
                                                 Path(logs), args.seed + 10 * i + j))
            print_report(outcomes, args)
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("interrupted")
        return 130
    except (RuntimeError, OSError) as e:
        import traceback
        say(f"setup failed: {type(e).__name__}: {e}")
        traceback.print_exc()
        return 2
    finally:
        try:
            database.drop()
        except Exception as e:  # noqa: BLE001 - report, never mask the run's own error
            say(f"could not drop the throwaway database {database.name}: {e}")
    failed = [(o.scenario, o.redis, name) for o in outcomes for name, ok, _ in o.checks if not ok]
    say(f"\n{'FAIL' if failed else 'PASS'}: {len(failed)} failed check(s) of "
        f"{sum(len(o.checks) for o in outcomes)}; total {now() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
