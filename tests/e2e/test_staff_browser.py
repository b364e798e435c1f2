"""An organiser, as a new user would, in a real browser: log in, create a campaign for a few
communities, open it, print posters and tickets, type in a paper form, watch progress."""

from __future__ import annotations

import re

from tests.e2e.conftest import require_browser, shot

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
    expect(page.locator("body")).to_contain_text("已保存（编号 0001）")
    shot(page, "staff-paper-entry")

    page.goto(campaign_url)
    row = page.locator("tr", has_text="翠湖社区")
    cells = row.locator("td").all_inner_texts()
    assert cells[3] == "1" and cells[6] == "1"  # 纸质 1, 合计 1
    shot(page, "staff-progress")
    context.close()
