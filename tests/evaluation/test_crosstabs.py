"""Cross-tabs of a campaign through the API, the files and the page: counts recounted by hand from the
stored answers (pandas.crosstab), the test against scipy, and who may read what."""

from __future__ import annotations

import csv
import io
import uuid

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from scipy.stats import chi2_contingency, fisher_exact

from app.extensions import db
from app.models import Answer, Channel, RegionLevel, Response, Role
from app.models.types import utcnow
from app.staff.operations import add_region, exclude_response
from app.submissions import NewResponse, store_response

SAT = ["5", "4", "3", "2", "1"]
SAT_LABELS = ["非常满意", "满意", "一般", "不满意", "非常不满意"]

#: community, channel, sat, joined, channels (ticked options joined by +), excluded ("-": not answered)
RESPONSES = """
A  qr       5   1  wechat+board  no
A  qr       5   1  wechat        no
A  ticket   4   1  board         no
A  qr       4   2  -             no
A  paper    5   1  meeting       no
A  qr       dk  2  wechat        no
A  qr       1   2  wechat        yes
B  qr       3   2  board         no
B  ticket   2   2  wechat+board  no
B  qr       3   1  -             no
B  qr       4   -  wechat        no
B  paper    2   2  -             no
B  qr       5   1  wechat        yes
C  qr       1   2  board         no
C  qr       2   2  wechat        no
C  ticket   1   2  -             no
C  qr       dk  1  board+meeting no
C  qr       -   2  wechat        no
C  qr       5   1  wechat        yes
"""


def parse(table: str) -> list[dict]:
    rows = []
    for line in table.strip().splitlines():
        community, channel, sat, joined, channels, excluded = line.split()
        rows.append({"community": community, "channel": channel, "sat": None if sat == "-" else sat,
                     "joined": None if joined == "-" else joined,
                     "channels": [] if channels == "-" else channels.split("+"), "excluded": excluded == "yes"})
    return rows


@pytest.fixture
def world(make):
    """Communities A and B in street S1, C in street S2 of the same district; one campaign."""
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    s2 = add_region("S2X", "第二街道", RegionLevel.STREET, a.parent.parent)
    c = make.community(name="丙社区", street=s2)
    communities = {"A": a, "B": b, "C": c}
    campaign = make.campaign(communities=[a, b, c], one_per_device=False)
    db.session.commit()
    for row in parse(RESPONSES):
        answers = [("sat", (row["sat"], None, None))] if row["sat"] else []
        answers += [("joined", (row["joined"], None, None))] if row["joined"] else []
        answers += [("channels", (code, None, None)) for code in row["channels"]]
        answers += [("years", ("12", 12.0, None)), ("advice", ("", None, "多办活动"))]
        submission = uuid.uuid4().hex
        store_response(NewResponse(campaign_id=campaign.id, community_id=communities[row["community"]].id,
                                   channel=Channel(row["channel"]), submission_id=submission,
                                   submitted_at=utcnow(), answers=answers))
        if row["excluded"]:
            exclude_response(db.session.scalar(sa.select(Response).where(Response.submission_id == submission)),
                             "重复填写")
            db.session.commit()
    return campaign, communities


def stored_answers(campaign, *, include_excluded: bool = False) -> pd.DataFrame:
    """(response, community, channel, item, value) read from the database one answer at a time."""
    query = (sa.select(Answer.response_id, Response.community_id, Response.channel, Answer.item, Answer.value)
             .join(Response).where(Response.campaign_id == campaign.id))
    if not include_excluded:
        query = query.where(Response.exclusion_reason.is_(None))
    rows = [(r, cid, ch.value, item, value) for r, cid, ch, item, value in db.session.execute(query)]
    return pd.DataFrame(rows, columns=["response", "community", "channel", "item", "value"])


def hand_count(frame: pd.DataFrame, row_item: str, col_item: str) -> pd.DataFrame:
    """pandas' count of answer pairs of one response (a multiple-choice item: one per tick)."""
    left = frame[frame["item"] == row_item][["response", "value"]]
    right = frame[frame["item"] == col_item][["response", "value"]]
    pairs = left.merge(right, on="response", suffixes=("_row", "_col"))
    return pd.crosstab(pairs["value_row"], pairs["value_col"])


def get(client, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.is_json
    return response.get_json()


def cell(body: dict, row_code, col_code) -> int:
    rows = [c["code"] for c in body["row"]["categories"]]
    cols = [c["code"] for c in body["col"]["categories"]]
    return body["counts"][rows.index(row_code)][cols.index(col_code)]


def test_item_by_item_counts_equal_a_hand_count_and_the_test_is_scipys(world, logged_in):
    campaign, communities = world
    client = logged_in(communities["A"].parent.parent)  # an evaluator of the whole district
    body = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=sat&col=joined")
    assert [c["code"] for c in body["row"]["categories"]] == SAT  # 不了解 dropped by default
    assert [c["label"] for c in body["row"]["categories"]] == SAT_LABELS
    assert [(c["code"], c["label"]) for c in body["col"]["categories"]] == [("1", "参加过"), ("2", "没参加过")]
    reference = hand_count(stored_answers(campaign), "sat", "joined").reindex(index=SAT, columns=["1", "2"],
                                                                                 fill_value=0)
    assert body["counts"] == reference.to_numpy().tolist()
    # By hand from the table above: counted, both answered, on the scale.
    assert body["counts"] == [[3, 0], [1, 1], [1, 1], [0, 3], [0, 2]]
    assert body["n"] == 12 == sum(body["row_totals"]) and body["column_totals"] == [5, 7]
    assert body["respondents"] == 12 and body["counts_are"] == "respondents"
    # 2 不了解 answers (A dk/2, C dk/1) left out, and said so.
    assert any("不了解/说不清" in n and "2 个" in n for n in body["notes"])
    assert "只统计两题都回答了的问卷，没回答其中一题的不计入。" in body["notes"]
    assert "已剔除的问卷没有计入。" in body["notes"]
    table = np.array(body["counts"])
    expected = chi2_contingency(table, correction=False)
    test = body["test"]
    assert test["statistic"] == pytest.approx(expected.statistic) and test["dof"] == expected.dof
    assert test["pvalue"] == pytest.approx(expected.pvalue)
    np.testing.assert_allclose(body["expected"], expected.expected_freq)
    assert test["small_expected"] is True and any("期望频数小于 5" in n for n in body["notes"])
    assert body["conclusion"].startswith(("两者有关联", "看不出关联"))
    frame = pd.DataFrame({"r": np.repeat(np.indices(table.shape)[0].ravel(), table.ravel()),
                          "c": np.repeat(np.indices(table.shape)[1].ravel(), table.ravel())})
    np.testing.assert_allclose(body["percentages"]["row"]["cells"],
                               100 * pd.crosstab(frame["r"], frame["c"], normalize="index").to_numpy())
    np.testing.assert_allclose(body["percentages"]["column"]["cells"],
                               100 * pd.crosstab(frame["r"], frame["c"], normalize="columns").to_numpy())
    np.testing.assert_allclose(body["percentages"]["total"]["cells"],
                               100 * pd.crosstab(frame["r"], frame["c"], normalize="all").to_numpy())
    assert body["filter"] == {"row": "sat", "col": "joined", "include_excluded": False, "include_flagged": False,
                              "drop_dont_know": True,
                              "community_ids": sorted(c.id for c in communities.values())}


def test_dont_know_kept_as_its_own_row_and_excluded_counted_on_request(world, logged_in):
    campaign, communities = world
    client = logged_in(communities["A"].parent.parent)
    body = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=sat&col=joined&drop_dont_know=false"
                       "&include_excluded=true")
    assert [c["code"] for c in body["row"]["categories"]] == [*SAT, "dk"]
    assert body["row"]["categories"][-1]["label"] == "不了解/说不清"
    reference = hand_count(stored_answers(campaign, include_excluded=True), "sat", "joined") \
        .reindex(index=[*SAT, "dk"], columns=["1", "2"], fill_value=0)
    assert body["counts"] == reference.to_numpy().tolist()
    assert cell(body, "dk", "1") == 1 and cell(body, "dk", "2") == 1
    assert body["respondents"] == body["n"] == 17  # 12 counted on the scale, 2 不了解, 3 excluded
    assert cell(body, "5", "1") == 5  # two excluded 5/1 responses counted now
    assert cell(body, "1", "2") == 3  # and the excluded 1/2
    assert "已剔除的问卷也计入了。" in body["notes"] and body["filter"]["include_excluded"] is True


def test_item_by_community_and_by_street(world, logged_in):
    campaign, communities = world
    client = logged_in(communities["A"].parent.parent)
    body = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=sat&col=community")
    assert [c["label"] for c in body["col"]["categories"]] == ["甲社区", "乙社区", "丙社区"]
    frame = stored_answers(campaign)
    sat = frame[(frame["item"] == "sat") & frame["value"].isin(SAT)]
    reference = pd.crosstab(sat["value"], sat["community"]).reindex(
        index=SAT, columns=[communities[k].id for k in "ABC"], fill_value=0)
    assert body["counts"] == reference.to_numpy().tolist()
    assert cell(body, "5", communities["A"].id) == 3 and cell(body, "1", communities["C"].id) == 2
    assert "只统计回答了这一题的问卷，没回答的不计入。" in body["notes"]
    street = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=joined&col=street")
    assert [c["label"] for c in street["col"]["categories"]] == [communities["A"].parent.name, "第二街道"]
    joined = frame[frame["item"] == "joined"]
    in_s1 = joined["community"].isin([communities["A"].id, communities["B"].id])
    assert [cell(street, code, communities["A"].parent.id) for code in "12"] == \
        [int(((joined["value"] == code) & in_s1).sum()) for code in "12"] == [5, 5]
    # A 2 × 2 table gives Fisher's exact p, and the reference agrees.
    table = np.array(street["counts"])
    assert table.shape == (2, 2)
    assert street["test"]["fisher_pvalue"] == pytest.approx(fisher_exact(table).pvalue)


def test_item_by_single_choice_group_and_by_channel(world, logged_in):
    campaign, communities = world
    client = logged_in(communities["A"].parent.parent)
    grouped = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=sat&col=item:joined")
    plain = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=sat&col=joined")
    assert grouped["counts"] == plain["counts"] and grouped["col"]["title"] == "您参加过议事会吗？"
    channel = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=joined&col=channel")
    assert [c["code"] for c in channel["col"]["categories"]] == ["qr", "ticket", "paper"]
    assert [c["label"] for c in channel["col"]["categories"]] == ["扫码", "问卷票", "纸质问卷"]
    frame = stored_answers(campaign)
    joined = frame[frame["item"] == "joined"]
    reference = pd.crosstab(joined["value"], joined["channel"]).reindex(index=["1", "2"],
                                                                       columns=["qr", "ticket", "paper"])
    assert channel["counts"] == reference.to_numpy().tolist()


def test_multiple_choice_counts_ticks_and_skips_the_test(world, logged_in):
    campaign, communities = world
    client = logged_in(communities["A"].parent.parent)
    body = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=channels&col=joined")
    assert [c["label"] for c in body["row"]["categories"]] == ["微信群", "公开栏", "坝坝会"]
    reference = hand_count(stored_answers(campaign), "channels", "joined").reindex(
        index=["wechat", "board", "meeting"], columns=["1", "2"], fill_value=0)
    assert body["counts"] == reference.to_numpy().tolist()
    assert body["n"] == 14 and body["respondents"] == 11 and body["counts_are"] == "ticks"
    assert body["test"] is None and body["conclusion"] is None
    assert any("多选题" in n and "不做卡方检验" in n for n in body["notes"])


def test_street_staff_see_only_their_communities(world, logged_in):
    campaign, communities = world
    client = logged_in(communities["A"].parent, Role.STREET)
    body = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=sat&col=community")
    assert [c["label"] for c in body["col"]["categories"]] == ["甲社区", "乙社区"]
    assert body["filter"]["community_ids"] == sorted([communities["A"].id, communities["B"].id])
    assert "只含您管辖的 2 个社区。" in body["notes"]
    joined = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=sat&col=joined")
    everyone = hand_count(stored_answers(campaign)[lambda f: f["community"] != communities["C"].id], "sat", "joined")
    assert joined["counts"] == everyone.reindex(index=SAT, columns=["1", "2"], fill_value=0).to_numpy().tolist()
    outsider = logged_in(make_other_district())
    get(outsider, f"/api/v1/campaigns/{campaign.id}/crosstab?row=sat&col=joined", 404)


def make_other_district():
    district = add_region("DX9", "外区", RegionLevel.DISTRICT)
    db.session.commit()
    return district


def test_not_logged_in_is_401_and_unknown_campaign_404(world, client, logged_in):
    campaign, communities = world
    assert get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=sat&col=joined", 401)["error"]
    evaluator = logged_in(communities["A"].parent.parent)
    get(evaluator, "/api/v1/campaigns/999999/crosstab?row=sat&col=joined", 404)
    page = client.get(f"/evaluate/campaigns/{campaign.id}/crosstab")
    assert page.status_code in (302, 303) and "/staff/login" in page.headers["Location"]


@pytest.mark.parametrize("query, message", [
    ("row=nope&col=joined", "no item 'nope'"),
    ("col=joined", "row (an item key) is required"),
    ("row=sat", "col ("),
    ("row=sat&col=sat", "same item"),
    ("row=joined&col=item:joined", "same item"),
    ("row=advice&col=joined", "text item"),
    ("row=sat&col=years", "number item"),
    ("row=sat&col=district", "col must be"),
    ("row=sat&col=item:sat", "no single-choice question"),
    ("row=sat&col=item:", "no single-choice question"),
    ("row=sat&col=joined&include_excluded=maybe", "include_excluded must be true or false"),
])
def test_bad_parameters_are_json_400(world, logged_in, query, message):
    campaign, communities = world
    client = logged_in(communities["A"].parent.parent)
    body = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?{query}", 400)
    assert message in body["error"]["message"]
    assert client.get(f"/api/v1/campaigns/{campaign.id}/crosstab.csv?{query}").status_code == 400


def test_csv_and_xlsx_hold_the_same_figures(world, logged_in):
    campaign, communities = world
    client = logged_in(communities["A"].parent.parent)
    body = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=sat&col=joined")
    response = client.get(f"/api/v1/campaigns/{campaign.id}/crosstab.csv?row=sat&col=joined")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert lines[0] == ["您对社区服务满意吗？ ＼ 您参加过议事会吗？", "参加过", "没参加过", "合计"]
    assert lines[1] == ["非常满意", "3", "0", "3"] and lines[6] == ["合计", "5", "7", "12"]
    assert ["行百分比（%）"] in lines and ["结论", body["conclusion"]] in lines
    assert ["说明", "已剔除的问卷没有计入。"] in lines
    response = client.get(f"/api/v1/campaigns/{campaign.id}/crosstab.xlsx?row=sat&col=joined")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    sheet = book["交叉表"]
    assert [c.value for c in sheet[2]] == ["非常满意", 3, 0, 3]
    row_pct = [r for r in sheet.iter_rows(values_only=True) if r[0] == "行百分比（%）"]
    assert row_pct
    notes = {r[0]: r[1] for r in book["说明"].iter_rows(values_only=True)}
    assert notes["结论"] == body["conclusion"] and notes["合计"] == "12"
    assert get(client, f"/api/v1/campaigns/{campaign.id}/crosstab.pdf?row=sat&col=joined", 404)["error"]


def test_the_file_name_is_the_campaigns_made_safe(world, logged_in):
    from werkzeug.http import parse_options_header

    campaign, communities = world
    campaign.name = '2026/第一轮 "测评"'
    db.session.commit()
    client = logged_in(communities["A"].parent.parent)
    response = client.get(f"/api/v1/campaigns/{campaign.id}/crosstab.xlsx?row=sat&col=joined")
    assert response.status_code == 200
    header = response.headers["Content-Disposition"]
    assert header.startswith('attachment; filename="2026-sat-joined.xlsx"; filename*=UTF-8\'\'2026_') and "/" not in header
    assert parse_options_header(header)[1]["filename"] == "2026_第一轮 _测评_-交叉表-sat-joined.xlsx"


def test_page_shows_the_table_and_the_test_in_chinese(world, logged_in):
    campaign, communities = world
    client = logged_in(communities["A"].parent.parent)
    page = client.get(f"/evaluate/campaigns/{campaign.id}/crosstab?row=joined&col=street&pct=column")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    body = get(client, f"/api/v1/campaigns/{campaign.id}/crosstab?row=joined&col=street")
    assert body["conclusion"] in html and ("两者有关联" in html or "看不出关联" in html)
    assert "行：题目" in html and "列：题目或人群" in html and "百分比" in html
    assert 'value="column" checked' in html
    first = body["percentages"]["column"]["cells"][0][0]
    assert f"{first:.1f}%" in html
    # Opened without a choice: the first scale question by street, as column percentages.
    default = client.get(f"/evaluate/campaigns/{campaign.id}/crosstab")
    html = default.get_data(as_text=True)
    assert default.status_code == 200 and communities["A"].parent.name in html and 'value="column" checked' in html
    small = client.get(f"/evaluate/campaigns/{campaign.id}/crosstab?row=sat&col=joined").get_data(as_text=True)
    assert "期望频数偏小" in small
    bad = client.get(f"/evaluate/campaigns/{campaign.id}/crosstab?row=advice&col=joined")
    assert bad.status_code == 400 and "填空题" in bad.get_data(as_text=True)
    same = client.get(f"/evaluate/campaigns/{campaign.id}/crosstab?row=sat&col=sat&pct=row")
    assert same.status_code == 400 and "行和列是同一题" in same.get_data(as_text=True)
    assert client.get(f"/evaluate/campaigns/{campaign.id}/crosstab?pct=x").status_code == 400
