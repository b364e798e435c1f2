"""A throwaway database for the benchmarks: PostgreSQL (created and dropped here) or a
temporary SQLite file. Shared by the bench scripts; nothing in the application uses it."""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import uuid

import sqlalchemy as sa


class Database:
    """A throwaway database: PostgreSQL (created and dropped here) or a temporary SQLite file."""

    def __init__(self, kind: str, admin_url: str):
        self.kind, self.admin_url = kind, admin_url
        self.name = f"minyi_bench_{uuid.uuid4().hex[:10]}"
        self.url = ""
        self.version = ""
        self._tmp: tempfile.TemporaryDirectory | None = None

    def _admin(self):
        import psycopg
        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5)

    def create(self) -> None:
        if self.kind == "sqlite":
            self._tmp = tempfile.TemporaryDirectory(prefix="minyi-bench-")
            self.url = f"sqlite:///{self._tmp.name}/bench.sqlite3"
            import sqlite3
            self.version = f"SQLite {sqlite3.sqlite_version}"
            return
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
            self.version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        self.version = f"PostgreSQL {self.version}"
        self.url = sa.engine.make_url(self.admin_url).set(database=self.name).render_as_string(hide_password=False)

    def backend_pids(self) -> list[int]:
        """The PostgreSQL server processes serving this database (the workers' connections)."""
        if self.kind == "sqlite":
            return []
        with self._admin() as conn:
            return [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.name,))]

    def drop(self) -> None:
        if self.kind == "sqlite":
            if self._tmp is not None:
                self._tmp.cleanup()
            return
        if self.url:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def upgrade_quietly() -> None:
    """Migrate the current app's database to the head; Alembic's log lines are shown only if it fails."""
    from flask_migrate import upgrade
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            upgrade()
    except BaseException:
        sys.stderr.write(said.getvalue())
        raise
