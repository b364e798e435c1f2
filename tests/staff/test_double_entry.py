"""Double entry of paper questionnaires: two people key each paper; agreeing keyings store
one response, differing ones wait for someone to settle them from the paper."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Answer, AuditEntry, Campaign, PaperKeying, Response
from app.staff.paper import differing_items
from tests.staff.conftest import csrf_of
from tests.staff.test_paper_entry import PAPER, enter


@pytest.fixture
def double(world):
    """Campaign A asks for double entry."""
    world.campaigns["A"].double_entry = True
    db.session.commit()
    return world


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(model.id)))


def answers_of(response: Response) -> list[tuple]:
    return db.session.execute(sa.select(Answer.item, Answer.value, Answer.text).where(
        Answer.response_id == response.id).order_by(Answer.item, Answer.value)).all()


def test_two_agreeing_keyings_by_two_people_store_one_response(as_role, double):
    first, second = as_role("community"), as_role("street")
    response = enter(first, double, **PAPER)
    assert response.status_code == 303
    assert "第一遍已保存（编号 1042）" in first.get(response.headers["Location"]).get_data(as_text=True)
    assert count(Response) == 0  # nothing counts before the second keying
    progress = second.get(f"/staff/campaigns/{double.campaigns['A'].id}").get_data(as_text=True)
    assert "纸质待录第二遍" in progress

    # The second keyer types the same codes in another order and spacing.
    response = enter(second, double, **dict(PAPER, channels="board  wechat"))
    assert response.status_code == 303
    assert "完全一致，这份问卷已保存" in second.get(response.headers["Location"]).get_data(as_text=True)
    stored = db.session.scalar(sa.select(Response))
    assert stored.paper_serial == "1042" and stored.entered_by_id == double.accounts["community"].id
    assert ("channels", "board", None) in answers_of(stored) and ("sat", "4", None) in answers_of(stored)
    keyings = db.session.scalars(sa.select(PaperKeying).order_by(PaperKeying.pass_number)).all()
    assert [(k.pass_number, k.entered_by.username, k.response_id) for k in keyings] == [
        (1, "community", stored.id), (2, "street", stored.id)]
    actions = db.session.execute(sa.select(AuditEntry.action, AuditEntry.object_type).order_by(AuditEntry.id)
                                 .where(AuditEntry.object_type.in_(["paper_keying", "response"]))).all()
    assert actions == [("enter", "paper_keying"), ("enter", "paper_keying"), ("create", "response")]
    # A third try at the same paper stores nothing.
    again = enter(as_role("admin"), double, **PAPER)
    assert again.status_code == 409 and "已经录入过了" in again.get_data(as_text=True)
    assert (count(Response), count(PaperKeying)) == (1, 2)


def test_the_second_keying_must_be_by_someone_else(as_role, double):
    client = as_role("community")
    assert enter(client, double, **PAPER).status_code == 303
    again = enter(client, double, **PAPER)
    assert again.status_code == 409 and "第二遍要请另一位同事录入" in again.get_data(as_text=True)
    assert (count(Response), count(PaperKeying)) == (0, 1)


def test_a_paper_number_is_required(as_role, double):
    response = enter(as_role("community"), double, **dict(PAPER, paper_serial=""))
    assert response.status_code == 400 and "双人录入时每份问卷都要填编号" in response.get_data(as_text=True)
    assert count(PaperKeying) == 0


def test_pressing_enter_twice_keeps_one_keying(as_role, double):
    from tests.staff.test_paper_entry import paper_page
    client = as_role("community")
    campaign_id, community_id = double.campaigns["A"].id, double.regions["C1"].id
    data = {**paper_page(client, campaign_id, community_id)["tokens"], "community": community_id, **PAPER}
    assert [client.post(f"/staff/campaigns/{campaign_id}/paper", data=data).status_code for _ in range(2)] == [303, 303]
    assert count(PaperKeying) == 1


def settle_page(client, campaign_id: int, keying_id: int) -> tuple[str, dict]:
    html = client.get(f"/staff/campaigns/{campaign_id}/paper/settle/{keying_id}").get_data(as_text=True)
    hidden = dict(re.findall(r'<input id="(?:csrf_token|submission)" name="(\w+)" type="hidden" value="([^"]*)"', html))
    return html, {k: unescape(v) for k, v in hidden.items()}


def test_differing_keyings_wait_and_are_settled_from_the_paper(as_role, double):
    campaign_id = double.campaigns["A"].id
    assert enter(as_role("community"), double, **PAPER).status_code == 303
    second = as_role("street")
    response = enter(second, double, **dict(PAPER, sat="2", advice="希望多办活动！"))
    assert response.status_code == 303
    assert "有 2 处不一致（第 1 题、第 6 题）" in second.get(response.headers["Location"]).get_data(as_text=True)
    assert count(Response) == 0 and count(PaperKeying) == 2

    # A third keying is refused and points to settling.
    third = enter(as_role("admin"), double, **PAPER)
    assert third.status_code == 409 and "两遍不一致，正在等人核对原件" in third.get_data(as_text=True)
    assert count(PaperKeying) == 2

    settler = as_role("admin")
    waiting = settler.get(f"/staff/campaigns/{campaign_id}/paper/waiting").get_data(as_text=True)
    assert "两遍不一致，要拿原件核对（1 份）" in waiting and "1042" in waiting
    first_id = db.session.scalar(sa.select(PaperKeying.id).where(PaperKeying.pass_number == 1))
    html, tokens = settle_page(settler, campaign_id, first_id)
    # Both keyings' answers are shown beside the differing items, which are left blank.
    assert "第一遍：4 满意；第二遍：2 不满意" in html
    assert re.search(r'<input id="p-sat" name="sat" autocomplete="off"\s+value=""', html)
    assert re.search(r'<input id="p-joined" name="joined" autocomplete="off"\s+value="1"', html)

    # Leaving a required differing item blank is refused.
    blank = settler.post(f"/staff/campaigns/{campaign_id}/paper/settle/{first_id}", data={
        **tokens, **{k: v for k, v in PAPER.items() if k not in ("paper_serial", "sat")}})
    assert blank.status_code == 400 and count(Response) == 0

    settled = settler.post(f"/staff/campaigns/{campaign_id}/paper/settle/{first_id}", data={
        **tokens, **{k: v for k, v in PAPER.items() if k != "paper_serial"}, "sat": "5"})
    assert settled.status_code == 303
    stored = db.session.scalar(sa.select(Response))
    assert stored.paper_serial == "1042" and ("sat", "5", None) in answers_of(stored)
    assert stored.entered_by_id == double.accounts["community"].id
    assert set(db.session.scalars(sa.select(PaperKeying.response_id))) == {stored.id}
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "resolve"))
    assert entry.account.username == "admin" and entry.object_id == str(stored.id)
    assert entry.before["sat"] == {"first": "4 满意", "second": "2 不满意"} and entry.after["sat"] == "5 非常满意"
    assert "advice" in entry.before and "joined" not in entry.before  # only what differed or changed
    # Settling again stores nothing more.
    again = settler.post(f"/staff/campaigns/{campaign_id}/paper/settle/{first_id}", data={
        **tokens, **{k: v for k, v in PAPER.items() if k != "paper_serial"}})
    assert again.status_code == 303 and count(Response) == 1


def test_a_keyer_cannot_settle_the_paper_they_keyed(as_role, double):
    campaign_id = double.campaigns["A"].id
    assert enter(as_role("community"), double, **PAPER).status_code == 303
    assert enter(as_role("street"), double, **dict(PAPER, sat="2")).status_code == 303
    first_id = db.session.scalar(sa.select(PaperKeying.id).where(PaperKeying.pass_number == 1))
    for keyer in ("community", "street"):
        client = as_role(keyer)
        _html, tokens = settle_page(client, campaign_id, first_id)
        response = client.post(f"/staff/campaigns/{campaign_id}/paper/settle/{first_id}", data={
            **tokens, **{k: v for k, v in PAPER.items() if k != "paper_serial"}, "sat": "1"})
        assert response.status_code == 409 and "第三个人" in response.get_data(as_text=True)
    assert count(Response) == 0


def test_settling_an_item_both_keyings_agreed_on_is_audited_too(as_role, double):
    campaign_id = double.campaigns["A"].id
    assert enter(as_role("community"), double, **PAPER).status_code == 303
    assert enter(as_role("street"), double, **dict(PAPER, sat="2")).status_code == 303
    first_id = db.session.scalar(sa.select(PaperKeying.id).where(PaperKeying.pass_number == 1))
    settler = as_role("admin")
    _html, tokens = settle_page(settler, campaign_id, first_id)
    assert settler.post(f"/staff/campaigns/{campaign_id}/paper/settle/{first_id}", data={
        **tokens, **{k: v for k, v in PAPER.items() if k != "paper_serial"}, "sat": "4",
        "years": "13"}).status_code == 303
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "resolve"))
    assert entry.before["years"] == {"first": "12", "second": "12"} and entry.after["years"] == "13"


def test_a_paper_number_typed_with_leading_zeros_or_small_letters_is_the_same_paper(as_role, double):
    assert enter(as_role("community"), double, **dict(PAPER, paper_serial="a0042")).status_code == 303
    assert enter(as_role("street"), double, **dict(PAPER, paper_serial="A0042")).status_code == 303
    assert count(Response) == 1
    assert enter(as_role("community"), double, **dict(PAPER, paper_serial="007")).status_code == 303
    assert enter(as_role("street"), double, **dict(PAPER, paper_serial="7")).status_code == 303
    assert count(Response) == 2
    assert set(db.session.scalars(sa.select(Response.paper_serial))) == {"A0042", "7"}


@pytest.mark.parametrize("role, status", [("evaluator", 403), ("outsider", 404), ("community", 200)])
def test_who_may_see_and_settle_waiting_papers(as_role, double, role, status):
    assert enter(as_role("community"), double, **PAPER).status_code == 303
    assert enter(as_role("street"), double, **dict(PAPER, sat="2")).status_code == 303
    first_id = db.session.scalar(sa.select(PaperKeying.id).where(PaperKeying.pass_number == 1))
    client = as_role(role)
    campaign_id = double.campaigns["A"].id
    assert client.get(f"/staff/campaigns/{campaign_id}/paper/waiting").status_code == status
    assert client.get(f"/staff/campaigns/{campaign_id}/paper/settle/{first_id}").status_code == status
    # A keying of another campaign's paper is not found through campaign A.
    assert client.get(f"/staff/campaigns/{double.campaigns['B'].id}/paper/settle/{first_id}").status_code in (403, 404)


def test_double_entry_cannot_be_switched_off_while_papers_wait(as_role, double):
    assert enter(as_role("community"), double, **PAPER).status_code == 303
    client = as_role("street")
    campaign = double.campaigns["A"]
    form = {"csrf_token": csrf_of(client, "/staff/"), "name": campaign.name, "confidence": "0.95", "margin": "5",
            "one_response_per_device": "y"}
    refused = client.post(f"/staff/campaigns/{campaign.id}/edit", data=form)
    assert refused.status_code == 400 and "处理完以后才能改成只录一遍" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).double_entry


def test_differing_items_ignores_tick_order_and_sees_blanks():
    import yaml

    from app.definitions.loader import build_survey
    definition = build_survey(yaml.safe_load("""
id: t
title: 测试
sections:
  - title: 一
    items:
      - {key: a, type: single, text: 甲, tags: [t:a], options: [{code: "1", label: 是}, {code: "2", label: 否}]}
      - {key: b, type: multiple, text: 乙, tags: [t:b], options: [{code: x, label: X}, {code: y, label: Y}]}
      - {key: c, type: text, text: 丙, tags: [t:c]}
"""), "<inline>", {})
    first = [("a", ("1", None, None)), ("b", ("x", None, None)), ("b", ("y", None, None)), ("c", ("", None, "好"))]
    same = [("b", ("y", None, None)), ("b", ("x", None, None)), ("a", ("1", None, None)), ("c", ("", None, "好"))]
    assert differing_items(definition, first, same) == []
    assert differing_items(definition, first, same[:2] + same[3:]) == ["a"]
    assert differing_items(definition, first, [("a", ("2", None, None))]) == ["a", "b", "c"]
