"""GET /api/v1/campaigns/<id>/summary: per item × group statistics checked against statsmodels."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import scipy.stats
import sqlalchemy as sa
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from app.extensions import db
from app.models import Channel, RegionLevel, Response, Role
from app.models.types import utcnow
from app.staff.operations import add_region, exclude_response
from app.submissions import NewResponse, store_response

SCORES = {"5": 100.0, "4": 80.0, "3": 60.0, "2": 40.0, "1": 20.0}
SATISFIED = {"5", "4"}

#: community, channel, sat, joined_sat (None: not asked), excluded
RESPONSES = """
A  qr       5   5    no
A  qr       4   -    no
A  ticket   4   3    no
A  ticket   3   -    no
A  qr       dk  -    no
A  meeting  2   1    no
A  qr       1   1    yes
A  qr       1   -    yes
B  ticket   5   4    no
B  qr       5   -    no
B  meeting  -   -    no
B  ticket   4   4    yes
C  qr       3   5    no
C  ticket   2   -    no
C  paper    4   4    no
"""


def rows():
    for line in RESPONSES.strip().splitlines():
        community, channel, sat, joined_sat, excluded = line.split()
        yield (community, Channel(channel), None if sat == "-" else sat,
               None if joined_sat == "-" else joined_sat, excluded == "yes")


def build_world(make, same_district: bool):
    """Communities A and B in one street, C in another street (of the same district, or of another);
    targets of 4."""
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    c = make.community(name="丙社区", street=add_region("S9-other", "另一街道", RegionLevel.STREET, a.parent.parent)
                       if same_district else None)
    campaign = make.campaign(communities=[a, b, c], target=4, one_per_device=False)
    db.session.commit()
    communities = {"A": a, "B": b, "C": c}
    for community, channel, sat, joined_sat, excluded in rows():
        answers = [] if sat is None else [("sat", (sat, None, None))]
        answers.append(("joined", ("1" if joined_sat else "2", None, None)))
        if joined_sat:
            answers.append(("joined_sat", (joined_sat, None, None)))
        submission = uuid.uuid4().hex
        store_response(NewResponse(campaign_id=campaign.id, community_id=communities[community].id, channel=channel,
                                   submission_id=submission, submitted_at=utcnow(), answers=answers))
        if excluded:
            exclude_response(db.session.scalar(sa.select(Response).where(Response.submission_id == submission)),
                             "工作人员代填")
            db.session.commit()
    return campaign, communities


@pytest.fixture
def world(make):
    """The campaign in one district, so that the district's evaluator reads all of it."""
    return build_world(make, same_district=True)


@pytest.fixture
def evaluator(world, logged_in):
    """An evaluator of the world's district (the usual reader of a campaign's summary)."""
    _, communities = world
    return logged_in(communities["A"].parent.parent)


def expected(item: str, keep) -> dict:
    """The figures computed by hand from RESPONSES and by statsmodels, for the responses ``keep`` selects."""
    column = 2 if item == "sat" else 3
    counted = [r for r in rows() if keep(r) and not r[4]]
    values = [r[column] for r in counted if r[column] is not None]
    scores = np.array([SCORES[v] for v in values if v in SCORES])
    n = len(scores)
    satisfied = sum(v in SATISFIED for v in values)
    figures = {"respondents": len(counted), "n_valid": n, "off_scale": values.count("dk"),
               "missing": len(counted) - len(values),
               "distribution": {code: values.count(code) for code in SCORES}}
    if n:
        low, high = proportion_confint(satisfied, n, alpha=0.05, method="wilson")
        figures |= {"satisfaction_rate": satisfied / n, "rate_interval": (low, high), "mean": scores.mean()}
    if n >= 2:
        figures |= {"sd": scores.std(ddof=1), "mean_interval": DescrStatsW(scores).tconfint_mean(alpha=0.05)}
    return figures


def check(group: dict, want: dict) -> None:
    for name in ("respondents", "n_valid", "off_scale", "missing"):
        assert group[name] == want[name], name
    assert {d["code"]: d["count"] for d in group["distribution"]} == want["distribution"]
    if "satisfaction_rate" in want:
        assert group["satisfaction_rate"] == pytest.approx(want["satisfaction_rate"], abs=1e-12)
        assert (group["rate_interval"]["low"], group["rate_interval"]["high"]) == pytest.approx(
            want["rate_interval"], abs=1e-9)
        assert group["mean"] == group["satisfaction_index"] == pytest.approx(want["mean"], abs=1e-9)
        assert group["margin_of_error"] == pytest.approx(1.959963984540054 * np.sqrt(0.25 / group["n_valid"]))
    else:
        assert group["satisfaction_rate"] is None and group["rate_interval"] is None and group["mean"] is None
    if "sd" in want:
        assert group["sd"] == pytest.approx(want["sd"], abs=1e-9)
        assert (group["mean_interval"]["low"], group["mean_interval"]["high"]) == pytest.approx(
            want["mean_interval"], abs=1e-9)
    else:
        assert group["sd"] is None and group["mean_interval"] is None


def summary(reader, campaign, group_by=None):
    query = "" if group_by is None else f"?group_by={group_by}"
    response = reader.get(f"/api/v1/campaigns/{campaign.id}/summary{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_by_community_agrees_with_statsmodels_and_leaves_excluded_out(evaluator, world):
    campaign, communities = world
    body = summary(evaluator, campaign)
    assert body["group_by"] == "community" and body["respondents"] == 12
    assert [i["key"] for i in body["items"]] == ["sat", "joined_sat"]
    for item in body["items"]:
        by_name = {g["name"]: g for g in item["groups"]}
        assert list(by_name) == ["甲社区", "乙社区", "丙社区"]
        for letter, community in communities.items():
            group = by_name[community.name]
            check(group, expected(item["key"], lambda r, letter=letter: r[0] == letter))
            assert group["key"] == community.id and group["target"] == 4
            assert group["below_target"] == (group["n_valid"] < 4)
    sat = {g["name"]: g for g in body["items"][0]["groups"]}
    # The two excluded 非常不满意 of 甲社区 are not in its distribution.
    assert sat["甲社区"]["distribution"][-1] == {"code": "1", "count": 0, "share": 0.0}
    assert sat["甲社区"]["off_scale_counts"] == {"dk": 1}


@pytest.mark.parametrize("group_by", ["community", "street", "channel"])
def test_each_item_compares_its_groups_as_scipy_does(evaluator, world, group_by):
    """Chi-square on the group × answer table (scipy's chi2_contingency, no Yates) and
    Kruskal–Wallis on the answers written out one by one (scipy.stats.kruskal), from RESPONSES."""
    campaign, communities = world
    street = {letter: c.parent_id for letter, c in communities.items()}
    key = {"community": lambda r: r[0], "street": lambda r: street[r[0]], "channel": lambda r: r[1]}[group_by]
    body = summary(evaluator, campaign, group_by)
    for item in body["items"]:
        column = 2 if item["key"] == "sat" else 3
        answers: dict = {}
        for r in rows():
            if not r[4] and r[column] in SCORES:
                answers.setdefault(key(r), []).append(SCORES[r[column]])
        samples = [np.array(v) for v in answers.values()]
        table = np.array([[np.count_nonzero(v == s) for s in SCORES.values()] for v in samples])
        table = table[:, table.sum(axis=0) > 0]
        chi_square, kw = item["comparison"]["chi_square"], item["comparison"]["kruskal_wallis"]
        want = scipy.stats.chi2_contingency(table, correction=False)
        assert chi_square["groups_tested"] == len(samples) and chi_square["dof"] == want.dof
        assert chi_square["statistic"] == pytest.approx(want.statistic, abs=1e-9)
        assert chi_square["pvalue"] == pytest.approx(want.pvalue, abs=1e-9)
        want = scipy.stats.kruskal(*samples)
        assert kw["groups_tested"] == len(samples)
        assert kw["statistic"] == pytest.approx(want.statistic, abs=1e-9)
        assert kw["pvalue"] == pytest.approx(want.pvalue, abs=1e-9)


def test_by_street_and_district_sum_their_communities(evaluator, world):
    campaign, communities = world
    a, c = communities["A"], communities["C"]
    body = summary(evaluator, campaign, "district")
    for item in body["items"]:
        (district,) = item["groups"]
        assert district["name"] == a.parent.parent.name and district["target"] is None
        check(district, expected(item["key"], lambda r: True))
    for group_by, parent_of in (("street", lambda x: x.parent),):
        body = summary(evaluator, campaign, group_by)
        by_community = summary(evaluator, campaign)
        for item, community_item in zip(body["items"], by_community["items"]):
            assert [g["name"] for g in item["groups"]] == [parent_of(a).name, parent_of(c).name]
            first = item["groups"][0]
            check(first, expected(item["key"], lambda r: r[0] in "AB"))
            check(item["groups"][1], expected(item["key"], lambda r: r[0] == "C"))
            parts = [g for g in community_item["groups"] if g["name"] in ("甲社区", "乙社区")]
            assert first["n_valid"] == sum(g["n_valid"] for g in parts)
            assert [d["count"] for d in first["distribution"]] == [
                sum(counts) for counts in zip(*([d["count"] for d in g["distribution"]] for g in parts))]
            assert first["target"] is None and first["below_target"] is False


def test_by_channel_says_which_channels_are_a_random_sample(evaluator, world):
    campaign, _ = world
    body = summary(evaluator, campaign, "channel")
    groups = body["groups"]
    assert [g["key"] for g in groups] == ["qr", "ticket", "meeting", "paper"]
    assert {g["key"]: g["random_sample"] for g in groups} == {
        "qr": False, "ticket": True, "meeting": False, "paper": False}
    for item in body["items"]:
        for group in item["groups"]:
            check(group, expected(item["key"], lambda r, key=group["key"]: r[1].value == key))
    assert "random sample" in body["random_sample_note"]
    assert {c["channel"]: c["respondents"] for c in body["channels"]} == {"qr": 5, "ticket": 4, "meeting": 2,
                                                                          "paper": 1}


def test_a_campaign_without_responses_has_empty_groups(logged_in, make):
    community = make.community()
    campaign = make.campaign(communities=[community], target=None)
    db.session.commit()
    body = summary(logged_in(community.parent.parent), campaign)
    group = body["items"][0]["groups"][0]
    assert group["respondents"] == 0 and group["n_valid"] == 0 and group["mean"] is None
    assert group["target"] is None and group["below_target"] is False


def test_a_bad_group_by_is_a_json_400(evaluator, world):
    campaign, _ = world
    response = evaluator.get(f"/api/v1/campaigns/{campaign.id}/summary?group_by=village")
    assert response.status_code == 400 and response.is_json
    message = response.get_json()["error"]["message"]
    assert "group_by" in message and "community, street, district, campaign, channel" in message


@pytest.mark.parametrize("campaign_id", [999999, 2**31])
def test_an_unknown_campaign_is_a_json_404(evaluator, campaign_id):
    response = evaluator.get(f"/api/v1/campaigns/{campaign_id}/summary")
    assert response.status_code == 404 and response.get_json()["error"]["status"] == 404


def test_the_whole_campaign_is_one_group(evaluator, world):
    campaign, _ = world
    body = summary(evaluator, campaign, "campaign")
    assert [g["key"] for g in body["groups"]] == [campaign.id] and body["groups"][0]["respondents"] == 12
    for item in body["items"]:
        (group,) = item["groups"]
        check(group, expected(item["key"], lambda r: True))


def test_respondents_grouped_by_their_answer_to_a_question(evaluator, world):
    """group_by=item:joined: the residents who said they joined (1) and who did not (2), and those
    who left the question out, as 未回答."""
    campaign, communities = world
    store_response(NewResponse(campaign_id=campaign.id, community_id=communities["A"].id, channel=Channel.QR,
                               submission_id=uuid.uuid4().hex, submitted_at=utcnow(),
                               answers=[("sat", ("3", None, None))]))
    body = summary(evaluator, campaign, "item:joined")
    assert [(g["key"], g["respondents"]) for g in body["groups"]] == [("1", 6), ("2", 6), ("", 1)]
    assert body["groups"][2]["name"] == "未回答"
    for item in body["items"]:
        by_key = {g["key"]: g for g in item["groups"]}
        for code in ("1", "2"):
            check(by_key[code], expected(item["key"], lambda r, code=code: (r[3] is not None) == (code == "1")))
    sat = {g["key"]: g for g in body["items"][0]["groups"]}
    assert sat[""]["n_valid"] == 1 and sat[""]["distribution"][2]["count"] == 1


@pytest.mark.parametrize("group_by", ["item:", "item:sat", "item:nothing", "item:joined'--"])
def test_grouping_by_anything_but_a_single_choice_question_is_a_json_400(evaluator, world, group_by):
    campaign, _ = world
    response = evaluator.get(f"/api/v1/campaigns/{campaign.id}/summary", query_string={"group_by": group_by})
    assert response.status_code == 400 and "group_by" in response.get_json()["error"]["message"]


# -- who reads what -----------------------------------------------------------------------


def test_across_two_districts_each_districts_evaluator_reads_its_own_district(make, logged_in):
    """C in another district: each district's evaluator gets its own district's group, with the
    figures of its own communities, and neither sees the other's."""
    campaign, communities = build_world(make, same_district=False)
    a, c = communities["A"], communities["C"]
    for district, letters in ((a.parent.parent, "AB"), (c.parent.parent, "C")):
        reader = logged_in(district)
        body = summary(reader, campaign, "district")
        assert body["filter"]["community_ids"] == sorted(communities[x].id for x in letters)
        for item in body["items"]:
            (group,) = item["groups"]
            assert group["name"] == district.name
            check(group, expected(item["key"], lambda r, letters=letters: r[0] in letters))
        assert {g["name"] for g in summary(reader, campaign)["groups"]} == {communities[x].name for x in letters}


def test_a_street_account_reads_its_communities_as_an_evaluator_does(world, evaluator, logged_in):
    """Street staff read the summary of their own street's communities only, and the figures are
    the evaluator's for those communities (the same counted responses, nothing else)."""
    campaign, communities = world
    street = logged_in(communities["A"].parent, Role.STREET)
    mine = summary(street, campaign)
    assert [g["name"] for g in mine["groups"]] == ["甲社区", "乙社区"]
    assert mine["filter"]["community_ids"] == sorted([communities["A"].id, communities["B"].id])
    assert mine["respondents"] == sum(1 for r in rows() if r[0] in "AB" and not r[4])
    everyone = summary(evaluator, campaign)
    assert everyone["filter"]["community_ids"] is None
    for item, whole in zip(mine["items"], everyone["items"]):
        by_key = {g["key"]: g for g in whole["groups"]}
        assert len(item["groups"]) == 2
        for group in item["groups"]:
            assert group == by_key[group["key"]]
            check(group, expected(item["key"], lambda r, name=group["name"]: communities[r[0]].name == name))
    # Its own street's figure is the sum of its communities, as the evaluator's street figure.
    street_body = summary(street, campaign, "street")
    whole_streets = {g["key"]: g for g in summary(evaluator, campaign, "street")["items"][0]["groups"]}
    (own,) = street_body["items"][0]["groups"]
    assert own == whole_streets[communities["A"].parent_id]
    # A community's staff: only that community.
    community = logged_in(communities["C"], Role.COMMUNITY)
    assert [g["name"] for g in summary(community, campaign)["groups"]] == ["丙社区"]
