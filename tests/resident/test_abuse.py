"""Abuse (issue 7): one device or one network sending a thousand submissions gets at most the
allowed one counted, the rest refused (409, 429) or stored flagged as a burst; repeated failed
logins are slowed down. Each case is measured and its figures printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import random
import time
import types
import uuid
from collections import Counter
from datetime import timedelta

import limits.storage.memory
import pytest
import sqlalchemy as sa
from limits import parse_many

from app import create_app, extensions
from app.analysis.quality import BURST_SIZE, BURST_WINDOW_SECONDS, bursts
from app.extensions import db
from app.models import Channel, QualityFlag, Response, Role, Ticket
from app.models.types import utcnow
from app.resident.operations import network_hash
from app.staff.operations import create_account, issue_tickets
from app.submissions import NewResponse, refresh_quality_flags, store_response
from tests.conftest import base_config
from tests.helpers import VALID, count_answers, count_responses, open_form, read_form
from tests.staff.conftest import PASSWORD, log_in

#: What the issue says a script sends.
N = 1000
ATTACKER = "203.0.113.45"
SECRET = "test-secret-key"  # tests/conftest.py base_config
TOO_FREQUENT = "提交太频繁了"
ANSWERS_PER_VALID_FORM = len([k for k in VALID if k != "channels"]) + len(VALID["channels"])


def client_at(app, address: str):
    """A test client whose requests come from ``address`` (Werkzeug's environ_base), without cookies."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def limit_allows(limit_value: str, seconds: float) -> int:
    """How many hits a limit lets through in ``seconds`` from its first hit (fixed windows, which
    start at the first hit): the tightest of its parts."""
    return min(item.amount * (int(seconds // item.get_expiry()) + 1) for item in parse_many(limit_value))


def per_hour(limit_value: str) -> float:
    """Hits a limit allows per hour, sustained."""
    return min(item.amount * 3600 / item.get_expiry() for item in parse_many(limit_value))


@pytest.fixture
def limiter_clock(monkeypatch):
    """The clock of Flask-Limiter's in-memory storage (the tests' storage: no REDIS_URL), moved by hand."""
    now = [time.time()]
    monkeypatch.setattr(limits.storage.memory, "time", types.SimpleNamespace(time=lambda: now[0]))

    def advance(seconds: float) -> None:
        now[0] += seconds
    return advance


def flags_by_id(campaign_id: int) -> dict[int, int]:
    db.session.expire_all()
    return dict(db.session.execute(sa.select(Response.id, Response.quality_flags)
                                   .where(Response.campaign_id == campaign_id)).all())


def burst_ids(campaign_id: int) -> set[int]:
    return {i for i, f in flags_by_id(campaign_id).items() if f & QualityFlag.BURST}


def sat_figures(client, campaign_id: int, **params) -> tuple[int, float | None]:
    """The summary API's valid n and satisfaction rate of the "sat" item over the whole campaign."""
    query = "&".join(f"{k}={v}" for k, v in {"group_by": "campaign", **params}.items())
    response = client.get(f"/api/v1/campaigns/{campaign_id}/summary?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    group = next(i for i in response.get_json()["items"] if i["key"] == "sat")["groups"][0]
    return group["n_valid"], group["satisfaction_rate"]


# -- one device ------------------------------------------------------------------------------

def test_one_device_sending_a_thousand_forms_gets_one_response(app, open_site):
    """A script that keeps its device cookie (replaying the one it was given first, so every
    page shows a fresh form) and posts a thousand valid forms: one response, the rest 409 or 429."""
    site, campaign = open_site
    phone = client_at(app, ATTACKER)
    url = f"/s/{site.token}"
    first = open_form(phone, url)
    cookie = phone.get_cookie("minyi_device").value
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    for i in range(N):
        phone.set_cookie("minyi_device", cookie)
        page = first if i == 0 else open_form(phone, url)
        statuses[phone.post(page.action, data=page.data(**VALID)).status_code] += 1
    seconds = time.perf_counter() - started
    print(f"\n[one device, {db.engine.dialect.name}] {N} submissions in {seconds:.1f} s: "
          f"statuses {dict(sorted(statuses.items()))}; responses stored: {count_responses(campaign.id)}")
    assert statuses[303] == 1 and set(statuses) <= {303, 409, 429} and statuses.total() == N
    # Every post the limit let through reached the one-per-device rule; no more than it allows.
    assert statuses[303] + statuses[409] <= limit_allows(app.config["SUBMIT_LIMIT"], seconds)
    assert statuses[429] >= N - limit_allows(app.config["SUBMIT_LIMIT"], seconds)
    assert count_responses() == 1 and count_answers() == ANSWERS_PER_VALID_FORM


# -- one network -----------------------------------------------------------------------------

@pytest.mark.parametrize("addresses, n", [(1, N), (250, 250)], ids=["one address", "a whole /24"])
def test_one_network_dropping_cookies_a_thousand_times_moves_no_figure(app, make, logged_in, addresses, n):
    """A thousand valid forms from one address, each from a new device (cookies dropped): at
    most one counted; the others refused (429) or stored flagged BURST, so the satisfaction rate
    the summary API gives is what the genuine residents said. Spread over the 250 addresses of
    a /24 (one form each, which no per-address limit can see), the flags alone keep them out."""
    site = make.site()
    campaign = make.campaign(communities=[site.community])
    db.session.commit()
    url = f"/s/{site.token}"
    # Genuine residents first, each on their own network: 2 of 5 satisfied.
    for k, sat in enumerate("24215"):
        resident = client_at(app, f"10.{k}.0.8")
        page = open_form(resident, url)
        assert resident.post(page.action, data=page.data(**dict(VALID, sat=sat))).status_code == 303
    evaluator = logged_in(site.community.parent.parent)
    before = sat_figures(evaluator, campaign.id)
    assert before == (5, 0.4)

    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    for i in range(n):
        script = client_at(app, f"203.0.113.{1 + i % addresses}")  # a new client: no cookies
        page = open_form(script, url)
        statuses[script.post(page.action, data=page.data(**dict(VALID, sat="5"))).status_code] += 1
    seconds = time.perf_counter() - started

    network = network_hash(SECRET, ATTACKER)
    responses = Response.__table__
    from_network = sa.select(sa.func.count()).select_from(responses).where(
        responses.c.campaign_id == campaign.id, responses.c.network_hash == network)
    stored = db.session.scalar(from_network)
    flagged = db.session.scalar(from_network.where(responses.c.quality_flags.bitwise_and(int(QualityFlag.BURST)) != 0))
    counted = db.session.scalar(from_network.where(responses.c.quality_flags == 0,
                                                   responses.c.exclusion_reason.is_(None)))
    after = sat_figures(evaluator, campaign.id)
    with_flagged = sat_figures(evaluator, campaign.id, include_flagged="true")
    print(f"\n[one network, {addresses} address(es), {db.engine.dialect.name}] {n} submissions in {seconds:.1f} s: "
          f"statuses {dict(sorted(statuses.items()))}; stored {stored}, flagged BURST {flagged}, "
          f"refused {statuses[429]}, counted {counted}; satisfaction rate {before[1]:.0%} (n={before[0]}) before, "
          f"{after[1]:.0%} (n={after[0]}) after; with flagged ones counted {with_flagged[1]:.1%} (n={with_flagged[0]})")
    assert set(statuses) <= {303, 429} and statuses.total() == n
    assert stored == statuses[303] and stored == flagged + counted
    assert counted <= 1
    assert after == before  # the stuffing moves no figure
    assert with_flagged[0] == before[0] + stored  # kept, counted apart
    if addresses == 1:
        assert stored <= limit_allows(app.config["SUBMIT_LIMIT"], seconds)
    else:
        assert stored == n  # one per address: under any rate limit; the flags alone keep them out
    # A later check over the whole campaign (the review page's) finds the same bursts.
    at_submit = burst_ids(campaign.id)
    refresh_quality_flags(campaign.id)
    db.session.commit()
    assert burst_ids(campaign.id) == at_submit and len(at_submit) == stored
    assert count_responses(campaign.id) == 5 + stored


# -- genuine residents -----------------------------------------------------------------------

def test_residents_on_one_centres_wifi_or_on_different_networks_are_counted(app, make):
    site = make.site()
    campaign = make.campaign(communities=[site.community])
    db.session.commit()
    url = f"/s/{site.token}"

    def answer(address: str) -> None:
        resident = client_at(app, address)
        page = open_form(resident, url)
        assert resident.post(page.action, data=page.data(**VALID)).status_code == 303

    for n in range(BURST_SIZE - 1):  # four residents on the community centre's Wi-Fi, minutes apart at most
        answer("192.0.2.17")
    for n in range(30):  # thirty on thirty networks, all at once
        answer(f"100.{64 + n}.3.9")
    flags = flags_by_id(campaign.id)
    print(f"\n[genuine, {db.engine.dialect.name}] {len(flags)} residents, {sum(1 for f in flags.values() if f)} flagged")
    assert len(flags) == BURST_SIZE - 1 + 30 and not any(flags.values())
    # The rule's edge, as documented: a fifth from the centre within ten minutes flags all five.
    answer("192.0.2.200")
    assert len(burst_ids(campaign.id)) == BURST_SIZE


def test_flags_at_submit_are_those_the_whole_campaign_check_finds(app, make):
    """Responses stored one by one in time order, from a few networks (and paper, without one),
    at random gaps: the BURST flags set at submit equal analysis.quality.bursts over them all,
    and refresh_quality_flags changes none."""
    community = make.community()
    campaign = make.campaign(communities=[community], one_per_device=False)
    db.session.commit()
    rng = random.Random(11)
    at = utcnow() - timedelta(days=2)
    for _ in range(400):
        at += timedelta(seconds=rng.choice([1, 20, 45, 60, 90, 150, 599, 600, 601, 2000]))
        network = rng.choice(["net-a", "net-b", None])
        store_response(NewResponse(
            campaign_id=campaign.id, community_id=community.id, channel=Channel.QR if network else Channel.PAPER,
            submission_id=uuid.uuid4().hex, submitted_at=at, answers=[("sat", ("4", None, None))],
            network_hash=network))
    rows = db.session.execute(sa.select(Response.id, Response.network_hash, Response.submitted_at)
                              .where(Response.campaign_id == campaign.id).order_by(Response.id)).all()
    expected = {rows[i].id for i in bursts([r.network_hash for r in rows], [r.submitted_at.timestamp() for r in rows])}
    at_submit = burst_ids(campaign.id)
    print(f"\n[consistency, {db.engine.dialect.name}] {len(rows)} responses, {len(at_submit)} flagged BURST at submit")
    assert at_submit == expected and 0 < len(expected) < len(rows)
    assert not {r.id for r in rows if r.network_hash is None} & at_submit  # paper: never a burst
    refresh_quality_flags(campaign.id)
    db.session.commit()
    assert burst_ids(campaign.id) == at_submit


def test_a_burst_needs_five_within_the_window(app, make):
    community = make.community()
    campaign = make.campaign(communities=[community], one_per_device=False)
    db.session.commit()
    start = utcnow() - timedelta(hours=1)
    gap = timedelta(seconds=BURST_WINDOW_SECONDS / (BURST_SIZE - 1))  # five span exactly the window

    def store(at, network="cafe"):
        store_response(NewResponse(campaign_id=campaign.id, community_id=community.id, channel=Channel.QR,
                                   submission_id=uuid.uuid4().hex, submitted_at=at,
                                   answers=[("sat", ("4", None, None))], network_hash=network))

    for k in range(BURST_SIZE - 1):
        store(start + k * gap)
    store(start + (BURST_SIZE - 1) * gap + timedelta(seconds=1))  # one second too late
    assert burst_ids(campaign.id) == set()
    store(start + BURST_SIZE * gap, network="elsewhere")
    assert burst_ids(campaign.id) == set()
    store(start + (BURST_SIZE - 1) * gap + timedelta(seconds=2))  # the window's start is included
    assert len(burst_ids(campaign.id)) == BURST_SIZE


# -- the refusal ---------------------------------------------------------------------------

def test_past_the_limit_the_form_comes_back_with_the_answers_and_nothing_is_stored(app, make, limiter_clock):
    app.config["SUBMIT_LIMIT"] = "2 per minute"
    site = make.site()
    make.campaign(communities=[site.community], one_per_device=False)
    db.session.commit()
    url = f"/s/{site.token}"
    centre = client_at(app, "192.0.2.17")
    for _ in range(2):
        page = open_form(centre, url)
        assert centre.post(page.action, data=page.data(**VALID)).status_code == 303
    page = open_form(centre, url)  # showing a form is never limited
    answers = dict(VALID, sat="2", years="37", advice="楼道灯坏了")
    refused = centre.post(page.action, data=page.data(**answers))
    assert refused.status_code == 429 and count_responses() == 2
    shown = read_form(refused)
    assert "提交太频繁了，请过一会儿再点“提交”，您填的内容都还在。" in shown.html
    assert 'value="2" checked' in shown.html and 'value="37"' in shown.html and ">楼道灯坏了</textarea>" in shown.html
    assert shown.submission == page.submission  # the same submission: a later tap stores it once
    limiter_clock(61)
    assert centre.post(shown.action, data=shown.data(**answers)).status_code == 303
    assert centre.post(shown.action, data=shown.data(**answers)).status_code == 303  # a double tap: nothing new
    assert count_responses() == 3


def test_with_the_limit_store_down_each_process_counts_on_its_own(app, make, database_uri):
    """Redis gone: submits are not refused for it, and the limit still holds, counted in memory
    (as Flask-Limiter's own limits fall back), rather than being switched off."""
    site = make.site()
    make.campaign(communities=[site.community], one_per_device=False)
    db.session.commit()
    extensions._memory_limiter.cache_clear()  # counts of an earlier test in this process
    dead = create_app(base_config(database_uri) | {"REDIS_URL": "redis://127.0.0.1:9/0", "SUBMIT_LIMIT": "2 per minute"})
    centre = client_at(dead, "192.0.2.18")  # each request in its own context of this app
    statuses = []
    for _ in range(3):
        page = open_form(centre, f"/s/{site.token}")
        statuses.append(centre.post(page.action, data=page.data(**VALID)).status_code)
    with dead.app_context():
        db.engine.dispose()  # this app's own pool, not the fixture's
    assert statuses == [303, 303, 429]
    assert count_responses() == 2


def test_a_ticket_post_past_the_limit_keeps_the_ticket_unused(app, make):
    app.config["SUBMIT_LIMIT"] = "1 per minute"
    site = make.site()
    campaign = make.campaign(communities=[site.community])
    first, second = issue_tickets(campaign, site.community, 2).tickets
    db.session.commit()
    phone = client_at(app, "192.0.2.30")
    page = open_form(phone, f"/t/{first.token}")
    assert phone.post(page.action, data=page.data(**VALID)).status_code == 303
    page = open_form(phone, f"/t/{second.token}")
    refused = phone.post(page.action, data=page.data(**VALID))
    assert refused.status_code == 429 and TOO_FREQUENT in refused.get_data(as_text=True)
    assert count_responses() == 1 and db.session.get(Ticket, second.id).used_at is None


def test_a_form_with_mistakes_does_not_count_against_the_limit(app, open_site):
    app.config["SUBMIT_LIMIT"] = "1 per minute"
    site, _ = open_site
    phone = client_at(app, "192.0.2.40")
    page = open_form(phone, f"/s/{site.token}")
    for _ in range(3):
        assert phone.post(page.action, data=page.data(**dict(VALID, sat=""))).status_code == 400
    assert phone.post(page.action, data=page.data(**VALID)).status_code == 303


# -- failed logins ---------------------------------------------------------------------------

def test_failed_logins_are_slowed_down_per_address_and_measured(app, make, limiter_clock):
    district = make.community().parent.parent
    create_account("admin", "区管理员", PASSWORD, Role.ADMIN, district)
    create_account("evaluator", "考评", PASSWORD, Role.EVALUATOR, district)
    db.session.commit()
    limit = app.config["LOGIN_FAILURE_LIMIT"]
    (item,) = parse_many(limit)
    attacker, colleague = client_at(app, "198.51.100.9"), client_at(app, "192.0.2.55")
    statuses = [log_in(attacker, "admin", f"guess {i}").status_code for i in range(30)]
    assert statuses == [401] * item.amount + [429] * (30 - item.amount)
    blocked = log_in(attacker, "admin")  # the right password, too late
    assert blocked.status_code == 429 and "操作太频繁，请稍等一会儿再试。" in blocked.get_data(as_text=True)
    # A colleague at another address is not locked out.
    assert log_in(colleague, "evaluator").status_code == 303

    # An hour of guessing, one try every 10 seconds on the limiter's clock, from a fresh window.
    limiter_clock(item.get_expiry())
    tried: Counter[int] = Counter()
    for _ in range(3600 // 10):
        tried[log_in(attacker, "admin", "another guess").status_code] += 1
        limiter_clock(10)
    expected = per_hour(limit)
    print(f"\n[logins, {db.engine.dialect.name}] at {limit!r}: 30 wrong passwords → {statuses.count(401)} checked, "
          f"{statuses.count(429)} refused (429); an hour of tries every 10 s: {dict(sorted(tried.items()))} → "
          f"{tried[401]} passwords checked per hour (computed from the limit: {expected:.0f})")
    assert tried[401] == expected == 40 and tried[429] == 360 - 40
