"""Pairwise tests, two waves, reliability and drivers through the API, each figure checked against an
independent recount: statsmodels (proportions_ztest, multipletests(method="holm"),
confint_proportions_2indep(method="newcomb")), scipy (mannwhitneyu, spearmanr) and pingouin
(cronbach_alpha) on a pandas frame read from the stored answers."""

from __future__ import annotations

import math
import uuid
from itertools import combinations

import numpy as np
import pandas as pd
import pingouin
import pytest
import sqlalchemy as sa
from scipy.stats import mannwhitneyu, spearmanr
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from app.evaluation import analyses
from app.extensions import db
from app.models import Answer, Campaign, Channel, RegionLevel, Response
from app.models.types import utcnow
from app.staff.operations import add_region, exclude_response
from app.submissions import NewResponse, store_response
from tests.helpers import count_answers, count_responses

SCORES = {"5": 100.0, "4": 80.0, "3": 60.0, "2": 40.0, "1": 20.0}
SATISFIED = {"5", "4"}
LIKERT = ("q1", "q2", "q3", "overall")

SURVEY = """
title: 服务评价
sections:
  - title: 一、社区服务
    items:
      - {key: q1, type: likert, scale: satisfaction5, text: 您对办事窗口满意吗？, tags: ["test:q1"]}
      - {key: q2, type: likert, scale: satisfaction5, text: 您对环境卫生满意吗？, tags: ["test:q2"]}
      - {key: q3, type: likert, scale: satisfaction5, text: 您对文体活动满意吗？, tags: ["test:q3"]}
      - {key: heard, type: single, text: 您听说过议事会吗？, tags: ["test:heard"],
         options: [{code: "1", label: 听说过}, {code: "2", label: 没听说过}]}
  - title: 二、总体评价
    items:
      - {key: overall, type: likert, scale: satisfaction5, text: 总的来说，您对社区满意吗？,
         tags: ["overall:satisfaction"]}
"""

#: A later wave's questionnaire: q1 as before, q2 on another scale (not comparable), no q3.
LATER_SURVEY = """
title: 服务评价（第二轮）
sections:
  - items:
      - {key: q1, type: likert, scale: satisfaction5, text: 您对办事窗口满意吗？, tags: ["test:q1"]}
      - {key: q2, type: likert, scale: satisfaction5_basic, text: 您对环境卫生满意吗？, tags: ["test:q2"]}
"""

#: community, channel, q1, q2, q3, overall, excluded ("-": not answered, dk: 不了解/说不清)
RESPONSES = """
A  qr       5   5   4   5   no
A  qr       5   4   4   5   no
A  ticket   5   5   5   4   no
A  ticket   4   4   3   4   no
A  qr       5   dk  4   5   no
A  paper    4   4   4   4   no
A  qr       5   3   -   4   no
A  qr       4   5   5   5   no
A  qr       1   1   1   1   yes
A  qr       1   1   1   1   yes
B  qr       3   3   3   3   no
B  ticket   4   3   4   4   no
B  qr       3   4   2   3   no
B  paper    2   2   3   2   no
B  qr       4   4   4   dk  no
B  meeting  3   -   -   3   no
B  qr       5   5   5   5   yes
C  qr       1   2   1   1   no
C  qr       2   2   2   2   no
C  ticket   1   1   2   1   no
C  qr       2   3   1   2   no
C  paper    1   2   2   2   no
C  qr       2   1   dk  1   no
C  qr       dk  2   2   2   no
C  qr       2   -   3   3   no
C  qr       5   5   5   5   yes
"""

#: The same questionnaire a year on (a second wave): community, channel, q1, q2, q3, overall, excluded.
SECOND_WAVE = """
A  qr       4   4   -   4   no
A  qr       3   3   -   3   no
A  ticket   5   4   -   5   no
B  qr       4   4   -   4   no
B  qr       5   5   -   5   no
C  qr       2   2   -   2   no
C  qr       4   dk  -   3   no
C  qr       1   1   -   1   yes
"""


def parse(table: str) -> list[dict]:
    rows = []
    for line in table.strip().splitlines():
        community, channel, *values, excluded = line.split()
        rows.append({"community": community, "channel": Channel(channel), "excluded": excluded == "yes",
                     **{key: None if v == "-" else v for key, v in zip(LIKERT, values)}})
    return rows


def store(campaign, communities, table: str) -> None:
    asked = campaign.survey_version.survey_definition.items_by_key
    for row in parse(table):
        answers = [(key, (row[key], None, None)) for key in LIKERT if row[key] is not None and key in asked]
        submission = uuid.uuid4().hex
        store_response(NewResponse(campaign_id=campaign.id, community_id=communities[row["community"]].id,
                                   channel=row["channel"], submission_id=submission, submitted_at=utcnow(),
                                   answers=answers))
        if row["excluded"]:
            exclude_response(db.session.scalar(sa.select(Response).where(Response.submission_id == submission)),
                             "同一人重复填写")
            db.session.commit()


@pytest.fixture
def world(make):
    """Communities A and B in one street, C in another street of the district; the campaign and a
    second wave of it."""
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    c = make.community(name="丙社区", street=add_region("S9-other", "另一街道", RegionLevel.STREET, a.parent.parent))
    communities = {"A": a, "B": b, "C": c}
    version = make.version(SURVEY)
    campaign = make.campaign(version, communities=[a, b, c], one_per_device=False, name="第一轮")
    second = make.campaign(version, communities=[a, b, c], one_per_device=False, name="第二轮")
    db.session.commit()
    store(campaign, communities, RESPONSES)
    store(second, communities, SECOND_WAVE)
    return campaign, second, communities


@pytest.fixture
def evaluator(world, logged_in):
    """An evaluator of the world's district: reads every community of both waves."""
    return logged_in(world[2]["A"].parent.parent)


def get(reader, url: str) -> dict:
    response = reader.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def counted(table: str) -> list[dict]:
    return [row for row in parse(table) if not row["excluded"]]


def tally(rows: list[dict], item: str) -> tuple[int, int]:
    """(satisfied, on-scale answers) of an item, recounted by hand."""
    values = [row[item] for row in rows if row[item] in SCORES]
    return sum(v in SATISFIED for v in values), len(values)


def stored_scores(campaign: Campaign) -> pd.DataFrame:
    """Responses × items of 0–100 scores, read from the stored answers one by one (NaN: no
    on-scale answer), counted responses only."""
    answers = db.session.execute(
        sa.select(Answer.response_id, Answer.item, Answer.value).join(Response)
        .where(Response.campaign_id == campaign.id, Response.exclusion_reason.is_(None))).all()
    frame = pd.DataFrame(answers, columns=["response", "item", "value"])
    frame = frame[frame["item"].isin(LIKERT)]
    frame["score"] = frame["value"].map(SCORES)  # dk → NaN
    return frame.pivot(index="response", columns="item", values="score")


# -- pairwise -----------------------------------------------------------------------------


def test_pairwise_rate_tests_agree_with_statsmodels_and_holm(evaluator, world):
    campaign, _, communities = world
    body = get(evaluator, f"/api/v1/campaigns/{campaign.id}/items/q1/pairwise?only_significant=false")
    assert body["test"] == "rate" and body["group_by"] == "community" and body["alpha"] == pytest.approx(0.05)
    rows = counted(RESPONSES)
    by_letter = {letter: tally([r for r in rows if r["community"] == letter], "q1") for letter in "ABC"}
    groups = {g["key"]: g for g in body["groups"]}
    for letter, community in communities.items():
        satisfied, n = by_letter[letter]
        assert groups[community.id]["n_valid"] == n and groups[community.id]["satisfied"] == satisfied
        assert groups[community.id]["name"] == community.name
    # The two excluded 非常不满意 of 甲社区 are not counted: all 8 of its counted answers are satisfied.
    assert by_letter["A"] == (8, 8)
    letter_of = {community.id: letter for letter, community in communities.items()}
    expected = {}
    for x, y in combinations("ABC", 2):
        z, p = proportions_ztest([by_letter[x][0], by_letter[y][0]], [by_letter[x][1], by_letter[y][1]])
        expected[frozenset((x, y))] = (x, z, p)
    assert body["pairs_tested"] == 3 and len(body["pairs"]) == 3 and body["truncated"] is False
    holm = dict(zip(expected, multipletests([e[2] for e in expected.values()], method="holm")[1]))
    for pair in body["pairs"]:
        letters = frozenset((letter_of[pair["first"]], letter_of[pair["second"]]))
        first, z, p = expected[letters]
        sign = 1 if letter_of[pair["first"]] == first else -1
        assert pair["statistic"] == pytest.approx(sign * z, abs=1e-9)
        assert pair["pvalue"] == pytest.approx(p, abs=1e-12)
        assert pair["adjusted_pvalue"] == pytest.approx(holm[letters], abs=1e-12)
        assert pair["significant"] == (holm[letters] < 0.05)
        assert pair["difference"] == pytest.approx(groups[pair["first"]]["satisfaction_rate"]
                                                   - groups[pair["second"]]["satisfaction_rate"])
    # Smallest adjusted p first.
    assert [p["adjusted_pvalue"] for p in body["pairs"]] == sorted(p["adjusted_pvalue"] for p in body["pairs"])
    assert body["significant"] == sum(h < 0.05 for h in holm.values()) >= 1

    # By default only the significant pairs come back, with the same figures.
    significant = get(evaluator, f"/api/v1/campaigns/{campaign.id}/items/q1/pairwise")
    assert significant["only_significant"] is True and significant["pairs_tested"] == 3
    assert significant["pairs"] == [p for p in body["pairs"] if p["significant"]]
    limited = get(evaluator, f"/api/v1/campaigns/{campaign.id}/items/q1/pairwise?only_significant=0&limit=1")
    assert limited["pairs"] == body["pairs"][:1] and limited["truncated"] is True


def test_pairwise_rank_tests_agree_with_mann_whitney(evaluator, world):
    campaign, _, communities = world
    body = get(evaluator, f"/api/v1/campaigns/{campaign.id}/items/q2/pairwise?test=rank&only_significant=false")
    rows = counted(RESPONSES)
    scores = {community.id: np.array([SCORES[r["q2"]] for r in rows if r["community"] == letter
                                      and r["q2"] in SCORES]) for letter, community in communities.items()}
    pvalues = []
    for pair in body["pairs"]:
        x, y = scores[pair["first"]], scores[pair["second"]]
        reference = mannwhitneyu(x, y, method="asymptotic", use_continuity=True)
        assert pair["statistic"] == pytest.approx(reference.statistic, abs=1e-9)
        assert pair["pvalue"] == pytest.approx(reference.pvalue, abs=1e-12)
        assert pair["superiority"] == pytest.approx(reference.statistic / (len(x) * len(y)))
        pvalues.append(pair["pvalue"])
    np.testing.assert_allclose([p["adjusted_pvalue"] for p in body["pairs"]],
                               multipletests(pvalues, method="holm")[1], atol=1e-12)


def test_pairwise_by_channel_and_by_street(evaluator, world):
    campaign, _, communities = world
    body = get(evaluator, f"/api/v1/campaigns/{campaign.id}/items/q1/pairwise?group_by=channel&only_significant=no")
    rows = counted(RESPONSES)
    assert [g["key"] for g in body["groups"]] == ["qr", "ticket", "meeting", "paper"]
    for group in body["groups"]:
        assert (group["satisfied"], group["n_valid"]) == tally(
            [r for r in rows if r["channel"].value == group["key"]], "q1")
    assert body["pairs_tested"] == 6
    street = get(evaluator, f"/api/v1/campaigns/{campaign.id}/items/q1/pairwise?group_by=street&only_significant=no")
    assert [g["name"] for g in street["groups"]] == [communities["A"].parent.name, communities["C"].parent.name]
    assert street["groups"][0]["n_valid"] == tally([r for r in rows if r["community"] in "AB"], "q1")[1]


# -- two waves ------------------------------------------------------------------------------


def newcombe(this: tuple[int, int], other: tuple[int, int]) -> tuple[float, float]:
    return confint_proportions_2indep(this[0], this[1], other[0], other[1], method="newcomb", compare="diff",
                                      alpha=0.05)


def test_two_waves_differ_by_newcombes_interval(evaluator, world, make):
    campaign, second, communities = world
    body = get(evaluator, f"/api/v1/campaigns/{second.id}/compare/{campaign.id}?group_by=community")
    assert body["campaign_id"] == second.id and body["other_campaign_id"] == campaign.id
    # q3 is in both questionnaires (the same version) but nobody answered it in the second wave.
    assert [i["key"] for i in body["items"]] == list(LIKERT) and body["not_compared"] == []
    later, earlier = counted(SECOND_WAVE), counted(RESPONSES)
    for item in body["items"]:
        mine, theirs = tally(later, item["key"]), tally(earlier, item["key"])
        assert (item["satisfied"], item["n_valid"]) == mine
        assert (item["other_satisfied"], item["other_n_valid"]) == theirs
        if mine[1] == 0:
            assert item["difference"] is None and item["interval"] is None and item["satisfaction_rate"] is None
            continue
        assert item["difference"] == pytest.approx(mine[0] / mine[1] - theirs[0] / theirs[1], abs=1e-12)
        low, high = newcombe(mine, theirs)
        assert (item["interval"]["low"], item["interval"]["high"]) == pytest.approx((low, high), abs=1e-9)
        for group in item["groups"]:
            letter = next(k for k, c in communities.items() if c.id == group["key"])
            mine_g = tally([r for r in later if r["community"] == letter], item["key"])
            theirs_g = tally([r for r in earlier if r["community"] == letter], item["key"])
            assert (group["n_valid"], group["other_n_valid"]) == (mine_g[1], theirs_g[1])
            low, high = newcombe(mine_g, theirs_g)
            assert (group["interval"]["low"], group["interval"]["high"]) == pytest.approx((low, high), abs=1e-9)
    assert "groups" not in get(evaluator, f"/api/v1/campaigns/{second.id}/compare/{campaign.id}")["items"][0]

    # Another questionnaire: only the items with the same key and scale are compared.
    third = make.campaign(make.version(LATER_SURVEY), communities=list(communities.values()), name="第三轮")
    db.session.commit()
    body = get(evaluator, f"/api/v1/campaigns/{third.id}/compare/{campaign.id}")
    assert [i["key"] for i in body["items"]] == ["q1"] and body["items"][0]["n_valid"] == 0
    assert body["not_compared"] == [{"key": "q2", "scale": "satisfaction5_basic", "other_scale": "satisfaction5"}]


# -- reliability ----------------------------------------------------------------------------


def test_reliability_agrees_with_pingouin_on_the_stored_answers(evaluator, world):
    campaign, _, _ = world
    body = get(evaluator, f"/api/v1/campaigns/{campaign.id}/reliability")
    # Section 一 has three satisfaction items; section 二 has one, which is no block.
    [block] = body["blocks"]
    assert block["section"] == "一、社区服务" and block["scale"] == "satisfaction5"
    assert [i["key"] for i in block["items"]] == ["q1", "q2", "q3"]
    frame = stored_scores(campaign)[["q1", "q2", "q3"]]
    complete = frame.dropna()
    # Excluded responses and off-scale answers are left out: the hand count of complete rows.
    assert block["n"] == len(complete) == sum(
        all(r[k] in SCORES for k in ("q1", "q2", "q3")) for r in counted(RESPONSES))
    alpha, interval = pingouin.cronbach_alpha(data=complete, ci=0.95)
    assert block["alpha"] == pytest.approx(alpha, abs=1e-9)
    # pingouin rounds its interval to 3 decimals.
    assert (block["alpha_interval"]["low"], block["alpha_interval"]["high"]) == pytest.approx(tuple(interval), abs=6e-4)
    for item in block["items"]:
        rest = complete.drop(columns=item["key"])
        assert item["corrected_item_total"] == pytest.approx(complete[item["key"]].corr(rest.sum(axis=1)), abs=1e-9)
        assert item["alpha_if_deleted"] == pytest.approx(pingouin.cronbach_alpha(data=rest)[0], abs=1e-9)
        assert item["n_valid"] == frame[item["key"]].notna().sum()


def test_reliability_of_one_community_and_of_too_few_answers(evaluator, world):
    campaign, _, communities = world
    a = communities["A"]
    body = get(evaluator, f"/api/v1/campaigns/{campaign.id}/reliability?community={a.id}")
    [block] = body["blocks"]
    assert body["community_id"] == a.id
    in_a = [r for r in counted(RESPONSES) if r["community"] == "A"]
    rows = [[SCORES[r[k]] for k in ("q1", "q2", "q3")] for r in in_a if all(r[k] in SCORES for k in ("q1", "q2", "q3"))]
    assert block["n"] == len(rows)
    assert block["alpha"] == pytest.approx(pingouin.cronbach_alpha(data=pd.DataFrame(rows))[0], abs=1e-9)

    # The second wave never asked q3: no respondent answered the whole block.
    _, second, _ = world
    [block] = get(evaluator, f"/api/v1/campaigns/{second.id}/reliability")["blocks"]
    assert block["n"] == 0 and block["alpha"] is None and "不足 2 人" in block["note"]
    assert all(i["corrected_item_total"] is None for i in block["items"])


# -- drivers --------------------------------------------------------------------------------


@pytest.mark.parametrize("performance", ["rate", "index"])
def test_drivers_agree_with_spearmanr_and_sit_in_their_quadrants(evaluator, world, performance):
    campaign, _, _ = world
    body = get(evaluator, f"/api/v1/campaigns/{campaign.id}/drivers?performance={performance}")
    assert body["overall"]["key"] == "overall" and body["performance"] == performance
    frame = stored_scores(campaign)
    assert body["overall"]["n_valid"] == frame["overall"].notna().sum()
    rows = counted(RESPONSES)
    importance, measured = {}, {}
    for item in body["items"]:
        both = frame[[item["key"], "overall"]].dropna()
        rho, p = spearmanr(both[item["key"]], both["overall"])
        assert item["importance"] == pytest.approx(rho, abs=1e-12)
        assert item["importance_pvalue"] == pytest.approx(p, abs=1e-12)
        assert item["n_both"] == len(both)
        satisfied, n = tally(rows, item["key"])
        assert item["n_valid"] == n
        assert item["satisfaction_rate"] == pytest.approx(satisfied / n, abs=1e-12)
        assert item["satisfaction_index"] == pytest.approx(frame[item["key"]].mean(), abs=1e-9)
        importance[item["key"]] = rho
        measured[item["key"]] = item["satisfaction_rate"] if performance == "rate" else item["satisfaction_index"]
        assert item["performance"] == pytest.approx(measured[item["key"]])
    assert [i["key"] for i in body["items"]] == ["q1", "q2", "q3"]
    importance_cut, performance_cut = np.median(list(importance.values())), np.median(list(measured.values()))
    assert body["cuts"] == pytest.approx({"importance": importance_cut, "performance": performance_cut})
    for item in body["items"]:
        important, good = importance[item["key"]] >= importance_cut, measured[item["key"]] >= performance_cut
        want = {(True, True): "keep_up", (True, False): "fix_first", (False, False): "low_priority",
                (False, True): "possible_overkill"}[important, good]
        assert item["quadrant"] == want and item["quadrant_label"]
    assert body["fix_first"] == [i["key"] for i in sorted(body["items"], key=lambda i: -i["importance"])
                                 if i["quadrant"] == "fix_first"]


def test_drivers_without_an_overall_item_is_a_json_409(logged_in, make):
    community = make.community()
    campaign = make.campaign(communities=[community])  # the small survey: no overall:satisfaction
    db.session.commit()
    response = logged_in(community.parent.parent).get(f"/api/v1/campaigns/{campaign.id}/drivers")
    assert response.status_code == 409 and response.is_json
    assert "overall:satisfaction" in response.get_json()["error"]["message"]


def test_an_empty_campaign_answers_with_empty_figures(logged_in, make):
    community = make.community()
    campaign = make.campaign(make.version(SURVEY), communities=[community])
    db.session.commit()
    evaluator = logged_in(community.parent.parent)
    drivers = get(evaluator, f"/api/v1/campaigns/{campaign.id}/drivers")
    assert drivers["cuts"] == {"importance": None, "performance": None}
    assert all(i["importance"] is None and i["quadrant"] is None for i in drivers["items"])
    assert get(evaluator, f"/api/v1/campaigns/{campaign.id}/reliability")["blocks"][0]["alpha"] is None
    pairwise = get(evaluator, f"/api/v1/campaigns/{campaign.id}/items/q1/pairwise")
    assert pairwise["pairs_tested"] == 0 and pairwise["pairs"] == []


# -- bad input ------------------------------------------------------------------------------


def test_bad_input_is_a_json_error_and_changes_nothing(evaluator, world, make):
    campaign, second, communities = world
    # The small survey: no item in common.
    other = make.campaign(communities=[make.community(street=communities["A"].parent)])
    stranger = make.community()
    db.session.commit()
    before = count_responses(), count_answers()
    base = f"/api/v1/campaigns/{campaign.id}"
    cases = {
        f"{base}/items/nope/pairwise": (404, "nope"),
        f"{base}/items/heard/pairwise": (400, "likert"),
        f"{base}/items/q1/pairwise?group_by=village": (400, "community, street, district, channel"),
        f"{base}/items/q1/pairwise?group_by=campaign": (400, "group_by"),
        f"{base}/items/q1/pairwise?test=t": (400, "test"),
        f"{base}/items/q1/pairwise?limit=0": (400, "limit"),
        f"{base}/items/q1/pairwise?limit=abc": (400, "limit"),
        f"{base}/items/q1/pairwise?alpha=0.9": (400, "alpha"),
        f"{base}/items/q1/pairwise?alpha=nan": (400, "alpha"),
        f"{base}/items/q1/pairwise?only_significant=maybe": (400, "only_significant"),
        "/api/v1/campaigns/999999/items/q1/pairwise": (404, "999999"),
        f"{base}/compare/{campaign.id}": (400, "itself"),
        f"{base}/compare/{other.id}": (400, "share no scale item"),
        f"{base}/compare/999999": (404, "999999"),
        f"{base}/compare/{second.id}?group_by=village": (400, "group_by"),
        f"{base}/reliability?community={stranger.id}": (404, "not in campaign"),
        f"{base}/reliability?community=abc": (400, "community"),
        f"{base}/drivers?community={2**31}": (400, "community"),
        f"{base}/drivers?performance=mean": (400, "performance"),
        f"/api/v1/campaigns/{2**31}/drivers": (404, None),
    }
    for url, (status, words) in cases.items():
        response = evaluator.get(url)
        assert response.status_code == status and response.is_json, url
        error = response.get_json()["error"]
        assert error["status"] == status
        if words:
            assert words in error["message"], (url, error["message"])
    assert (count_responses(), count_answers()) == before


# -- the demo -------------------------------------------------------------------------------


def finite(value, path="") -> None:
    """Every number in a JSON answer is finite (JSON has no NaN; a NaN would come back as one)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            finite(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            finite(inner, f"{path}[{i}]")
    elif isinstance(value, float):
        assert math.isfinite(value), path


def test_every_endpoint_answers_the_demo_with_finite_figures(logged_in, runner, make):
    assert runner.invoke(args=["demo", "--responses", "400"]).exit_code == 0
    campaigns = db.session.scalars(sa.select(Campaign).order_by(Campaign.id)).all()
    evaluators = {}  # one evaluator per district: each demo campaign runs in one district
    for campaign in campaigns:
        district = campaign.communities[0].community.parent.parent
        evaluator = evaluators.get(district.id) or evaluators.setdefault(district.id, logged_in(district))
        base = f"/api/v1/campaigns/{campaign.id}"
        likert = [i.key for i in campaign.survey_version.survey_definition.items if i.type == "likert"]
        for group_by in ("community", "street", "district", "channel"):
            for test in ("rate", "rank"):
                finite(get(evaluator, f"{base}/items/{likert[0]}/pairwise?group_by={group_by}&test={test}"
                                   "&only_significant=false"))
        reliability = get(evaluator, f"{base}/reliability")
        finite(reliability)
        assert any(block["alpha"] is not None for block in reliability["blocks"]) or \
            campaign.survey_version.survey.key == "pilot-satisfaction"
        community = campaign.communities[0].community_id
        finite(get(evaluator, f"{base}/reliability?community={community}"))
        drivers = evaluator.get(f"{base}/drivers")
        if campaign.survey_version.survey.key == "needs-survey":  # no overall-satisfaction item
            assert drivers.status_code == 409
            continue
        assert drivers.status_code == 200
        finite(drivers.get_json())
        assert any(i["quadrant"] for i in drivers.get_json()["items"])
        finite(get(evaluator, f"{base}/drivers?community={community}&performance=index"))

    # A second wave of the Kunming questionnaire, compared with the first.
    first = next(c for c in campaigns if c.survey_version.survey.key == "kunming-questionnaire")
    members = [cc.community for cc in first.communities]
    again = make.campaign(first.survey_version, communities=members, one_per_device=False, name="第二轮")
    db.session.commit()
    store(again, {"A": members[0], "B": members[1], "C": members[2]}, SECOND_WAVE)  # its overall item
    kunming = evaluators[members[0].parent.parent.id]
    for group_by in ("", "?group_by=community", "?group_by=district", "?group_by=channel"):
        finite(get(kunming, f"/api/v1/campaigns/{again.id}/compare/{first.id}{group_by}"))
    pilot = next(c for c in campaigns if c.survey_version.survey.key == "pilot-satisfaction")
    # Their shared keys (overall, publicity_sat) sit on different scales. The pilot runs in another
    # district (Panzhihua), which no account of Kunming's reads: the API answers as if it did not exist.
    with pytest.raises(analyses.AnalysisError, match="share no scale item") as refused:
        analyses.compare_campaigns(first, pilot)
    assert refused.value.status == 400
    response = kunming.get(f"/api/v1/campaigns/{first.id}/compare/{pilot.id}")
    assert response.status_code == 404 and response.is_json
