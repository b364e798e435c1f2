"""The issue's test of the evaluator workspace, on the demo: an evaluator opens the demo campaign,
finds the weakest community and why, takes the data into SPSS and Excel and files the PDF report —
every figure matching the API. The weakest community is worked out here from the summary API, the
rate again from the SPSS file's raw answers, so the dashboard is checked against both."""

from __future__ import annotations

import io
import re
import tempfile

import openpyxl
import pypdf
import pyreadstat
import pytest
import sqlalchemy as sa

from app.demo import DEMO_PASSWORD
from app.extensions import db
from app.models import Campaign


def log_in(app, username: str):
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    assert client.post("/staff/login", data={"csrf_token": token, "username": username,
                                              "password": DEMO_PASSWORD}).status_code == 303
    return client


def get_json(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
    return response.get_json()


def test_an_evaluator_finds_the_weakest_community_and_why_and_files_it(app, runner):
    assert runner.invoke(args=["demo", "--responses", "600"]).exit_code == 0
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.name.like("%治理创新考评%")))
    client = log_in(app, "kaoping")
    base = f"/api/v1/campaigns/{campaign.id}"

    # The dashboard names the weakest communities on the overall question.
    board = get_json(client, f"{base}/dashboard")
    key = board["rates"]["item"]["key"]
    assert key == "overall" and board["weakest"]
    weakest = board["weakest"][0]

    # The same, worked out from the summary API with the dashboard's filter (flagged and excluded out).
    summary = get_json(client, f"{base}/summary?group_by=community&include_flagged=false")
    groups = next(i["groups"] for i in summary["items"] if i["key"] == key)
    rated = [g for g in groups if g["satisfaction_rate"] is not None]
    lowest = min(rated, key=lambda g: (g["satisfaction_rate"], g["rate_interval"]["high"]))
    assert weakest["key"] == lowest["key"] and weakest["rate"] == lowest["satisfaction_rate"]
    assert weakest["interval"] == lowest["rate_interval"] and weakest["n_valid"] == lowest["n_valid"]
    code = next(g["code"] for g in summary["groups"] if g["key"] == lowest["key"])

    # Why: the community's page says where it falls short of the rest, each figure the summary's.
    community = get_json(client, f"{base}/dashboard?community={weakest['key']}")
    whole = get_json(client, f"{base}/summary?group_by=campaign&include_flagged=false")
    rates_here = {i["key"]: next(g for g in i["groups"] if g["key"] == weakest["key"]) for i in summary["items"]}
    rates_all = {i["key"]: i["groups"][0] for i in whole["items"]}
    assert community["gaps"], "the weakest community has answers to compare"
    for gap in community["gaps"]:
        assert gap["rate"] == rates_here[gap["key"]]["satisfaction_rate"]
        assert gap["campaign_rate"] == rates_all[gap["key"]]["satisfaction_rate"]
    assert [g["gap"] for g in community["gaps"]] == sorted(g["gap"] for g in community["gaps"])
    ranking = community["ranking"]["communities"][0]
    assert ranking["id"] == weakest["key"] and ranking["indicators"], "its points indicator by indicator"

    # SPSS: the raw answers give the same rate (flagged and excluded out; 不了解 is a missing value).
    sav = client.get(f"{base}/responses.sav")
    assert sav.status_code == 200
    with tempfile.NamedTemporaryFile(suffix=".sav") as f:
        f.write(sav.data)
        f.flush()
        frame, meta = pyreadstat.read_sav(f.name)
    assert meta.column_names_to_labels[key] == next(i.text for i in campaign.survey_version.survey_definition.items
                                                   if i.key == key)
    mine = frame[(frame["community_code"] == code) & (frame["quality_flags"] == 0)
                 & (frame["excluded"] == 0)][key].dropna()
    satisfied = {float(code) for code in summary["items"][[i["key"] for i in summary["items"]].index(key)]
                 ["scale"]["satisfied"]}
    assert len(mine) == lowest["n_valid"]
    assert mine.isin(satisfied).mean() == pytest.approx(lowest["satisfaction_rate"])

    # Excel: the summary workbook's row for the community carries the same rate and interval.
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"{base}/summary.xlsx").data))
    header, *rows = list(book["各社区"].values)
    row = next(r for r in rows if r[header.index("社区编码")] == code)
    assert row[header.index(f"{key} 满意率")] == pytest.approx(lowest["satisfaction_rate"])
    assert row[header.index(f"{key} 满意率下限")] == pytest.approx(lowest["rate_interval"]["low"])
    assert row[header.index(f"{key} 有效回答")] == lowest["n_valid"]

    # The PDF report for the 档案: the community, its rate as printed, its n.
    pdf = client.get(f"/evaluate/campaigns/{campaign.id}/communities/{weakest['key']}/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.data)).pages).replace(" ", "")
    assert lowest["name"] in text and f"{100 * lowest['satisfaction_rate']:.1f}%" in text
