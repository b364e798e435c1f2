"""Single-use tickets: each good for exactly one response, marked as the random sample."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Channel, Response, Ticket
from app.staff.operations import issue_tickets
from tests.helpers import VALID, count_responses, open_form


@pytest.fixture
def ticket(make):
    site = make.site()
    campaign = make.campaign(communities=[site.community])
    batch = issue_tickets(campaign, site.community, 3)
    db.session.commit()
    return batch.tickets[0]


def test_a_ticket_leads_to_the_form_and_its_response_is_the_random_sample(client, ticket):
    page = open_form(client, f"/t/{ticket.token}")
    assert "随机发放的问卷票" in page.html
    response = client.post(page.action, data=page.data(**VALID))
    assert response.status_code == 303 and response.headers["Location"] == f"/t/{ticket.token}/thanks"
    assert "提交成功" in client.get(response.headers["Location"]).get_data(as_text=True)
    stored = db.session.scalar(sa.select(Response))
    assert stored.channel is Channel.TICKET and stored.channel.is_random_sample
    assert stored.site_id is None and stored.community_id == ticket.community_id
    db.session.refresh(ticket)
    assert ticket.used_at is not None and ticket.response_id == stored.id


def test_a_ticket_used_twice_stores_one_response_and_says_so_kindly(app, ticket):
    first_phone, second_phone = app.test_client(), app.test_client()
    first, second = open_form(first_phone, f"/t/{ticket.token}"), open_form(second_phone, f"/t/{ticket.token}")
    assert first_phone.post(first.action, data=first.data(**VALID)).status_code == 303
    refused = second_phone.post(second.action, data=second.data(**VALID))
    assert refused.status_code == 410 and "这张票已经用过了" in refused.get_data(as_text=True)
    assert count_responses() == 1
    again = app.test_client().get(f"/t/{ticket.token}")
    assert again.status_code == 410 and "每张票只能用一次" in again.get_data(as_text=True)


def test_a_double_tap_on_a_ticket_form_is_one_response(client, ticket):
    page = open_form(client, f"/t/{ticket.token}")
    assert [client.post(page.action, data=page.data(**VALID)).status_code for _ in range(2)] == [303, 303]
    assert count_responses() == 1


def test_racing_submits_on_one_ticket_store_exactly_one(app, ticket):
    phones = [app.test_client() for _ in range(6)]
    pages = [open_form(phone, f"/t/{ticket.token}") for phone in phones]
    barrier, statuses = threading.Barrier(len(phones)), []

    def post(phone, page):
        barrier.wait()
        statuses.append(phone.post(page.action, data=page.data(**VALID)).status_code)

    threads = [threading.Thread(target=post, args=pair) for pair in zip(phones, pages)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [303] + [410] * 5
    assert count_responses() == 1
    assert db.session.scalar(sa.select(sa.func.count(Ticket.id)).where(Ticket.used_at.is_not(None))) == 1


def test_other_tickets_of_the_batch_stay_usable(app, ticket):
    others = db.session.scalars(sa.select(Ticket).where(Ticket.batch_id == ticket.batch_id, Ticket.id != ticket.id)).all()
    for t in [ticket, *others]:
        phone = app.test_client()
        page = open_form(phone, f"/t/{t.token}")
        assert phone.post(page.action, data=page.data(**VALID)).status_code == 303
    assert count_responses() == 3


def test_a_ticket_of_a_closed_campaign_is_gone(client, ticket):
    from app.models.types import utcnow
    ticket.campaign.closes_at = utcnow()
    db.session.commit()
    assert client.get(f"/t/{ticket.token}").status_code == 410


@pytest.mark.parametrize("token", ["nope-nope-nope", "%00", "a" * 50])
def test_an_unknown_ticket_is_not_found(client, app, token):
    response = client.get(f"/t/{token}")
    assert response.status_code == 404 and "找不到" in response.get_data(as_text=True)
