"""District admins manage their district's accounts in the browser; every change audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Account, AuditEntry, Role
from tests.staff.conftest import PASSWORD, csrf_of, log_in


def create(client, world, **fields):
    data = {"csrf_token": csrf_of(client, "/staff/"), "username": "newbie", "display_name": "新同事",
            "role": "community", "region": world.regions["C2"].id, "password": "a long enough password"}
    data.update(fields)
    return client.post("/staff/accounts", data=data)


def test_an_admin_creates_an_account_that_can_log_in(as_role, world, app):
    assert create(as_role("admin"), world).status_code == 303
    account = db.session.scalar(sa.select(Account).where(Account.username == "newbie"))
    assert (account.role, account.region.code, account.display_name) == (Role.COMMUNITY, "C2", "新同事")
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "account",
                                                          AuditEntry.object_id == str(account.id)))
    assert entry.action == "create" and entry.account.username == "admin"
    assert "password" not in str(entry.after) and "hash" not in str(entry.after)
    assert log_in(app.test_client(), "newbie", "a long enough password").status_code == 303


@pytest.mark.parametrize("fields, words", [
    ({"username": "street"}, "已经有人用了"),
    ({"role": "community", "region": "S1"}, "要选“社区/村”一级"),
    ({"role": "admin", "region": "C1"}, "要选“区/县”一级"),
    ({"password": "short"}, "密码至少 10 位"),
])
def test_a_bad_account_is_refused(as_role, world, fields, words):
    fields = dict(fields)  # the parameter is shared by the SQLite and PostgreSQL runs
    if "region" in fields:
        fields["region"] = world.regions[fields["region"]].id
    response = create(as_role("admin"), world, **fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and words in html
    assert db.session.scalar(sa.select(sa.func.count(Account.id))) == 5


def test_disabling_and_enabling_are_audited_and_take_effect(as_role, world, app):
    admin = as_role("admin")
    street_id = world.accounts["street"].id
    token = csrf_of(admin, "/staff/")
    assert admin.post(f"/staff/accounts/{street_id}/disable", data={"csrf_token": token}).status_code == 303
    assert log_in(app.test_client(), "street").status_code == 401
    admin.post(f"/staff/accounts/{street_id}/enable", data={"csrf_token": token})
    assert log_in(app.test_client(), "street").status_code == 303
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "account",
                                                             AuditEntry.object_id == str(street_id))
                                 .order_by(AuditEntry.id)).all()
    assert [(e.before["active"], e.after["active"]) for e in entries] == [(True, False), (False, True)]


def test_an_admin_cannot_disable_themselves(as_role, world):
    admin = as_role("admin")
    admin.post(f"/staff/accounts/{world.accounts['admin'].id}/disable", data={"csrf_token": csrf_of(admin, "/staff/")})
    db.session.expire_all()
    assert db.session.get(Account, world.accounts["admin"].id).active


def test_a_password_reset_works_and_its_entry_holds_no_secret(as_role, world, app):
    admin = as_role("admin")
    admin.post(f"/staff/accounts/{world.accounts['community'].id}/password",
               data={"csrf_token": csrf_of(admin, "/staff/"), "password": "another long password"})
    assert log_in(app.test_client(), "community", PASSWORD).status_code == 401
    assert log_in(app.test_client(), "community", "another long password").status_code == 303
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "account"))
    assert entry.after == {"password": "changed"}


@pytest.mark.parametrize("role, status", [("admin", 200), ("street", 403), ("community", 403), ("evaluator", 403),
                                          ("outsider", 200)])
def test_only_admins_manage_accounts(as_role, world, role, status):
    assert as_role(role).get("/staff/accounts").status_code == status


def test_an_admin_cannot_touch_another_districts_accounts(as_role, world):
    outsider = as_role("outsider")
    token = csrf_of(outsider, "/staff/")
    assert outsider.post(f"/staff/accounts/{world.accounts['street'].id}/disable",
                         data={"csrf_token": token}).status_code == 404
    assert "<td>street</td>" not in outsider.get("/staff/accounts").get_data(as_text=True)
    assert "<td>street</td>" in as_role("admin").get("/staff/accounts").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Account, world.accounts["street"].id).active


def test_a_region_outside_the_district_is_not_offered(as_role, world):
    response = create(as_role("admin"), world, region=world.regions["C4"].id)
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Account.id))) == 5


def test_a_password_reset_ends_the_accounts_other_sessions(app, as_role, world):
    from tests.staff.conftest import log_in
    street = as_role("street")
    assert street.get("/staff/").status_code == 200
    admin = as_role("admin")
    response = admin.post(f"/staff/accounts/{world.accounts['street'].id}/password",
                          data={"csrf_token": csrf_of(admin, "/staff/accounts"), "password": "a brand new secret"})
    assert response.status_code == 303
    # The session logged in with the old password is over …
    assert street.get("/staff/").status_code == 302
    # … and the new password works.
    fresh = app.test_client()
    assert log_in(fresh, "street", "a brand new secret").status_code == 303
    assert fresh.get("/staff/").status_code == 200


def test_resetting_ones_own_password_keeps_this_session(as_role, world):
    admin = as_role("admin")
    response = admin.post(f"/staff/accounts/{world.accounts['admin'].id}/password",
                          data={"csrf_token": csrf_of(admin, "/staff/accounts"), "password": "another long secret"})
    assert response.status_code == 303
    assert admin.get("/staff/").status_code == 200
