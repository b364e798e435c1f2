"""A 坝坝会 in real browsers: staff run it from a phone, the big screen on a second browser
follows within two seconds, residents vote from their phones."""

from __future__ import annotations

import re
import time

from tests.e2e.conftest import log_in, require_browser, shot

require_browser()
from playwright.sync_api import expect  # noqa: E402
from tests.staff.conftest import PASSWORD, world  # noqa: E402,F401  (the staff tests' fixture)

PHONE = {"width": 360, "height": 740}


def test_a_meeting_with_a_big_screen_and_phones(server, browser, world):
    staff_context, staff = log_in(browser, server, "community", PASSWORD, viewport=PHONE)
    staff.get_by_role("link", name="坝坝会").click()
    staff.get_by_label("议题").fill("3 栋加装电梯征求意见")
    staff.get_by_label("地点").fill("3 栋楼下")
    staff.get_by_label(re.compile("到场人数")).fill("20")
    staff.get_by_role("button", name="建好，去添加问题").click()
    staff.wait_for_url(re.compile(r".*/meetings/\d+$"))
    control_url = staff.url
    for kind, text, options in (("同意不同意", "同意在 3 栋加装电梯吗？", ""),
                                ("满意度（五级）", "对改造方案满意吗？", ""),
                                ("单选", "电梯装在哪一侧？", "东侧\n西侧")):
        staff.get_by_label("题型").select_option(label=kind)
        staff.get_by_label("问题", exact=True).fill(text)
        if options:
            staff.get_by_label(re.compile("选项")).fill(options)
        staff.get_by_role("button", name="添加", exact=True).click()
        expect(staff.locator("body")).to_contain_text("问题已添加")
    staff.get_by_role("button", name="开始投票").first.click()
    code = re.search(r"\d{6}", staff.locator("b.code").inner_text()).group(0)
    shot(staff, "meeting-control")

    screen_context, screen_page = log_in(browser, server, "street", PASSWORD, viewport={"width": 1920, "height": 1080})
    screen_page.goto(control_url + "/screen")
    expect(screen_page.locator("#q-text")).to_have_text("同意在 3 栋加装电梯吗？")
    expect(screen_page.locator(".code")).to_have_text(code)

    phones = [browser.new_context(viewport=PHONE) for _ in range(3)]
    for n, context in enumerate(phones):
        phone = context.new_page()
        phone.goto(f"{server}/m")
        phone.get_by_label(re.compile("投票码")).fill(code)
        phone.get_by_role("button", name="进入投票").click()
        phone.get_by_role("button", name="同意" if n < 2 else "不同意", exact=True).click()
        expect(phone.locator("body")).to_contain_text("投票成功")
        if n == 0:
            shot(phone, "meeting-phone-voted")
    # The big screen shows the three votes within two seconds of the last one.
    started = time.monotonic()
    expect(screen_page.locator("#totals")).to_contain_text("已投 3 票", timeout=2000)
    assert time.monotonic() - started < 2.0
    # Hands for people without phones.
    staff.goto(control_url)
    staff.locator('input[name="hands-1"]').first.fill("9")
    staff.get_by_role("button", name="记下举手人数").first.click()
    expect(screen_page.locator("#totals")).to_contain_text("已投 12 票（手机 3 · 举手 9）", timeout=2000)
    expect(screen_page.locator("#totals")).to_contain_text("60% 投了票")
    shot(screen_page, "meeting-screen")
    # Next question: the phones follow by themselves.
    phone = phones[0].pages[0]
    staff.get_by_role("button", name="下一题 →").click()
    staff.get_by_role("button", name="开始投票").first.click()  # the first still waiting is the second question
    expect(screen_page.locator("#q-text")).to_have_text("对改造方案满意吗？", timeout=3000)
    expect(phone.get_by_role("button", name="满意", exact=True)).to_be_visible(timeout=5000)
    for context in (staff_context, screen_context, *phones):
        context.close()
