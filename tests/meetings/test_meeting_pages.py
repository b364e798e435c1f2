"""A meeting run through its pages: staff set it up and run it, residents vote at /m/<code>."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, HandCount, Meeting, MeetingQuestion, MeetingVote
from tests.staff.conftest import csrf_of


def new_meeting(client, world, **changes) -> Meeting:
    data = {"csrf_token": csrf_of(client, "/meetings/"), "form_id": uuid.uuid4().hex,
            "community": world.regions["C1"].id, "topic": "加装电梯征求意见", "place": "3 栋楼下",
            "starts_at": "2026-11-22T19:30", "attendance": "30"} | changes
    response = client.post("/meetings/", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return db.session.scalar(sa.select(Meeting).order_by(Meeting.id.desc()).limit(1))


def post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_of(client, "/meetings/"), **data})


@pytest.fixture
def running(as_role, world):
    """A meeting in C1 with a yes/no question on the screen and voting open."""
    staff = as_role("community")
    meeting = new_meeting(staff, world)
    assert post(staff, f"/meetings/{meeting.id}/questions", kind="yes_no", text="同意加装电梯吗？").status_code == 303
    assert post(staff, f"/meetings/{meeting.id}/questions", kind="choose_one", text="电梯装在哪边？",
                options="东侧\n西侧\n").status_code == 303
    question = meeting.questions[0]
    assert post(staff, f"/meetings/{meeting.id}/questions/{question.id}/open").status_code == 303
    db.session.expire_all()
    return staff, db.session.get(Meeting, meeting.id)


def vote_page(phone, code: str) -> tuple[str, dict]:
    html = phone.get(f"/m/{code}").get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    return html, {k: unescape(v) for k, v in fields.items()}


def test_staff_set_up_a_meeting_and_its_questions(running):
    staff, meeting = running
    assert meeting.attendance == 30 and meeting.starts_at.isoformat() == "2026-11-22T11:30:00+00:00"
    assert [q.text for q in meeting.questions] == ["同意加装电梯吗？", "电梯装在哪边？"]
    assert meeting.current_position == 1  # the first question goes on the screen by itself
    control = staff.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert meeting.join_code in control and "停止投票" in control and "下一题" in control and "上一题" not in control
    screen = staff.get(f"/meetings/{meeting.id}/screen").get_data(as_text=True)
    assert meeting.join_code in screen and "同意加装电梯吗？" in screen and 'src="/static/js/live.js' in screen
    assert staff.get(f"/meetings/{meeting.id}/join.svg").mimetype == "image/svg+xml"


def test_a_resident_votes_once_from_a_phone(app, running):
    _staff, meeting = running
    phone = app.test_client()
    html, fields = vote_page(phone, meeting.join_code)
    assert "同意加装电梯吗？" in html and '<button name="option" value="1">同意</button>' in html
    response = phone.post(f"/m/{meeting.join_code}", data=fields | {"option": "1"})
    assert response.status_code == 303
    after = phone.get(response.headers["Location"]).get_data(as_text=True)
    assert "投票成功" in after and "您已投票：<b>同意</b>" in after
    again = phone.post(f"/m/{meeting.join_code}", data=fields | {"option": "2"})
    assert again.status_code == 409 and "已经投过这道题了" in again.get_data(as_text=True)
    other = app.test_client()
    _html, other_fields = vote_page(other, meeting.join_code)
    assert other.post(f"/m/{meeting.join_code}", data=other_fields | {"option": "7"}).status_code == 400
    assert other.post(f"/m/{meeting.join_code}", data=other_fields | {"option": "2"}).status_code == 303
    assert sorted(db.session.scalars(sa.select(MeetingVote.option))) == ["1", "2"]


@pytest.mark.parametrize("path, status", [("/m/000000", 404), ("/m/12345", 404), ("/m/abcdef", 404),
                                          ("/m/" + "9" * 40, 404), ("/m?code=12", 404)])
def test_a_forged_meeting_code_gets_a_kind_answer(app, running, path, status):
    response = app.test_client().get(path)
    assert response.status_code == status and "没有找到投票码" in response.get_data(as_text=True)


def test_a_vote_on_a_closed_or_replaced_question_counts_nothing(app, running):
    staff, meeting = running
    phone = app.test_client()
    _html, fields = vote_page(phone, meeting.join_code)
    assert post(staff, f"/meetings/{meeting.id}/questions/{meeting.questions[0].id}/close").status_code == 303
    closed = phone.post(f"/m/{meeting.join_code}", data=fields | {"option": "1"})
    assert closed.status_code == 409 and "不能投票" in closed.get_data(as_text=True)
    stale = phone.post(f"/m/{meeting.join_code}", data=fields | {"question": "999999", "option": "1"})
    assert stale.status_code == 409
    assert phone.post(f"/m/{meeting.join_code}", data={"question": fields["question"], "option": "1"}).status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(MeetingVote.id))) == 0


def test_the_state_follows_votes_hands_and_attendance_and_answers_304_when_unchanged(app, running):
    staff, meeting = running
    state = app.test_client().get(f"/m/{meeting.join_code}/state.json")
    body = state.get_json()
    assert body["question"]["text"] == "同意加装电梯吗？" and body["question"]["open"] is True
    unchanged = app.test_client().get(f"/m/{meeting.join_code}/state.json",
                                      headers={"If-None-Match": state.headers["ETag"]})
    assert unchanged.status_code == 304
    question = meeting.questions[0]
    assert post(staff, f"/meetings/{meeting.id}/questions/{question.id}/hands",
                **{"hands-1": "12", "hands-2": "3"}).status_code == 303
    assert post(staff, f"/meetings/{meeting.id}/attendance", attendance="45").status_code == 303
    # The big screen shows the counts; residents' phones never do (a tally seen first sways the vote).
    body = staff.get(f"/meetings/{meeting.id}/state.json").get_json()
    assert body["question"]["hands"] == 15 and body["attendance"] == 45
    assert body["question"]["share_voted"] == round(15 / 45, 3)
    phone_body = app.test_client().get(f"/m/{meeting.join_code}/state.json").get_json()
    assert set(phone_body["question"]) == {"id", "position", "of", "text", "open", "options"}
    assert phone_body["question"]["options"] == [{"code": "1", "label": "同意"}, {"code": "2", "label": "不同意"}]
    # Bad hand counts change nothing.
    assert post(staff, f"/meetings/{meeting.id}/questions/{question.id}/hands", **{"hands-1": "-4"}).status_code == 303
    assert db.session.scalar(sa.select(HandCount.count).where(HandCount.option == "1")) == 12
    # Next question: the screen and phones follow.
    assert post(staff, f"/meetings/{meeting.id}/show/2").status_code == 303
    assert app.test_client().get(f"/m/{meeting.join_code}/state.json").get_json()["question"]["text"] == "电梯装在哪边？"
    actions = set(db.session.scalars(sa.select(AuditEntry.action).where(
        AuditEntry.object_type.in_(["meeting", "meeting_question"]))))
    assert actions == {"create", "show", "open", "hands", "edit"}


@pytest.mark.parametrize("role, page, change", [("admin", 200, 303), ("street", 200, 303), ("community", 200, 303),
                                                ("evaluator", 200, 403), ("outsider", 404, 404)])
def test_who_may_see_and_run_a_meeting(as_role, running, role, page, change):
    _staff, meeting = running
    client = as_role(role)
    assert client.get(f"/meetings/{meeting.id}").status_code == page
    assert client.get(f"/meetings/{meeting.id}/screen").status_code == page
    assert client.get(f"/meetings/{meeting.id}/state.json").status_code == page
    response = post(client, f"/meetings/{meeting.id}/attendance", attendance="99")
    assert response.status_code == change
    assert post(client, f"/meetings/{meeting.id}/questions/from-survey", item="sat").status_code == change
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).attendance == (99 if change == 303 else 30)


def test_a_meeting_cannot_be_made_outside_scope_nor_twice_by_a_double_click(as_role, world):
    client = as_role("community")
    response = client.post("/meetings/", data={
        "csrf_token": csrf_of(client, "/meetings/"), "form_id": uuid.uuid4().hex, "community": world.regions["C3"].id,
        "topic": "越界", "place": "某处", "starts_at": "2026-11-22T19:30", "attendance": "0"})
    assert response.status_code == 400
    form_id = uuid.uuid4().hex
    for _ in range(2):
        new_meeting(client, world, form_id=form_id)
    assert db.session.scalar(sa.select(sa.func.count(Meeting.id))) == 1


def test_ending_the_meeting_closes_voting(app, running):
    staff, meeting = running
    phone = app.test_client()
    _html, fields = vote_page(phone, meeting.join_code)  # the form was open on the phone …
    assert post(staff, f"/meetings/{meeting.id}/end", confirm="yes").status_code == 303  # … when the meeting ended
    assert "会议已结束" in vote_page(app.test_client(), meeting.join_code)[0]
    assert phone.post(f"/m/{meeting.join_code}", data=fields | {"option": "1"}).status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(MeetingVote.id))) == 0


def test_ending_asks_to_confirm_first(running):
    staff, meeting = running
    refused = staff.post(f"/meetings/{meeting.id}/end", data={"csrf_token": csrf_of(staff, "/meetings/")},
                         follow_redirects=True)
    assert "请先勾选“确认结束”" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).ended_at is None


def test_staff_are_warned_when_the_campaign_is_not_collecting_and_residents_are_not_told_it_counts(
        app, as_role, world):
    from app.models import Campaign, Response
    from app.models.types import utcnow
    staff = as_role("community")
    meeting = new_meeting(staff, world, campaign=world.campaigns["A"].id)
    assert post(staff, f"/meetings/{meeting.id}/questions/from-survey", item="sat").status_code == 303
    db.session.expire_all()
    meeting = db.session.get(Meeting, meeting.id)
    assert post(staff, f"/meetings/{meeting.id}/questions/{meeting.questions[0].id}/open").status_code == 303
    db.session.execute(sa.update(Campaign).where(Campaign.id == world.campaigns["A"].id)
                       .values(closes_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    control = staff.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "不在收集期" in control and "不会计入测评" in control
    phone = app.test_client()
    html, fields = vote_page(phone, meeting.join_code)
    assert "计入测评" not in html
    assert phone.post(f"/m/{meeting.join_code}", data=fields | {"option": "4"}).status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 0  # the vote counted, the answer not


def test_the_record_exports_as_xlsx_and_pdf_with_phones_and_hands_apart(running):
    import io

    import openpyxl
    import pypdf
    staff, meeting = running
    question = meeting.questions[0]
    assert post(staff, f"/meetings/{meeting.id}/questions/{question.id}/hands",
                **{"hands-1": "12", "hands-2": "3"}).status_code == 303
    sheet = staff.get(f"/meetings/{meeting.id}/record.xlsx")
    assert sheet.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert ("议题", "加装电梯征求意见") in [r[:2] for r in rows] and ("到场人数", 30) in [r[:2] for r in rows]
    assert (1, "同意加装电梯吗？", "同意", 0, 12, 12) in [r[:6] for r in rows]
    assert (1, "同意加装电梯吗？", "小计", 0, 15, 15) in [r[:6] for r in rows]
    pdf = staff.get(f"/meetings/{meeting.id}/record.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "坝坝会记录" in text and "同意加装电梯吗" in text and "电梯装在哪边" in text and "12" in text


def test_guessing_meeting_codes_gets_slowed_down(app, running):
    _staff, meeting = running
    guesser = app.test_client()
    statuses = [guesser.get(f"/m/{100000 + n}").status_code for n in range(31)]
    assert statuses[:30] == [404] * 30 and statuses[30] == 429
    assert "太频繁" in guesser.get("/m?code=123456").get_data(as_text=True)


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_client():
    import redis
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as e:
        pytest.fail(f"Redis must answer at {REDIS_URL} for this test (start it as the README says): {e}")
    return client


def test_phones_read_the_state_from_redis_and_a_staff_action_drops_it_at_once(app, running, redis_client):
    staff, meeting = running
    app.config["REDIS_URL"] = REDIS_URL
    app.extensions.pop("minyi.meeting_state_cache", None)
    key = f"minyi:meeting:{meeting.join_code}:phone"
    phone = app.test_client()
    first = phone.get(f"/m/{meeting.join_code}/state.json")
    assert first.get_json()["question"]["position"] == 1
    assert redis_client.get(key) is not None and 0 < redis_client.pttl(key) <= 1000
    # Served from Redis: a question changed behind the application's back is not seen…
    db.session.execute(sa.update(MeetingQuestion).where(MeetingQuestion.id == meeting.questions[0].id)
                       .values(text="改过的字"))
    db.session.commit()
    assert phone.get(f"/m/{meeting.join_code}/state.json").get_json()["question"]["text"] == "同意加装电梯吗？"
    # …while a staff action through the application is seen at the next poll.
    assert post(staff, f"/meetings/{meeting.id}/show/2").status_code == 303
    assert redis_client.get(key) is None
    assert phone.get(f"/m/{meeting.join_code}/state.json").get_json()["question"]["position"] == 2


def test_phones_are_answered_from_the_database_when_redis_is_down(app, running):
    _staff, meeting = running
    app.config["REDIS_URL"] = "redis://127.0.0.1:9/0"  # the discard port: nothing answers
    app.extensions.pop("minyi.meeting_state_cache", None)
    response = app.test_client().get(f"/m/{meeting.join_code}/state.json")
    assert response.status_code == 200 and response.get_json()["question"]["position"] == 1


def test_a_meeting_fed_to_a_campaign_asks_its_questionnaire_and_phones_answer_it(app, as_role, world):
    from app.models import Answer, Channel, Response
    staff, admin = as_role("community"), as_role("admin")
    wrong = admin.post("/meetings/", data={
        "csrf_token": csrf_of(admin, "/meetings/"), "form_id": uuid.uuid4().hex, "community": world.regions["C1"].id,
        "campaign": world.campaigns["B"].id, "topic": "议事", "place": "广场", "starts_at": "2026-11-22T19:30",
        "attendance": "0"})
    assert wrong.status_code == 400 and "所选社区不在这次测评里" in wrong.get_data(as_text=True)
    meeting = new_meeting(staff, world, campaign=world.campaigns["A"].id)
    assert meeting.campaign_id == world.campaigns["A"].id
    page = staff.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "从“甲调查”的问卷里选一道题" in page and "您对社区服务满意吗？" in page
    assert post(staff, f"/meetings/{meeting.id}/questions/from-survey", item="sat").status_code == 303
    assert post(staff, f"/meetings/{meeting.id}/questions/from-survey", item="sat").status_code == 303  # asked already
    assert post(staff, f"/meetings/{meeting.id}/questions/from-survey", item="nope").status_code == 303
    db.session.expire_all()
    meeting = db.session.get(Meeting, meeting.id)
    assert [(q.source, q.text) for q in meeting.questions] == [("sat", "您对社区服务满意吗？")]
    assert post(staff, f"/meetings/{meeting.id}/questions/{meeting.questions[0].id}/open").status_code == 303
    phone = app.test_client()
    html, fields = vote_page(phone, meeting.join_code)
    assert "您的回答会匿名计入测评" in html  # the resident is told where the answer goes
    assert "不在收集期" not in staff.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert phone.post(f"/m/{meeting.join_code}", data=fields | {"option": "4"}).status_code == 303
    response = db.session.scalars(sa.select(Response)).one()
    assert (response.channel, response.meeting_id, response.community_id) == \
        (Channel.MEETING, meeting.id, world.regions["C1"].id)
    assert [(a.item, a.value) for a in db.session.scalars(sa.select(Answer))] == [("sat", "4")]
    # The progress page counts it under 坝坝会, apart from the random sample.
    progress = as_role("admin").get(f"/staff/campaigns/{world.campaigns['A'].id}").get_data(as_text=True)
    assert "坝坝会" in progress


def test_a_meeting_without_a_campaign_offers_no_questionnaire(running):
    staff, meeting = running
    assert "问卷里选" not in staff.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert post(staff, f"/meetings/{meeting.id}/questions/from-survey", item="sat").status_code == 303
    db.session.expire_all()
    assert len(db.session.get(Meeting, meeting.id).questions) == 2


def test_a_vote_posted_without_the_phones_cookie_counts_nothing(app, running):
    """Posting the form again and again with the cookie dropped must not count again and again."""
    _staff, meeting = running
    phone = app.test_client()
    _html, fields = vote_page(phone, meeting.join_code)
    phone.delete_cookie("minyi_device")
    for _ in range(3):
        response = phone.post(f"/m/{meeting.join_code}", data=fields | {"option": "1"})
        assert response.status_code == 409 and "请在这个页面上投票" in response.get_data(as_text=True)
        phone.delete_cookie("minyi_device")
    assert db.session.scalar(sa.select(sa.func.count(MeetingVote.id))) == 0


def test_guessing_codes_on_the_state_url_is_slowed_down_too(app, running):
    _staff, meeting = running
    # Polling a real meeting's state costs nothing of the allowance …
    poller = app.test_client()
    assert {poller.get(f"/m/{meeting.join_code}/state.json").status_code for _ in range(40)} == {200}
    # … while wrong codes from the same address run it out.
    guesser = app.test_client()
    statuses = [guesser.get(f"/m/{100000 + n}/state.json").status_code for n in range(31)]
    assert statuses[:30] == [404] * 30 and statuses[30] == 429


def test_with_redis_down_residents_still_vote(database_uri, as_role, world):
    """The rate limits and the phones' state fall back to memory and the database."""
    from app import create_app
    from tests.conftest import RequestScopedClient, base_config
    staff = as_role("community")
    meeting = new_meeting(staff, world)
    assert post(staff, f"/meetings/{meeting.id}/questions", kind="yes_no", text="同意吗？").status_code == 303
    assert post(staff, f"/meetings/{meeting.id}/questions/{meeting.questions[0].id}/open").status_code == 303
    down = create_app(base_config(database_uri) | {"REDIS_URL": "redis://127.0.0.1:9/0"})
    down.test_client_class = RequestScopedClient
    phone = down.test_client()
    with down.app_context():
        page = phone.get(f"/m/{meeting.join_code}")
        assert page.status_code == 200
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.get_data(as_text=True)))
        assert phone.post(f"/m/{meeting.join_code}", data=fields | {"option": "1"}).status_code == 303
        assert phone.get(f"/m/{meeting.join_code}/state.json").status_code == 200
        db.session.remove()
        db.engine.dispose()  # this second app's pool: no connection left for the garbage collector
    assert db.session.scalar(sa.select(sa.func.count(MeetingVote.id))) == 1


def test_items_asked_only_after_another_answer_are_not_offered_and_an_ended_meeting_takes_no_question(
        as_role, world):
    staff = as_role("community")
    meeting = new_meeting(staff, world, campaign=world.campaigns["A"].id)
    page = staff.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "您参加过议事会吗？" in page and 'value="joined_sat"' not in page
    assert post(staff, f"/meetings/{meeting.id}/questions/from-survey", item="joined_sat").status_code == 303
    assert post(staff, f"/meetings/{meeting.id}/end", confirm="yes").status_code == 303
    assert post(staff, f"/meetings/{meeting.id}/questions", kind="yes_no", text="还能加吗？").status_code == 303
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).questions == []
