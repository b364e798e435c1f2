"""Configuration, migrations, health, commands and the survey-version rules."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import zxingcpp
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from PIL import Image

from app import config, create_app
from app.extensions import db
from app.models import Campaign, CampaignState, Site
from app.models.surveys import AnsweredVersionError
from app.staff.operations import sync_survey
from tests.conftest import ROOT
from tests.helpers import VALID, count_responses, open_form


# -- configuration ------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    (None, "sqlite:////inst/minyi.sqlite3"),
    ("", "sqlite:////inst/minyi.sqlite3"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
])
def test_database_url(raw, expected):
    assert config.database_url(raw, "/inst") == expected


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = config.load_secret_key(str(tmp_path))
    assert len(first) == 64 and first == config.load_secret_key(str(tmp_path))
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert config.load_secret_key(str(tmp_path)) == "from-the-environment"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'pragmas.sqlite3'}"})
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()


# -- migrations ---------------------------------------------------------------------

def test_migrations_match_the_models(app):
    """The database built by the migration chain has no drift from the models (flask db check)."""
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == []


def test_migrations_go_down_and_up_again(app, runner):
    from flask_migrate import downgrade, upgrade
    downgrade(revision="base")
    assert sa.inspect(db.engine).get_table_names() in ([], ["alembic_version"])
    upgrade()
    assert {"responses", "answers", "regions", "sites"} <= set(sa.inspect(db.engine).get_table_names())


# -- health -------------------------------------------------------------------------

def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_says_503_when_the_database_is_gone(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "error"


# -- campaigns and versions ---------------------------------------------------------

def test_campaign_state_is_derived_from_its_times(make):
    campaign = make.campaign(state="draft")
    t0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
    assert campaign.state_at(t0) is CampaignState.DRAFT
    campaign.opens_at, campaign.closes_at = t0, t0 + timedelta(days=10)
    assert campaign.state_at(t0 - timedelta(seconds=1)) is CampaignState.SCHEDULED
    assert campaign.state_at(t0) is CampaignState.OPEN
    assert campaign.state_at(t0 + timedelta(days=10)) is CampaignState.CLOSED


def test_timestamps_come_back_timezone_aware(make):
    campaign = make.campaign()
    db.session.commit()
    db.session.expire_all()
    reloaded = db.session.get(Campaign, campaign.id)
    assert reloaded.opens_at.tzinfo is not None and reloaded.opens_at.utcoffset() == timedelta(0)


def test_a_version_without_responses_is_updated_in_place(make):
    from tests.conftest import SMALL_SURVEY
    from app.definitions.loader import build_survey, load_scales
    scales = load_scales(ROOT / "surveys" / "scales.yaml")
    first = sync_survey(build_survey(dict(SMALL_SURVEY, id="v-test"), "<t>", scales))
    assert first.action == "created"
    again = sync_survey(build_survey(dict(SMALL_SURVEY, id="v-test"), "<t>", scales))
    assert again.action == "unchanged" and again.version is first.version
    changed = sync_survey(build_survey(dict(SMALL_SURVEY, id="v-test", title="改过的标题"), "<t>", scales))
    assert changed.action == "updated" and changed.version.number == 1
    assert changed.version.survey_definition.title == "改过的标题"


def test_a_version_with_responses_never_changes(client, make):
    from tests.conftest import SMALL_SURVEY
    from app.definitions.loader import build_survey, load_scales
    scales = load_scales(ROOT / "surveys" / "scales.yaml")
    version = sync_survey(build_survey(dict(SMALL_SURVEY, id="v-test"), "<t>", scales)).version
    site = make.site()
    make.campaign(version, [site.community])
    db.session.commit()
    page = open_form(client, f"/s/{site.token}")
    assert client.post(page.action, data=page.data(**VALID)).status_code == 303

    edited = sync_survey(build_survey(dict(SMALL_SURVEY, id="v-test", title="第二版"), "<t>", scales))
    assert edited.action == "new version" and edited.version.number == 2
    db.session.commit()
    db.session.refresh(version)
    assert version.survey_definition.title == "测试问卷"
    # Even code that bypasses sync_survey cannot change it.
    version.definition = dict(version.definition, title="偷偷改")
    with pytest.raises(AnsweredVersionError):
        db.session.commit()
    db.session.rollback()


# -- commands -----------------------------------------------------------------------

def test_sites_command_prints_one_line_per_site(runner, make, app):
    sites = [make.site(), make.site()]
    db.session.commit()
    result = runner.invoke(args=["sites"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    for site in sites:
        assert f"{site.token}\t{site.community.code}\t{site.community.name}\thttp://minyi.test/s/{site.token}" in lines[
            [line.split("\t")[0] for line in lines].index(site.token)]


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_qr_command_writes_a_code_of_the_site_url(runner, make, tmp_path, suffix):
    site = make.site()
    db.session.commit()
    out = tmp_path / f"poster.{suffix}"
    result = runner.invoke(args=["qr", site.token, "-o", str(out)])
    assert result.exit_code == 0, result.output
    if suffix == "png":
        decoded = zxingcpp.read_barcodes(Image.open(out))
        assert [d.text for d in decoded] == [f"http://minyi.test/s/{site.token}"]
    else:
        assert out.read_bytes().lstrip().startswith(b"<?xml") and b"<svg" in out.read_bytes()


def test_qr_command_refuses_an_unknown_token(runner, app):
    result = runner.invoke(args=["qr", "nope", "-o", "/tmp/x.png"])
    assert result.exit_code != 0 and "no site" in result.output


def test_demo_loads_a_district_and_is_idempotent(runner, app):
    result = runner.invoke(args=["demo", "--responses", "300"])
    assert result.exit_code == 0, result.output
    assert "89 communities" in result.output and "300 responses" in result.output
    n_sites = db.session.scalar(sa.select(sa.func.count(Site.id)))
    assert n_sites >= 89 * 2
    # Responses differ between communities: not every community has the same satisfaction.
    from app.models import Answer
    rates = db.session.execute(
        sa.select(Answer.community_id, sa.func.avg(sa.case((Answer.value.in_(["5", "4"]), 1.0), else_=0.0)))
        .where(Answer.item == "overall").group_by(Answer.community_id)
        .having(sa.func.count() >= 5)).all()
    assert len(rates) >= 5 and max(r for _, r in rates) - min(r for _, r in rates) > 0.2
    # A 坝坝会 ready to run in 翠湖社区, feeding the Kunming campaign.
    from app.models import Meeting
    meeting = db.session.scalars(sa.select(Meeting)).one()
    assert meeting.community.name == "翠湖社区" and meeting.campaign.survey_version.survey.key == "kunming-questionnaire"
    assert [q.kind.value for q in meeting.questions] == ["survey_item", "survey_item", "yes_no"]
    assert meeting.current_position == 1 and not any(q.voting_open for q in meeting.questions)
    again = runner.invoke(args=["demo", "--responses", "300"])
    assert again.exit_code == 0 and "already loaded" in again.output
    assert count_responses() == 300


# -- security headers ---------------------------------------------------------------

@pytest.mark.parametrize("path", ["/healthz", "/api/v1/campaigns", "/api/v1/openapi.yaml", "/s/unknown",
                                  "/static/css/resident.css"])
def test_every_response_carries_the_security_headers(client, path):
    with client.get(path) as response:
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_failed_statements_do_not_write_answers_to_the_log(app):
    """Residents' answers are parameters; the engine is told to keep them out of error messages."""
    with pytest.raises(sa.exc.DBAPIError) as caught:
        db.session.execute(sa.text("SELECT no_such_column FROM responses WHERE submission_id = :s"),
                           {"s": "秘密的回答"})
    db.session.rollback()
    assert "秘密的回答" not in str(caught.value)
    assert "hidden due to hide_parameters" in str(caught.value)


def test_upgrading_a_database_with_data_keeps_every_row(tmp_path):
    """Batch migrations rebuild SQLite tables; with foreign keys on, the DROP of the old table
    would cascade and delete child rows. Fill a database at the first revision, upgrade, count."""
    from flask_migrate import upgrade
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.sqlite3'}"})
    with app.app_context():
        upgrade(revision="0001")
        with db.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            run = conn.exec_driver_sql
            run("INSERT INTO regions (id, code, name, level) VALUES (1, 'D', '区', 'district')")
            run("INSERT INTO regions (id, code, name, level, parent_id) VALUES (2, 'S', '街道', 'street', 1)")
            run("INSERT INTO regions (id, code, name, level, parent_id, households, kind) "
                "VALUES (3, 'C', '社区', 'community', 2, 100, 'urban')")
            run("INSERT INTO surveys (id, key, title, created_at) VALUES (1, 's', '问卷', '2026-01-01 00:00:00')")
            run("INSERT INTO survey_versions (id, survey_id, number, definition, content_hash, created_at) "
                "VALUES (1, 1, 1, '{}', 'h', '2026-01-01 00:00:00')")
            run("INSERT INTO campaigns (id, name, survey_version_id, one_response_per_device, created_at) "
                "VALUES (1, '调查', 1, 1, '2026-01-01 00:00:00')")
            run("INSERT INTO campaign_communities (campaign_id, community_id, target_sample) VALUES (1, 3, 80)")
            for i in (1, 2):
                run(f"INSERT INTO responses (id, campaign_id, community_id, channel, submitted_at, submission_id, "
                    f"quality_flags) VALUES ({i}, 1, 3, 'qr', '2026-01-02 00:00:00', 'sub{i}', 0)")
                run(f"INSERT INTO answers (response_id, item, value, campaign_id, community_id) "
                    f"VALUES ({i}, 'q', '5', 1, 3)")
        upgrade()
        with db.engine.connect() as conn:
            counts = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                      for t in ("regions", "campaign_communities", "responses", "answers")}
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        db.engine.dispose()
    assert counts == {"regions": 3, "campaign_communities": 1, "responses": 2, "answers": 2}


def test_site_tokens_never_start_with_a_dash():
    """A token starting with "-" is read as an option by `flask qr` (it made a test flaky once)."""
    from app.models.regions import new_site_token
    tokens = [new_site_token() for _ in range(5000)]
    assert not any(t.startswith("-") for t in tokens)
    assert len(set(tokens)) == 5000 and all(len(t) == 22 for t in tokens)
