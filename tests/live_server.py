"""A real gunicorn serving the app against a throwaway database, for tests that need real
processes (killed, restarted) rather than the test client.

The server runs in a process group of its own (a new session), so the test can SIGKILL the
master and every worker at once, as a power cut or the OOM killer would, and can always
clean up everything it started.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from app.config import database_url

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        # fields[0] is the state, fields[2] the process group.
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


class LiveServer:
    """``gunicorn wsgi:app`` on 127.0.0.1:port; start it, kill it, start it again on the same port."""

    def __init__(self, env: dict[str, str], log_path: Path, *, port: int | None = None, workers: int = 2,
                 worker_class: str = "sync"):
        self.port = port or free_port()
        self.env = env
        self.log_path = log_path
        self.command = [str(GUNICORN), "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                        "--worker-class", worker_class, "--log-level", "warning", "--timeout", "30",
                        "--graceful-timeout", "5"]
        if worker_class == "gevent":
            self.command += ["--worker-connections", "200"]
        self.command += ["wsgi:app"]
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        """Start gunicorn in a new session (its own process group); returns at once."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("the server is running already")
        self.starts += 1
        with open(self.log_path, "a") as log:
            log.write(f"--- start {self.starts} ---\n")
            log.flush()
            self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout: float = 30) -> None:
        """Until GET /healthz answers 200; raises if gunicorn exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")

    def kill(self, timeout: float = 10) -> None:
        """SIGKILL the master and all its workers at once, and wait until every one is dead
        (its sockets closed, its transactions cut off where they were)."""
        pgid = self.proc.pid  # a new session: the group is the master's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.proc.wait(timeout=timeout)
        self._wait_group_gone(pgid, timeout)

    def stop(self) -> None:
        """Stop the server if it runs (gently, then by force); safe to call in any state."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.terminate()  # our master, by its pid: it stops its workers
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if _group_members(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)  # the group we started: workers left behind, or a stuck master
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._wait_group_gone(pgid, 10)

    @staticmethod
    def _wait_group_gone(pgid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while _group_members(pgid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes of group {pgid} still alive: {_group_members(pgid)}")
            time.sleep(0.02)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]


# -- throwaway databases -------------------------------------------------------------------

class ThrowawayDatabase:
    """A SQLite file in ``folder``, or a PostgreSQL database made on the server that
    ``admin_url`` names and dropped by ``drop`` (with FORCE: killed workers' sessions may linger)."""

    def __init__(self, kind: str, folder: Path, admin_url: str = ""):
        self.kind = kind
        self.name = f"minyi_durability_{uuid.uuid4().hex[:10]}"
        self._admin_url = sa.engine.make_url(database_url(admin_url, "")) if kind == "postgresql" else None
        self._folder = folder
        self.url = ""

    def _admin(self):
        import psycopg
        conninfo = self._admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)

    def create(self) -> str:
        if self.kind == "sqlite":
            self.url = f"sqlite:///{self._folder / 'durability.sqlite3'}"
        else:
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = self._admin_url.set(drivername="postgresql", database=self.name).render_as_string(
                hide_password=False)
        return self.url

    def write_probe(self) -> WriteProbe:
        return WriteProbe(self)

    def drop(self) -> None:
        if self.kind == "postgresql" and self.url:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@contextlib.contextmanager
def throwaway_database(kind: str, folder: Path, admin_url: str = "") -> Iterator[ThrowawayDatabase]:
    database = ThrowawayDatabase(kind, folder, admin_url)
    try:
        database.create()
        yield database
    finally:
        database.drop()


class WriteProbe:
    """Whether the server is in the middle of storing a response, seen from outside, so a
    kill can be aimed at an open write transaction rather than land between two.

    PostgreSQL: sessions inside a transaction whose last statement inserted into responses,
    answers or answer_tallies. SQLite: whether its one write lock is taken (a writer has begun
    and not committed), tried with BEGIN IMMEDIATE without waiting.
    """

    def __init__(self, database: ThrowawayDatabase):
        self.database = database
        if database.kind == "postgresql":
            self._conn = database._admin()
        else:
            import sqlite3
            path = sa.engine.make_url(database.url).database
            self._conn = sqlite3.connect(path, timeout=0, isolation_level=None)

    def writers(self) -> int:
        """How many transactions are storing a response now (SQLite: 0 or 1)."""
        if self.database.kind == "postgresql":
            return self._conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND xact_start IS NOT NULL "
                "AND query ~* '^\\s*INSERT INTO (responses|answers|answer_tallies)\\M'",
                (self.database.name,)).fetchone()[0]
        import sqlite3
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if "locked" in str(e):
                return 1
            raise
        self._conn.execute("ROLLBACK")
        return 0

    def close(self) -> None:
        self._conn.close()
