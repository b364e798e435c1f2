"""Fixtures: every test that touches the database runs on SQLite and, when
TEST_DATABASE_URL is set, again on a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from flask import g, has_app_context
from flask.testing import FlaskClient

from app import create_app
from app.config import database_url
from app.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])
ROOT = Path(__file__).resolve().parent.parent


def pytest_report_header(config):
    if TEST_DATABASE_URL:
        return f"databases: SQLite and PostgreSQL ({_redact(TEST_DATABASE_URL)})"
    return ("databases: SQLite only — TEST_DATABASE_URL is not set, so PostgreSQL is NOT exercised "
            "(make test sets it; see README)")


def _redact(url: str) -> str:
    return sa.engine.make_url(database_url(url, "")).render_as_string(hide_password=True)


def base_config(uri: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": uri,
        "BASE_URL": "http://minyi.test",
        "SURVEYS_DIR": str(ROOT / "surveys"),
        # Fast hashing for test accounts only; the application's default is scrypt.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


def _migrate(uri: str) -> None:
    from flask_migrate import upgrade
    app = create_app(base_config(uri))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A database migrated once to head; each test gets a copy."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database():
    """A fresh PostgreSQL database for this run, migrated to head, dropped at the end."""
    if not TEST_DATABASE_URL:
        yield None
        return
    import psycopg
    admin_url = sa.engine.make_url(database_url(TEST_DATABASE_URL, ""))
    name = f"minyi_test_{uuid.uuid4().hex[:10]}"
    conninfo = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as e:
        pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL does not answer: {e}\n"
                    "Start it, or run `make test TEST_DATABASE_URL=` for SQLite only.", returncode=3)
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    _migrate(url)
    yield url
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_uri(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
        yield url
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            tables = [t.name for t in db.metadata.sorted_tables]
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        engine.dispose()


class RequestScopedClient(FlaskClient):
    """A test client whose every request starts with an empty ``g``, as in production.

    The app fixture keeps an application context pushed (so tests can use db.session),
    and requests reuse it; without this, Flask-Login's current user and Flask-WTF's
    CSRF token would leak from one client's request into another's.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            vars(g).clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def app(database_uri):
    app = create_app(base_config(database_uri))
    app.test_client_class = RequestScopedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# -- factories ---------------------------------------------------------------------

class Factory:
    """Builds regions, sites, surveys and campaigns with sensible defaults, so a test
    states only what matters to it."""

    def __init__(self):
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def community(self, name: str | None = None, households: int = 2000, street=None):
        from app.models import CommunityKind, RegionLevel
        from app.staff.operations import add_region
        n = self._next()
        if street is None:
            district = add_region(f"D{n}", f"测试区{n}", RegionLevel.DISTRICT)
            street = add_region(f"S{n}", f"测试街道{n}", RegionLevel.STREET, district)
        community = add_region(f"C{n}", name or f"测试社区{n}", RegionLevel.COMMUNITY, street,
                               households=households, kind=CommunityKind.URBAN)
        db.session.flush()
        return community

    def site(self, community=None, name: str = "社区综合文化服务中心"):
        from app.staff.operations import add_site
        site = add_site(community or self.community(), name)
        db.session.flush()
        return site

    def version(self, definition: dict | str | None = None):
        """A survey version from an inline definition (YAML text or dict); default: a small one."""
        from app.definitions.loader import build_survey, load_scales
        from app.staff.operations import sync_survey
        raw = dict(yaml.safe_load(definition) if isinstance(definition, str) else (definition or SMALL_SURVEY))
        raw.setdefault("id", f"test-survey-{self._next()}")
        parsed = build_survey(raw, "<test>", load_scales(ROOT / "surveys" / "scales.yaml"))
        version = sync_survey(parsed).version
        db.session.flush()
        return version

    def campaign(self, version=None, communities=None, *, state: str = "open", one_per_device: bool = True,
                 target: int | None = 100, name: str = "测试调查"):
        from app.models.types import utcnow
        from app.staff.operations import create_campaign
        now = utcnow()
        opens, closes = {
            "open": (now - timedelta(days=1), now + timedelta(days=1)),
            "scheduled": (now + timedelta(days=1), now + timedelta(days=2)),
            "closed": (now - timedelta(days=2), now - timedelta(days=1)),
            "draft": (None, None),
        }[state]
        campaign = create_campaign(name, version or self.version(), {c: target for c in communities or []},
                                   opens_at=opens, closes_at=closes, one_response_per_device=one_per_device)
        db.session.flush()
        return campaign


SMALL_SURVEY_YAML = """
title: 测试问卷
intro: 这是测试。
sections:
  - title: 一、满意度
    items:
      - {key: sat, type: likert, scale: satisfaction5, text: 您对社区服务满意吗？, required: true, tags: ["test:sat"]}
      - {key: joined, type: single, text: 您参加过议事会吗？, required: true, tags: ["test:join"],
         options: [{code: "1", label: 参加过}, {code: "2", label: 没参加过}]}
      - {key: joined_sat, type: likert, scale: satisfaction5, text: 您对议事会满意吗？, required: true,
         tags: ["test:join"], show_if: {item: joined, equals: "1"}}
      - {key: channels, type: multiple, text: 您从哪里看到社区消息？, max_choices: 2, tags: ["test:media"],
         options: [{code: wechat, label: 微信群}, {code: board, label: 公开栏}, {code: meeting, label: 坝坝会}]}
      - {key: years, type: number, text: 您在本社区住了几年？, min: 0, max: 100, integer: true, unit: 年, tags: ["respondent:residence_years"]}
      - {key: advice, type: text, text: 您还有什么建议？, max_length: 2000, tags: ["test:advice"]}
"""

SMALL_SURVEY = yaml.safe_load(SMALL_SURVEY_YAML)


@pytest.fixture
def make(app) -> Factory:
    return Factory()


@pytest.fixture
def open_site(make):
    """A site whose community has one open campaign of the small survey."""
    site = make.site()
    campaign = make.campaign(communities=[site.community])
    db.session.commit()
    return site, campaign


@pytest.fixture
def logged_in(app):
    """A factory of clients logged in with an account of ``role`` (default: evaluator) rooted at ``region``."""
    from app.models import Role
    from app.staff.operations import create_account
    from tests.helpers import logged_in_client

    def client_for(region, role: Role | None = None, password: str = "correct horse battery"):
        role = role or Role.EVALUATOR
        username = f"user{region.id}{role.value}"
        create_account(username, "测试", password, role, region)
        db.session.commit()
        return logged_in_client(app, username, password)
    return client_for
