"""Flags that need the other responses, and evaluators leaving a response out with a reason."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, Channel, QualityFlag, Response
from app.models.types import utcnow
from app.submissions import NewResponse, store_response
from tests.staff.conftest import csrf_of


def add_response(campaign, community, *, seconds: float | None, network: str | None, at=None, flags=0) -> int:
    submitted = at or utcnow()
    store_response(NewResponse(
        campaign_id=campaign.id, community_id=community.id, channel=Channel.QR, submission_id=uuid.uuid4().hex,
        submitted_at=submitted, started_at=submitted - timedelta(seconds=seconds) if seconds is not None else None,
        answers=[("sat", ("4", None, None))], network_hash=network, quality_flags=flags))
    return db.session.scalar(sa.select(sa.func.max(Response.id)))


def test_checking_flags_too_fast_and_bursts_and_keeps_straight_lining(as_role, world):
    campaign, c1 = world.campaigns["A"], world.regions["C1"]
    base = utcnow() - timedelta(days=1)
    ordinary = [add_response(campaign, c1, seconds=300, network=f"net{i}", at=base + timedelta(hours=i))
                for i in range(20)]
    fast = add_response(campaign, c1, seconds=30, network="lonely", at=base + timedelta(hours=30))
    burst = [add_response(campaign, c1, seconds=300, network="cafe", at=base + timedelta(hours=40, seconds=30 * i))
             for i in range(5)]
    lined = add_response(campaign, c1, seconds=300, network="other", at=base + timedelta(hours=50),
                         flags=int(QualityFlag.STRAIGHT_LINE))
    client = as_role("evaluator")
    response = client.post(f"/staff/campaigns/{campaign.id}/quality", data={"csrf_token": csrf_of(client, "/staff/")})
    assert response.status_code == 303
    db.session.expire_all()
    flags = dict(db.session.execute(sa.select(Response.id, Response.quality_flags)).all())
    assert {i for i, f in flags.items() if f & QualityFlag.TOO_FAST} == {fast}
    assert {i for i, f in flags.items() if f & QualityFlag.BURST} == set(burst)
    assert flags[lined] == QualityFlag.STRAIGHT_LINE
    assert all(flags[i] == 0 for i in ordinary)
    listing = client.get(f"/staff/campaigns/{campaign.id}/responses").get_data(as_text=True)
    assert "填得特别快" in listing and "同一网络短时间内大量提交" in listing and "整组答案完全相同" in listing


@pytest.mark.parametrize("role, status", [("admin", 303), ("evaluator", 303), ("street", 403),
                                          ("community", 403), ("outsider", 404)])
def test_who_may_leave_a_response_out(as_role, world, role, status):
    response_id = add_response(world.campaigns["A"], world.regions["C1"], seconds=200, network="n")
    db.session.commit()
    client = as_role(role)
    result = client.post(f"/staff/responses/{response_id}/exclude",
                         data={"csrf_token": csrf_of(client, "/staff/"), "reason": "同一人重复填写"})
    assert result.status_code == status
    db.session.expire_all()
    reason = db.session.get(Response, response_id).exclusion_reason
    assert reason == ("同一人重复填写" if status == 303 else None)


def test_exclusion_and_inclusion_are_audited_and_nothing_is_deleted(as_role, world):
    response_id = add_response(world.campaigns["A"], world.regions["C1"], seconds=200, network="n")
    db.session.commit()
    client = as_role("evaluator")
    token = csrf_of(client, "/staff/")
    client.post(f"/staff/responses/{response_id}/exclude", data={"csrf_token": token, "reason": "工作人员代填"})
    detail = client.get(f"/staff/responses/{response_id}").get_data(as_text=True)
    assert "不计入统计。原因：工作人员代填" in detail
    client.post(f"/staff/responses/{response_id}/include", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Response, response_id).exclusion_reason is None
    entries = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.object_type == "response", AuditEntry.object_id == str(response_id)).order_by(AuditEntry.id)).all()
    assert [(e.action, e.before, e.after, e.account.username) for e in entries] == [
        ("exclude", {"exclusion_reason": None}, {"exclusion_reason": "工作人员代填"}, "evaluator"),
        ("include", {"exclusion_reason": "工作人员代填"}, {"exclusion_reason": None}, "evaluator")]
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 1


def test_an_exclusion_needs_a_reason(as_role, world):
    response_id = add_response(world.campaigns["A"], world.regions["C1"], seconds=200, network="n")
    db.session.commit()
    client = as_role("admin")
    result = client.post(f"/staff/responses/{response_id}/exclude", data={"csrf_token": csrf_of(client, "/staff/"),
                                                                           "reason": "  "})
    assert result.status_code == 303
    assert "请写明原因" in client.get(result.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Response, response_id).exclusion_reason is None


@pytest.mark.parametrize("role, status", [("admin", 200), ("street", 403), ("community", 403), ("evaluator", 200),
                                          ("outsider", 404)])
def test_a_response_is_seen_only_by_reviewers_within_scope(as_role, world, role, status):
    """Street and community staff see the totals, not residents' individual answers."""
    response_id = add_response(world.campaigns["A"], world.regions["C2"], seconds=200, network="n")
    db.session.commit()
    assert as_role(role).get(f"/staff/responses/{response_id}").status_code == status


@pytest.mark.parametrize("role, status", [("admin", 303), ("evaluator", 303), ("street", 403), ("community", 403),
                                          ("outsider", 404)])
def test_only_reviewers_covering_the_whole_campaign_check_it(as_role, world, role, status):
    client = as_role(role)
    result = client.post(f"/staff/campaigns/{world.campaigns['A'].id}/quality", data={"csrf_token": csrf_of(client, "/staff/")})
    assert result.status_code == status
    assert bool(db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "check"))) == (status == 303)


def test_including_a_response_that_counts_already_changes_nothing(as_role, world):
    response_id = add_response(world.campaigns["A"], world.regions["C1"], seconds=200, network="n")
    db.session.commit()
    client = as_role("admin")
    client.post(f"/staff/responses/{response_id}/include", data={"csrf_token": csrf_of(client, "/staff/")})
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "include")) is None
