"""The answer tallies: after every write of answers or of an exclusion, each tally equals a fresh
GROUP BY over the counted answers, and a summary read from them counts what it should."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from app.evaluation import tallies
from app.evaluation.summary import campaign_summary
from app.extensions import db
from app.meetings import operations as meetings
from app.models import AnswerTally, Campaign, Channel, QuestionKind, Region, Response
from app.models.types import utcnow
from app.staff.operations import exclude_response, include_response, issue_tickets
from app.submissions import NewResponse, StoreOutcome, store_response
from tests.helpers import VALID, open_form
from tests.staff.conftest import as_role, csrf_of, world  # noqa: F401  (fixtures)
from tests.staff.test_imports import GOOD_ROWS, csv_bytes, upload
from tests.staff.test_paper_entry import PAPER, correction_page, enter

#: What VALID answers, as tallied: (item, value) → n for one response.
VALID_TALLY = {("sat", "4"): 1, ("joined", "2"): 1, ("channels", "wechat"): 1, ("years", "12"): 1, ("advice", ""): 1}


def tallied(campaign_id: int, community_id: int | None = None) -> Counter:
    """(item, value) → n of the campaign's tallies (one community's, or all summed), after checking
    that every tally equals a fresh count of the counted answers."""
    db.session.expire_all()
    assert tallies.differences(campaign_id) == []
    t = AnswerTally.__table__
    query = sa.select(t.c.item, t.c.value, t.c.n).where(t.c.campaign_id == campaign_id, t.c.n != 0)
    if community_id is not None:
        query = query.where(t.c.community_id == community_id)
    counts = Counter()
    for item, value, n in db.session.execute(query):
        counts[item, value] += n
    return counts


def times(counts: dict, k: int) -> Counter:
    return Counter({key: n * k for key, n in counts.items()})


def response_ids(campaign_id: int) -> list[int]:
    return db.session.scalars(sa.select(Response.id).where(Response.campaign_id == campaign_id)
                              .order_by(Response.id)).all()


def add_response(campaign, community, answers: dict[str, str], submission_id: str | None = None) -> StoreOutcome:
    return store_response(NewResponse(
        campaign_id=campaign.id, community_id=community.id, channel=Channel.QR,
        submission_id=submission_id or uuid.uuid4().hex, submitted_at=utcnow(),
        answers=[(item, (value, None, None)) for item, value in answers.items()]))


# -- residents ------------------------------------------------------------------------------

def test_a_qr_submit_is_tallied_once_and_its_repeats_not_at_all(app, open_site):
    site, campaign = open_site
    phone = app.test_client()
    page, second = open_form(phone, f"/s/{site.token}"), open_form(phone, f"/s/{site.token}")
    assert phone.post(page.action, data=page.data(**VALID)).status_code == 303
    assert tallied(campaign.id, site.community_id) == VALID_TALLY
    # The same form sent again (a double tap, a retry), and a second form from the same phone.
    assert phone.post(page.action, data=page.data(**VALID)).status_code == 303
    assert phone.post(second.action, data=second.data(**dict(VALID, sat="1"))).status_code == 409
    assert tallied(campaign.id) == VALID_TALLY
    # Another phone adds its own.
    other = app.test_client()
    page = open_form(other, f"/s/{site.token}")
    assert other.post(page.action, data=page.data(**dict(VALID, sat="2", channels=["wechat", "board"]))).status_code == 303
    assert tallied(campaign.id) == times(VALID_TALLY, 2) - Counter({("sat", "4"): 1}) + \
        Counter({("sat", "2"): 1, ("channels", "board"): 1})


def test_a_duplicate_submission_id_adds_nothing(world):  # noqa: F811
    campaign, c1 = world.campaigns["A"], world.regions["C1"]
    assert add_response(campaign, c1, {"sat": "5"}, submission_id="same") is StoreOutcome.STORED
    assert add_response(campaign, c1, {"sat": "1"}, submission_id="same") is StoreOutcome.DUPLICATE
    assert tallied(campaign.id) == {("sat", "5"): 1}


def test_a_ticket_response_is_tallied_and_a_used_ticket_adds_nothing(app, make):
    site = make.site()
    campaign = make.campaign(communities=[site.community])
    ticket = issue_tickets(campaign, site.community, 2).tickets[0]
    db.session.commit()
    first, second = app.test_client(), app.test_client()
    page, late = open_form(first, f"/t/{ticket.token}"), open_form(second, f"/t/{ticket.token}")
    assert first.post(page.action, data=page.data(**VALID)).status_code == 303
    assert second.post(late.action, data=late.data(**dict(VALID, sat="1"))).status_code == 410
    assert tallied(campaign.id, site.community_id) == VALID_TALLY


# -- staff: paper, double entry, corrections, imports ---------------------------------------

def test_a_paper_and_its_correction_are_tallied(as_role, world):  # noqa: F811
    campaign, c1 = world.campaigns["A"], world.regions["C1"]
    assert enter(as_role("community"), world, **PAPER).status_code == 303
    assert enter(as_role("community"), world, **PAPER).status_code == 409  # the same paper again
    entered = Counter({("sat", "4"): 1, ("joined", "1"): 1, ("joined_sat", "5"): 1, ("channels", "wechat"): 1,
               ("channels", "board"): 1, ("years", "12"): 1, ("advice", ""): 1})
    assert tallied(campaign.id, c1.id) == entered
    stored = db.session.scalar(sa.select(Response))
    client = as_role("admin")
    _html, token = correction_page(client, stored.id)
    typed = {k: v for k, v in PAPER.items() if k != "paper_serial"}
    assert client.post(f"/staff/responses/{stored.id}/correct", data={
        "csrf_token": token, **typed, "years": "21", "channels": "wechat", "reason": "核对原件"}).status_code == 303
    assert tallied(campaign.id, c1.id) == entered - Counter({("years", "12"): 1, ("channels", "board"): 1}) + \
        Counter({("years", "21"): 1})


def test_correcting_an_excluded_paper_leaves_the_tallies_alone(as_role, world):  # noqa: F811
    campaign = world.campaigns["A"]
    assert enter(as_role("community"), world, **PAPER).status_code == 303
    stored = db.session.scalar(sa.select(Response))
    exclude_response(stored, "看不清")
    db.session.commit()
    assert tallied(campaign.id) == {}
    client = as_role("admin")
    _html, token = correction_page(client, stored.id)
    typed = {k: v for k, v in PAPER.items() if k != "paper_serial"}
    assert client.post(f"/staff/responses/{stored.id}/correct", data={
        "csrf_token": token, **typed, "sat": "1", "reason": "核对原件"}).status_code == 303
    assert tallied(campaign.id) == {}
    include_response(db.session.get(Response, stored.id))
    db.session.commit()
    assert tallied(campaign.id)[("sat", "1")] == 1 and tallied(campaign.id)[("sat", "4")] == 0


def test_double_entry_is_tallied_once_when_the_keyings_agree(as_role, world):  # noqa: F811
    campaign = world.campaigns["A"]
    campaign.double_entry = True
    db.session.commit()
    assert enter(as_role("community"), world, **PAPER).status_code == 303
    assert tallied(campaign.id) == {}  # nothing counts before the second keying
    assert enter(as_role("street"), world, **PAPER).status_code == 303
    assert sum(tallied(campaign.id).values()) == 7 and tallied(campaign.id)[("sat", "4")] == 1


def test_an_import_is_tallied_once(as_role, world):  # noqa: F811
    client = as_role("street")
    campaign, c1, c2 = world.campaigns["A"], world.regions["C1"], world.regions["C2"]
    assert upload(client, campaign.id, csv_bytes(*GOOD_ROWS)).status_code == 303
    assert upload(client, campaign.id, csv_bytes(*GOOD_ROWS)).status_code != 303  # the same file again
    assert tallied(campaign.id, c1.id) == {
        ("sat", "4"): 1, ("sat", "dk"): 1, ("joined", "1"): 1, ("joined", "2"): 1, ("joined_sat", "5"): 1,
        ("channels", "wechat"): 1, ("channels", "board"): 1, ("channels", "meeting"): 1, ("years", "12"): 1,
        ("years", "3"): 1, ("advice", ""): 1}
    assert tallied(campaign.id, c2.id) == {("sat", "2"): 1, ("joined", "2"): 1, ("advice", ""): 1}


# -- exclusion ------------------------------------------------------------------------------

def test_exclusion_and_inclusion_move_a_responses_answers_once(as_role, world):  # noqa: F811
    campaign, c1 = world.campaigns["A"], world.regions["C1"]
    add_response(campaign, c1, {"sat": "5", "joined": "1"})
    add_response(campaign, c1, {"sat": "5", "joined": "2"})
    first, _second = response_ids(campaign.id)
    client = as_role("evaluator")
    token = csrf_of(client, "/staff/")

    def post(action: str, **data) -> None:
        assert client.post(f"/staff/responses/{first}/{action}", data={"csrf_token": token, **data}).status_code == 303

    post("exclude", reason="工作人员代填")
    assert tallied(campaign.id) == {("sat", "5"): 1, ("joined", "2"): 1}
    post("exclude", reason="同一人重复填写")  # a new reason: nothing moves again
    assert tallied(campaign.id) == {("sat", "5"): 1, ("joined", "2"): 1}
    assert db.session.get(Response, first).exclusion_reason == "同一人重复填写"
    post("include")
    post("include")
    assert tallied(campaign.id) == {("sat", "5"): 2, ("joined", "1"): 1, ("joined", "2"): 1}
    # Twice by the write function itself, whatever the object in hand says.
    response = db.session.get(Response, first)
    assert tallies.set_exclusion(response, "甲") and not tallies.set_exclusion(response, "乙")
    set_committed_value(response, "exclusion_reason", None)  # a stale copy, as another request may hold
    assert not tallies.set_exclusion(response, "丙")
    db.session.commit()
    assert tallied(campaign.id) == {("sat", "5"): 1, ("joined", "2"): 1}


def test_the_summary_counts_from_the_tallies_by_community_street_and_district(world):  # noqa: F811
    campaign, c1, c2 = world.campaigns["A"], world.regions["C1"], world.regions["C2"]
    for sat in ("5", "5", "4"):
        add_response(campaign, c1, {"sat": sat})
    add_response(campaign, c2, {"sat": "1"})
    add_response(campaign, c2, {"sat": "2"})
    exclude_response(db.session.get(Response, response_ids(campaign.id)[-1]), "测试")
    db.session.commit()

    def sat_counts(group_by: str) -> dict:
        summary = campaign_summary(db.session.get(Campaign, campaign.id), group_by)
        sat = next(item for item in summary["items"] if item["key"] == "sat")
        codes = {region.id: code for code, region in world.regions.items()}
        return {codes[group["key"]]: {d["code"]: d["count"] for d in group["distribution"] if d["count"]}
                for group in sat["groups"]}

    assert sat_counts("community") == {"C1": {"5": 2, "4": 1}, "C2": {"1": 1}}
    assert sat_counts("street") == {"S1": {"5": 2, "4": 1, "1": 1}}
    assert sat_counts("district") == {"D1": {"5": 2, "4": 1, "1": 1}}


# -- meetings -------------------------------------------------------------------------------

def test_meeting_votes_on_questionnaire_items_are_tallied_while_the_phone_counts(app, make):
    community = make.community()
    campaign = make.campaign(communities=[community])
    meeting = meetings.create_meeting(community, "议事会", "广场", utcnow(), campaign=campaign)
    items = campaign.survey_version.survey_definition.items_by_key
    q_sat = meetings.add_question(meeting, QuestionKind.SURVEY_ITEM, items["sat"].text, item=items["sat"])
    q_quick = meetings.add_question(meeting, QuestionKind.YES_NO, "同意加装电梯吗？")
    q_joined = meetings.add_question(meeting, QuestionKind.SURVEY_ITEM, items["joined"].text, item=items["joined"])
    for q in (q_sat, q_quick, q_joined):
        meetings.open_voting(q, utcnow())
    db.session.commit()

    def vote(question, option: str, phone: str) -> meetings.VoteOutcome:
        return meetings.cast_vote(meetings.Vote(question.id, option, phone, utcnow()))

    assert vote(q_sat, "5", "phone-1") is meetings.VoteOutcome.COUNTED
    assert vote(q_sat, "4", "phone-2") is meetings.VoteOutcome.COUNTED
    assert vote(q_sat, "1", "phone-1") is meetings.VoteOutcome.ALREADY_VOTED
    assert vote(q_quick, "1", "phone-1") is meetings.VoteOutcome.COUNTED  # reaches no statistics
    assert tallied(campaign.id) == {("sat", "5"): 1, ("sat", "4"): 1}
    # Phone 1's response is left out; its next vote is stored with it and stays out too.
    phone_1 = db.session.scalar(sa.select(Response).where(
        Response.submission_id == meetings.meeting_submission_id(meeting.id, "phone-1")))
    exclude_response(phone_1, "同一人用两部手机")
    db.session.commit()
    assert vote(q_joined, "1", "phone-1") is meetings.VoteOutcome.COUNTED
    assert vote(q_joined, "2", "phone-2") is meetings.VoteOutcome.COUNTED
    assert tallied(campaign.id) == {("sat", "4"): 1, ("joined", "2"): 1}
    include_response(db.session.get(Response, phone_1.id))
    db.session.commit()
    assert tallied(campaign.id) == {("sat", "5"): 1, ("sat", "4"): 1, ("joined", "1"): 1, ("joined", "2"): 1}


# -- bulk: the demo, rebuild ----------------------------------------------------------------

def test_the_demo_is_tallied_and_a_rebuild_repairs_drifted_tallies(app, runner):
    assert runner.invoke(args=["demo", "--responses", "200"]).exit_code == 0
    campaigns = db.session.scalars(sa.select(Campaign.id).order_by(Campaign.id)).all()
    counted_answers = db.session.scalar(sa.text(
        "SELECT count(*) FROM answers a JOIN responses r ON r.id = a.response_id WHERE r.exclusion_reason IS NULL"))
    assert sum(sum(tallied(c).values()) for c in campaigns) == counted_answers > 1000

    first = campaigns[0]
    t = AnswerTally.__table__
    some = db.session.execute(sa.select(t.c.community_id, t.c.item, t.c.value).where(t.c.campaign_id == first)
                              .order_by(t.c.community_id, t.c.item, t.c.value).limit(2)).all()
    db.session.execute(sa.update(t).where(t.c.campaign_id == first, t.c.community_id == some[0][0],
                                          t.c.item == some[0][1], t.c.value == some[0][2]).values(n=t.c.n + 5))
    db.session.execute(sa.delete(t).where(t.c.campaign_id == first, t.c.community_id == some[1][0],
                                          t.c.item == some[1][1], t.c.value == some[1][2]))
    db.session.commit()
    drift = tallies.differences(first)
    assert [(d.key[1:], d.tallied - d.counted) for d in drift][:1] == [(tuple(some[0]), 5)] and len(drift) == 2
    assert drift[1].tallied == 0 and drift[1].counted > 0
    rows = tallies.rebuild(first)
    db.session.commit()
    assert tallies.differences(first) == []
    assert rows == db.session.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.campaign_id == first))


# -- at the same time -----------------------------------------------------------------------

SUBMITTERS, SUBMITS, TOGGLES = 6, 15, 24


def test_submits_votes_and_exclusions_at_once_keep_the_tallies_exact(app, make):
    """Phones submitting, meeting votes and an evaluator excluding and including, all in one
    community at once: no deadlock, nothing lost or counted twice."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL (SQLite takes one writer at a time)")
    community = make.community()
    campaign = make.campaign(communities=[community])
    meeting = meetings.create_meeting(community, "议事会", "广场", utcnow(), campaign=campaign)
    sat = campaign.survey_version.survey_definition.items_by_key["sat"]
    question = meetings.add_question(meeting, QuestionKind.SURVEY_ITEM, sat.text, item=sat)
    meetings.open_voting(question, utcnow())
    db.session.commit()
    campaign_id, community_id, question_id = campaign.id, community.id, question.id
    # Responses the evaluator toggles, stored before the race starts.
    campaign_row, community_row = db.session.get(Campaign, campaign_id), db.session.get(Region, community_id)
    for _ in range(4):
        add_response(campaign_row, community_row, {"sat": "3", "joined": "2"})
    toggled = response_ids(campaign_id)
    barrier = threading.Barrier(SUBMITTERS + 2)
    errors: list[BaseException] = []

    def worker(task) -> None:
        with app.app_context():
            try:
                barrier.wait()
                task()
            except BaseException as e:  # noqa: BLE001  (reported below)
                errors.append(e)
            finally:
                db.session.remove()

    def submit(seed: int) -> None:
        campaign, community = db.session.get(Campaign, campaign_id), db.session.get(Region, community_id)
        for i in range(SUBMITS):
            # Items in another order each time: the tallies must still be taken in one order.
            answers = [("sat", str(1 + (seed + i) % 5)), ("joined", "1"), ("joined_sat", "4"),
                       ("channels", "wechat"), ("channels", "board")]
            answers = answers[i % 5:] + answers[:i % 5]
            assert store_response(NewResponse(
                campaign_id=campaign.id, community_id=community.id, channel=Channel.QR,
                submission_id=uuid.uuid4().hex, submitted_at=utcnow(),
                answers=[(item, (value, None, None)) for item, value in answers])) is StoreOutcome.STORED

    def evaluate() -> None:
        for i in range(TOGGLES):
            response = db.session.get(Response, toggled[i % len(toggled)])
            if response.excluded:
                include_response(response)
            else:
                exclude_response(response, "核查")
            db.session.commit()

    def vote() -> None:
        for i in range(SUBMITS):
            assert meetings.cast_vote(meetings.Vote(question_id, "5", f"phone-{i}", utcnow())) is \
                meetings.VoteOutcome.COUNTED

    tasks = [lambda s=s: submit(s) for s in range(SUBMITTERS)] + [evaluate, vote]
    threads = [threading.Thread(target=worker, args=(task,)) for task in tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    counts = tallied(campaign_id)
    # Each toggled response is excluded and included TOGGLES / 8 times: it ends counted.
    assert counts[("sat", "3")] == 4 + sum(1 for s in range(SUBMITTERS) for i in range(SUBMITS) if (s + i) % 5 == 2)
    assert counts[("joined", "1")] == counts[("channels", "board")] == SUBMITTERS * SUBMITS
    assert counts[("sat", "5")] == SUBMITS + sum(1 for s in range(SUBMITTERS) for i in range(SUBMITS) if (s + i) % 5 == 4)
