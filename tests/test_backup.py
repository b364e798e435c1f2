"""Backups while the app runs and a restore, on SQLite and PostgreSQL; /healthz with and without Redis."""

from __future__ import annotations

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Response
from tests.helpers import VALID, count_responses, open_form


def submit(client, token: str) -> None:
    form = open_form(client, f"/s/{token}")
    assert client.post(form.action, data=form.data(**VALID)).status_code == 303


def test_a_backup_taken_while_running_restores_exactly_what_it_held(app, runner, open_site, tmp_path):
    site, campaign = open_site
    token, campaign_id = site.token, campaign.id  # plain values: the restore replaces every row
    for _ in range(3):
        submit(app.test_client(), token)
    before = sorted(db.session.scalars(sa.select(Response.submission_id)))
    backup = tmp_path / "minyi.backup"
    result = runner.invoke(args=["backup", str(backup)])
    assert result.exit_code == 0, result.output
    assert backup.stat().st_size > 0
    # Work goes on after the backup: two more responses.
    for _ in range(2):
        submit(app.test_client(), token)
    assert count_responses(campaign_id) == 5
    db.session.remove()

    result = runner.invoke(args=["restore", str(backup), "--yes"])
    assert result.exit_code == 0, result.output
    assert sorted(db.session.scalars(sa.select(Response.submission_id))) == before
    # The restored database is a working one: the app takes the next response.
    submit(app.test_client(), token)
    assert count_responses(campaign_id) == 4


def test_backup_refuses_to_overwrite_and_restore_a_missing_file(runner, tmp_path):
    taken = tmp_path / "taken.backup"
    taken.write_bytes(b"keep me")
    result = runner.invoke(args=["backup", str(taken)])
    assert result.exit_code != 0 and "exists already" in result.output and taken.read_bytes() == b"keep me"
    result = runner.invoke(args=["restore", str(tmp_path / "none.backup"), "--yes"])
    assert result.exit_code != 0 and "no backup file" in result.output


def _app(tmp_path, redis_url):
    return create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/h.db",
                       "REDIS_URL": redis_url})


def test_healthz_checks_redis_where_it_is_configured(tmp_path):
    # The real Redis of this machine (.ci/run starts it), then a port where nothing listens.
    response = _app(tmp_path, "redis://127.0.0.1:6379/0").test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}
    response = _app(tmp_path, "redis://127.0.0.1:1/0").test_client().get("/healthz")
    body = response.get_json()
    assert response.status_code == 503 and body["status"] == "error" and body["database"] == "ok"
    assert body["redis"].startswith("unavailable")
