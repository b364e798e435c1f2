"""Every staff route × every role × an object inside and outside the account's scope."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, Campaign, CampaignState, Site
from tests.staff.conftest import csrf_of

ROLES = ["admin", "street", "community", "evaluator", "outsider"]

#: (what, method, path template, {role: status}); {A}/{B} are campaign ids, {C1}/{C3} community ids.
MATRIX = [
    ("home", "GET", "/staff/", dict.fromkeys(ROLES, 200)),
    ("campaign A progress", "GET", "/staff/campaigns/{A}",
     {"admin": 200, "street": 200, "community": 200, "evaluator": 200, "outsider": 404}),
    ("campaign B progress", "GET", "/staff/campaigns/{B}",
     {"admin": 200, "street": 404, "community": 404, "evaluator": 200, "outsider": 404}),
    ("close campaign A", "POST", "/staff/campaigns/{A}/close",
     {"admin": 303, "street": 303, "community": 403, "evaluator": 403, "outsider": 404}),
    ("close campaign B", "POST", "/staff/campaigns/{B}/close",
     {"admin": 303, "street": 404, "community": 404, "evaluator": 403, "outsider": 404}),
    ("new campaign page", "GET", "/staff/campaigns/new",
     {"admin": 200, "street": 200, "community": 200, "evaluator": 403, "outsider": 200}),
    ("sites of C1", "GET", "/staff/communities/{C1}/sites",
     {"admin": 200, "street": 200, "community": 200, "evaluator": 200, "outsider": 404}),
    ("sites of C3", "GET", "/staff/communities/{C3}/sites",
     {"admin": 200, "street": 404, "community": 404, "evaluator": 200, "outsider": 404}),
    ("add a site to C1", "POST", "/staff/communities/{C1}/sites",
     {"admin": 303, "street": 303, "community": 303, "evaluator": 403, "outsider": 404}),
    ("add a site to C3", "POST", "/staff/communities/{C3}/sites",
     {"admin": 303, "street": 404, "community": 404, "evaluator": 403, "outsider": 404}),
]
CASES = [pytest.param(method, path, role, expected[role], id=f"{what} as {role}")
         for what, method, path, expected in MATRIX for role in ROLES]


def _path(template: str, world) -> str:
    return template.format(A=world.campaigns["A"].id, B=world.campaigns["B"].id,
                           C1=world.regions["C1"].id, C3=world.regions["C3"].id)


@pytest.mark.parametrize("method, template, role, expected", CASES)
def test_route_by_role_and_scope(as_role, world, method, template, role, expected):
    client = as_role(role)
    path = _path(template, world)
    sites_before = db.session.scalar(sa.select(sa.func.count(Site.id)))
    if method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, data={"csrf_token": csrf_of(client, "/staff/"), "name": "新考评点"})
    assert response.status_code == expected
    db.session.expire_all()
    sites_after = db.session.scalar(sa.select(sa.func.count(Site.id)))
    if method == "POST" and expected != 303:
        # A refusal changes nothing: campaigns still open, no site added.
        assert sites_after == sites_before
        assert all(c.state is CampaignState.OPEN for c in db.session.scalars(sa.select(Campaign)))


@pytest.mark.parametrize("path", ["/staff/", "/staff/campaigns/1", "/staff/campaigns/new", "/staff/communities/1/sites"])
def test_anonymous_visitors_are_sent_to_log_in(client, app, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/staff/login")


def test_community_staff_see_only_their_community_of_a_shared_campaign(as_role, world):
    html = as_role("community").get(f"/staff/campaigns/{world.campaigns['A'].id}").get_data(as_text=True)
    assert "翠湖社区" in html and "文林社区" not in html
    html = as_role("street").get(f"/staff/campaigns/{world.campaigns['A'].id}").get_data(as_text=True)
    assert "翠湖社区" in html and "文林社区" in html


def test_the_campaign_list_holds_only_campaigns_in_scope(as_role, world):
    assert "乙调查" not in as_role("street").get("/staff/").get_data(as_text=True)
    admin = as_role("admin").get("/staff/").get_data(as_text=True)
    assert "甲调查" in admin and "乙调查" in admin
    assert "甲调查" not in as_role("outsider").get("/staff/").get_data(as_text=True)


def test_a_campaign_cannot_be_made_in_a_community_outside_scope(as_role, world):
    client = as_role("street")
    version_id = world.campaigns["A"].survey_version_id
    response = client.post("/staff/campaigns/new", data={
        "csrf_token": csrf_of(client, "/staff/"), "name": "越界", "survey_version": version_id,
        "communities": [world.regions["C3"].id], "confidence": "0.95", "margin": "5"})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Campaign.id)).where(Campaign.name == "越界")) == 0


def test_a_new_campaign_gets_cochran_targets_and_is_audited(as_role, world):
    from app.analysis.sampling import cochran_sample_size
    client = as_role("street")
    version_id = world.campaigns["A"].survey_version_id
    response = client.post("/staff/campaigns/new", data={
        "csrf_token": csrf_of(client, "/staff/"), "name": "新调查", "survey_version": version_id,
        "communities": [world.regions["C1"].id, world.regions["C2"].id], "confidence": "0.99", "margin": "4",
        "opens_at": "2026-12-01T09:00", "closes_at": "2026-12-20T18:00"})
    assert response.status_code == 303
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.name == "新调查"))
    targets = {cc.community.code: cc.target_sample for cc in campaign.communities}
    assert targets == {"C1": cochran_sample_size(3000, confidence=0.99, margin=0.04),
                       "C2": cochran_sample_size(2000, confidence=0.99, margin=0.04)}
    # 09:00 China time is 01:00 UTC.
    assert campaign.opens_at.isoformat() == "2026-12-01T01:00:00+00:00"
    assert (campaign.confidence, campaign.margin) == (0.99, 0.04)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "campaign",
                                                          AuditEntry.object_id == str(campaign.id)))
    assert entry.action == "create" and entry.account.username == "street"
    assert entry.after["targets"] == targets and entry.after["name"] == "新调查"


@pytest.mark.parametrize("field, value, words", [
    ("name", "", "请填写调查名称"),
    ("margin", "0", "允许误差请填 1 到 20"),
    ("closes_at", "2026-11-30T09:00", "结束时间要晚于开始时间"),
    ("communities", [], "请至少选一个社区"),
])
def test_a_bad_campaign_form_says_what_is_wrong(as_role, world, field, value, words):
    client = as_role("admin")
    data = {"csrf_token": csrf_of(client, "/staff/"), "name": "调查", "confidence": "0.95", "margin": "5",
            "survey_version": world.campaigns["A"].survey_version_id, "communities": [world.regions["C1"].id],
            "opens_at": "2026-12-01T09:00"}
    data[field] = value
    response = client.post("/staff/campaigns/new", data=data)
    assert response.status_code == 400 and words in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Campaign.id))) == 2


def test_closing_and_opening_are_audited_with_before_and_after(as_role, world):
    client = as_role("admin")
    campaign_id = world.campaigns["A"].id
    token = csrf_of(client, "/staff/")
    assert client.post(f"/staff/campaigns/{campaign_id}/close", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Campaign, campaign_id).state is CampaignState.CLOSED
    assert client.post(f"/staff/campaigns/{campaign_id}/open", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Campaign, campaign_id).state is CampaignState.OPEN
    entries = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.object_type == "campaign", AuditEntry.object_id == str(campaign_id),
        AuditEntry.action.in_(["open", "close"])).order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["close", "open"]
    assert entries[0].before["closes_at"] != entries[0].after["closes_at"]
    assert entries[1].after["closes_at"] is None
    assert {e.account.username for e in entries} == {"admin"}


def test_a_site_added_on_the_page_is_audited(as_role, world):
    client = as_role("community")
    response = client.post(f"/staff/communities/{world.regions['C1'].id}/sites",
                           data={"csrf_token": csrf_of(client, "/staff/"), "name": "菜市场门口"})
    assert response.status_code == 303
    site = db.session.scalar(sa.select(Site).where(Site.name == "菜市场门口"))
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "site",
                                                          AuditEntry.object_id == str(site.id)))
    assert entry.action == "create" and entry.account.username == "community"


def test_staff_posts_need_a_csrf_token(as_role, world):
    client = as_role("admin")
    response = client.post(f"/staff/campaigns/{world.campaigns['A'].id}/close")
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Campaign, world.campaigns["A"].id).state is CampaignState.OPEN


@pytest.mark.parametrize("role, status", [("admin", 200), ("evaluator", 200), ("street", 403), ("community", 403),
                                          ("outsider", 200)])
def test_who_reads_the_audit_log(as_role, world, role, status):
    assert as_role(role).get("/staff/audit").status_code == status
    assert as_role(role).get("/staff/audit.csv").status_code == status


def test_the_audit_log_shows_actions_within_the_region_and_exports_to_csv(as_role, world):
    import csv
    import io
    street = as_role("street")
    street.post(f"/staff/campaigns/{world.campaigns['A'].id}/close", data={"csrf_token": csrf_of(street, "/staff/")})
    admin_page = as_role("admin").get("/staff/audit").get_data(as_text=True)
    assert "街道" in admin_page and "结束" in admin_page
    # The other district's admin sees none of it.
    assert "结束" not in as_role("outsider").get("/staff/audit").get_data(as_text=True)
    exported = as_role("evaluator").get("/staff/audit.csv")
    assert exported.data.startswith("\ufeff".encode()) and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["时间（北京时间）", "账号", "姓名", "操作"]
    close = next(row for row in rows if row[3] == "结束")
    assert close[1] == "street" and close[4] == "调查" and close[5] == str(world.campaigns["A"].id)
    assert '"closes_at"' in close[6] and '"closes_at"' in close[7]
