"""A 坝坝会 in real browsers, as a new user would run it: staff set up five questions (two of
the campaign's questionnaire, three made on the spot) and run the meeting from a phone, the
big screen on a second browser follows within two seconds, residents vote from their
phones, hands are counted in, and the record is downloaded as PDF and XLSX. Two phones hear
of each staff action pushed (EventSource, Redis); the third has no EventSource and polls."""

from __future__ import annotations

import io
import re
import time

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import log_in, require_browser, shot

require_browser()
from playwright.sync_api import expect  # noqa: E402
from tests.staff.conftest import PASSWORD, world  # noqa: E402,F401  (the staff tests' fixture)

PHONE = {"width": 360, "height": 740}
#: (how it is added, question, answer each of the three phones picks, hands per answer label)
QUESTIONS = [
    ("survey", "您对社区服务满意吗？", ["满意", "满意", "一般"], {"非常满意": 4}),
    ("survey", "您参加过议事会吗？", ["参加过", "没参加过", "参加过"], {"没参加过": 6}),
    ("同意不同意", "同意在 3 栋加装电梯吗？", ["同意", "同意", "不同意"], {"同意": 9, "不同意": 2}),
    ("满意度（五级）", "对改造方案满意吗？", ["非常满意", "一般", "满意"], {}),
    ("单选", "电梯装在哪一侧？", ["东侧", "西侧", "东侧"], {"西侧": 3}),
]


@pytest.fixture
def pushing(app):
    """Push on, as under gunicorn's gevent worker with Redis (here the test server's threads)."""
    from app.meetings.push import EXTENSION_KEY
    app.config.update(REDIS_URL="redis://127.0.0.1:6379/0", MEETING_PUSH="on")
    yield
    push = app.extensions.pop(EXTENSION_KEY, None)
    if push is not None:
        push.stop()  # ends the phones' streams, and so the server threads that serve them


def test_a_five_question_meeting_run_from_a_phone_with_a_big_screen_and_phones(pushing, server, browser, world):
    from app.extensions import db
    from app.models import Answer, Channel, Response

    staff_context, staff = log_in(browser, server, "community", PASSWORD, viewport=PHONE)
    staff.get_by_role("link", name="坝坝会").click()
    campaign = staff.get_by_label("计入哪次测评")
    campaign.select_option(label=campaign.locator("option", has_text="甲调查").inner_text())
    staff.get_by_label("议题").fill("3 栋加装电梯征求意见")
    staff.get_by_label("地点").fill("3 栋楼下")
    staff.get_by_label(re.compile("到场人数")).fill("20")
    staff.get_by_role("button", name="建好，去添加问题").click()
    staff.wait_for_url(re.compile(r".*/meetings/\d+$"))
    control_url = staff.url
    for how, text, _votes, _hands in QUESTIONS:
        if how == "survey":
            staff.get_by_label(re.compile("问卷里选一道题")).select_option(label=text)
            staff.get_by_role("button", name="添加这道题").click()
            expect(staff.locator("body")).to_contain_text("问卷里的题已添加")
        else:
            staff.get_by_label("题型").select_option(label=how)
            staff.get_by_label("问题", exact=True).fill(text)
            if how == "单选":
                staff.get_by_label(re.compile("选项")).fill("东侧\n西侧")
            staff.get_by_role("button", name="添加", exact=True).click()
            expect(staff.locator("body")).to_contain_text("问题已添加")
    expect(staff.locator(".now-text")).to_have_text(QUESTIONS[0][1])  # the first went on the screen by itself
    code = re.search(r"\d{6}", staff.locator("b.code").inner_text()).group(0)

    screen_context, screen = log_in(browser, server, "street", PASSWORD, viewport={"width": 1920, "height": 1080})
    screen.goto(control_url + "/screen")
    expect(screen.locator(".code")).to_have_text(code)

    phones = []
    for n in range(3):
        context = browser.new_context(viewport=PHONE)
        if n == 2:  # an old browser without EventSource: it polls
            context.add_init_script("delete window.EventSource;")
        phone = context.new_page()
        phone.goto(f"{server}/m")
        phone.get_by_label(re.compile("投票码")).fill(code)
        phone.get_by_role("button", name="进入投票").click()
        expect(phone.locator("body")).to_contain_text("请等工作人员开始")
        phones.append(phone)
    assert phones[0].locator("#live").get_attribute("data-events-url") == f"/m/{code}/events"

    for position, (_how, text, votes, hands) in enumerate(QUESTIONS, start=1):
        if position > 1:
            staff.get_by_role("button", name="下一题 →").click()
        staff.locator("#now").get_by_role("button", name="开始投票").click()
        expect(staff.locator("#now")).to_contain_text("投票中")
        expect(screen.locator("#q-text")).to_have_text(text, timeout=3000)
        for n, (phone, answer) in enumerate(zip(phones, votes)):
            # The phone follows the staff by itself: pushed within a moment (each phone waits up
            # to 1.5 s of its own before reloading), or at its next poll (every 3 s or so).
            phone.get_by_role("button", name=answer, exact=True).click(timeout=3500 if n < 2 else 8000)
            expect(phone.locator("body")).to_contain_text("投票成功")
        # The big screen shows the three votes within two seconds of the last one.
        started = time.monotonic()
        expect(screen.locator("#totals")).to_contain_text("已投 3 票", timeout=2000)
        assert time.monotonic() - started < 2.0
        if position == 1:
            shot(phones[0], "meeting-phone-voted")
        # A second vote from the same phone is not offered, and a resent form counts nothing.
        phones[0].reload()
        expect(phones[0].locator("body")).to_contain_text("您已投票")
        if hands:
            staff.goto(control_url)
            for label, n in hands.items():
                staff.locator("#now").get_by_label(label, exact=True).fill(str(n))
            staff.locator("#now").get_by_role("button", name="记下举手人数").click()
            expect(staff.locator("body")).to_contain_text("举手人数已记下")
            total = 3 + sum(hands.values())
            expect(screen.locator("#totals")).to_contain_text(
                f"已投 {total} 票（手机 3 · 举手 {sum(hands.values())}）", timeout=2000)
            expect(screen.locator("#totals")).to_contain_text(f"{round(total / 20 * 100)}% 投了票")
        if position == 3:
            shot(screen, "meeting-screen")
            shot(staff, "meeting-control")
        staff.locator("#now").get_by_role("button", name="停止投票").click()
        expect(screen.locator("#q-open")).to_have_text("投票未开始或已停止", timeout=2000)

    staff.get_by_label(re.compile("确认结束")).check()
    staff.get_by_role("button", name=re.compile("结束这次会")).click()
    expect(staff.locator("body")).to_contain_text("会已结束")
    expect(phones[1].locator("h1")).to_have_text("会议已结束，谢谢您参加！", timeout=3500)
    expect(phones[2].locator("h1")).to_have_text("会议已结束，谢谢您参加！", timeout=8000)
    expect(screen.locator("#q-text")).to_have_text("会议已结束，谢谢大家！", timeout=3000)

    # The record for the archive, downloaded as a user would.
    import openpyxl
    import pypdf
    with staff.expect_download() as pdf_download:
        staff.get_by_role("link", name=re.compile("PDF")).click()
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf_download.value.path().read_bytes())).pages)
    assert "坝坝会记录" in text and "3 栋加装电梯征求意见" in text
    for _how, question, _votes, _hands in QUESTIONS:
        assert re.sub(r"\s", "", question) in re.sub(r"\s", "", text)
    with staff.expect_download() as xlsx_download:
        staff.get_by_role("link", name=re.compile("Excel")).click()
    rows = [r[:6] for r in openpyxl.load_workbook(io.BytesIO(xlsx_download.value.path().read_bytes()))
            .active.iter_rows(values_only=True)]
    assert (3, "同意在 3 栋加装电梯吗？", "同意", 2, 9, 11) in rows
    assert (3, "同意在 3 栋加装电梯吗？", "小计", 3, 11, 14) in rows
    assert (5, "电梯装在哪一侧？", "西侧", 1, 3, 4) in rows

    # The questionnaire questions reached the campaign: one response per phone, channel meeting.
    db.session.expire_all()
    responses = db.session.scalars(sa.select(Response)).all()
    assert len(responses) == 3 and {r.channel for r in responses} == {Channel.MEETING}
    answers = sorted((a.item, a.value) for a in db.session.scalars(sa.select(Answer)))
    assert answers == sorted([("sat", "4"), ("sat", "4"), ("sat", "3"), ("joined", "1"), ("joined", "2"),
                              ("joined", "1")])
    for context in (staff_context, screen_context, *(p.context for p in phones)):
        context.close()
