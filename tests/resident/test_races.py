"""Submits that race: the database's unique indexes decide, so exactly one is stored."""

from __future__ import annotations

import threading

import pytest

from tests.helpers import VALID, count_answers, count_responses, open_form

THREADS = 8


def clone(app, original):
    """Another client with the same cookies: the same phone, sending from another connection."""
    client = app.test_client()
    for name in ("session", "minyi_device"):
        cookie = original.get_cookie(name)
        if cookie is not None:
            client.set_cookie(name, cookie.value)
    return client


def race(posts) -> list[int]:
    barrier = threading.Barrier(len(posts))
    statuses: list[int] = [0] * len(posts)

    def run(i, post):
        barrier.wait()
        statuses[i] = post()

    threads = [threading.Thread(target=run, args=(i, post)) for i, post in enumerate(posts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return statuses


@pytest.mark.parametrize("same_submission", [True, False], ids=["one form tapped many times", "many forms, one phone"])
def test_racing_submits_store_exactly_one_response(app, open_site, same_submission):
    site, campaign = open_site
    phone = app.test_client()
    pages = [open_form(phone, f"/s/{site.token}") for _ in range(1 if same_submission else THREADS)]
    clients = [clone(app, phone) for _ in range(THREADS)]
    posts = [
        (lambda c=client, p=pages[0 if same_submission else i]: c.post(p.action, data=p.data(**VALID)).status_code)
        for i, client in enumerate(clients)
    ]
    statuses = race(posts)
    assert count_responses(campaign.id) == 1
    assert count_answers() == len([k for k in VALID if k != "channels"]) + len(VALID["channels"])
    if same_submission:
        assert statuses == [303] * THREADS  # every tap sees the thank-you page
    else:
        assert sorted(statuses) == [303] + [409] * (THREADS - 1)
