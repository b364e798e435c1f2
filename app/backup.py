"""Backups of the database while the app runs, and restoring one.

SQLite: the SQLite online-backup API copies the live file page by page into a consistent snapshot
(writers wait only for the moment a page is copied), and restoring copies a snapshot back the same
way. PostgreSQL: pg_dump's custom format (a consistent snapshot too) and pg_restore --clean; both
programs must match the server's major version.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa


class BackupError(RuntimeError):
    """A backup or restore that could not be made; the message says why, for the person at the console."""


def _libpq_url(url: sa.URL) -> str:
    # pg_dump and pg_restore read libpq URLs: no "+psycopg" driver suffix.
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client-<server major version>)")
    return found


def _sqlite_copy(source: str, target: str) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
        problems = dst.execute("PRAGMA integrity_check").fetchone()[0]
    if problems != "ok":
        raise BackupError(f"the copy in {target} failed SQLite's integrity check: {problems}")


def backup(url: sa.URL, path: Path) -> None:
    """A consistent copy of the database at ``url`` into ``path`` (which must not exist yet)."""
    if path.exists():
        raise BackupError(f"{path} exists already; name a new file")
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(url.database, str(path))
        return
    result = subprocess.run([_program("pg_dump"), "--format=custom", "--no-owner", f"--file={path}", _libpq_url(url)],
                            check=False, capture_output=True, text=True)
    if result.returncode != 0:
        path.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")


def restore(url: sa.URL, path: Path) -> None:
    """Replace the database at ``url`` with the backup in ``path``. Stop the app servers first: a
    restore takes the data back to the moment of the backup, and a request meanwhile would be lost."""
    if not path.is_file():
        raise BackupError(f"no backup file {path}")
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(str(path), url.database)
        return
    result = subprocess.run([_program("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
                             f"--dbname={_libpq_url(url)}", str(path)], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
