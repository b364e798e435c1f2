"""The campaign dashboard: its figures against a hand count of the stored answers and against
statsmodels' Wilson interval, the response filter (flagged and excluded out unless asked for),
the drill-down, every figure's trace, the SVG charts and who may read what."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa
from statsmodels.stats.proportion import proportion_confint

from app.evaluation import queries
from app.evaluation.summary import campaign_summary
from app.evaluators import charts
from app.extensions import db
from app.models import Channel, QualityFlag, RegionLevel, Response, Role
from app.models.types import utcnow
from app.staff.operations import add_region, add_site, exclude_response
from app.submissions import NewResponse, store_response

# community, channel, sat, joined, channels, years, advice, flagged, excluded
RESPONSES = """
A qr     5  1  wechat,board  10  多办活动  no   no
A qr     4  2  wechat        3   -        no   no
A paper  2  2  -             -   -        no   no
A qr     1  1  board         40  -        yes  no
A qr     5  1  -             -   -        no   yes
B qr     2  2  meeting       1   路灯坏了  no   no
B qr     3  2  -             -   -        no   no
B ticket dk 1  wechat        20  -        no   no
B qr     1  2  -             -   -        yes  no
C qr     5  1  wechat        7   -        no   no
C qr     4  1  board,meeting -   -        no   no
"""


def parse(table: str) -> list[dict]:
    rows = []
    for line in table.strip().splitlines():
        community, channel, sat, joined, ticked, years, advice, flagged, excluded = line.split()
        rows.append({"community": community, "channel": Channel(channel), "sat": sat, "joined": joined,
                     "channels": [] if ticked == "-" else ticked.split(","),
                     "years": None if years == "-" else years, "advice": None if advice == "-" else advice,
                     "flagged": flagged == "yes", "excluded": excluded == "yes"})
    return rows


@pytest.fixture
def world(make):
    """Communities A and B in one street (A with an evaluation point), C in another street of the same district."""
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    c = make.community(name="丙社区", street=add_region("S-two", "第二街道", RegionLevel.STREET, a.parent.parent))
    site = add_site(a, "文化中心")
    campaign = make.campaign(communities=[a, b, c], one_per_device=False, target=4, name="看板测试")
    db.session.commit()
    communities = {"A": a, "B": b, "C": c}
    for row in parse(RESPONSES):
        answers = [("sat", (row["sat"], None, None)), ("joined", (row["joined"], None, None))]
        answers += [("channels", (code, None, None)) for code in row["channels"]]
        if row["years"]:
            answers.append(("years", (row["years"], float(row["years"]), None)))
        if row["advice"]:
            answers.append(("advice", ("", None, row["advice"])))
        submission = uuid.uuid4().hex
        store_response(NewResponse(
            campaign_id=campaign.id, community_id=communities[row["community"]].id, channel=row["channel"],
            submission_id=submission, submitted_at=utcnow(), answers=answers,
            site_id=site.id if row["community"] == "A" and row["channel"] is Channel.QR else None,
            quality_flags=int(QualityFlag.TOO_FAST) if row["flagged"] else 0))
        if row["excluded"]:
            exclude_response(db.session.scalar(sa.select(Response).where(Response.submission_id == submission)),
                             "同一人重复填写")
        db.session.commit()
    return campaign, communities, site


def rows_of(*, community=None, flagged=False, excluded=False) -> list[dict]:
    return [r for r in parse(RESPONSES) if (community is None or r["community"] in community)
            and (flagged or not r["flagged"]) and (excluded or not r["excluded"])]


def rate(rows: list[dict]) -> tuple[float, int, int]:
    on_scale = [r for r in rows if r["sat"] != "dk"]
    satisfied = sum(r["sat"] in ("4", "5") for r in on_scale)
    return satisfied / len(on_scale), satisfied, len(on_scale)


def get(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def district_of(communities):
    return communities["A"].parent.parent


def test_the_campaign_level_counts_rates_and_weakest_match_a_hand_count(world, logged_in):
    campaign, communities, _ = world
    client = logged_in(district_of(communities))
    board = get(client, f"/api/v1/campaigns/{campaign.id}/dashboard")
    assert board["level"] == "campaign" and board["filter"]["include_flagged"] is False

    # Two streets: the counts roll up by street; flagged and excluded are counted but not in the figures.
    street_rows = {r["name"]: r for r in board["counts"]["rows"]}
    assert set(street_rows) == {communities["A"].parent.name, "第二街道"}
    first = street_rows[communities["A"].parent.name]
    assert (first["responses"], first["excluded"], first["flagged"], first["in_figures"]) == (9, 1, 2, 6)
    assert first["target"] == 8 and first["share_of_target"] == pytest.approx(6 / 8)
    total = board["counts"]["total"]
    assert (total["responses"], total["in_figures"], total["target"]) == (11, 8, 12)
    assert board["counts"]["below_target"] == 3  # A has 3 in the figures, B 2, C 2; each wants 4

    # The overall rate and each community's, with statsmodels' Wilson interval.
    expected, satisfied, n = rate(rows_of())
    overall = board["rates"]["overall"]
    assert board["rates"]["item"]["key"] == "sat"
    assert overall["rate"] == pytest.approx(expected) and overall["n_valid"] == n
    low, high = proportion_confint(satisfied, n, alpha=0.05, method="wilson")
    assert (overall["interval"]["low"], overall["interval"]["high"]) == (pytest.approx(low), pytest.approx(high))
    assert overall["trace"]["n"] == n and "满意率 =" in overall["trace"]["formula"]
    assert "不计已剔除的问卷和可疑问卷" in overall["trace"]["filter"]
    by_name = {g["name"]: g for g in board["rates"]["groups"]}
    for key, community in communities.items():
        expected, satisfied, n = rate(rows_of(community=key))
        assert by_name[community.name]["rate"] == pytest.approx(expected), key
        assert by_name[community.name]["n_valid"] == n
    # The weakest first: B (0 of 2 satisfied), then A (1 of 3), then C (2 of 2).
    assert [w["name"] for w in board["weakest"]] == ["乙社区", "甲社区", "丙社区"]


def test_flagged_and_excluded_responses_come_in_only_when_asked(world, logged_in):
    campaign, communities, _ = world
    client = logged_in(district_of(communities))
    url = f"/api/v1/campaigns/{campaign.id}/dashboard"
    for flags, expected_rows in (("include_flagged=1", rows_of(flagged=True)),
                                 ("include_excluded=true", rows_of(excluded=True)),
                                 ("include_flagged=1&include_excluded=1", rows_of(flagged=True, excluded=True))):
        board = get(client, f"{url}?{flags}")
        expected, _, _n = rate(expected_rows)
        assert board["rates"]["overall"]["rate"] == pytest.approx(expected), flags
        assert board["counts"]["total"]["in_figures"] == len(expected_rows), flags
    # The dashboard's figures are the summary API's, with the same filter either way.
    for flags in ("", "?include_flagged=1"):
        board = get(client, f"{url}{flags}")
        summary = get(client, f"/api/v1/campaigns/{campaign.id}/summary{flags}")
        sat = next(i for i in summary["items"] if i["key"] == "sat")
        assert len(sat["groups"]) == 3
        for group in sat["groups"]:
            mine = next(g for g in board["rates"]["groups"] if g["key"] == group["key"])
            assert (mine["rate"], mine["interval"], mine["n_valid"]) == \
                (group["satisfaction_rate"], group["rate_interval"], group["n_valid"])


def test_every_items_distribution_at_a_street(world, logged_in):
    campaign, communities, _ = world
    client = logged_in(district_of(communities))
    street = communities["A"].parent
    board = get(client, f"/api/v1/campaigns/{campaign.id}/dashboard?street={street.id}")
    assert board["level"] == "street" and [p["name"] for p in board["path"]][-1] == street.name
    assert {r["name"] for r in board["counts"]["rows"]} == {"甲社区", "乙社区"}
    rows = rows_of(community="AB")
    items = {i["key"]: i for i in board["items"]}
    # single choice: share of those who answered
    joined = {o["code"]: o for o in items["joined"]["options"]}
    assert items["joined"]["n"] == len(rows)
    assert joined["1"]["count"] == sum(r["joined"] == "1" for r in rows)
    assert joined["1"]["share"] == pytest.approx(joined["1"]["count"] / len(rows))
    # multiple choice: a resident counts once per option ticked; shares are of those who ticked any
    ticked = [r for r in rows if r["channels"]]
    options = {o["code"]: o for o in items["channels"]["options"]}
    assert items["channels"]["n"] == len(ticked)
    for code in ("wechat", "board", "meeting"):
        assert options[code]["count"] == sum(code in r["channels"] for r in rows)
        assert options[code]["share"] == pytest.approx(options[code]["count"] / len(ticked))
    assert "可多选" in options["wechat"]["trace"]["formula"]
    # likert: the levels then 不了解, of everyone who answered
    sat = {o["code"]: o["count"] for o in items["sat"]["options"]}
    assert sat == {code: sum(r["sat"] == code for r in rows) for code in ("5", "4", "3", "2", "1", "dk")}
    # number: mean of those who gave one; text: how many wrote
    years = [float(r["years"]) for r in rows if r["years"]]
    assert items["years"]["n"] == len(years) and items["years"]["mean"] == pytest.approx(sum(years) / len(years))
    assert items["advice"]["n"] == sum(1 for r in rows if r["advice"])


def test_a_community_by_channel_and_point_and_where_it_falls_short(world, logged_in):
    campaign, communities, _site = world
    client = logged_in(district_of(communities))
    board = get(client, f"/api/v1/campaigns/{campaign.id}/dashboard?community={communities['A'].id}")
    assert board["level"] == "community"
    channels = {r["key"]: r for r in board["counts"]["rows"]}
    assert (channels["qr"]["responses"], channels["qr"]["in_figures"]) == (4, 2)
    assert (channels["paper"]["responses"], channels["paper"]["in_figures"]) == (1, 1)
    assert [(s["name"], s["responses"], s["in_figures"]) for s in board["counts"]["sites"]] == [("文化中心", 4, 2)]
    groups = {g["key"]: g for g in board["rates"]["groups"]}
    assert groups["qr"]["rate"] == pytest.approx(1.0) and groups["paper"]["rate"] == pytest.approx(0.0)
    # Why: A's rate against every community the account reads
    gap = next(g for g in board["gaps"] if g["key"] == "sat")
    assert gap["rate"] == pytest.approx(rate(rows_of(community="A"))[0])
    assert gap["campaign_rate"] == pytest.approx(rate(rows_of())[0])
    assert gap["gap"] == pytest.approx(gap["rate"] - gap["campaign_rate"])
    assert board["weighted"] is None  # no margins entered


def test_the_page_draws_svg_charts_and_opens_every_figure(world, logged_in):
    campaign, communities, _ = world
    client = logged_in(district_of(communities))
    html = client.get(f"/evaluate/campaigns/{campaign.id}/dashboard").get_data(as_text=True)
    assert html.count('<svg class="chart"') >= 4  # counts, rates, and a chart per answered item
    assert "满意率最低的社区" in html and "乙社区" in html
    traces = re.findall(r'<span class="trace">依据 (\d+) 份（人）。范围：([^<]+)。算法：([^<]+)</span>', html)
    assert len(traces) > 20 and all(formula for _, _, formula in traces)
    # Nothing from another origin: no absolute URLs in attributes but the SVG namespace.
    assert not [u for u in re.findall(r'(?:src|href)="(https?://[^"]+)"', html)]
    community = client.get(f"/evaluate/campaigns/{campaign.id}/dashboard?community={communities['B'].id}")
    assert community.status_code == 200 and "和其他社区比，差在哪里" in community.get_data(as_text=True)


def test_who_reads_what(world, logged_in, app):
    campaign, communities, _ = world
    url = f"/api/v1/campaigns/{campaign.id}/dashboard"
    assert app.test_client().get(url).status_code == 401
    assert app.test_client().get(f"/evaluate/campaigns/{campaign.id}/dashboard").status_code == 302
    # Community staff: their own community only, no ranking, and the campaign-wide quadrant is not theirs.
    staff = logged_in(communities["B"], Role.COMMUNITY)
    board = get(staff, url)
    assert board["filter"]["community_ids"] == [communities["B"].id]
    assert board["counts"]["total"]["responses"] == 4 and board["ranking"] is None and board["drivers"] is None
    assert staff.get(f"{url}?community={communities['A'].id}").status_code == 404
    assert staff.get(f"/evaluate/campaigns/{campaign.id}/dashboard").status_code == 200
    # An account of another district does not learn the campaign exists.
    other = add_region("D-other", "外区", RegionLevel.DISTRICT)
    db.session.commit()
    assert logged_in(other, Role.ADMIN).get(url).status_code == 404


@pytest.mark.parametrize("query", ["street=abc", "community=0", "community=99999999999", "item=nope", "item=joined",
                                   "include_flagged=maybe", "scheme=nope"])
def test_bad_dashboard_requests_get_a_json_4xx(world, logged_in, query):
    campaign, communities, _ = world
    response = logged_in(district_of(communities)).get(f"/api/v1/campaigns/{campaign.id}/dashboard?{query}")
    assert response.status_code in (400, 404) and response.get_json()["error"]["message"]


def test_the_response_filter_agrees_between_tallies_and_answers(world):
    """The summary from the tallies (flagged answers subtracted) equals the same figures counted from
    the answers, for every combination of the filter."""
    campaign, communities, _ = world
    ids = frozenset({communities["A"].id, communities["C"].id})

    def sat(which) -> dict:
        summary = campaign_summary(campaign, "community", which)
        return {g["key"]: g for i in summary["items"] if i["key"] == "sat" for g in i["groups"]}

    assert queries.ResponseFilter(ids).uses_tallies and not queries.ResponseFilter(ids, include_excluded=True).uses_tallies
    a, c = communities["A"].id, communities["C"].id
    # A: 5 responses, one flagged, one excluded; C has neither, so its figures never change.
    for which, n_a in ((queries.ResponseFilter(ids), 3),
                       (queries.ResponseFilter(ids, include_flagged=True), 4),
                       (queries.ResponseFilter(ids, include_excluded=True), 4),
                       (queries.ResponseFilter(ids, include_flagged=True, include_excluded=True), 5)):
        groups = sat(which)
        assert set(groups) == set(ids)
        assert groups[a]["n_valid"] == n_a, which
        assert groups[c] == sat(queries.ResponseFilter(ids, include_excluded=True))[c]
    # Tallies minus the flagged answers, against a count of the answers themselves.
    expected, _, _ = rate(rows_of(community="A"))
    assert sat(queries.ResponseFilter(ids))[a]["satisfaction_rate"] == pytest.approx(expected)


def test_whisker_chart_marks_every_group_and_escapes_names():
    rows = [charts.Whisker("<甲&乙>", 0.5, 0.3, 0.7, "n = 10 <b>"), charts.Whisker("丙", None, None, None, "没有")]
    svg = str(charts.whisker_chart(rows, label="测试", reference=0.6, reference_label="合计"))
    tree = ET.fromstring(svg)  # well-formed XML, names escaped
    ns = "{http://www.w3.org/2000/svg}"
    assert len(tree.findall(f".//{ns}circle")) == 1
    texts = [t.text for t in tree.iter(f"{ns}text")]
    assert "<甲&乙>" in texts and "没有回答" in texts and "50%" in texts
    assert [t.text for t in tree.iter(f"{ns}title")] == ["合计", "n = 10 <b>", "没有"]
