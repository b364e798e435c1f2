"""Posters and ticket sheets: PDFs that open, read back in Chinese, and carry decodable QR codes."""

from __future__ import annotations

import io
import math
import re
import uuid

import pypdf
import pypdfium2
import pytest
import sqlalchemy as sa
import zxingcpp

from app.extensions import db
from app.models import AuditEntry, Site, Ticket, TicketBatch
from tests.staff.conftest import csrf_of


def pdf_pages(data: bytes) -> list[tuple[str, list[str]]]:
    """(text, decoded QR codes) per page."""
    text = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]
    document = pypdfium2.PdfDocument(data)
    try:
        codes = [sorted(r.text for r in zxingcpp.read_barcodes(page.render(scale=2).to_pil())) for page in document]
    finally:
        document.close()
    assert len(text) == len(codes)
    return list(zip(text, codes))


def test_the_campaign_posters_pdf_has_a_page_per_site_with_its_code(as_role, world):
    site_c2 = Site(community=world.regions["C2"], name="菜市场门口")
    db.session.add(site_c2)
    db.session.commit()
    response = as_role("street").get(f"/staff/campaigns/{world.campaigns['A'].id}/posters.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = pdf_pages(response.data)
    sites = {world.sites["site1"].token: "文化中心", site_c2.token: "菜市场门口"}
    assert len(pages) == len(sites)
    for text, codes in pages:
        assert len(codes) == 1
        token = codes[0].removeprefix("http://minyi.test/s/")
        assert token in sites and sites[token] in text
        assert "测试问卷" in text and "扫一扫" in text


def test_community_staff_get_posters_of_their_own_sites_only(as_role, world):
    db.session.add(Site(community=world.regions["C2"], name="别的社区的点"))
    db.session.commit()
    pages = pdf_pages(as_role("community").get(f"/staff/campaigns/{world.campaigns['A'].id}/posters.pdf").data)
    assert [codes for _, codes in pages] == [[f"http://minyi.test/s/{world.sites['site1'].token}"]]


def test_the_poster_print_view(as_role, world):
    html = as_role("admin").get(
        f"/staff/campaigns/{world.campaigns['A'].id}/sites/{world.sites['site1'].id}/poster").get_data(as_text=True)
    assert f'src="/qr/{world.sites["site1"].token}.svg"' in html and "文化中心" in html
    assert "@page" not in html  # the print layout is in the stylesheet, not inline
    outside = as_role("admin").get(f"/staff/campaigns/{world.campaigns['A'].id}/sites/{world.sites['site3'].id}/poster")
    assert outside.status_code == 404  # site3 is not in campaign A's communities


def test_issuing_tickets_makes_a_batch_a_sheet_and_an_audit_entry(as_role, world):
    client = as_role("street")
    campaign_id = world.campaigns["A"].id
    response = client.post(f"/staff/campaigns/{campaign_id}/tickets", data={
        "csrf_token": csrf_of(client, "/staff/"), "form_id": uuid.uuid4().hex, "community": world.regions["C1"].id,
        "count": 10})
    assert response.status_code == 303
    batch = db.session.scalar(sa.select(TicketBatch))
    assert len(batch.tickets) == 10 and batch.account.username == "street"
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "ticket_batch"))
    assert entry.after == {"campaign_id": campaign_id, "community_id": world.regions["C1"].id, "tickets": 10}

    sheet = client.get(f"/staff/ticket-batches/{batch.id}.pdf")
    pages = pdf_pages(sheet.data)
    assert len(pages) == math.ceil(10 / 8)
    decoded = [code for _, codes in pages for code in codes]
    assert sorted(decoded) == sorted(f"http://minyi.test/t/{t.token}" for t in batch.tickets)
    assert all("翠湖社区" in text and "只能用一次" in text for text, _ in pages)

    listing = client.get(f"/staff/campaigns/{campaign_id}/tickets").get_data(as_text=True)
    row = re.search(r"<td>翠湖社区</td><td class=\"n\">(\d+)</td><td class=\"n\">(\d+)</td>", listing)
    assert row.groups() == ("10", "0")


def test_used_tickets_are_counted(as_role, world, app):
    from app.staff.operations import issue_tickets
    from tests.helpers import VALID, open_form
    batch = issue_tickets(world.campaigns["A"], world.regions["C1"], 4)
    db.session.commit()
    for ticket in batch.tickets[:3]:
        phone = app.test_client()
        page = open_form(phone, f"/t/{ticket.token}")
        assert phone.post(page.action, data=page.data(**VALID)).status_code == 303
    listing = as_role("community").get(f"/staff/campaigns/{world.campaigns['A'].id}/tickets").get_data(as_text=True)
    assert re.search(r"<td>翠湖社区</td><td class=\"n\">4</td><td class=\"n\">3</td>", listing)
    progress = as_role("community").get(f"/staff/campaigns/{world.campaigns['A'].id}").get_data(as_text=True)
    assert "问卷票" in progress


@pytest.mark.parametrize("count, words", [("0", "1 到 500"), ("501", "1 到 500"), ("", "请填写要印多少张")])
def test_a_bad_ticket_count_is_refused(as_role, world, count, words):
    client = as_role("admin")
    response = client.post(f"/staff/campaigns/{world.campaigns['A'].id}/tickets", data={
        "csrf_token": csrf_of(client, "/staff/"), "form_id": uuid.uuid4().hex, "community": world.regions["C1"].id,
        "count": count})
    assert response.status_code == 400 and words in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Ticket.id))) == 0


@pytest.mark.parametrize("role, status", [("admin", 303), ("street", 400), ("community", 400),
                                          ("evaluator", 403), ("outsider", 404)])
def test_tickets_for_a_community_outside_scope_cannot_be_issued(as_role, world, role, status):
    """C2 is in campaign A, but only the admin and the street see it; community staff see C1 only."""
    client = as_role(role)
    target = world.regions["C2"].id if role != "street" else world.regions["C3"].id
    response = client.post(f"/staff/campaigns/{world.campaigns['A'].id}/tickets", data={
        "csrf_token": csrf_of(client, "/staff/"), "form_id": uuid.uuid4().hex, "community": target, "count": 5})
    assert response.status_code == status
    assert db.session.scalar(sa.select(sa.func.count(Ticket.id))) == (5 if status == 303 else 0)


@pytest.mark.parametrize("role, status", [("admin", 200), ("street", 200), ("community", 404),
                                          ("evaluator", 200), ("outsider", 404)])
def test_a_ticket_sheet_is_only_for_those_who_see_its_community(as_role, world, role, status):
    from app.staff.operations import issue_tickets
    batch = issue_tickets(world.campaigns["A"], world.regions["C2"], 2)
    db.session.commit()
    assert as_role(role).get(f"/staff/ticket-batches/{batch.id}.pdf").status_code == status


def test_a_double_click_makes_one_batch(as_role, world):
    client = as_role("street")
    data = {"csrf_token": csrf_of(client, "/staff/"), "form_id": uuid.uuid4().hex,
            "community": world.regions["C1"].id, "count": 10}
    first, second = (client.post(f"/staff/campaigns/{world.campaigns['A'].id}/tickets", data=data) for _ in range(2))
    assert (first.status_code, second.status_code) == (303, 303)
    assert "已经提交过了，没有重复生成" in client.get(second.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Ticket.id))) == 10
    # A page without its form id (an old tab) is asked to refresh, and makes nothing.
    stale = client.post(f"/staff/campaigns/{world.campaigns['A'].id}/tickets", data=dict(data, form_id=""))
    assert stale.status_code == 400 and "页面已经过期" in stale.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Ticket.id))) == 10
