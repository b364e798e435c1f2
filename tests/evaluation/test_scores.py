"""Scores by a scheme from a campaign's data: the per-response tag tallies the database sums,
recounted in Python from the stored answers; the district's numbers for 待填; evaluators' entries;
and GET /api/v1/campaigns/<id>/scores (the shipped Jinniu composite, ranked with intervals)."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
import yaml

from app.analysis.score_intervals import score_with_intervals
from app.definitions.schemes import FillInError, load_schemes, scheme_from_dict
from app.evaluation import scores
from app.evaluation.entries import EntryError, save_entries, save_fill_ins
from app.extensions import db
from app.models import Answer, AuditEntry, Channel, Response, Role
from app.models.scoring import IndicatorEntry, SchemeSetting
from app.models.types import utcnow
from app.staff.operations import create_account, exclude_response
from app.submissions import NewResponse, store_response
from tests.staff.conftest import PASSWORD, log_in

ROOT = Path(__file__).resolve().parents[2]
PILOT = yaml.safe_load((ROOT / "surveys" / "pilot-satisfaction.yaml").read_text(encoding="utf-8"))
JINNIU = load_schemes(ROOT / "surveys" / "schemes")["jinniu-funds"]
WEIGHTS = {"self": {"weight": 0.2}, "street-peer": {"weight": 0.2}, "district": {"weight": 0.3},
           "residents": {"weight": 0.3}}

#: A scheme over the small test survey: the rate of test:sat, the index of test:join (joined_sat,
#: of those who joined), and one entered level.
SMALL_SCHEME = {
    "id": "small", "title": "测试方案", "questionnaire": None,
    "indicators": [
        {"id": "rate", "label": "满意率", "points": 40,
         "survey": {"tags": ["test:sat"], "measure": "rate", "linear": {"zero": 0, "full": 100}}},
        {"id": "index", "label": "议事会满意度", "points": 40,
         "survey": {"tags": ["test:join"], "measure": "index", "linear": {"zero": 60, "full": 100}}},
        {"id": "ledger", "label": "台账", "points": 20,
         "levels": [{"factor": 0, "label": "无"}, {"factor": 0.6, "label": "部分"}, {"factor": 1, "label": "齐全"}]},
    ],
}


def submit(campaign, community, answers, channel=Channel.QR) -> int:
    submission = uuid.uuid4().hex
    store_response(NewResponse(campaign_id=campaign.id, community_id=community.id, channel=channel,
                               submission_id=submission, submitted_at=utcnow(),
                               answers=[(item, (value, None, None)) for item, value in answers]))
    return db.session.scalar(sa.select(Response.id).where(Response.submission_id == submission))


@pytest.fixture
def small(make):
    """Two communities; random answers to the small survey, 不了解 now and then, some excluded."""
    a = make.community(name="甲社区")
    b = make.community(name="乙社区", street=a.parent)
    campaign = make.campaign(communities=[a, b], one_per_device=False)
    db.session.commit()
    rng = random.Random(7)
    for community, n, lean in ((a, 30, 0.8), (b, 25, 0.5)):
        for _ in range(n):
            answers = []
            if rng.random() < 0.9:
                answers.append(("sat", "dk" if rng.random() < 0.1 else
                                rng.choice("54") if rng.random() < lean else rng.choice("321")))
            joined = rng.random() < 0.5
            answers.append(("joined", "1" if joined else "2"))
            if joined:
                answers.append(("joined_sat", rng.choice("54321")))
            response_id = submit(campaign, community, answers)
            if rng.random() < 0.1:
                exclude_response(db.session.get(Response, response_id), "测试：不计入")
                db.session.commit()
    return campaign, a, b


def recount(campaign, tags, items_of_tag):
    """The tallies recounted from the ORM: one row per counted response, in id order."""
    scale = {"5": 100, "4": 80, "3": 60, "2": 40, "1": 20}
    out = {}
    for response in db.session.scalars(sa.select(Response).where(
            Response.campaign_id == campaign.id, Response.exclusion_reason.is_(None)).order_by(Response.id)):
        row = []
        for tag in tags:
            mine = [a.value for a in response.answers if a.item in items_of_tag[tag]]
            on_scale = [v for v in mine if v in scale]
            row += [len(on_scale), sum(v in ("5", "4") for v in on_scale), sum(scale[v] for v in on_scale)]
        out.setdefault(response.community_id, []).append(row)
    return out


def test_the_databases_tallies_match_a_recount_of_the_answers(app, small):
    campaign, a, b = small
    tags = ("test:join", "test:sat")
    tallies = scores.tag_tallies(campaign, tags)
    expected = recount(campaign, tags, {"test:sat": {"sat"}, "test:join": {"joined_sat"}})
    # Both in response order (the bootstrap's draws depend on it: same data and seed, same intervals).
    for community in (a, b):
        got = np.column_stack([tallies[community.id].valid, tallies[community.id].satisfied,
                               tallies[community.id].points])[:, [0, 2, 4, 1, 3, 5]]
        want = np.array(expected[community.id], dtype=float)
        assert len(got) == len(want) == db.session.scalar(sa.select(sa.func.count()).where(
            Response.campaign_id == campaign.id, Response.community_id == community.id,
            Response.exclusion_reason.is_(None)))
        assert got.tolist() == want.tolist()
        # Off-scale answers (不了解) and excluded responses are nowhere in the sums.
        assert got[:, 0].sum() == sum(r[0] for r in expected[community.id]) > 0


def test_a_campaign_scored_with_its_entries_and_interval(app, small):
    campaign, a, b = small
    scheme = scheme_from_dict(SMALL_SCHEME)
    save_entries(campaign, scheme, a.id, {"ledger": 1.0})
    db.session.commit()
    _filled, result, tallies = scores.score_campaign(campaign, scheme, replicates=400, seed=11)
    by_id = {c.community: c for c in result.communities}
    assert by_id[a.id].value is not None and by_id[b.id].value is None  # b has no ledger entry yet
    assert [u.message for u in by_id[b.id].score.unscorable] == ["尚未录入：台账"]
    # the same as scoring the fetched tallies directly, with the same seed
    again = score_with_intervals(scheme, tallies, {a.id: {"ledger": 1.0}}, {a.id: "urban", b.id: "urban"},
                                 [a.id, b.id], replicates=400, seed=11)
    assert (again.communities[0].low, again.communities[0].high) == (by_id[a.id].low, by_id[a.id].high)
    assert by_id[a.id].low <= by_id[a.id].value <= by_id[a.id].high and by_id[a.id].low < by_id[a.id].high
    assert by_id[a.id].score.indicators["ledger"].points == 20


def test_the_background_reader_hands_over_every_community_and_its_failures(app, small):
    campaign, a, b = small
    tags = ("test:sat",)
    query = scores.tag_tally_query(campaign, tags)
    handed = list(scores._in_background(db.session.connection(), query, tags))
    assert [c for c, _ in handed] == sorted([a.id, b.id])
    direct = scores.tag_tallies(campaign, tags)
    assert all(np.array_equal(own.points, direct[c].points) for c, own in handed)
    # a caller that stops after the first community does not leave the reader hanging
    for community, _ in scores._in_background(db.session.connection(), query, tags):
        break
    assert community == min(a.id, b.id)
    # an error in the reader reaches the caller, and the session can go on
    db.session.rollback()
    broken = sa.select(sa.text("no_such_column")).select_from(Response.__table__)
    with pytest.raises(sa.exc.DBAPIError):
        list(scores._in_background(db.session.connection(), broken, tags))
    db.session.rollback()
    assert len(scores.tag_tallies(campaign, tags)) == 2


def test_fill_ins_must_add_up_and_are_audited(app, make):
    version = make.version(PILOT)
    community = make.community()
    campaign = make.campaign(version, [community])
    db.session.commit()
    with pytest.raises(FillInError) as refused:
        save_fill_ins(campaign, JINNIU, {**WEIGHTS, "self": {"weight": 0.5}})
    assert refused.value.messages == ["整个方案：同一级指标的权重合计必须等于1"]
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SchemeSetting)) == 0
    with pytest.raises(ValueError, match="not 待填"):
        save_fill_ins(campaign, load_schemes(ROOT / "surveys" / "schemes")["panzhihua-xiqu"],
                      {"org": {"points": 30}})
    db.session.rollback()
    setting = save_fill_ins(campaign, JINNIU, WEIGHTS)
    db.session.commit()
    assert scores.scheme_for_campaign(campaign, JINNIU).placeholders == ()
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "scheme_setting"))
    assert entry.object_id == str(setting.id) and entry.after["fill_ins"]["district"] == {"weight": 0.3}
    assert entry.region_id == community.id


def test_entries_are_checked_stored_once_and_audited(app, make):
    scheme = load_schemes(ROOT / "surveys" / "schemes")["panzhihua-xiqu"]
    community = make.community()
    campaign = make.campaign(communities=[community])
    db.session.commit()
    with pytest.raises(EntryError, match="请选择一个等级"):
        save_entries(campaign, scheme, community.id, {"org-coordination": 0.5})
    with pytest.raises(EntryError, match="不需要考评人员录入"):
        save_entries(campaign, scheme, community.id, {"org": 1.0})
    with pytest.raises(EntryError, match="不在本次测评"):
        save_entries(campaign, scheme, make.community().id, {"org-coordination": 1.0})
    db.session.rollback()
    assert save_entries(campaign, scheme, community.id, {"org-coordination": 0.8}, {"org-coordination": "见会议纪要"}) == 1
    assert save_entries(campaign, scheme, community.id, {"org-coordination": 0.8}, {"org-coordination": "见会议纪要"}) == 0
    assert save_entries(campaign, scheme, community.id, {"org-coordination": 1.0}) == 1
    assert save_entries(campaign, scheme, community.id, {"org-coordination": None}) == 1
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IndicatorEntry)) == 0
    trail = db.session.execute(sa.select(AuditEntry.action, AuditEntry.before, AuditEntry.after)
                               .where(AuditEntry.object_type == "indicator_entry").order_by(AuditEntry.id)).all()
    assert [t.action for t in trail] == ["enter", "enter", "clear"]
    assert trail[1].before | {"value": 0.8, "note": "见会议纪要"} == trail[1].before and trail[1].after["value"] == 1.0
    # a cleared entry's record still says which one it was
    assert trail[2].after is None and trail[2].before["indicator"] == "org-coordination"
    assert trail[2].before["community_id"] == community.id


def logged_in(app, region, role=Role.ADMIN):
    """A client logged in with an account of ``role`` at ``region``."""
    create_account(f"user{region.id}{role.value}", "测试", PASSWORD, role, region)
    db.session.commit()
    client = app.test_client()
    assert log_in(client, f"user{region.id}{role.value}").status_code == 303
    return client


def jinniu_world(app, make):
    """Three communities scored by the Jinniu composite: entries, weights and 40 residents each."""
    version = make.version(PILOT)
    first = make.community(name="社区0")
    communities = [first] + [make.community(name=f"社区{i}", street=first.parent) for i in (1, 2)]
    campaign = make.campaign(version, communities, one_per_device=False)
    db.session.commit()
    client = logged_in(app, first.parent.parent)
    save_fill_ins(campaign, JINNIU, WEIGHTS)
    rng = random.Random(3)
    for i, community in enumerate(communities):
        save_entries(campaign, JINNIU, community.id, {"self": 90.0, "street-peer": 80.0, "district": 70.0 + 10 * i})
        for _ in range(40):
            aware = rng.choice("4321")
            answers = [("funds_aware", aware)]
            if aware in "432":
                answers.append(("funds_sat", rng.choice("54321" if i else "5543")))
            submit(campaign, community, answers)
    db.session.commit()
    return campaign, client, communities


def test_the_ranking_downloads_as_csv_and_xlsx_with_the_apis_figures(app, make):
    import csv
    import io

    from openpyxl import load_workbook
    from werkzeug.http import parse_options_header
    campaign, client, _ = jinniu_world(app, make)
    api = client.get(f"/api/v1/campaigns/{campaign.id}/scores?scheme=jinniu-funds").get_json()
    want = [(c["rank"], c["code"], c["name"], round(c["score"], 2), c["rank_interval"]["low"], c["rank_interval"]["high"])
            for c in api["communities"]]
    response = client.get(f"/evaluate/campaigns/{campaign.id}/scores.csv?scheme=jinniu-funds")
    assert response.status_code == 200 and response.data.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    disposition, options = parse_options_header(response.headers["Content-Disposition"])
    assert (disposition, options["filename"]) == ("attachment", f"{campaign.name}-{api['scheme']['title']}-排名.csv")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [(int(r["排名"]), r["社区编码"], r["社区"], float(r["总分"]), int(r["排名范围（最好）"]),
             int(r["排名范围（最差）"])) for r in rows] == want
    assert "回答全都一样" in rows[[r["社区"] for r in rows].index("社区0")]["说明"]
    book = load_workbook(io.BytesIO(client.get(f"/evaluate/campaigns/{campaign.id}/scores.xlsx?scheme=jinniu-funds").data))
    table = list(book["排名"].iter_rows(values_only=True))
    assert table[0][:5] == ("排名", "排名范围（最好）", "排名范围（最差）", "社区编码", "社区")
    assert [(r[0], r[3], r[4], r[6], r[1], r[2]) for r in table[1:]] == want
    assert ("定稿", "未定稿") in list(book["说明"].iter_rows(values_only=True))
    # the scheme must be named
    assert client.get(f"/evaluate/campaigns/{campaign.id}/scores.csv").status_code == 404


def test_the_scores_api_ranks_the_jinniu_composite_with_intervals(app, make):
    campaign, client, communities = jinniu_world(app, make)

    response = client.get(f"/api/v1/campaigns/{campaign.id}/scores?scheme=jinniu-funds&replicates=300&seed=5")
    assert response.status_code == 200
    body = response.get_json()
    assert body["score_unit"] == "percent" and body["ranked"] == 3 and body["scheme"]["to_fill"] == []
    for row in body["communities"]:
        answers = db.session.execute(
            sa.select(Answer.value).join(Response, Response.id == Answer.response_id)
            .where(Response.community_id == row["id"], Answer.item == "funds_sat")).scalars().all()
        on_scale = [v for v in answers if v != "dk"]
        rate = sum(v in "543" for v in on_scale) / len(on_scale)
        district = 70 + 10 * [c.id for c in communities].index(row["id"])
        assert row["tags"]["funds:satisfaction"]["rate"] == pytest.approx(rate)
        assert row["score"] == pytest.approx(0.2 * 90 + 0.2 * 80 + 0.3 * district + 30 * rate, abs=1e-6)
        assert row["score_interval"]["low"] <= row["score"] <= row["score_interval"]["high"]
        # 社区0's answers are all 满意 or better: its interval has no width, and says why that is no certainty
        assert (rate == 1) == (row["score_interval"]["low"] == row["score_interval"]["high"])
        assert (row["interval_note"] is not None) == (rate == 1) == (row["name"] == "社区0")
        assert 1 <= row["rank_interval"]["low"] <= row["rank"] <= row["rank_interval"]["high"] <= 3
    assert [row["rank"] for row in body["communities"]] == sorted(row["rank"] for row in body["communities"])
    # seeded: the same request gives the same figures, another seed other intervals
    assert client.get(f"/api/v1/campaigns/{campaign.id}/scores?scheme=jinniu-funds&replicates=300&seed=5"
                      ).get_json() == body
    other = client.get(f"/api/v1/campaigns/{campaign.id}/scores?scheme=jinniu-funds&replicates=300&seed=6").get_json()
    assert [r["score_interval"] for r in other["communities"]] != [r["score_interval"] for r in body["communities"]]


@pytest.mark.parametrize("query, status", [
    ("", 400), ("?scheme=kunming", 400), ("?scheme=jinniu-funds&replicates=0", 400),
    ("?scheme=jinniu-funds&replicates=10001", 400), ("?scheme=jinniu-funds&replicates=abc", 400),
    ("?scheme=jinniu-funds&seed=-1", 400), ("?scheme=jinniu-funds&seed=99999999999", 400),
])
def test_bad_scores_requests_get_a_json_4xx(app, make, query, status):
    community = make.community()
    campaign = make.campaign(make.version(PILOT), [community])
    db.session.commit()
    client = logged_in(app, community.parent.parent)
    response = client.get(f"/api/v1/campaigns/{campaign.id}/scores{query}")
    assert response.status_code == status and response.is_json and response.get_json()["error"]["message"]
    assert client.get("/api/v1/campaigns/999999/scores?scheme=jinniu-funds").status_code == 404
    assert client.get(f"/api/v1/campaigns/{2**40}/scores?scheme=jinniu-funds").status_code == 404


def test_scores_are_for_admin_and_evaluator_accounts_covering_the_campaign(app, client, make):
    first = make.community()
    second = make.community(street=first.parent)
    campaign = make.campaign(make.version(PILOT), [first, second])
    elsewhere = make.community()
    db.session.commit()
    path = f"/api/v1/campaigns/{campaign.id}/scores?scheme=jinniu-funds&replicates=10"
    assert client.get(path).status_code == 401 and client.get(path).is_json
    assert logged_in(app, first, Role.COMMUNITY).get(path).status_code == 403
    assert logged_in(app, first.parent, Role.STREET).get(path).status_code == 403
    assert logged_in(app, elsewhere.parent.parent, Role.ADMIN).get(path).status_code == 404
    assert logged_in(app, first.parent.parent, Role.EVALUATOR).get(path).status_code == 200


def test_an_unfilled_scheme_says_what_is_missing(app, make):
    community = make.community()
    campaign = make.campaign(make.version(PILOT), [community])
    db.session.commit()
    client = logged_in(app, community.parent.parent)
    body = client.get(f"/api/v1/campaigns/{campaign.id}/scores?scheme=jinniu-funds&replicates=10").get_json()
    assert body["ranked"] == 0 and set(body["scheme"]["to_fill"]) == {"self", "street-peer", "district", "residents"}
    messages = {u["message"] for u in body["communities"][0]["unscorable"]}
    assert "评分方案中还有待填的内容：权重" in messages
