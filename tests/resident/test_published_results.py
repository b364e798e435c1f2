"""Results made public (Kunming Ⅱ-14.4): a district admin publishes a campaign's satisfaction rates or
withdraws them (audited); residents read them at /results/<id> without an account, and
/api/v1/published/<id> gives the same figures, which are the summary's."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from statsmodels.stats.proportion import proportion_confint

from app.evaluation.published import (
    MIN_PUBLISHED_N,
    PROTECTS_OTHERS,
    TOO_FEW,
    NotPublishable,
    set_published,
    withhold_small_groups,
)
from app.extensions import db
from app.models import AuditEntry, Campaign, CampaignState, Channel, Response, Role
from app.models.types import utcnow
from app.staff.audit_format import action_label, field_label
from app.staff.operations import close_campaign, exclude_response, open_campaign
from app.submissions import NewResponse, store_response

#: Per community: the answers to sat and to joined_sat ("-": not asked), "x" marking an excluded response.
#: sat: 甲 10 residents on the scale (besides a 不了解 and an excluded one), 乙 9, 丙 3: 甲 is shown, 乙 and
#: 丙 are held back (too few), and together hold 12, so the campaign's 22 give neither away.
#: joined_sat: 4 + 2 + 0 = 6 over the campaign, under 10: all of it held back.
RESPONSES = """
A  5 5  5 -  4 4  4 3  4 -  3 -  2 -  4 5  5 -  1 -  dk -  1x -
B  5 4  4 -  3 4  4 -  2 -  4 -  5 -  4 -  3 -
C  4 -  2 -  5 -
"""
#: An open answer: it must never reach the public page.
ADVICE = "三号楼的路灯坏了半年没人修"


def rows():
    for line in RESPONSES.strip().splitlines():
        community, *answers = line.split()
        for sat, joined_sat in zip(answers[::2], answers[1::2]):
            yield community, sat.rstrip("x"), None if joined_sat == "-" else joined_sat, sat.endswith("x")


@pytest.fixture
def world(make):
    """A closed campaign in three communities with the responses above."""
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    c = make.community(name="丙社区", street=a.parent)
    campaign = make.campaign(communities=[a, b, c], one_per_device=False, name="2026年居民满意度测评")
    db.session.commit()
    communities = {"A": a, "B": b, "C": c}
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
    close_campaign(campaign, utcnow())
    db.session.commit()
    assert campaign.state is CampaignState.CLOSED
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
    assert "公布满意率结果" in admin.get(f"/evaluate/campaigns/{campaign.id}/dashboard").get_data(as_text=True)
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


def publish_audits():
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action.in_(["publish", "withdraw"])))


def test_the_published_figures_are_the_summarys_and_a_hand_count(world, logged_in, client):
    campaign, communities = world
    district = communities["A"].parent.parent
    publish(logged_in(district, Role.ADMIN), campaign)
    body = client.get(f"/api/v1/published/{campaign.id}").get_json()
    evaluator = logged_in(district)
    whole = evaluator.get(f"/api/v1/campaigns/{campaign.id}/summary?group_by=campaign").get_json()
    by_community = evaluator.get(f"/api/v1/campaigns/{campaign.id}/summary").get_json()
    assert [i["key"] for i in body["items"]] == [i["key"] for i in whole["items"]] == ["sat", "joined_sat"]
    shown = {"withheld": False, "withheld_reason": None}
    held = {"n_valid": None, "satisfaction_rate": None, "rate_interval": None, "withheld": True,
            "withheld_reason": TOO_FEW}
    sat, joined_sat = body["items"]
    (group,) = whole["items"][0]["groups"]
    assert sat["campaign"] == {**{k: group[k] for k in ("n_valid", "satisfaction_rate", "rate_interval")}, **shown}
    assert [c["name"] for c in sat["communities"]] == ["甲社区", "乙社区", "丙社区"]  # by code, not ranked
    theirs = by_community["items"][0]["groups"][0]
    assert sat["communities"][0] == {"id": theirs["key"], "name": theirs["name"], "n_valid": theirs["n_valid"],
                                     "satisfaction_rate": theirs["satisfaction_rate"],
                                     "rate_interval": theirs["rate_interval"], **shown}
    # 乙 has 9 residents on the scale, 丙 3: held back, with no figure at all.
    for mine, theirs in zip(sat["communities"][1:], by_community["items"][0]["groups"][1:]):
        assert theirs["n_valid"] < MIN_PUBLISHED_N
        assert mine == {"id": theirs["key"], "name": theirs["name"], **held}
    # joined_sat: 6 residents over the campaign, so nothing of it is published.
    assert whole["items"][1]["groups"][0]["n_valid"] == 6
    assert joined_sat["campaign"] == held and all(c == {"id": c["id"], "name": c["name"], **held}
                                                  for c in joined_sat["communities"])
    # And by hand: counted responses, on-scale answers, 4 and 5 satisfied (Wilson, statsmodels).
    for letter, figures in (("A", sat["communities"][0]), (None, sat["campaign"])):
        values = [v for c, v, _, excluded in rows() if c == (letter or c) and not excluded and v != "dk"]
        satisfied = sum(v in ("4", "5") for v in values)
        assert figures["n_valid"] == len(values) == (10 if letter else 22)
        assert figures["satisfaction_rate"] == pytest.approx(satisfied / len(values), abs=1e-12)
        low, high = wilson(satisfied, len(values))
        assert (figures["rate_interval"]["low"], figures["rate_interval"]["high"]) == pytest.approx((low, high),
                                                                                                    abs=1e-9)


def test_nine_residents_are_held_back_and_ten_shown(world, logged_in, client):
    campaign, communities = world
    publish(logged_in(communities["A"].parent.parent, Role.ADMIN), campaign)
    body = client.get(f"/api/v1/published/{campaign.id}").get_json()
    html = client.get(f"/results/{campaign.id}").get_data(as_text=True)
    a, b, c = body["items"][0]["communities"]
    assert (a["withheld"], a["n_valid"]) == (False, 10)
    assert (b["withheld"], b["withheld_reason"], b["satisfaction_rate"]) == (True, "too_few", None)
    assert c["withheld"] and body["min_published_n"] == MIN_PUBLISHED_N == 10
    assert "10 位居民回答" in html and "9 位居民回答" not in html and "3 位居民回答" not in html
    # 乙 and 丙 for sat, the campaign and all three communities for joined_sat.
    assert html.count("回答的人太少（不到 10 人），不单独公布") == 2 + 4
    # One more resident of 乙 brings it to 10: shown. Then 丙's 3 alone would be the campaign's figure
    # less the shown ones', so the smallest shown community (甲 and 乙 have 10 each: 甲, first by code)
    # is held back with it.
    store_response(NewResponse(campaign_id=campaign.id, community_id=communities["B"].id, channel=Channel.QR,
                               submission_id=uuid.uuid4().hex, submitted_at=utcnow(),
                               answers=[("sat", ("4", None, None)), ("joined", ("2", None, None))]))
    db.session.commit()
    a, b, c = client.get(f"/api/v1/published/{campaign.id}").get_json()["items"][0]["communities"]
    assert [(x["withheld"], x["withheld_reason"]) for x in (a, b, c)] == [
        (True, PROTECTS_OTHERS), (False, None), (True, TOO_FEW)]
    assert b["n_valid"] == 10
    html = client.get(f"/results/{campaign.id}").get_data(as_text=True)
    assert "10 位居民回答" in html
    assert "这个社区也不单独公布" in html


def group(n: int, name: str = "") -> dict:
    return {"name": name, "n_valid": n, "satisfaction_rate": 0.5 if n else None,
            "rate_interval": {"low": 0.1, "high": 0.9} if n else None, "withheld": False, "withheld_reason": None}


@pytest.mark.parametrize(("sizes", "expected"), [
    ([10, 9, 3], [None, TOO_FEW, TOO_FEW]),            # held back 12: enough
    ([10, 11, 3], [PROTECTS_OTHERS, None, TOO_FEW]),   # 3 alone would be the difference: the smallest shown goes
    ([10, 9], [PROTECTS_OTHERS, TOO_FEW]),
    ([30, 1, 1, 1], [PROTECTS_OTHERS, TOO_FEW, TOO_FEW, TOO_FEW]),
    ([12, 0, 15], [None, TOO_FEW, None]),              # nobody held back: nothing to protect
    ([10, 10, 10], [None, None, None]),
    ([12, 10, 5, 5], [None, None, TOO_FEW, TOO_FEW]),
])
def test_the_held_back_communities_cannot_be_worked_out(sizes, expected):
    whole, communities = withhold_small_groups(group(sum(sizes)), [group(n, str(i)) for i, n in enumerate(sizes)])
    assert not whole["withheld"] and whole["n_valid"] == sum(sizes)
    assert [c["withheld_reason"] for c in communities] == expected
    for c, n in zip(communities, sizes):
        assert c["withheld"] is (c["withheld_reason"] is not None)
        assert c["n_valid"] == (None if c["withheld"] else n)
        assert c["satisfaction_rate"] is None or not c["withheld"]
    # What the campaign's figure minus the shown ones leaves is none or at least the minimum.
    rest = sum(sizes) - sum(n for c, n in zip(communities, sizes) if not c["withheld"])
    assert rest == 0 or rest >= MIN_PUBLISHED_N
    small, parts = withhold_small_groups(group(9), [group(9)])
    assert small["withheld_reason"] == TOO_FEW and small["satisfaction_rate"] is None
    assert parts[0]["withheld_reason"] == TOO_FEW


@pytest.mark.parametrize("state", ["open", "draft", "scheduled"])
def test_a_campaign_not_closed_is_not_published(make, logged_in, state):
    community = make.community()
    campaign = make.campaign(communities=[community], state=state)
    db.session.commit()
    admin = logged_in(community.parent.parent, Role.ADMIN)
    page = admin.get(f"/staff/campaigns/{campaign.id}").get_data(as_text=True)
    assert "调查结束以后才能公布满意率结果" in page and "公布满意率结果</button>" not in page
    dashboard = admin.get(f"/evaluate/campaigns/{campaign.id}/dashboard").get_data(as_text=True)
    assert "调查结束以后才能公布满意率结果" in dashboard
    refused = publish(admin, campaign)
    assert refused.status_code == 303
    page = admin.get(refused.headers["Location"]).get_data(as_text=True)
    assert "结束以后才能公布结果" in page and "满意率结果已公布" not in page
    assert published_at(campaign) is None and publish_audits() == 0
    with pytest.raises(NotPublishable, match="才能公布"):
        set_published(campaign, True)
    assert campaign.results_published_at is None


def test_opened_again_after_publishing_the_page_says_the_figures_may_change(world, logged_in, client):
    campaign, communities = world
    admin = logged_in(communities["A"].parent.parent, Role.ADMIN)
    publish(admin, campaign)
    body = client.get(f"/api/v1/published/{campaign.id}").get_json()
    assert body["figures_may_change"] is False
    assert "重新开始" not in client.get(f"/results/{campaign.id}").get_data(as_text=True)
    open_campaign(campaign, utcnow())
    db.session.commit()
    assert campaign.state is CampaignState.OPEN
    body = client.get(f"/api/v1/published/{campaign.id}").get_json()
    assert body["figures_may_change"] is True
    html = client.get(f"/results/{campaign.id}").get_data(as_text=True)
    assert "这次调查在公布以后又重新开始了，还在收集居民的回答，下面的数字还可能变化。" in html
    staff_page = admin.get(f"/staff/campaigns/{campaign.id}").get_data(as_text=True)
    assert "调查公布以后又重新开始了" in staff_page and "撤回公布" in staff_page
    # Withdrawing works whatever the state.
    assert publish(admin, campaign, "0").status_code == 303
    assert published_at(campaign) is None


def keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def test_no_totals_and_no_counts_by_channel(world, logged_in, client):
    campaign, communities = world
    publish(logged_in(communities["A"].parent.parent, Role.ADMIN), campaign)
    body = client.get(f"/api/v1/published/{campaign.id}").get_json()
    assert body["channels"] == [{"channel": "qr", "name": "扫码"}]
    assert not keys(body) & {"respondents", "communities_count", "total", "missing", "counts"}
    assert "communities" not in body and "respondents" not in body
    html = client.get(f"/results/{campaign.id}").get_data(as_text=True)
    counted = sum(1 for r in rows() if not r[3])
    assert "位居民参加" not in html and f"共有 {counted}" not in html and "个社区进行" not in html


def test_the_page_says_the_rates_in_plain_words_and_nothing_else(world, logged_in, client):
    campaign, communities = world
    admin = logged_in(communities["A"].parent.parent, Role.ADMIN)
    publish(admin, campaign)
    body = client.get(f"/api/v1/published/{campaign.id}").get_json()
    html = client.get(f"/results/{campaign.id}").get_data(as_text=True)
    for item in body["items"]:
        assert item["text"] in html
        for figures in (item["campaign"], *item["communities"]):
            if figures["withheld"]:
                continue
            rate, interval = figures["satisfaction_rate"], figures["rate_interval"]
            assert f"{round(rate * 100)}%" in html
            assert (f"大约 {round(interval['low'] * 100)}%–{round(interval['high'] * 100)}% · "
                    f"{figures['n_valid']} 位居民回答") in html
    # sat over the communities: 22 on the scale (the 不了解 and the excluded one left out), 15 satisfied.
    assert body["items"][0]["campaign"]["n_valid"] == 22
    assert "全部社区满意率</span> <span class=\"rate\">68%</span>" in html
    assert "公布" in html and "选了“非常满意”或“满意”的人占多少" in html and "选“不了解/说不清”的不算在里面" in html
    # No open answers, no staff, no resources from elsewhere.
    assert ADVICE not in html and "路灯" not in html and "您还有什么建议" not in html
    assert "advice" not in str(body) and ADVICE not in str(body)
    assert "通过扫码参加的居民是自己愿意来答的" in html and "问卷票" not in html  # only QR responses here
    assert "http://" not in html and "https://" not in html
    username = db.session.scalar(sa.text("SELECT username FROM accounts WHERE role = 'admin'"))
    assert username not in html
    assert all(url.startswith(("/", "data:")) for url in re.findall(r'(?:href|src)="([^"]+)"', html))
