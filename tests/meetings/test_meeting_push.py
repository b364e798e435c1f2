"""A phone votes with one small JSON request, and hears of staff actions pushed (SSE)."""

from __future__ import annotations

import json
import queue
import threading
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.meetings.push import EXTENSION_KEY
from app.models import MeetingVote
from tests.meetings.test_meeting_pages import REDIS_URL, new_meeting, post, redis_client, running, vote_page  # noqa: F401

JSON = {"Accept": "application/json"}


def votes() -> list[str]:
    return sorted(db.session.scalars(sa.select(MeetingVote.option)))


def test_a_phone_votes_with_one_small_request_and_gets_words_back(app, running):
    staff, meeting = running
    code, question = meeting.join_code, meeting.questions[0]
    phone = app.test_client()
    html, fields = vote_page(phone, code)
    assert f'data-vote-url="/m/{code}/vote"' in html
    counted = phone.post(f"/m/{code}/vote", data=fields | {"option": "1"}, headers=JSON)
    assert counted.status_code == 200 and counted.get_json() == {"outcome": "counted", "message": "投票成功，谢谢！"}
    again = phone.post(f"/m/{code}/vote", data=fields | {"option": "2"}, headers=JSON)
    assert again.status_code == 409 and again.get_json()["outcome"] == "already_voted"
    assert "已经投过" in again.get_json()["message"]
    assert "您已投票：<b>同意</b>" in phone.get(f"/m/{code}").get_data(as_text=True)

    other = app.test_client()
    _html, theirs = vote_page(other, code)
    refused = {
        "no such answer": (theirs | {"option": "7"}, 400, "no_such_option"),
        "a question of another meeting": (theirs | {"question": str(question.id + 1000), "option": "1"}, 409,
                                          "no_such_question"),
        "a question id out of range": (theirs | {"question": "9" * 30, "option": "1"}, 409, "no_such_question"),
        "no question at all": ({"csrf_token": theirs["csrf_token"], "option": "1"}, 409, "no_such_question"),
    }
    for why, (data, status, outcome) in refused.items():
        answer = other.post(f"/m/{code}/vote", data=data, headers=JSON)
        assert (answer.status_code, answer.get_json()["outcome"]) == (status, outcome), why
        assert answer.get_json()["message"] and not answer.get_json()["message"].isascii(), why
    # Without the form's token: a JSON error in Chinese, as the script shows it.
    no_token = other.post(f"/m/{code}/vote", data={"question": theirs["question"], "option": "1"}, headers=JSON)
    assert no_token.status_code == 400 and no_token.is_json and not no_token.get_json()["error"]["message"].isascii()
    # A forged code gets the answer of a question not in the meeting: this URL tells a guesser
    # nothing (the page reloads, and the page is where guesses are counted).
    forged = other.post("/m/123456/vote", data=theirs | {"option": "1"}, headers=JSON)
    assert (forged.status_code, forged.get_json()["outcome"]) == (409, "no_such_question")
    # A phone without the page's cookie: nothing counted.
    other.delete_cookie("minyi_device")
    cookieless = other.post(f"/m/{code}/vote", data=theirs | {"option": "1"}, headers=JSON)
    assert cookieless.status_code == 409 and cookieless.get_json()["outcome"] == "no_device"
    assert votes() == ["1"]

    third = app.test_client()
    _html, late = vote_page(third, code)
    assert post(staff, f"/meetings/{meeting.id}/questions/{question.id}/close").status_code == 303
    closed = third.post(f"/m/{code}/vote", data=late | {"question": str(question.id), "option": "2"}, headers=JSON)
    assert closed.status_code == 409 and closed.get_json()["outcome"] == "not_open"
    assert votes() == ["1"]


def test_where_push_cannot_work_the_page_polls(app, running):
    """The test server is neither gevent nor given Redis: no events URL, and the URL says 204."""
    _staff, meeting = running
    html, _fields = vote_page(app.test_client(), meeting.join_code)
    assert "data-events-url" not in html and "data-state-url" in html
    assert app.test_client().get(f"/m/{meeting.join_code}/events").status_code == 204


@pytest.fixture
def pushing(app, redis_client):
    app.config.update(REDIS_URL=REDIS_URL, MEETING_PUSH="on")
    app.extensions.pop(EXTENSION_KEY, None)
    app.extensions.pop("minyi.meeting_state_cache", None)
    yield app
    push = app.extensions.pop(EXTENSION_KEY, None)
    if push is not None:
        push.stop()  # which ends every stream still open


class Stream:
    """One phone's event stream, read in a thread so the test can wait with a timeout. Like the
    page's script, it closes the stream once the meeting has ended."""

    def __init__(self, response):
        self.response, self.events = response, queue.Queue()
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buffer = b""
        try:
            for chunk in self.response.response:
                buffer += chunk
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    for line in block.split(b"\n"):
                        if line.startswith(b"data: "):
                            state = json.loads(line[6:])
                            self.events.put(state)
                            if state["ended"]:
                                self.response.close()
                                return
        finally:
            self.ended.set()

    def next(self, timeout: float = 5) -> dict:
        return self.events.get(timeout=timeout)


def test_phones_hear_a_staff_action_pushed_at_once(pushing, running, redis_client):
    staff, meeting = running
    code = meeting.join_code
    phone = pushing.test_client()
    html, _fields = vote_page(phone, code)
    assert f'data-events-url="/m/{code}/events"' in html
    response = phone.get(f"/m/{code}/events", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["X-Accel-Buffering"] == "no"
    stream = Stream(response)
    first = stream.next()
    assert first["question"]["position"] == 1 and first["question"]["open"] is True
    assert "phones" not in json.dumps(first)  # never the running tally
    started = time.monotonic()
    assert post(staff, f"/meetings/{meeting.id}/show/2").status_code == 303
    pushed = stream.next()
    assert pushed["question"]["position"] == 2 and pushed["question"]["open"] is False
    assert time.monotonic() - started < 2
    assert post(staff, f"/meetings/{meeting.id}/end", confirm="yes").status_code == 303
    assert stream.next()["ended"] is True
    assert stream.ended.wait(5)
    push = pushing.extensions[EXTENSION_KEY]
    assert push._watching == {}  # the closed stream let go of the meeting


def test_a_lost_subscription_ends_the_streams_so_phones_come_back_fresh(pushing, running, redis_client):
    staff, meeting = running
    phone = pushing.test_client()
    vote_page(phone, meeting.join_code)
    response = phone.get(f"/m/{meeting.join_code}/events", buffered=False)
    stream = Stream(response)
    assert stream.next()["question"]["position"] == 1
    # Redis drops the subscriber's connection (as on a Redis restart): changes may be missed, so
    # the stream ends, and the phone's EventSource reconnects and reads the state afresh.
    assert redis_client.client_kill_filter(_type="pubsub") >= 1
    assert stream.ended.wait(5)
    push = pushing.extensions[EXTENSION_KEY]
    deadline = time.monotonic() + 10
    while not push.ready() and time.monotonic() < deadline:
        time.sleep(0.1)
    again = Stream(phone.get(f"/m/{meeting.join_code}/events", buffered=False))
    assert again.next()["question"]["position"] == 1
    assert post(staff, f"/meetings/{meeting.id}/show/2").status_code == 303
    assert again.next()["question"]["position"] == 2


def test_with_redis_down_the_events_url_sends_phones_to_polling(app, running):
    _staff, meeting = running
    app.config.update(REDIS_URL="redis://127.0.0.1:9/0", MEETING_PUSH="on")
    app.extensions.pop(EXTENSION_KEY, None)
    try:
        assert app.test_client().get(f"/m/{meeting.join_code}/events").status_code == 204
    finally:
        app.extensions.pop(EXTENSION_KEY).stop()


def test_a_forged_code_on_the_events_url_is_a_404(pushing, running):
    assert pushing.test_client().get("/m/123456/events").status_code == 404
    assert pushing.test_client().get("/m/abc/events").status_code == 404


def test_a_worker_that_cannot_hold_streams_still_publishes_staff_actions(app, running, redis_client):
    """Sync workers (MEETING_PUSH auto, no gevent) send phones to polling, yet tell the gevent
    workers of a deployment what staff did."""
    from app.meetings.push import CHANNEL
    staff, meeting = running
    app.config.update(REDIS_URL=REDIS_URL, MEETING_PUSH="auto")
    app.extensions.pop(EXTENSION_KEY, None)
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(CHANNEL)
    try:
        assert listener.get_message(timeout=2) is None  # the confirmation, swallowed
        html, _fields = vote_page(app.test_client(), meeting.join_code)
        assert "data-events-url" not in html
        assert app.test_client().get(f"/m/{meeting.join_code}/events").status_code == 204
        assert post(staff, f"/meetings/{meeting.id}/show/2").status_code == 303
        message = listener.get_message(timeout=5)
        assert message is not None and message["data"].decode() == meeting.join_code
    finally:
        listener.close()
        app.extensions.pop(EXTENSION_KEY, None)
