"""The resident's form in a real browser (Debian's chromium, driven by Playwright) at phone size.

Screenshots are kept in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.e2e.conftest import require_browser, shot
from tests.helpers import count_responses

require_browser()

@pytest.mark.parametrize("width", [320, 414])
def test_the_form_fits_a_small_phone_and_submits(server, browser, open_site, width):
    site, campaign = open_site
    context = browser.new_context(viewport={"width": width, "height": 720})
    page = context.new_page()
    origins = set()
    page.on("request", lambda r: origins.add(r.url.split("/")[2]))
    page.goto(f"{server}/s/{site.token}")

    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    assert float(page.evaluate("getComputedStyle(document.body).fontSize").removesuffix("px")) >= 18
    heights = page.evaluate("[...document.querySelectorAll('.opt, button')].filter(e => e.offsetParent)"
                            ".map(e => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 44
    # Skip logic: the follow-up question appears only after "参加过".
    assert page.locator("#q-joined_sat").is_hidden()
    page.get_by_label("参加过", exact=True).check()
    assert page.locator("#q-joined_sat").is_visible()
    page.get_by_label("没参加过").check()
    assert page.locator("#q-joined_sat").is_hidden()
    shot(page, f"resident-form-{width}px")

    page.locator("#q-sat").get_by_label("满意", exact=True).check()
    page.get_by_label("微信群").check()
    page.get_by_label("您在本社区住了几年？").fill("１２")
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(f"{server}/s/{site.token}/thanks*")
    assert "提交成功" in page.content()
    shot(page, f"resident-thanks-{width}px")
    assert origins == {server.split("/")[2]}  # nothing from another origin
    context.close()
    assert count_responses(campaign.id) == 1


def test_the_form_works_with_javascript_off(server, browser, open_site):
    site, campaign = open_site
    context = browser.new_context(viewport={"width": 360, "height": 720}, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server}/s/{site.token}")
    # Without the script every item shows, with a note saying when to answer it.
    assert page.locator("#q-joined_sat").is_visible()
    assert page.get_by_text("第 2 题选了“参加过”的，请回答这一题。").is_visible()
    page.get_by_role("button", name="提交").click()  # nothing answered: errors beside the items
    assert page.locator("#sat-err").inner_text() == "这一题还没有选，请选一项。"
    shot(page, "resident-errors-nojs")
    page.locator("#q-sat").get_by_label("非常满意").check()
    page.get_by_label("参加过", exact=True).check()
    page.locator("#q-joined_sat").get_by_label("满意", exact=True).check()
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(f"{server}/s/{site.token}/thanks*")
    context.close()
    db.session.expire_all()
    assert count_responses(campaign.id) == 1
