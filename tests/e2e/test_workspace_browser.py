"""An evaluator, as a new user would, in a real browser on the demo: open the campaign's results,
find the weakest community and why, download the data for SPSS and Excel and the PDF report; then
the dashboard on a phone. Screenshots go to test-artifacts/."""

from __future__ import annotations

import io
import re

import openpyxl
import pypdf
import pyreadstat

from app.demo import DEMO_PASSWORD
from app.evaluators import charts
from tests.e2e.conftest import log_in, require_browser, shot

require_browser()
from playwright.sync_api import expect  # noqa: E402

PHONE = {"width": 390, "height": 844}


def test_an_evaluator_finds_the_weakest_community_exports_and_files_the_report(server, browser, runner, tmp_path):
    assert runner.invoke(args=["demo", "--responses", "400"]).exit_code == 0
    context, page = log_in(browser, server, "kaoping", DEMO_PASSWORD)

    page.get_by_role("link", name="2026年社区治理创新考评 问卷调查").click()
    page.get_by_role("link", name="看结果（结果看板）").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("结果看板")
    campaign_id = re.search(r"/campaigns/(\d+)/dashboard", page.url).group(1)
    assert page.locator("svg.chart").count() >= 5
    # A figure opens to show its n, filter and formula.
    first = page.locator("details.fig").first
    first.locator("summary").click()
    expect(first.locator(".trace")).to_be_visible()
    expect(first.locator(".trace")).to_contain_text("依据")
    shot(page, "workspace-dashboard-desktop")

    # The weakest community, and why.
    weakest = page.locator("ol.weakest li a").first
    name = weakest.inner_text()
    api = page.request.get(f"{server}/api/v1/campaigns/{campaign_id}/dashboard")
    assert api.ok and api.json()["weakest"][0]["name"] == name
    weakest.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    expect(page.get_by_role("heading", name="和其他社区比，差在哪里")).to_be_visible()
    expect(page.get_by_role("heading", name="各项指标得分")).to_be_visible()
    shot(page, "workspace-weakest-community-desktop")
    report_href = page.get_by_role("link", name="下载本社区报告（PDF）").get_attribute("href")

    # Data for SPSS and Excel, from the downloads page, as files the browser saves.
    page.get_by_role("link", name="下载数据（Excel、SPSS）").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("下载数据")
    with page.expect_download() as sav:
        page.get_by_role("link", name="原始数据 SPSS（.sav）").click()
    sav_path = tmp_path / "data.sav"
    sav.value.save_as(sav_path)
    frame, meta = pyreadstat.read_sav(str(sav_path))
    assert len(frame) > 0 and meta.column_names_to_labels["overall"].startswith("总的来说")
    assert meta.variable_value_labels["overall"][5.0] == "非常满意"
    with page.expect_download() as xlsx:
        page.get_by_role("link", name="汇总表 Excel（.xlsx）").click()
    xlsx_path = tmp_path / "summary.xlsx"
    xlsx.value.save_as(xlsx_path)
    book = openpyxl.load_workbook(xlsx_path)
    assert name in [row[1] for row in book["各社区"].values]
    shot(page, "workspace-exports-desktop")

    # The report, fetched with the browser's own session.
    pdf = page.request.get(f"{server}{report_href}")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.body())).pages).replace(" ", "")
    assert name in text and "方法说明" in text
    context.close()

    # On a phone: the same dashboard, nothing wider than the screen but the tables (which scroll).
    context, page = log_in(browser, server, "kaoping", DEMO_PASSWORD, viewport=PHONE)
    page.goto(f"{server}/evaluate/campaigns/{campaign_id}/dashboard")
    expect(page.get_by_role("heading", level=1)).to_contain_text("结果看板")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the page is {width}px wide on a {PHONE['width']}px phone"
    # A chart fits the phone and its words stay readable (at least 12 px).
    assert page.locator("figure").first.bounding_box()["width"] <= PHONE["width"]
    drawn = page.locator("svg.chart").first.bounding_box()["width"]
    assert drawn / charts.WIDTH * charts.FONT >= 12, f"chart text drawn at {drawn / charts.WIDTH * charts.FONT:.1f} px"
    shot(page, "workspace-dashboard-phone")
    page.locator("ol.weakest li a").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    shot(page, "workspace-weakest-community-phone")
    context.close()
