"""The campaign and community PDF reports: read back with pypdf, the Chinese headings, the
communities and every printed figure equal the summary API's (rates, intervals, n, targets), the
excluded responses and their reasons are said (the reasons only to those who read responses),
flagged responses are left out unless asked for, only those allowed get each report, and a
community report shows no more of the campaign than the account may read."""

from __future__ import annotations

import io
import re
import uuid

import pypdf
import pytest
import sqlalchemy as sa
from werkzeug.http import parse_options_header

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
    assert response.headers["Content-Disposition"].startswith("inline; ")
    assert parse_options_header(response.headers["Content-Disposition"])[1]["filename"] == "第一轮测评-测评报告.pdf"
    assert text.startswith("第一轮测评测评报告")
    for heading in (*HEADINGS, "五、评分与排名"):  # an evaluator of the whole district sees the ranking
        assert heading in text
    assert "生成人测试" in text and "问卷服务评价（第1版）" in text and "范围3个社区" in text
    # The footer, with the page number, on every page.
    for page in range(1, pages + 1):
        assert f"第{page}页，共{pages}页" in text
    assert text.count("第一轮测评生成时间") == pages

    # The report leaves flagged responses out, as the dashboard does: the summary API's figures without them.
    summary = api(client, f"/api/v1/campaigns/{campaign.id}/summary?include_flagged=false")
    whole = api(client, f"/api/v1/campaigns/{campaign.id}/summary?group_by=campaign&include_flagged=false")
    counts = api(client, f"/api/v1/campaigns/{campaign.id}/counts")
    # Counted by hand from RESPONSES: (received, excluded or flagged, counted) per community.
    by_hand = {"甲社区": (7, 3, 4), "乙社区": (4, 1, 3), "丙社区": (3, 0, 3)}
    received = {c["name"]: c["responses"] for c in counts["by_community"]}
    z = 1.959963984540054
    for group in summary["groups"]:
        got, excluded, n = by_hand[group["name"]]
        assert (received[group["name"]], group["respondents"]) == (got, n)
        margin = f"±{z * (0.25 / n) ** 0.5 * 100:.1f}%"
        row = f"{group['name']}{got}{excluded}{n}{group['target']}{percent(n / group['target'])}{margin}"
        assert row in text
    assert f"合计14410240{percent(10 / 240)}±{z * (0.25 / 10) ** 0.5 * 100:.1f}%" in text
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
    # One figure against an independent reference: 甲社区's q1 is 3 satisfied of 4 (Wilson, statsmodels).
    from statsmodels.stats.proportion import proportion_confint
    low, high = proportion_confint(3, 4, method="wilson")
    assert f"甲社区4075.0%{low * 100:.1f}%–{high * 100:.1f}%" in text

    # The method note: excluded responses with their reasons, flagged ones, the formulas in words.
    assert "共收到问卷14份，其中10份计入统计" in text
    assert "3份问卷被考评人员排除在统计之外，原因：“同一人重复填写”2份；“不是本社区居民”1份。" in text
    assert "可疑问卷：1份问卷带有质量提示" in text and "本报告没有计入" in text  # the other flagged one is excluded
    assert "满意率=选计为“满意”的回答的人数÷回答此题且答在量表上的人数" in text
    assert "满意率的95%Wilson区间" in text and "±z×√(0.5×0.5÷n)" in text
    assert "计为“满意”的回答：“非常满意”或“满意”或“基本满意”" in text  # q2's scale counts 基本满意
    assert "没有社区录入人口结构，因此没有做加权" in text
    assert "扫码6份，问卷票3份，纸质问卷1份" in text

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


def item_rows(item: dict, mine: dict, other: dict | None = None) -> str:
    """An item's distribution table as the PDF's text has it: the community's columns, then (when the
    report compares) the comparison's."""
    def row(label, a, b, c="", d=""):
        return f"{label}{a}{b}" + (f"{c}{d}" if other is not None else "")
    them = other or mine
    text = "".join(row(level["label"], x["count"], percent(x["share"]), y["count"], percent(y["share"]))
                   for level, x, y in zip(item["scale"]["levels"], mine["distribution"], them["distribution"]))
    return (text + row("不了解/说不清（不计入分母）", mine["off_scale"], "—", them["off_scale"], "—")
            + row("未回答此题", mine["missing"], "—", them["missing"], "—")
            + row("有效n", mine["n_valid"], "", them["n_valid"], "")
            + row("满意率", "", percent(mine["satisfaction_rate"]), "", percent(them["satisfaction_rate"]))
            + row("区间", "", between(mine["rate_interval"]), "", between(them["rate_interval"])))


def weighting_rows(weighted: dict) -> list[str]:
    """Every item's row of the weighting table, both columns from the weighting API."""
    rows = []
    for item in weighted["items"]:
        u, w = item["unweighted"]["satisfaction_rate"], item["weighted"]["satisfaction_rate"]
        rows.append(f"{item['text']}{item['unweighted']['n']}{percent(u['estimate'])}{between(u['interval'])}"
                    f"{item['weighted']['n']}{percent(w['estimate'])}{between(w['interval'])}{w['effective_n']:.1f}")
    return rows


def fix_first(drivers: dict) -> str:
    texts = {i["key"]: i["text"] for i in drivers["items"]}
    return ("优先改进（重点改进区，重要性高而满意率低，按重要性从高到低）："
            + ("；".join(texts[k] for k in drivers["fix_first"]) or "没有题目落在这个区。"))


#: Population margins 甲社区's respondents can be raked to, with or without its flagged respondent.
MARGINS = {"age_band": {"1": 400, "2": 600}, "sex": {"m": 300, "f": 700}}


def test_the_community_report_sets_the_community_beside_the_campaign(logged_in, world):
    """An evaluator's community report: the community beside the whole campaign, the exclusion reasons,
    the campaign's drivers and the community's line of the ranking."""
    campaign, communities, _ = world
    a = communities["A"]
    evaluator = logged_in(district(communities))
    assert evaluator.put(f"/api/v1/campaigns/{campaign.id}/communities/{a.id}/margins", json=MARGINS).status_code == 200
    response = evaluator.get(f"/evaluate/campaigns/{campaign.id}/communities/{a.id}/report.pdf")
    pages, text = pdf_text(response)
    assert parse_options_header(response.headers["Content-Disposition"])[1]["filename"] == \
        "第一轮测评-甲社区-测评报告.pdf"
    assert text.startswith("甲社区测评报告")
    for heading in ("一、方法说明", "二、各题的回答与满意率", "三、图", "四、按人口结构加权", "五、影响总体满意度的因素",
                    "六、评分与排名"):
        assert heading in text
    assert "乙社区" not in text and "丙社区" not in text  # the ranking shows the community's own line
    assert f"第1页，共{pages}页" in text and text.count("第一轮测评·甲社区生成时间") == pages

    summary = api(evaluator, f"/api/v1/campaigns/{campaign.id}/summary?include_flagged=false")
    whole = api(evaluator, f"/api/v1/campaigns/{campaign.id}/summary?group_by=campaign&include_flagged=false")
    position = [g["key"] for g in summary["groups"]].index(a.id)
    assert f"甲社区734100{percent(4 / 100)}" in text  # received, excluded or flagged, counted, target, done
    assert "共收到问卷7份，其中4份计入统计" in text
    assert "2份问卷被考评人员排除在统计之外，原因：“同一人重复填写”2份。" in text and "不是本社区居民" not in text
    assert "可疑问卷：1份问卷带有质量提示" in text
    assert "扫码2份，问卷票1份，纸质问卷1份" in text  # the community's own channels
    for item, total in zip(summary["items"], whole["items"]):
        assert item["text"] in text
        assert item_rows(item, item["groups"][position], total["groups"][0]) in text
    assert "全部社区合计的满意率" in text
    assert "图2“总的来说，您对社区满意吗？”各回答的人数（甲社区，有效n=3）" in text

    # Weighted and unweighted side by side, both columns the weighting API's (the same respondents).
    weighted = api(evaluator, f"/api/v1/campaigns/{campaign.id}/weighted?community={a.id}")
    assert weighted["weighting"]["status"] == "weighted"
    assert f"参加加权的受访者{weighted['weighting']['weighted_respondents']}人" in text and "的1人不参加加权" in text
    for row in weighting_rows(weighted):
        assert row in text, row
    # The note says which responses the weighting counted: 甲社区 has 5 not excluded, one of them flagged.
    assert weighted["respondents"] in (4, 5)
    assert ("本表两列按同一批问卷计算：" + (
        "本社区没有被排除、也没有质量提示的4份问卷，1份可疑问卷不计入（与上面各节一样）" if weighted["respondents"] == 4
        else "本社区没有被排除的5份问卷，含1份可疑问卷（上面各节没有计入可疑问卷，本节计入了）")) in text

    # The drivers of the whole campaign, as the drivers API has them.
    assert fix_first(api(evaluator, f"/api/v1/campaigns/{campaign.id}/drivers")) in text and "全部社区合计。" in text

    # The API twin is the same file.
    _, twin = pdf_text(evaluator.get(f"/api/v1/campaigns/{campaign.id}/communities/{a.id}/report.pdf"))
    assert twin == text
    # The campaign report says which communities have weighted figures in their own reports.
    _, campaign_text = pdf_text(evaluator.get(f"/evaluate/campaigns/{campaign.id}/report.pdf"))
    assert "本报告的数字都未加权。1个社区录入了人口结构（年龄段、性别）" in campaign_text


def test_a_community_staff_report_shows_its_community_only(logged_in, world):
    """Community staff read their community's aggregates only: no other community's name or figures, no
    campaign-wide drivers, no exclusion reasons, no scores."""
    campaign, communities, _ = world
    a = communities["A"]
    evaluator = logged_in(district(communities))
    assert evaluator.put(f"/api/v1/campaigns/{campaign.id}/communities/{a.id}/margins", json=MARGINS).status_code == 200
    staff = logged_in(a, Role.COMMUNITY)
    _, text = pdf_text(staff.get(f"/evaluate/campaigns/{campaign.id}/communities/{a.id}/report.pdf"))
    for heading in ("一、方法说明", "二、各题的回答与满意率", "三、图", "四、按人口结构加权", "五、影响总体满意度的因素"):
        assert heading in text
    assert "评分与排名" not in text  # community staff are scored, they do not read scores
    for elsewhere in ("乙社区", "丙社区", "全部社区", "所辖社区", "合计的满意率"):
        assert elsewhere not in text, elsewhere
    assert "您的账号只管辖这一个社区" in text
    # How many were excluded, not why (the reasons are notes on single responses).
    assert "2份问卷被考评人员排除在统计之外。这些问卷保留在系统里" in text
    assert "同一人重复填写" not in text and "原因" not in text
    assert f"甲社区734100{percent(4 / 100)}" in text

    # Every table is the community's own, as its (scoped) summary API has it, with no comparison column.
    summary = api(staff, f"/api/v1/campaigns/{campaign.id}/summary?include_flagged=false")
    assert [g["name"] for g in summary["groups"]] == ["甲社区"]
    everyone = api(evaluator, f"/api/v1/campaigns/{campaign.id}/summary?group_by=campaign&include_flagged=false")
    for item, total in zip(summary["items"], everyone["items"]):
        mine = item["groups"][0]
        assert item_rows(item, mine) in text
        assert item_rows(item, mine, total["groups"][0]) not in text
    # Not one count of the whole campaign's answers to the overall item: its distribution differs from 甲社区's.
    overall = next(i for i in everyone["items"] if i["key"] == "overall")["groups"][0]
    assert overall["n_valid"] != summary["items"][2]["groups"][0]["n_valid"]
    assert f"有效n{overall['n_valid']}" not in text

    # The weighting table, as for the evaluator; the drivers of the community alone.
    for row in weighting_rows(api(staff, f"/api/v1/campaigns/{campaign.id}/weighted?community={a.id}")):
        assert row in text, row
    assert staff.get(f"/api/v1/campaigns/{campaign.id}/drivers").status_code == 403
    assert fix_first(api(staff, f"/api/v1/campaigns/{campaign.id}/drivers?community={a.id}")) in text
    assert "只算甲社区的问卷。" in text and "全部社区合计" not in text


@pytest.fixture
def two_streets(make):
    """甲 and 乙 in one street, 丁 in another street of the same district, all in one campaign."""
    from app.models import RegionLevel
    from app.staff.operations import add_region
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    other_street = add_region("S-other", "另一街道", RegionLevel.STREET, a.parent.parent)
    d = make.community(name="丁社区", street=other_street)
    communities = {"A": a, "B": b, "D": d}
    campaign = make.campaign(make.version(SURVEY), communities=[a, b, d], one_per_device=False, name="第二轮测评")
    db.session.commit()
    store(campaign, communities, """
A  qr      5   5   5   1  m  no   -
A  qr      4   3   4   2  f  no   -
A  ticket  2   2   2   -  -  no   重复
B  qr      3   3   3   -  -  no   -
B  qr      1   1   1   -  -  no   -
D  qr      5   5   5   -  -  no   -
D  qr      5   5   5   -  -  no   -
D  qr      4   4   5   -  -  no   -
""")
    return campaign, communities


def test_a_street_compares_its_community_with_its_own_communities(logged_in, two_streets):
    campaign, communities = two_streets
    a = communities["A"]
    street = logged_in(a.parent, Role.STREET)
    assert street.get(f"/evaluate/campaigns/{campaign.id}/report.pdf").status_code == 403  # not every community
    _, text = pdf_text(street.get(f"/evaluate/campaigns/{campaign.id}/communities/{a.id}/report.pdf"))
    for elsewhere in ("丁社区", "全部社区", "评分与排名"):
        assert elsewhere not in text, (elsewhere, text)
    assert "下面各表的“所辖社区”是您的账号管辖的、参加本次测评的2个社区合计" in text
    assert "1份问卷被考评人员排除在统计之外。" in text and "重复" not in text

    # The comparison column is the street's communities, as the street's (scoped) summary API has them,
    # not the whole campaign's.
    summary = api(street, f"/api/v1/campaigns/{campaign.id}/summary?include_flagged=false")
    assert [g["name"] for g in summary["groups"]] == ["甲社区", "乙社区"]
    mine_total = api(street, f"/api/v1/campaigns/{campaign.id}/summary?group_by=campaign&include_flagged=false")
    evaluator = logged_in(a.parent.parent)
    everyone = api(evaluator, f"/api/v1/campaigns/{campaign.id}/summary?group_by=campaign&include_flagged=false")
    for item, own, total in zip(summary["items"], mine_total["items"], everyone["items"]):
        assert item_rows(item, item["groups"][0], own["groups"][0]) in text
        assert own["groups"][0]["n_valid"] != total["groups"][0]["n_valid"]
        assert item_rows(item, item["groups"][0], total["groups"][0]) not in text
    assert "所辖社区合计的满意率" in text
    assert fix_first(api(street, f"/api/v1/campaigns/{campaign.id}/drivers?community={a.id}")) in text
    assert "只算甲社区的问卷。" in text

    # The evaluator's report of the same community compares it with every community, reasons and all.
    _, theirs = pdf_text(evaluator.get(f"/evaluate/campaigns/{campaign.id}/communities/{a.id}/report.pdf"))
    assert "全部社区合计的满意率" in theirs and "所辖社区" not in theirs and "原因：“重复”1份" in theirs
    for item, total in zip(summary["items"], everyone["items"]):
        assert item_rows(item, item["groups"][0], total["groups"][0]) in theirs


@pytest.mark.parametrize("prefix", ["/evaluate", "/api/v1"])
def test_the_reports_count_flagged_responses_only_when_asked(logged_in, world, prefix):
    campaign, communities, _ = world
    client = logged_in(district(communities))
    urls = (f"{prefix}/campaigns/{campaign.id}/report.pdf",
            f"{prefix}/campaigns/{campaign.id}/communities/{communities['A'].id}/report.pdf")
    for url in urls:
        for value, counted in (("", 4), ("0", 4), ("false", 4), ("FALSE", 4), ("1", 5), ("true", 5), ("True", 5)):
            _, text = pdf_text(client.get(f"{url}?include_flagged={value}"))
            if "/communities/" in url:
                assert f"共收到问卷7份，其中{counted}份计入统计" in text, value
            else:
                assert f"共收到问卷14份，其中{counted + 6}份计入统计" in text, value
            assert ("本报告照常计入" in text) == (counted == 5)
        for value in ("yes", "2", " 1", "1 ", "on", "truee"):
            response = client.get(url, query_string={"include_flagged": value})
            assert response.status_code == 400, value
            if prefix == "/api/v1":
                assert "include_flagged" in response.get_json()["error"]["message"]
            else:
                assert "是否计入可疑问卷" in response.get_data(as_text=True)


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
    # ... but not why responses were excluded (notes on single responses): only how many.
    assert "3份问卷被考评人员排除在统计之外。" in text and "同一人重复填写" not in text


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
