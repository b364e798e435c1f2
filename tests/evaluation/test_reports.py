"""The campaign and community PDF reports: read back with pypdf, the Chinese headings, the
communities and every printed figure equal the summary API's (rates, intervals, n, targets), the
excluded responses and their reasons are said, and only those allowed get each report."""

from __future__ import annotations

import io
import re
import uuid
from urllib.parse import quote

import pypdf
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import CampaignCommunity, Channel, Response, Role
from app.models.types import utcnow
from app.staff.operations import exclude_response
from app.submissions import NewResponse, store_response

SURVEY = """
title: 服务评价
sections:
  - title: 一、社区服务
    items:
      - {key: q1, type: likert, scale: satisfaction5, text: 您对办事窗口满意吗？, tags: ["test:q1"]}
      - {key: q2, type: likert, scale: satisfaction5_basic, text: 您对环境卫生满意吗？, tags: ["test:q2"]}
      - {key: age_band, type: single, text: 您的年龄段？, tags: ["respondent:age_band"],
         options: [{code: "1", label: 18至44岁}, {code: "2", label: 45岁及以上}]}
      - {key: sex, type: single, text: 您的性别？, tags: ["respondent:sex"],
         options: [{code: m, label: 男}, {code: f, label: 女}]}
  - title: 二、总体评价
    items:
      - {key: overall, type: likert, scale: satisfaction5, text: 总的来说，您对社区满意吗？,
         tags: ["overall:satisfaction"]}
"""
ANSWERED = ("q1", "q2", "overall", "age_band", "sex")

#: community, channel, q1, q2, overall, age band, sex, flagged, why excluded ("-": counted);
#: an answer "-" is no answer, dk is 不了解/说不清.
RESPONSES = """
A  qr      5   5   5   1  m  yes  -
A  ticket  4   4   4   2  f  no   -
A  qr      5   dk  5   1  f  no   -
A  paper   4   3   4   2  m  no   -
A  qr      3   2   -   -  -  no   -
A  qr      1   1   1   1  m  yes  同一人重复填写
A  qr      1   1   1   1  m  no   同一人重复填写
B  qr      3   3   3   -  -  no   -
B  ticket  4   3   4   -  -  no   -
B  qr      2   4   dk  -  -  no   -
B  qr      5   5   5   -  -  no   不是本社区居民
C  qr      1   2   1   -  -  no   -
C  qr      2   2   2   -  -  no   -
C  ticket  1   1   2   -  -  no   -
"""


def store(campaign, communities, table: str) -> None:
    for line in table.strip().splitlines():
        community, channel, *values, flagged, reason = line.split()
        submission = uuid.uuid4().hex
        answers = [(key, (v, None, None)) for key, v in zip(ANSWERED, values) if v != "-"]
        store_response(NewResponse(campaign_id=campaign.id, community_id=communities[community].id,
                                   channel=Channel(channel), submission_id=submission, submitted_at=utcnow(),
                                   answers=answers))
        response = db.session.scalar(sa.select(Response).where(Response.submission_id == submission))
        if flagged == "yes":
            response.quality_flags = 1
        if reason != "-":
            exclude_response(response, reason)
        db.session.commit()


@pytest.fixture
def world(make):
    """甲 and 乙 and 丙 in one street of one district; a fourth community elsewhere for an outsider."""
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    c = make.community(name="丙社区", street=a.parent)
    outside = make.community(name="外区社区")
    communities = {"A": a, "B": b, "C": c}
    campaign = make.campaign(make.version(SURVEY), communities=[a, b, c], one_per_device=False, name="第一轮测评")
    db.session.get(CampaignCommunity, (campaign.id, c.id)).target_sample = 40
    db.session.commit()
    store(campaign, communities, RESPONSES)
    return campaign, communities, outside


def pdf_text(response) -> tuple[int, str]:
    """Pages and the text with all whitespace removed (pypdf breaks lines where the PDF wraps them)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    pages = pypdf.PdfReader(io.BytesIO(response.data)).pages
    return len(pages), re.sub(r"\s+", "", "".join(page.extract_text() for page in pages))


def percent(x) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def between(interval) -> str:
    return "—" if interval is None else f"{percent(interval['low'])}–{percent(interval['high'])}"


def api(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def district(communities):
    return communities["A"].parent.parent


HEADINGS = ("一、方法说明", "各社区样本", "二、各社区满意率", "三、图", "四、影响总体满意度的因素（重要性—表现分析）")


def test_the_campaign_report_prints_the_summary_apis_figures(logged_in, world):
    campaign, communities, _ = world
    client = logged_in(district(communities))
    response = client.get(f"/evaluate/campaigns/{campaign.id}/report.pdf")
    pages, text = pdf_text(response)
    assert pages > 0
    assert response.headers["Content-Disposition"] == f"inline; filename*=UTF-8''{quote('第一轮测评-测评报告.pdf')}"
    assert text.startswith("第一轮测评测评报告")
    for heading in (*HEADINGS, "五、评分与排名"):  # an evaluator of the whole district sees the ranking
        assert heading in text
    assert "生成人测试" in text and "问卷服务评价（第1版）" in text and "范围3个社区" in text
    # The footer, with the page number, on every page.
    for page in range(1, pages + 1):
        assert f"第{page}页，共{pages}页" in text
    assert text.count("第一轮测评生成时间") == pages

    summary = api(client, f"/api/v1/campaigns/{campaign.id}/summary")
    whole = api(client, f"/api/v1/campaigns/{campaign.id}/summary?group_by=campaign")
    counts = api(client, f"/api/v1/campaigns/{campaign.id}/counts")
    # Counted by hand from RESPONSES: (received, excluded, counted) per community.
    by_hand = {"甲社区": (7, 2, 5), "乙社区": (4, 1, 3), "丙社区": (3, 0, 3)}
    received = {c["name"]: c["responses"] for c in counts["by_community"]}
    z = 1.959963984540054
    for group in summary["groups"]:
        got, excluded, n = by_hand[group["name"]]
        assert (received[group["name"]], group["respondents"]) == (got, n)
        margin = f"±{z * (0.25 / n) ** 0.5 * 100:.1f}%"
        row = f"{group['name']}{got}{excluded}{n}{group['target']}{percent(n / group['target'])}{margin}"
        assert row in text
    assert f"合计14311240{percent(11 / 240)}±{z * (0.25 / 11) ** 0.5 * 100:.1f}%" in text
    assert [g["target"] for g in summary["groups"]] == [100, 100, 40]

    # Every item's rate, interval, n and 不了解 per community, and the whole campaign's.
    for item, total in zip(summary["items"], whole["items"]):
        assert item["text"] in text
        for group in item["groups"]:
            row = (f"{group['name']}{group['n_valid']}{group['off_scale']}{percent(group['satisfaction_rate'])}"
                   f"{between(group['rate_interval'])}")
            assert row in text, row
        t = total["groups"][0]
        assert f"全部社区{t['n_valid']}{t['off_scale']}{percent(t['satisfaction_rate'])}{between(t['rate_interval'])}" in text
    # One figure against an independent reference: 甲社区's q1 is 4 satisfied of 5 (Wilson, statsmodels).
    from statsmodels.stats.proportion import proportion_confint
    low, high = proportion_confint(4, 5, method="wilson")
    assert f"甲社区5080.0%{low * 100:.1f}%–{high * 100:.1f}%" in text

    # The method note: excluded responses with their reasons, flagged ones, the formulas in words.
    assert "共收到问卷14份，其中11份计入统计" in text
    assert "3份问卷被考评人员排除在统计之外，原因：“同一人重复填写”2份；“不是本社区居民”1份。" in text
    assert "被标记的问卷：1份计入统计的问卷带有质量提示" in text  # the other flagged one is excluded
    assert "满意率=选计为“满意”的回答的人数÷回答此题且答在量表上的人数" in text
    assert "满意率的95%Wilson区间" in text and "±z×√(0.5×0.5÷n)" in text
    assert "计为“满意”的回答：“非常满意”或“满意”或“基本满意”" in text  # q2's scale counts 基本满意
    assert "没有社区录入人口结构，因此没有做加权" in text
    assert "扫码7份，问卷票3份，纸质问卷1份" in text

    # The charts: the overall item's rate per community with its interval, and its answers' counts.
    overall = next(i for i in summary["items"] if i["key"] == "overall")
    assert "图1各社区“总的来说，您对社区满意吗？”的满意率与95%区间" in text
    for group in overall["groups"]:
        assert f"{percent(group['satisfaction_rate'])}（{between(group['rate_interval'])}）n={group['n_valid']}" in text
    assert f"图2“总的来说，您对社区满意吗？”各回答的人数（全部社区，有效n={whole['items'][2]['groups'][0]['n_valid']}）" in text

    drivers = api(client, f"/api/v1/campaigns/{campaign.id}/drivers")
    texts = {i["key"]: i["text"] for i in drivers["items"]}
    assert drivers["fix_first"]
    assert "优先改进（重点改进区，重要性高而满意率低，按重要性从高到低）：" + "；".join(
        texts[k] for k in drivers["fix_first"]) in text
    for item in drivers["items"]:
        assert f"{item['text']}{item['importance']:.2f}{item['n_both']}{percent(item['satisfaction_rate'])}" in text

    # The API twin serves the same report.
    twin_pages, twin_text = pdf_text(client.get(f"/api/v1/campaigns/{campaign.id}/report.pdf"))
    assert twin_pages == pages and summary["items"][0]["text"] in twin_text


def test_the_community_report_sets_the_community_beside_the_campaign(logged_in, world):
    campaign, communities, _ = world
    a = communities["A"]
    evaluator = logged_in(district(communities))
    margins = {"age_band": {"1": 600, "2": 400}, "sex": {"m": 480, "f": 520}}
    assert evaluator.put(f"/api/v1/campaigns/{campaign.id}/communities/{a.id}/margins", json=margins).status_code == 200
    staff = logged_in(a, Role.COMMUNITY)
    response = staff.get(f"/evaluate/campaigns/{campaign.id}/communities/{a.id}/report.pdf")
    pages, text = pdf_text(response)
    assert pages > 0
    assert response.headers["Content-Disposition"] == (
        f"inline; filename*=UTF-8''{quote('第一轮测评-甲社区-测评报告.pdf')}")
    assert text.startswith("甲社区测评报告")
    for heading in ("一、方法说明", "二、各题的回答与满意率", "三、图", "四、按人口结构加权", "五、影响总体满意度的因素"):
        assert heading in text
    assert "评分与排名" not in text  # community staff are scored, they do not read scores
    assert "乙社区" not in text and "丙社区" not in text
    assert f"第1页，共{pages}页" in text and text.count("第一轮测评·甲社区生成时间") == pages

    summary = api(staff, f"/api/v1/campaigns/{campaign.id}/summary")
    whole = api(staff, f"/api/v1/campaigns/{campaign.id}/summary?group_by=campaign")
    position = [g["key"] for g in summary["groups"]].index(a.id)
    assert f"甲社区725100{percent(5 / 100)}" in text  # received, excluded, counted, target, done
    assert "2份问卷被考评人员排除在统计之外，原因：“同一人重复填写”2份。" in text and "不是本社区居民" not in text
    assert "被标记的问卷：1份计入统计的问卷" in text
    for item, total in zip(summary["items"], whole["items"]):
        mine, everyone = item["groups"][position], total["groups"][0]
        assert item["text"] in text
        for level, x, y in zip(item["scale"]["levels"], mine["distribution"], everyone["distribution"]):
            assert f"{level['label']}{x['count']}{percent(x['share'])}{y['count']}{percent(y['share'])}" in text
        assert (f"不了解/说不清（不计入分母）{mine['off_scale']}—{everyone['off_scale']}—"
                f"未回答此题{mine['missing']}—{everyone['missing']}—有效n{mine['n_valid']}{everyone['n_valid']}"
                f"满意率{percent(mine['satisfaction_rate'])}{percent(everyone['satisfaction_rate'])}"
                f"区间{between(mine['rate_interval'])}{between(everyone['rate_interval'])}") in text
    assert "图2“总的来说，您对社区满意吗？”各回答的人数（甲社区，有效n=4）" in text

    # Weighted and unweighted side by side: the weighting API's figures.
    weighted = api(staff, f"/api/v1/campaigns/{campaign.id}/weighted?community={a.id}")
    assert weighted["weighting"]["status"] == "weighted"
    assert "参加加权的受访者4人" in text and "的1人不参加加权" in text
    for item, plain in zip(weighted["items"], summary["items"]):
        mine = plain["groups"][position]
        w = item["weighted"]["satisfaction_rate"]
        row = (f"{item['text']}{mine['n_valid']}{percent(mine['satisfaction_rate'])}{between(mine['rate_interval'])}"
               f"{item['weighted']['n']}{percent(w['estimate'])}{between(w['interval'])}{w['effective_n']:.1f}")
        assert row in text, row

    drivers = api(staff, f"/api/v1/campaigns/{campaign.id}/drivers")
    texts = {i["key"]: i["text"] for i in drivers["items"]}
    assert "；".join(texts[k] for k in drivers["fix_first"]) in text

    # The evaluator's copy carries the community's line of the ranking; the API twin is the same file.
    _, theirs = pdf_text(evaluator.get(f"/api/v1/campaigns/{campaign.id}/communities/{a.id}/report.pdf"))
    assert "六、评分与排名" in theirs and "乙社区" not in theirs
    # The campaign report says which communities have weighted figures in their own reports.
    _, campaign_text = pdf_text(evaluator.get(f"/evaluate/campaigns/{campaign.id}/report.pdf"))
    assert "本报告的数字都未加权。1个社区录入了人口结构（年龄段、性别）" in campaign_text


@pytest.mark.parametrize("prefix", ["/evaluate", "/api/v1"])
def test_who_gets_which_report(logged_in, client, world, prefix):
    campaign, communities, outside = world
    a, b = communities["A"], communities["B"]
    whole, own, other = (f"{prefix}/campaigns/{campaign.id}/report.pdf",
                         f"{prefix}/campaigns/{campaign.id}/communities/{a.id}/report.pdf",
                         f"{prefix}/campaigns/{campaign.id}/communities/{b.id}/report.pdf")
    for url in (whole, own):
        response = client.get(url)
        if prefix == "/api/v1":
            assert response.status_code == 401 and "error" in response.get_json()
        else:
            assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    outsider = logged_in(district({"A": outside}))
    for url in (whole, own, f"{prefix}/campaigns/{campaign.id + 1000}/report.pdf",
                f"{prefix}/campaigns/{2**40}/report.pdf",
                f"{prefix}/campaigns/{campaign.id}/communities/{outside.id}/report.pdf"):
        assert outsider.get(url).status_code == 404, url
    staff = logged_in(a, Role.COMMUNITY)
    refused = staff.get(whole)
    assert refused.status_code == 403
    if prefix == "/api/v1":
        assert refused.get_json()["error"]["message"]
    assert staff.get(own).status_code == 200
    assert staff.get(other).status_code == 404
    street = logged_in(a.parent, Role.STREET)  # the street holds all three: it reads the campaign report
    _, text = pdf_text(street.get(whole))
    assert "甲社区" in text and "评分与排名" not in text


def test_a_campaign_without_responses_still_has_reports(logged_in, make):
    community = make.community(name="丁社区")
    campaign = make.campaign(communities=[community], name="空的测评")  # the small survey: no overall item
    db.session.commit()
    client = logged_in(community.parent.parent)
    pages, text = pdf_text(client.get(f"/evaluate/campaigns/{campaign.id}/report.pdf"))
    assert pages > 0
    assert "本次测评还没有计入统计的问卷" in text and "还没有回答，无法作图" in text
    assert "共收到问卷0份，其中0份计入统计" in text and "没有被排除的问卷" in text
    assert "丁社区0001000.0%—" in text  # received, excluded, counted, target, done, no margin yet
    assert "丁社区00——" in text  # n, 不了解, no rate, no interval
    assert "没有标明“总体满意度”题" in text
    pages, text = pdf_text(client.get(f"/evaluate/campaigns/{campaign.id}/communities/{community.id}/report.pdf"))
    assert pages > 0 and "这个社区还没有计入统计的问卷" in text and "没有录入人口结构" in text
