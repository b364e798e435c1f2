"""Changing a campaign after it is made (audited field by field), and the progress page
counting only what counts."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from app.analysis.sampling import cochran_sample_size, margin_of_error
from app.extensions import db
from app.models import AuditEntry, Campaign, Channel, Response
from app.models.types import utcnow
from app.staff import operations
from app.submissions import NewResponse, store_response
from tests.staff.conftest import csrf_of


def edit_form(client, campaign, **changes) -> dict:
    html = client.get(f"/staff/campaigns/{campaign.id}/edit").get_data(as_text=True)
    data = {"csrf_token": csrf_of(client, f"/staff/campaigns/{campaign.id}/edit"),
            "name": re.search(r'id="name"[^>]*value="([^"]*)"', html).group(1),
            "opens_at": re.search(r'id="opens_at"[^>]*value="([^"]*)"', html).group(1),
            "closes_at": re.search(r'id="closes_at"[^>]*value="([^"]*)"', html).group(1),
            "confidence": "0.95", "margin": re.search(r'id="margin"[^>]*value="([^"]*)"', html).group(1),
            "one_response_per_device": "y"}
    for name, value in re.findall(r'name="(target-\d+)"[^>]*value="([^"]*)"', html):
        data[name] = value
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_edit_page_shows_the_campaign_as_it_is(as_role, world):
    campaign = world.campaigns["A"]
    html = as_role("street").get(f"/staff/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert 'value="甲调查"' in html and "翠湖社区" in html and "文林社区" in html
    assert re.search(r'id="margin"[^>]*value="5.0"', html)
    # Times are shown in China time, as typed.
    local = campaign.opens_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{local}"' in html


def test_an_edit_changes_the_fields_and_audits_only_what_changed(as_role, world):
    client = as_role("street")
    campaign, c1, c2 = world.campaigns["A"], world.regions["C1"], world.regions["C2"]
    data = edit_form(client, campaign, name="甲调查（第二轮）", closes_at="2030-01-31T18:00",
                     **{f"target-{c1.id}": "250", f"target-{c2.id}": ""})
    response = client.post(f"/staff/campaigns/{campaign.id}/edit", data=data)
    assert response.status_code == 303
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.name == "甲调查（第二轮）"
    assert campaign.closes_at.isoformat() == "2030-01-31T10:00:00+00:00"  # 18:00 China time
    assert {cc.community.code: cc.target_sample for cc in campaign.communities} == {"C1": 250, "C2": None}
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "edit"))
    assert entry.account.username == "street" and entry.object_id == str(campaign.id)
    assert set(entry.before) == {"name", "closes_at", "targets"}
    assert entry.before["name"] == "甲调查" and entry.after["targets"] == {"C1": 250, "C2": None}


def test_an_unchanged_form_changes_nothing_and_writes_no_entry(as_role, world):
    client = as_role("admin")
    campaign = world.campaigns["A"]
    response = client.post(f"/staff/campaigns/{campaign.id}/edit", data=edit_form(client, campaign))
    assert response.status_code == 303
    assert "没有改动" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == "edit")) == 0


def test_targets_are_recomputed_and_communities_added_with_cochran(as_role, world):
    client = as_role("admin")
    campaign, c3 = world.campaigns["A"], world.regions["C3"]
    data = edit_form(client, campaign, margin="4", recompute_targets="y", add_communities=str(c3.id))
    assert client.post(f"/staff/campaigns/{campaign.id}/edit", data=data).status_code == 303
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.margin == 0.04
    assert {cc.community.code: cc.target_sample for cc in campaign.communities} == {
        code: cochran_sample_size(households, confidence=0.95, margin=0.04)
        for code, households in (("C1", 3000), ("C2", 2000), ("C3", 1500))}


@pytest.mark.parametrize("changes, words", [
    ({"name": ""}, "请填写调查名称"),
    ({"opens_at": "2030-02-01T09:00", "closes_at": "2030-01-01T09:00"}, "结束时间要晚于开始时间"),
    ({"margin": "50"}, "允许误差请填 1 到 20"),
    ({"target-C1": "-3"}, "目标请填 1 到 100000 之间的整数"),
    ({"target-C1": "１２"}, "目标请填 1 到 100000 之间的整数"),
    ({"add_communities": "C4"}, "Not a valid choice"),
])
def test_a_bad_edit_says_what_is_wrong_and_changes_nothing(as_role, world, changes, words):
    client = as_role("admin")
    campaign = world.campaigns["A"]
    changes = {(f"target-{world.regions['C1'].id}" if k == "target-C1" else k):
               (str(world.regions[v].id) if k == "add_communities" else v) for k, v in changes.items()}
    response = client.post(f"/staff/campaigns/{campaign.id}/edit", data=edit_form(client, campaign, **changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and (words in html or words == "Not a valid choice" and "没有保存" in html)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).name == "甲调查"
    assert len(db.session.get(Campaign, campaign.id).communities) == 2
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == "edit")) == 0


@pytest.mark.parametrize("role, status", [("admin", 200), ("street", 200), ("community", 403), ("evaluator", 403),
                                          ("outsider", 404)])
def test_who_may_edit_a_campaign(as_role, world, role, status):
    assert as_role(role).get(f"/staff/campaigns/{world.campaigns['A'].id}/edit").status_code == status


def add(campaign, community, channel: Channel, n: int = 1, *, excluded: bool = False) -> None:
    for _ in range(n):
        store_response(NewResponse(campaign_id=campaign.id, community_id=community.id, channel=channel,
                                   submission_id=uuid.uuid4().hex, submitted_at=utcnow(),
                                   answers=[("sat", ("4", None, None))]))
        if excluded:
            response = db.session.scalar(sa.select(Response).order_by(Response.id.desc()).limit(1))
            operations.exclude_response(response, "工作人员代填")
            db.session.commit()


def test_progress_counts_only_what_counts_and_the_random_sample_apart(as_role, world):
    campaign, c1 = world.campaigns["A"], world.regions["C1"]
    add(campaign, c1, Channel.QR, 30)
    add(campaign, c1, Channel.TICKET, 20)
    add(campaign, c1, Channel.QR, 5, excluded=True)
    add(campaign, c1, Channel.MEETING, 7)  # phones at a 坝坝会: shown apart, never part of the target
    html = as_role("street").get(f"/staff/campaigns/{campaign.id}").get_data(as_text=True)
    row = re.search(r"<td>翠湖社区</td>(.*?)</tr>", html, re.S).group(1)
    cells = re.findall(r'<td class="n">(.*?)</td>', row)
    # 扫码 随机票 纸质 导入 | 合计 坝坝会投票 目标 完成 目前误差 随机样本误差 需复核 不计入
    assert cells[0] == "30" and cells[1] == "20" and cells[4] == "<b>50</b>" and cells[5] == "7"
    target = next(cc.target_sample for cc in campaign.communities if cc.community_id == c1.id)
    assert cells[7] == "%.0f%%" % (50 / target * 100)
    assert cells[8] == "±%.1f" % (margin_of_error(50, 3000) * 100)
    assert cells[9] == "±%.1f" % (margin_of_error(20, 3000) * 100)
    assert cells[11] == "5"


def test_a_refused_change_says_nothing_was_changed(as_role, world):
    client = as_role("evaluator")
    response = client.post(f"/staff/campaigns/{world.campaigns['A'].id}/close",
                           data={"csrf_token": csrf_of(client, "/staff/")})
    assert response.status_code == 403 and "您没有权限做这件事，什么都没有改动" in response.get_data(as_text=True)
    assert "您没有权限查看这个页面" in client.get(f"/staff/campaigns/{world.campaigns['A'].id}/edit").get_data(as_text=True)


def test_a_double_click_on_create_makes_one_campaign(as_role, world):
    client = as_role("street")
    data = {"csrf_token": csrf_of(client, "/staff/"), "form_id": uuid.uuid4().hex, "name": "新调查",
            "survey_version": world.campaigns["A"].survey_version_id, "communities": [world.regions["C1"].id],
            "confidence": "0.95", "margin": "5"}
    first, second = (client.post("/staff/campaigns/new", data=data) for _ in range(2))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert "已经提交过了，没有重复创建" in client.get(second.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Campaign.id)).where(Campaign.name == "新调查")) == 1


def test_a_changed_plan_without_recomputing_is_pointed_out(as_role, world):
    client = as_role("admin")
    campaign = world.campaigns["A"]
    response = client.post(f"/staff/campaigns/{campaign.id}/edit", data=edit_form(client, campaign, margin="3"))
    assert response.status_code == 303
    assert "已有社区的目标没有重算" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_an_expired_page_says_so_in_chinese(app, world):
    client = app.test_client()
    response = client.post("/staff/login", data={"username": "admin", "password": "x"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "页面打开太久或已经过期" in html and "CSRF" not in html
