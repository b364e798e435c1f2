"""Typing in paper questionnaires: codes, Tab and Enter; who entered it; never twice."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Answer, AuditEntry, Channel, Response
from tests.staff.conftest import csrf_of


def paper_page(client, campaign_id: int, community_id: int) -> dict:
    html = client.get(f"/staff/campaigns/{campaign_id}/paper?community={community_id}").get_data(as_text=True)
    hidden = dict(re.findall(r'<input id="(?:csrf_token|submission)" name="(\w+)" type="hidden" value="([^"]*)"', html))
    assert set(hidden) == {"csrf_token", "submission"}, html[:400]
    return {"html": html, "tokens": {k: unescape(v) for k, v in hidden.items()}}


def enter(client, world, campaign="A", community="C1", **codes):
    campaign_id, community_id = world.campaigns[campaign].id, world.regions[community].id
    page = paper_page(client, campaign_id, community_id)
    return client.post(f"/staff/campaigns/{campaign_id}/paper", data={
        **page["tokens"], "community": community_id, **codes})


PAPER = {"paper_serial": "1042", "sat": "4", "joined": "1", "joined_sat": "5", "channels": "wechat board",
         "years": "１２", "advice": "希望多办活动"}


def test_a_paper_is_stored_like_a_residents_answers_with_who_entered_it(as_role, world):
    client = as_role("community")
    response = enter(client, world, **PAPER)
    assert response.status_code == 303
    assert "已保存（编号 1042）" in client.get(response.headers["Location"]).get_data(as_text=True)
    stored = db.session.scalar(sa.select(Response))
    assert stored.channel is Channel.PAPER and not stored.channel.is_random_sample
    assert stored.entered_by_id == world.accounts["community"].id and stored.paper_serial == "1042"
    assert stored.site_id is None and stored.started_at is None
    rows = db.session.execute(sa.select(Answer.item, Answer.value, Answer.number, Answer.text)
                              .order_by(Answer.item, Answer.value)).all()
    assert rows == [("advice", "", None, "希望多办活动"), ("channels", "board", None, None),
                    ("channels", "wechat", None, None), ("joined", "1", None, None), ("joined_sat", "5", None, None),
                    ("sat", "4", None, None), ("years", "12", 12.0, None)]
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "response"))
    assert entry.action == "create" and entry.object_id == str(stored.id) and entry.account.username == "community"


def test_the_same_paper_number_is_not_entered_twice(as_role, world):
    client = as_role("street")
    assert enter(client, world, **PAPER).status_code == 303
    again = enter(client, world, **dict(PAPER, sat="2"))
    assert again.status_code == 409 and "编号 1042 的问卷已经录入过了" in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 1
    # The same number in another campaign is another paper.
    assert enter(client, world, campaign="A", community="C2", **dict(PAPER, paper_serial="0043")).status_code == 303


def test_pressing_enter_twice_saves_one(as_role, world):
    client = as_role("community")
    campaign_id, community_id = world.campaigns["A"].id, world.regions["C1"].id
    page = paper_page(client, campaign_id, community_id)
    data = {**page["tokens"], "community": community_id, **dict(PAPER, paper_serial="")}
    assert [client.post(f"/staff/campaigns/{campaign_id}/paper", data=data).status_code for _ in range(2)] == [303, 303]
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 1


@pytest.mark.parametrize("field, typed, words", [
    ("sat", "7", "请从给出的选项中选择"),
    ("channels", "wechat fax", "请从给出的选项中选择"),
    ("years", "abc", "请填写一个数字"),
    ("sat", "", "这一题还没有选"),
    ("paper_serial", "第42号", "问卷编号只能是数字、字母"),
])
def test_a_wrong_code_is_shown_beside_its_question_and_nothing_is_stored(as_role, world, field, typed, words):
    response = enter(as_role("admin"), world, **dict(PAPER, **{field: typed}))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and words in html
    assert 'value="希望多办活动"' in html  # the rest of what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 0


def test_the_page_is_made_for_the_keyboard(as_role, world):
    html = paper_page(as_role("community"), world.campaigns["A"].id, world.regions["C1"].id)["html"]
    assert 'type="radio"' not in html and 'type="checkbox"' not in html and "<textarea" not in html
    assert re.search(r'<input id="paper_serial"[^>]*autofocus', html)
    ids = re.findall(r'<input id="p-(\w+)"', html)
    assert ids == ["sat", "joined", "joined_sat", "channels", "years", "advice"]  # Tab follows the paper
    assert "<b>dk</b> 不了解/说不清" in html and '<button type="submit">' in html


@pytest.mark.parametrize("role, community, status", [
    ("admin", "C2", 303), ("street", "C2", 303), ("community", "C2", 400), ("evaluator", "C1", 403),
    ("outsider", "C1", 404)])
def test_who_may_enter_papers_for_which_community(as_role, world, role, community, status):
    client = as_role(role)
    campaign_id, community_id = world.campaigns["A"].id, world.regions[community].id
    if status == 303:
        response = enter(client, world, community=community, **PAPER)
    else:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/").get_data(as_text=True))
        response = client.post(f"/staff/campaigns/{campaign_id}/paper", data={
            "csrf_token": token.group(1) if token else "", "community": community_id, **PAPER})
    assert response.status_code == status
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == (1 if status == 303 else 0)


def correction_page(client, response_id: int) -> tuple[str, str]:
    html = client.get(f"/staff/responses/{response_id}/correct").get_data(as_text=True)
    token = re.search(r'<input id="csrf_token" name="csrf_token" type="hidden" value="([^"]*)"', html).group(1)
    return html, unescape(token)


def test_a_mistyped_paper_is_corrected_with_a_reason_and_audited(as_role, world):
    assert enter(as_role("community"), world, **PAPER).status_code == 303
    stored = db.session.scalar(sa.select(Response))
    client = as_role("admin")
    html, token = correction_page(client, stored.id)
    assert re.search(r'name="years" autocomplete="off"\s+value="12"', html)  # shown as typed
    typed = {k: v for k, v in PAPER.items() if k != "paper_serial"}
    no_reason = client.post(f"/staff/responses/{stored.id}/correct", data={"csrf_token": token, **typed, "years": "21"})
    assert no_reason.status_code == 400 and "请写明为什么更正" in no_reason.get_data(as_text=True)
    response = client.post(f"/staff/responses/{stored.id}/correct", data={
        "csrf_token": token, **typed, "years": "21", "channels": "wechat", "reason": "核对原件"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 1
    rows = db.session.execute(sa.select(Answer.item, Answer.value, Answer.number, Answer.campaign_id)
                              .where(Answer.item.in_(["years", "channels"])).order_by(Answer.item)).all()
    assert rows == [("channels", "wechat", None, stored.campaign_id), ("years", "21", 21.0, stored.campaign_id)]
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "correct"))
    assert entry.object_id == str(stored.id) and entry.account.username == "admin"
    assert entry.before == {"channels": "wechat 微信群；board 公开栏", "years": "12"}
    assert entry.after == {"channels": "wechat 微信群", "years": "21", "reason": "核对原件"}


@pytest.mark.parametrize("role, status", [("community", 403), ("street", 403), ("evaluator", 403), ("admin", 200),
                                          ("outsider", 404)])
def test_only_the_district_corrects_papers(as_role, world, role, status):
    assert enter(as_role("community"), world, **PAPER).status_code == 303
    stored = db.session.scalar(sa.select(Response))
    assert as_role(role).get(f"/staff/responses/{stored.id}/correct").status_code == status


def test_residents_own_answers_are_never_corrected(as_role, world):
    import uuid

    from app.models.types import utcnow
    from app.submissions import NewResponse, store_response
    store_response(NewResponse(campaign_id=world.campaigns["A"].id, community_id=world.regions["C1"].id,
                               channel=Channel.QR, submission_id=uuid.uuid4().hex, submitted_at=utcnow(),
                               answers=[("sat", ("4", None, None))]))
    stored = db.session.scalar(sa.select(Response))
    client = as_role("admin")
    refused = client.get(f"/staff/responses/{stored.id}/correct")
    assert refused.status_code == 403 and "居民自己填写的回答不能更改" in refused.get_data(as_text=True)
    response = client.post(f"/staff/responses/{stored.id}/correct", data={
        "csrf_token": csrf_of(client, "/staff/"), "sat": "1", "reason": "想改"})
    assert response.status_code == 403
    assert db.session.scalar(sa.select(Answer.value).where(Answer.item == "sat")) == "4"
