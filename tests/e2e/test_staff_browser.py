"""An organiser, as a new user would, in a real browser: log in, create a campaign for a few
communities, open it, print posters and tickets, type in a paper form, watch progress."""

from __future__ import annotations

import re

from tests.e2e.conftest import log_in, require_browser, shot

require_browser()
from playwright.sync_api import expect  # noqa: E402
from tests.staff.conftest import PASSWORD, world  # noqa: E402,F401  (the staff tests' fixture)


def test_an_organiser_runs_a_campaign_from_the_browser(server, browser, world):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/staff/")
    assert "/staff/login" in page.url
    page.get_by_label("用户名").fill("street")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{server}/staff/")

    page.get_by_role("link", name="新建调查").click()
    page.get_by_label("调查名称").fill("华山街道2026年居民满意度调查")
    # The street's two communities are ticked already; keep both.
    assert page.get_by_label("华山街道 · 翠湖社区").is_checked() and page.get_by_label("华山街道 · 文林社区").is_checked()
    page.get_by_role("button", name="创建调查").click()
    page.wait_for_url(re.compile(r".*/staff/campaigns/\d+$"))
    expect(page.locator("body")).to_contain_text("未发布")
    page.get_by_role("button", name="开始调查").click()
    page.wait_for_url(re.compile(r".*/staff/campaigns/\d+$"))
    expect(page.locator("body")).to_contain_text("进行中")
    campaign_url = page.url
    shot(page, "staff-campaign-opened")

    page.get_by_role("link", name="考评点海报").click()
    pdf = page.request.get(server + page.get_by_role("link", name=re.compile("下载全部海报")).get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")

    page.goto(campaign_url)
    page.get_by_role("link", name="随机发放问卷票").click()
    page.get_by_label("社区").select_option(label="翠湖社区")
    page.get_by_label(re.compile("张数")).fill("8")
    page.get_by_role("button", name="生成问卷票").click()
    expect(page.locator("body")).to_contain_text("已生成 8 张问卷票")
    sheet = page.request.get(server + page.get_by_role("link", name=re.compile("PDF")).first.get_attribute("href"))
    assert sheet.ok and sheet.body().startswith(b"%PDF")
    shot(page, "staff-tickets")

    page.goto(campaign_url)
    page.get_by_role("link", name="录入纸质问卷").click()
    page.get_by_role("link", name="翠湖社区").click()
    # Keyboard only: the paper number has the focus; Tab through the answers, Enter saves.
    expect(page.locator("#paper_serial")).to_be_focused()
    page.keyboard.type("0001")
    for codes in ("4", "1", "5", "wechat board", "12", "多办活动"):
        page.keyboard.press("Tab")
        page.keyboard.type(codes)
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator("body")).to_contain_text("已保存（编号 1）")
    shot(page, "staff-paper-entry")

    page.goto(campaign_url)
    row = page.locator("tr", has_text="翠湖社区")
    cells = row.locator("td").all_inner_texts()
    assert cells[3] == "1" and cells[5] == "1" and cells[6] == ""  # 纸质 1, 合计 1, no 坝坝会 phones
    shot(page, "staff-progress")
    context.close()


def _log_in(browser, server, username):
    return log_in(browser, server, username, PASSWORD)


def _key_paper(page, serial, codes):
    expect(page.locator("#paper_serial")).to_be_focused()
    page.keyboard.type(serial)
    for typed in codes:
        page.keyboard.press("Tab")
        page.keyboard.type(typed)
    page.keyboard.press("Enter")
    page.wait_for_load_state()


def test_two_keyers_and_a_settler_enter_papers_twice(server, browser, world):
    campaign_id = world.campaigns["A"].id
    # The street officer switches the campaign to double entry on its settings page.
    street_context, street = _log_in(browser, server, "street")
    street.goto(f"{server}/staff/campaigns/{campaign_id}")
    street.get_by_role("link", name="修改设置").click()
    street.get_by_label(re.compile("纸质问卷双人录入")).check()
    street.get_by_role("button", name="保存设置").click()
    expect(street.locator("body")).to_contain_text("调查设置已保存")
    expect(street.locator("body")).to_contain_text("纸质问卷双人录入")

    # The community worker keys two papers first.
    community_context, community = _log_in(browser, server, "community")
    community.goto(f"{server}/staff/campaigns/{campaign_id}/paper")
    _key_paper(community, "0001", ("4", "1", "5", "wechat", "12", ""))
    expect(community.locator("body")).to_contain_text("第一遍已保存（编号 1）")
    _key_paper(community, "0002", ("3", "2", "", "board", "30", ""))
    expect(community.locator("body")).to_contain_text("第一遍已保存（编号 2）")

    # The street officer keys them again: the first agrees, the second has a slip of the finger.
    street.goto(f"{server}/staff/campaigns/{campaign_id}/paper?community={world.regions['C1'].id}")
    _key_paper(street, "0001", ("4", "1", "5", "wechat", "12", ""))
    expect(street.locator("body")).to_contain_text("完全一致，这份问卷已保存")
    _key_paper(street, "0002", ("3", "2", "", "board", "3", ""))
    expect(street.locator("body")).to_contain_text("有 1 处不一致（第 5 题）")
    shot(street, "staff-double-entry-differs")

    # The district admin settles it with the paper in hand.
    admin_context, admin = _log_in(browser, server, "admin")
    admin.goto(f"{server}/staff/campaigns/{campaign_id}")
    admin.get_by_role("link", name="待第二遍和待核对的问卷").first.click()
    admin.get_by_role("link", name="核对").click()
    expect(admin.locator("body")).to_contain_text("第一遍：30；第二遍：3")
    shot(admin, "staff-double-entry-settle")
    admin.locator("#p-years").fill("30")
    admin.get_by_role("button", name="按原件保存").click()
    expect(admin.locator("body")).to_contain_text("编号 2 已核对并保存")

    admin.goto(f"{server}/staff/campaigns/{campaign_id}")
    cells = admin.locator("tr", has_text="翠湖社区").locator("td").all_inner_texts()
    assert cells[3] == "2" and cells[5] == "2"  # 纸质 2, 合计 2
    for context in (street_context, community_context, admin_context):
        context.close()
