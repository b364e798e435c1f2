"""Logging in: passwords, disabled accounts, where to go next, and slowing down guessing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry
from tests.staff.conftest import PASSWORD, csrf_of, log_in


def test_a_right_password_logs_in_and_is_audited(client, world):
    response = log_in(client, "admin")
    assert response.status_code == 303 and response.headers["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "login"))
    assert entry.account.username == "admin"


@pytest.mark.parametrize("username, password", [("admin", "wrong password"), ("nobody", PASSWORD), ("ADMIN", PASSWORD)])
def test_a_wrong_name_or_password_is_refused_alike(client, world, username, password):
    response = log_in(client, username, password)
    assert response.status_code == 401
    assert "用户名或密码不对" in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


def test_a_disabled_account_cannot_log_in(client, world):
    world.accounts["street"].active = False
    db.session.commit()
    assert log_in(client, "street").status_code == 401


def test_a_disabled_account_loses_its_session(app, world):
    client = app.test_client()
    assert log_in(client, "street").status_code == 303
    world.accounts["street"].active = False
    db.session.commit()
    assert client.get("/staff/").status_code == 302


@pytest.mark.parametrize("next_url, lands", [
    ("/staff/campaigns/new", "/staff/campaigns/new"),
    ("https://evil.example/", "/staff/"),
    ("//evil.example/", "/staff/"),
    ("/staff//evil.example", "/staff/"),
    ("/s/abc", "/staff/"),
])
def test_next_only_leads_to_our_own_staff_pages(client, world, next_url, lands):
    response = client.post(f"/staff/login?next={next_url}", data={
        "csrf_token": csrf_of(client), "username": "admin", "password": PASSWORD})
    assert response.headers["Location"] == lands


def test_repeated_failed_logins_are_slowed_down(app, world):
    """The limit counts failures only; past it even the right password waits (429)."""
    app.config["LOGIN_FAILURE_LIMIT"] = "3 per minute"
    client = app.test_client()
    assert log_in(client, "admin").status_code == 303  # a success does not count
    client = app.test_client()
    statuses = [log_in(client, "admin", "guess %d" % i).status_code for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    blocked = log_in(client, "admin")
    assert blocked.status_code == 429 and "太频繁" in blocked.get_data(as_text=True)
    # Another client (another address) is not blocked.
    other = app.test_client()
    response = other.post("/staff/login", data={"csrf_token": csrf_of(other), "username": "admin",
                                                "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert response.status_code == 303


def test_the_session_cookie_is_httponly_and_lax(client, world):
    response = log_in(client, "admin")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout(client, world):
    log_in(client, "admin")
    assert client.post("/staff/logout", data={"csrf_token": csrf_of(client, "/staff/")}).status_code == 303
    assert client.get("/staff/").status_code == 302


def test_users_create_makes_an_account_that_can_log_in(app, runner, world, client):
    result = runner.invoke(args=["users", "create", "--username", "newadmin", "--name", "新管理员", "--role", "admin",
                                 "--region", "D1", "--password", "a long enough password"])
    assert result.exit_code == 0, result.output
    assert log_in(client, "newadmin", "a long enough password").status_code == 303


@pytest.mark.parametrize("args, words", [
    (["--role", "admin", "--region", "S1"], "belongs to a 区/县"),
    (["--role", "community", "--region", "D1"], "belongs to a 社区/村"),
    (["--role", "admin", "--region", "NOPE"], "no region with code NOPE"),
    (["--role", "admin", "--region", "D1", "--username", "admin"], "is taken"),
])
def test_users_create_refuses_a_bad_account(app, runner, world, args, words):
    base = {"--username": "x1", "--password": "a long enough password"}
    merged = args + [item for key, value in base.items() if key not in args for item in (key, value)]
    result = runner.invoke(args=["users", "create", *merged])
    assert result.exit_code != 0 and words in result.output


def test_users_create_refuses_a_short_password(app, runner, world):
    result = runner.invoke(args=["users", "create", "--username", "x2", "--role", "admin", "--region", "D1",
                                 "--password", "short"])
    assert result.exit_code != 0 and "at least 10 characters" in result.output
