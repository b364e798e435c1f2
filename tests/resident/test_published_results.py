"""Results made public (Kunming Ⅱ-14.4): a district admin publishes a campaign's satisfaction rates or
withdraws them (audited); residents read them at /results/<id> without an account, and
/api/v1/published/<id> gives the same figures, which are the summary's."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from statsmodels.stats.proportion import proportion_confint

from app.extensions import db
from app.models import AuditEntry, Campaign, Channel, Response, Role
from app.models.types import utcnow
from app.staff.audit_format import action_label, field_label
from app.staff.operations import exclude_response
from app.submissions import NewResponse, store_response

#: community, sat, joined_sat ("-": not asked), excluded
RESPONSES = """
A  5   5   no
A  4   -   no
A  4   3   no
A  2   -   no
A  dk  -   no
A  1   -   yes
B  5   4   no
B  3   -   no
B  4   4   no
"""
#: An open answer: it must never reach the public page.
ADVICE = "三号楼的路灯坏了半年没人修"


def rows():
    for line in RESPONSES.strip().splitlines():
        community, sat, joined_sat, excluded = line.split()
        yield community, sat, None if joined_sat == "-" else joined_sat, excluded == "yes"


@pytest.fixture
def world(make):
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    campaign = make.campaign(communities=[a, b], one_per_device=False, name="2026年居民满意度测评")
    db.session.commit()
    communities = {"A": a, "B": b}
    for community, sat, joined_sat, excluded in rows():
        answers = [("sat", (sat, None, None)), ("joined", ("1" if joined_sat else "2", None, None)),
                   ("advice", ("", None, ADVICE))]
        if joined_sat:
            answers.append(("joined_sat", (joined_sat, None, None)))
        submission = uuid.uuid4().hex
        store_response(NewResponse(campaign_id=campaign.id, community_id=communities[community].id,
                                   channel=Channel.QR, submission_id=submission, submitted_at=utcnow(),
                                   answers=answers))
        if excluded:
            exclude_response(db.session.scalar(sa.select(Response).where(Response.submission_id == submission)),
                             "同一人重复填写")
            db.session.commit()
    return campaign, communities


def csrf_of(client, campaign) -> str:
    page = client.get(f"/staff/campaigns/{campaign.id}").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def publish(client, campaign, value: str = "1", token: str | None = None):
    return client.post(f"/evaluate/campaigns/{campaign.id}/publish",
                       data={"csrf_token": token if token is not None else csrf_of(client, campaign),
                             "publish": value})


def published_at(campaign):
    return db.session.scalar(sa.select(Campaign.results_published_at).where(Campaign.id == campaign.id)
                             .execution_options(populate_existing=True))


def test_an_admin_publishes_and_withdraws_audited(world, logged_in):
    campaign, communities = world
    admin = logged_in(communities["A"].parent.parent, Role.ADMIN)
    page = admin.get(f"/staff/campaigns/{campaign.id}").get_data(as_text=True)
    assert "公布满意率结果" in page and "还没有公布" in page
    response = publish(admin, campaign)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/staff/campaigns/{campaign.id}")
    assert published_at(campaign) is not None
    page = admin.get(f"/staff/campaigns/{campaign.id}").get_data(as_text=True)
    assert "撤回公布" in page and f"/results/{campaign.id}" in page
    assert publish(admin, campaign).status_code == 303  # again: nothing changes, nothing audited
    assert publish(admin, campaign, "0").status_code == 303
    assert published_at(campaign) is None
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.object_type == "campaign",
                                                             AuditEntry.object_id == str(campaign.id),
                                                             AuditEntry.action.in_(["publish", "withdraw"]))
                                 .order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["publish", "withdraw"]
    assert entries[0].before == {"results_published_at": None} and entries[0].after["results_published_at"]
    assert entries[1].before == entries[0].after and entries[1].after == {"results_published_at": None}
    assert all(e.account_id is not None and e.region_id == communities["A"].parent_id for e in entries)
    assert (action_label("publish"), action_label("withdraw")) == ("公布结果", "撤回公布结果")
    assert field_label("results_published_at") == "结果公布时间"
    # The audit log page reads it in words.
    log = admin.get("/staff/audit").get_data(as_text=True)
    assert "公布结果" in log and "撤回公布结果" in log and "结果公布时间" in log


@pytest.mark.parametrize("role", [Role.EVALUATOR, Role.STREET, Role.COMMUNITY])
def test_only_an_admin_publishes(world, logged_in, role):
    campaign, communities = world
    a = communities["A"]
    region = {Role.EVALUATOR: a.parent.parent, Role.STREET: a.parent, Role.COMMUNITY: a}[role]
    client = logged_in(region, role)
    assert "公布满意率结果" not in client.get(f"/staff/campaigns/{campaign.id}").get_data(as_text=True)
    assert publish(client, campaign).status_code == 403
    assert published_at(campaign) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "publish")) == 0


def test_an_admin_elsewhere_or_nobody_cannot_publish_and_bad_posts_are_refused(world, logged_in, make, client):
    campaign, communities = world
    elsewhere = make.community()
    db.session.commit()
    outsider = logged_in(elsewhere.parent.parent, Role.ADMIN)
    token = csrf_of(outsider, make.campaign(communities=[elsewhere]))
    db.session.commit()
    assert publish(outsider, campaign, token=token).status_code == 404
    login_page = client.get("/staff/login").get_data(as_text=True)
    anonymous_token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login_page).group(1)
    response = publish(client, campaign, token=anonymous_token)
    assert response.status_code in (302, 303) and "/staff/login" in response.headers["Location"]
    admin = logged_in(communities["A"].parent.parent, Role.ADMIN)
    assert publish(admin, campaign, "yes").status_code == 400
    assert publish(admin, campaign, token="not-a-token").status_code == 400
    token = csrf_of(admin, campaign)
    assert admin.post(f"/evaluate/campaigns/{2**40}/publish", data={"csrf_token": token, "publish": "1"}
                      ).status_code == 404
    assert published_at(campaign) is None


def test_the_public_page_is_there_only_while_published(world, logged_in, client):
    campaign, communities = world
    assert client.get(f"/results/{campaign.id}").status_code == 404
    assert client.get(f"/api/v1/published/{campaign.id}").status_code == 404
    assert client.get("/results/999999").status_code == 404 and client.get(f"/results/{2**40}").status_code == 404
    admin = logged_in(communities["A"].parent.parent, Role.ADMIN)
    publish(admin, campaign)
    page = client.get(f"/results/{campaign.id}")
    assert page.status_code == 200 and "2026年居民满意度测评" in page.get_data(as_text=True)
    assert client.get(f"/api/v1/published/{campaign.id}").status_code == 200
    publish(admin, campaign, "0")
    gone = client.get(f"/results/{campaign.id}")
    assert gone.status_code == 404 and "还没有公布" in gone.get_data(as_text=True)
    missing = client.get(f"/api/v1/published/{campaign.id}")
    assert missing.status_code == 404 and missing.get_json()["error"]["status"] == 404


def wilson(satisfied: int, n: int) -> tuple[float, float]:
    return proportion_confint(satisfied, n, alpha=0.05, method="wilson")


def test_the_published_figures_are_the_summarys_and_a_hand_count(world, logged_in, client):
    campaign, communities = world
    district = communities["A"].parent.parent
    publish(logged_in(district, Role.ADMIN), campaign)
    body = client.get(f"/api/v1/published/{campaign.id}").get_json()
    evaluator = logged_in(district)
    whole = evaluator.get(f"/api/v1/campaigns/{campaign.id}/summary?group_by=campaign").get_json()
    by_community = evaluator.get(f"/api/v1/campaigns/{campaign.id}/summary").get_json()
    assert [i["key"] for i in body["items"]] == [i["key"] for i in whole["items"]] == ["sat", "joined_sat"]
    assert body["respondents"] == whole["respondents"] == sum(1 for r in rows() if not r[3])
    for item, overall, per_community in zip(body["items"], whole["items"], by_community["items"]):
        (group,) = overall["groups"]
        assert item["campaign"] == {k: group[k] for k in ("n_valid", "satisfaction_rate", "rate_interval")}
        assert [c["name"] for c in item["communities"]] == ["甲社区", "乙社区"]  # by code, not ranked
        for mine, theirs in zip(item["communities"], per_community["groups"]):
            assert mine == {"id": theirs["key"], "name": theirs["name"], "n_valid": theirs["n_valid"],
                            "satisfaction_rate": theirs["satisfaction_rate"],
                            "rate_interval": theirs["rate_interval"]}
    # And by hand: counted responses, on-scale answers, 4 and 5 satisfied (Wilson, statsmodels).
    for letter, mine in zip("AB", body["items"][0]["communities"]):
        values = [sat for c, sat, _, excluded in rows() if c == letter and not excluded and sat != "dk"]
        satisfied = sum(v in ("4", "5") for v in values)
        assert mine["n_valid"] == len(values)
        assert mine["satisfaction_rate"] == pytest.approx(satisfied / len(values), abs=1e-12)
        low, high = wilson(satisfied, len(values))
        assert (mine["rate_interval"]["low"], mine["rate_interval"]["high"]) == pytest.approx((low, high), abs=1e-9)


def test_the_page_says_the_rates_in_plain_words_and_nothing_else(world, logged_in, client):
    campaign, communities = world
    admin = logged_in(communities["A"].parent.parent, Role.ADMIN)
    publish(admin, campaign)
    body = client.get(f"/api/v1/published/{campaign.id}").get_json()
    html = client.get(f"/results/{campaign.id}").get_data(as_text=True)
    for item in body["items"]:
        assert item["text"] in html
        for figures in (item["campaign"], *item["communities"]):
            rate, interval = figures["satisfaction_rate"], figures["rate_interval"]
            assert f"{round(rate * 100)}%" in html
            assert (f"大约 {round(interval['low'] * 100)}%–{round(interval['high'] * 100)}% · "
                    f"{figures['n_valid']} 位居民回答") in html
    # sat over both communities: 7 on the scale (the 不了解 and the excluded one left out), 5 satisfied.
    assert body["items"][0]["campaign"]["n_valid"] == 7
    assert "全部社区满意率</span> <span class=\"rate\">71%</span>" in html
    assert "公布" in html and "选了“非常满意”或“满意”的人占多少" in html and "选“不了解/说不清”的不算在里面" in html
    # No open answers, no staff, no resources from elsewhere.
    assert ADVICE not in html and "路灯" not in html and "您还有什么建议" not in html
    assert "advice" not in str(body) and ADVICE not in str(body)
    assert "通过扫码参加的居民是自己愿意来答的" in html and "问卷票" not in html  # only QR responses here
    assert "http://" not in html and "https://" not in html
    username = db.session.scalar(sa.text("SELECT username FROM accounts WHERE role = 'admin'"))
    assert username not in html
    assert all(url.startswith(("/", "data:")) for url in re.findall(r'(?:href|src)="([^"]+)"', html))
