"""Reading our own pages in tests, the way a browser would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

import sqlalchemy as sa

from app.extensions import db


@dataclass
class FormPage:
    status: int
    html: str
    action: str
    csrf_token: str
    submission: str

    def data(self, **answers) -> dict:
        return {"csrf_token": self.csrf_token, "submission": self.submission, **answers}


def _hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html) \
        or re.search(rf'type="hidden" name="{name}" value="([^"]*)"', html)
    assert m, f"no hidden field {name}"
    return unescape(m.group(1))


def read_form(response) -> FormPage:
    return parse_form(response.status_code, response.get_data(as_text=True))


def parse_form(status: int, html: str) -> FormPage:
    """The survey form of a page's HTML (from the test client or a real server)."""
    action = unescape(re.search(r'<form id="survey" method="post" action="([^"]+)"', html).group(1))
    return FormPage(status, html, action, _hidden(html, "csrf_token"), _hidden(html, "submission"))


def open_form(client, url: str) -> FormPage:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return read_form(response)


def errors_shown(html: str) -> dict[str, str]:
    """Item key → the error shown beside it."""
    return {key: unescape(msg) for key, msg in re.findall(r'<p class="err" id="([a-z0-9_]+)-err">([^<]+)</p>', html)}


def count_responses(campaign_id: int | None = None) -> int:
    from app.models import Response
    q = sa.select(sa.func.count(Response.id))
    if campaign_id is not None:
        q = q.where(Response.campaign_id == campaign_id)
    return db.session.scalar(q)


def count_answers() -> int:
    from app.models import Answer
    return db.session.scalar(sa.select(sa.func.count()).select_from(Answer))


VALID = {"sat": "4", "joined": "2", "channels": ["wechat"], "years": "12", "advice": "多办活动"}


def logged_in_client(app, username: str, password: str):
    """A test client logged in through the staff login form, as a browser would."""
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    answer = client.post("/staff/login", data={"csrf_token": token, "username": username, "password": password})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    return client
