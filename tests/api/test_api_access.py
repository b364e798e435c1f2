"""Who reads what through /api/v1: a login for every campaign endpoint; evaluators and the district read
their region's campaigns whole, street and community staff their own communities' aggregates; figures
that compare a campaign's communities need all of them; a campaign elsewhere is not found."""

from __future__ import annotations

import uuid

import pytest

from app.extensions import db
from app.models import Channel, RegionLevel, Role
from app.models.types import utcnow
from app.staff.operations import add_region
from app.submissions import NewResponse, store_response

SURVEY = """
title: 服务评价
sections:
  - title: 一、社区服务
    items:
      - {key: q1, type: likert, scale: satisfaction5, text: 您对办事窗口满意吗？, tags: ["test:q1"]}
      - {key: q2, type: likert, scale: satisfaction5, text: 您对环境卫生满意吗？, tags: ["test:q2"]}
  - title: 二、总体评价
    items:
      - {key: overall, type: likert, scale: satisfaction5, text: 总的来说，您对社区满意吗？,
         tags: ["overall:satisfaction"]}
"""

#: community: (q1, q2, overall) per respondent
ANSWERS = {
    "A": ["555", "544", "433", "321", "454"],
    "B": ["222", "343", "455", "111"],
    "C": ["545", "234", "333"],
}


def store(campaign, community, answers: str) -> None:
    store_response(NewResponse(campaign_id=campaign.id, community_id=community.id, channel=Channel.QR,
                               submission_id=uuid.uuid4().hex, submitted_at=utcnow(),
                               answers=[(key, (value, None, None)) for key, value in zip(("q1", "q2", "overall"),
                                                                                         answers)]))


@pytest.fixture
def world(make):
    """A district: street 1 with communities A and B, street 2 with C; two waves over all three; and
    a campaign in another district."""
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    c = make.community(name="丙社区", street=add_region("S9-two", "第二街道", RegionLevel.STREET, a.parent.parent))
    communities = {"A": a, "B": b, "C": c}
    version = make.version(SURVEY)
    campaign = make.campaign(version, communities=[a, b, c], one_per_device=False, name="第一轮")
    second = make.campaign(version, communities=[a, b, c], one_per_device=False, name="第二轮")
    elsewhere = make.campaign(version, communities=[make.community(name="别区社区")], name="别区的")
    db.session.commit()
    for letter, rows in ANSWERS.items():
        for answers in rows:
            store(campaign, communities[letter], answers)
            store(second, communities[letter], answers[::-1])
    return campaign, second, elsewhere, communities


def paths(campaign, second, community) -> dict[str, str]:
    base = f"/api/v1/campaigns/{campaign.id}"
    return {
        "counts": f"{base}/counts",
        "summary": f"{base}/summary",
        "weighted": f"{base}/weighted?community={community.id}",
        "pairwise": f"{base}/items/q1/pairwise?only_significant=false",
        "compare": f"{base}/compare/{second.id}",
        "reliability": f"{base}/reliability",
        "drivers": f"{base}/drivers",
        "scores": f"{base}/scores?scheme=kunming",
    }


ENDPOINTS = ["campaigns", "counts", "summary", "weighted", "pairwise", "compare", "reliability", "drivers", "scores"]
#: Figures that compare the campaign's communities with one another.
CAMPAIGN_WIDE = ["pairwise", "compare", "reliability", "drivers"]


def url(world, name: str) -> str:
    campaign, second, _, communities = world
    return "/api/v1/campaigns" if name == "campaigns" else paths(campaign, second, communities["A"])[name]


@pytest.mark.parametrize("name", ENDPOINTS)
def test_every_campaign_endpoint_needs_a_login(client, world, name):
    response = client.get(url(world, name))
    assert response.status_code == 401 and response.is_json, response.get_data(as_text=True)[:200]
    error = response.get_json()["error"]
    assert error["status"] == 401 and "log in" in error["message"]
    assert error["title"] == "需要登录"  # was 400's "提交的内容有误": 401 had no words of its own


def test_the_openapi_file_stays_public(client, app):
    response = client.get("/api/v1/openapi.yaml")
    assert response.status_code == 200 and b"staffSession" in response.data


def test_an_outsider_finds_nothing(world, logged_in):
    campaign, second, elsewhere, communities = world
    outsider = logged_in(elsewhere.communities[0].community.parent.parent)
    listed = [c["id"] for c in outsider.get("/api/v1/campaigns").get_json()["campaigns"]]
    assert listed == [elsewhere.id]
    for name, path in paths(campaign, second, communities["A"]).items():
        if name == "scores":
            continue  # its 404 is tested with the scores
        response = outsider.get(path)
        assert response.status_code == 404 and response.is_json, (name, response.status_code)
    # Its own campaign compared with one outside its region: not found either.
    response = outsider.get(f"/api/v1/campaigns/{elsewhere.id}/compare/{campaign.id}")
    assert response.status_code == 404


def test_the_district_reads_everything_of_its_campaigns(world, logged_in):
    campaign, second, _, communities = world
    district = communities["A"].parent.parent
    for role in (Role.EVALUATOR, Role.ADMIN):
        reader = logged_in(district, role)
        listed = [c["id"] for c in reader.get("/api/v1/campaigns").get_json()["campaigns"]]
        assert listed == [campaign.id, second.id]  # oldest first, nothing of the other district
        for name, path in paths(campaign, second, communities["C"]).items():
            if name == "scores":
                continue
            response = reader.get(path)
            assert response.status_code == 200, (role, name, response.get_data(as_text=True)[:200])
        counts = reader.get(paths(campaign, second, communities["A"])["counts"]).get_json()
        assert counts["total"] == sum(len(rows) for rows in ANSWERS.values())
        assert reader.get(f"/api/v1/campaigns/{campaign.id}/summary").get_json()["filter"]["community_ids"] is None


def test_street_staff_read_their_own_communities_only(world, logged_in):
    campaign, second, _, communities = world
    a, b, c = communities["A"], communities["B"], communities["C"]
    street = logged_in(a.parent, Role.STREET)
    assert [x["id"] for x in street.get("/api/v1/campaigns").get_json()["campaigns"]] == [campaign.id, second.id]
    counts = street.get(f"/api/v1/campaigns/{campaign.id}/counts").get_json()
    assert [x["community_id"] for x in counts["by_community"]] == [a.id, b.id]
    assert counts["total"] == len(ANSWERS["A"]) + len(ANSWERS["B"])
    summary = street.get(f"/api/v1/campaigns/{campaign.id}/summary").get_json()
    assert [g["name"] for g in summary["groups"]] == ["甲社区", "乙社区"]
    assert summary["respondents"] == len(ANSWERS["A"]) + len(ANSWERS["B"])
    assert street.get(f"/api/v1/campaigns/{campaign.id}/weighted?community={b.id}").status_code == 200
    response = street.get(f"/api/v1/campaigns/{campaign.id}/weighted?community={c.id}")
    assert response.status_code == 404 and response.is_json


@pytest.mark.parametrize("role", [Role.STREET, Role.COMMUNITY])
def test_campaign_wide_comparisons_are_refused_to_community_and_street_staff(world, logged_in, role):
    campaign, second, _, communities = world
    a, c = communities["A"], communities["C"]
    staff = logged_in(a.parent if role is Role.STREET else a, role)
    for name in CAMPAIGN_WIDE:
        response = staff.get(paths(campaign, second, a)[name])
        assert response.status_code == 403 and response.is_json, name
        assert "every community" in response.get_json()["error"]["message"]
    # Narrowed to a community of their own, reliability and drivers are theirs to read.
    base = f"/api/v1/campaigns/{campaign.id}"
    own = staff.get(f"{base}/reliability?community={a.id}")
    assert own.status_code == 200 and own.get_json()["community_id"] == a.id
    assert staff.get(f"{base}/drivers?community={a.id}").status_code == 200
    # A community of the campaign that is not theirs: not found.
    for name in ("reliability", "drivers"):
        response = staff.get(f"{base}/{name}?community={c.id}")
        assert response.status_code == 404 and response.is_json


def test_a_narrowed_analysis_is_the_evaluators_for_that_community(world, logged_in):
    campaign, _, _, communities = world
    a = communities["A"]
    base = f"/api/v1/campaigns/{campaign.id}"
    evaluator, staff = logged_in(a.parent.parent), logged_in(a, Role.COMMUNITY)
    for name in ("reliability", "drivers"):
        assert staff.get(f"{base}/{name}?community={a.id}").get_json() == \
            evaluator.get(f"{base}/{name}?community={a.id}").get_json()
