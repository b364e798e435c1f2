"""Sites after they are made: renamed (same QR code) and retired (the QR code says so), never deleted."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, Site
from tests.staff.conftest import csrf_of


def test_a_renamed_site_keeps_its_qr_code_and_the_change_is_audited(as_role, world):
    client = as_role("community")
    site = world.sites["site1"]
    token = site.token
    response = client.post(f"/staff/sites/{site.id}/name", data={"csrf_token": csrf_of(client, "/staff/"),
                                                                  "name": "  社区党群服务中心 "})
    assert response.status_code == 303
    assert "已改名为“社区党群服务中心”" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    site = db.session.get(Site, site.id)
    assert (site.name, site.token) == ("社区党群服务中心", token)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "site", AuditEntry.action == "edit"))
    assert entry.before == {"name": "文化中心"} and entry.after == {"name": "社区党群服务中心"}
    # An empty name is refused and changes nothing.
    client.post(f"/staff/sites/{site.id}/name", data={"csrf_token": csrf_of(client, "/staff/"), "name": " "})
    db.session.expire_all()
    assert db.session.get(Site, site.id).name == "社区党群服务中心"


def test_a_retired_sites_qr_code_says_so_and_its_poster_is_left_out(app, as_role, world):
    client = as_role("street")
    site = world.sites["site1"]
    campaign = world.campaigns["A"]
    token = csrf_of(client, "/staff/")
    assert client.post(f"/staff/sites/{site.id}/retire", data={"csrf_token": token}).status_code == 303
    resident = app.test_client()
    page = resident.get(f"/s/{site.token}")
    assert page.status_code == 410 and "这个考评点已经不用了" in page.get_data(as_text=True)
    assert resident.post(f"/s/{site.token}", data={"sat": "4"}).status_code == 410
    listing = client.get(f"/staff/communities/{world.regions['C1'].id}/sites").get_data(as_text=True)
    assert "已停用" in listing and "恢复使用" in listing
    assert client.get(f"/staff/campaigns/{campaign.id}/sites/{site.id}/poster").status_code == 404
    assert "文化中心" not in client.get(f"/staff/campaigns/{campaign.id}/posters").get_data(as_text=True)
    # Used again, it works again; both steps are in the audit log.
    assert client.post(f"/staff/sites/{site.id}/restore", data={"csrf_token": token}).status_code == 303
    assert resident.get(f"/s/{site.token}").status_code == 200
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "site",
                                                                    AuditEntry.object_id == str(site.id))
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["create", "retire", "restore"]
