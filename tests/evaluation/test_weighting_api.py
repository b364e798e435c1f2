"""Population margins and weighted figures: margins checked, stored, audited; the raked weights of a
community's respondents equal R survey's rake() and calibrate(calfun = "raking"), and the weighted
satisfaction rate and index with their standard errors, design effects and intervals equal R's
svymean on svydesign(ids = ~1, weights = ~w), to 1e-6; GET /weighted and PUT/DELETE /margins."""

from __future__ import annotations

import random
import re
import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from app.evaluation import weighting
from app.extensions import db
from app.models import AuditEntry, Channel, PopulationMargin, Region, Response, Role
from app.models.types import utcnow
from app.staff.audit_format import describe_changes, object_label
from app.staff.operations import create_account, exclude_response
from app.submissions import NewResponse, store_response
from tests.analysis.test_weighting import r_survey, run_r  # noqa: F401 (a fixture)
from tests.staff.conftest import PASSWORD, log_in

ITERATIVE = 1e-6

SURVEY = """
title: 加权测试问卷
sections:
  - title: 一、满意度
    items:
      - {key: sat, type: likert, scale: satisfaction5, text: 您对社区服务满意吗？, required: true, tags: ["test:sat"]}
      - {key: safety, type: likert, scale: satisfaction5, text: 您对社区治安满意吗？, tags: ["test:safety"]}
  - title: 关于您
    items:
      - key: age_band
        type: single
        text: 您的年龄
        tags: [respondent:age_band]
        options: [{code: "1", label: 18—29岁}, {code: "2", label: 30—44岁}, {code: "3", label: 45—59岁},
                  {code: "4", label: 60—69岁}, {code: "5", label: 70岁及以上}]
      - {key: sex, type: single, text: 您的性别, tags: [respondent:sex], options: [{code: m, label: 男}, {code: f, label: 女}]}
"""

#: The community's residents (made up): older and a little more female than those who answered.
MARGINS = {"age_band": {"1": 600, "2": 800, "3": 900, "4": 700, "5": 500}, "sex": {"m": 1700, "f": 1800}}
AGES, SEXES = "12345", "mf"


def submit(campaign, community, answers) -> int:
    submission = uuid.uuid4().hex
    store_response(NewResponse(campaign_id=campaign.id, community_id=community.id, channel=Channel.QR,
                               submission_id=submission, submitted_at=utcnow(),
                               answers=[(item, (value, None, None)) for item, value in answers]))
    return db.session.scalar(sa.select(Response.id).where(Response.submission_id == submission))


@pytest.fixture
def surveyed(make):
    """A community whose 160 respondents skew young (as QR scanners do), older ones more satisfied;
    some skip their age or sex, some answer 不了解, some skip the second item, a few are excluded."""
    community = make.community(name="甲社区")
    other = make.community(name="乙社区", street=community.parent)
    campaign = make.campaign(make.version(SURVEY), [community, other], one_per_device=False)
    db.session.commit()
    rng = random.Random(5)
    for _ in range(160):
        age = rng.choices(range(5), weights=(35, 30, 20, 10, 5))[0]
        answers = []
        if rng.random() > 0.06:
            answers.append(("age_band", AGES[age]))
        if rng.random() > 0.04:
            answers.append(("sex", rng.choice(SEXES)))
        lean = 0.35 + 0.12 * age
        answers.append(("sat", "dk" if rng.random() < 0.06 else rng.choice("54") if rng.random() < lean
                        else rng.choice("321")))
        if rng.random() < 0.8:
            answers.append(("safety", rng.choice("54321"[: 3 + age // 2])))
        response_id = submit(campaign, community, answers)
        if rng.random() < 0.04:
            exclude_response(db.session.get(Response, response_id), "测试：不计入")
    for _ in range(5):
        submit(campaign, other, [("sat", "5"), ("age_band", "1"), ("sex", "m")])
    db.session.commit()
    return campaign, community, other


def logged_in(app, region, role=Role.EVALUATOR):
    """A client logged in with an account of ``role`` at ``region``."""
    create_account(f"user{region.id}{role.value}", "测试", PASSWORD, role, region)
    db.session.commit()
    client = app.test_client()
    assert log_in(client, f"user{region.id}{role.value}").status_code == 303
    return client


def recount(campaign, community):
    """Per counted response, read back from the ORM: age index, sex index, and per item points and
    top box (NaN where not answered or 不了解). In response order."""
    points = {"5": 100, "4": 80, "3": 60, "2": 40, "1": 20}
    rows = []
    for response in db.session.scalars(sa.select(Response).where(
            Response.campaign_id == campaign.id, Response.community_id == community.id,
            Response.exclusion_reason.is_(None)).order_by(Response.id)):
        given = {a.item: a.value for a in response.answers}
        row = [AGES.index(given["age_band"]) if "age_band" in given else np.nan,
               SEXES.index(given["sex"]) if "sex" in given else np.nan]
        for item in ("sat", "safety"):
            value = given.get(item)
            row += [points[value], float(value in "54")] if value in points else [np.nan, np.nan]
        rows.append([response.id, *row])
    return np.array(rows, dtype=float)


R_REFERENCE = """
    d$age <- factor(d$age, levels = 0:4); d$sex <- factor(d$sex, levels = 0:1)
    # Raking does not depend on a common factor of the starting weights; N/n lets calibrate()'s
    # Newton steps start near the answer (from 1 they overshoot and fail).
    d$start <- 3500 / nrow(d)
    base <- svydesign(ids = ~1, weights = ~start, data = d)
    margins <- list(data.frame(age = factor(0:4), Freq = c(600, 800, 900, 700, 500)),
                    data.frame(sex = factor(0:1), Freq = c(1700, 1800)))
    raked <- rake(base, list(~age, ~sex), margins, control = list(maxit = 1000, epsilon = 1e-13))
    calibrated <- calibrate(base, ~age + sex, population = c(3500, 800, 900, 700, 500, 1800),
                            calfun = "raking", epsilon = 1e-13, maxit = 1000)
    d$w <- weights(raked)
    out <- c()
    for (f in list(~sat_points, ~sat_top, ~safety_points, ~safety_top)) {
      v <- all.vars(f)
      # Each item's sample is those who answered it (a design of their rows and weights); R's
      # subset() would keep the others as an out-of-domain part, which changes n/(n - 1) only.
      answered <- svydesign(ids = ~1, weights = ~w, data = d[!is.na(d[[v]]), ])
      m <- svymean(f, answered, deff = "replace")
      w <- weights(answered)
      out <- c(out, coef(m), SE(m), deff(m), confint(m, df = degf(answered)), sum(w)^2 / sum(w^2))
    }
    cat(sprintf("%.17g", c(out, d$w, weights(calibrated))), sep = "\\n")
"""


def test_weighted_figures_and_weights_match_r_survey(app, surveyed, r_survey, tmp_path):  # noqa: F811
    campaign, community, _ = surveyed
    db.session.execute(sa.insert(PopulationMargin), [
        {"campaign_id": campaign.id, "community_id": community.id, "variable": variable, "code": code,
         "population": population} for variable, row in MARGINS.items() for code, population in row.items()])
    db.session.commit()
    rows = recount(campaign, community)
    complete = ~np.isnan(rows[:, 1:3]).any(axis=1)
    people = rows[complete]
    reference = run_r(R_REFERENCE, {
        "age": people[:, 1], "sex": people[:, 2],
        "sat_points": people[:, 3], "sat_top": people[:, 4],
        "safety_points": people[:, 5], "safety_top": people[:, 6]}, tmp_path)
    n = len(people)
    figures = reference[:24].reshape(4, 6)
    r_rake, r_calibrate = reference[24:24 + n], reference[24 + n:]

    ids, raked = weighting.community_weights(campaign, community.id)
    assert raked.status == "weighted" and ids.tolist() == rows[:, 0].astype(int).tolist()
    assert raked.complete.tolist() == complete.tolist()
    np.testing.assert_allclose(raked.weights[complete], r_rake, rtol=ITERATIVE)
    np.testing.assert_allclose(raked.weights[complete], r_calibrate, rtol=ITERATIVE)
    assert np.isnan(raked.weights[~complete]).all()

    evaluator = logged_in(app, community.parent.parent)
    body = evaluator.get(f"/api/v1/campaigns/{campaign.id}/weighted?community={community.id}").get_json()
    weighting_report = body["weighting"]
    assert weighting_report["status"] == "weighted" and weighting_report["message"] is None
    assert body["respondents"] == len(rows)
    assert weighting_report["weighted_respondents"] == n and weighting_report["unweighted_out"] == len(rows) - n > 0
    report = weighting_report["raking"]
    assert report["converged"] and report["max_margin_error"] <= 1e-10 and report["capped"] == 0
    assert report["effective_n"] == pytest.approx(r_rake.sum() ** 2 / (r_rake @ r_rake), rel=ITERATIVE)
    for variable, row in MARGINS.items():
        table = weighting_report["margins"][variable]
        assert [c["population"] for c in table] == list(row.values())
        assert [c["weighted"] for c in table] == pytest.approx(list(row.values()), rel=1e-9)
    by_key = {item["key"]: item for item in body["items"]}
    for k, (key, measure) in enumerate([("sat", "satisfaction_index"), ("sat", "satisfaction_rate"),
                                        ("safety", "satisfaction_index"), ("safety", "satisfaction_rate")]):
        got = by_key[key]["weighted"][measure]
        mean, se, deff, low, high, kish = figures[k]
        assert got["estimate"] == pytest.approx(mean, rel=ITERATIVE)
        assert got["standard_error"] == pytest.approx(se, rel=ITERATIVE)
        assert got["design_effect"] == pytest.approx(deff, rel=ITERATIVE)
        assert (got["interval"]["low"], got["interval"]["high"]) == pytest.approx((low, high), rel=ITERATIVE)
        assert got["effective_n"] == pytest.approx(kish, rel=ITERATIVE)
        assert got["n"] == int((~np.isnan(people[:, 3 + 2 * (k // 2)])).sum())
    # The weighting moves the figures (older residents are more satisfied and under-sampled).
    assert by_key["sat"]["weighted"]["satisfaction_rate"]["estimate"] > \
        by_key["sat"]["unweighted"]["satisfaction_rate"]["estimate"]


def test_unweighted_figures_are_every_answer_counted_once(app, surveyed):
    campaign, community, _ = surveyed
    rows = recount(campaign, community)
    body = weighting.community_weighted(campaign, community.id)
    assert body["weighting"]["status"] == "no_margins" and "尚未录入" in body["weighting"]["message"]
    for j, item in enumerate(body["items"]):
        answered = rows[~np.isnan(rows[:, 3 + 2 * j])]
        figures = item["unweighted"]
        assert item["weighted"] is None
        assert figures["n"] == len(answered)
        rate, index = figures["satisfaction_rate"], figures["satisfaction_index"]
        assert rate["estimate"] == pytest.approx(answered[:, 4 + 2 * j].mean())
        assert index["estimate"] == pytest.approx(answered[:, 3 + 2 * j].mean())
        # Unweighted: the usual standard error of a mean, no design effect, effective n = n.
        assert index["standard_error"] == pytest.approx(answered[:, 3 + 2 * j].std(ddof=1) / np.sqrt(len(answered)))
        assert index["design_effect"] == pytest.approx(1.0) and index["effective_n"] == pytest.approx(len(answered))


def test_a_cap_holds_weights_down_and_a_tight_one_is_reported_not_used(app, surveyed):
    campaign, community, _ = surveyed
    weighting.save_margins(campaign, community.id, MARGINS)
    db.session.commit()
    free = weighting.community_weighted(campaign, community.id)["weighting"]["raking"]
    cap = 0.8 * free["max_weight"] / free["mean_weight"]
    capped = weighting.community_weighted(campaign, community.id, cap=cap)
    report = capped["weighting"]["raking"]
    assert capped["weighting"]["status"] == "weighted" and report["converged"]
    assert report["capped"] > 0 and report["max_weight"] <= report["weight_cap"] * (1 + 1e-12)
    assert report["weight_cap"] == pytest.approx(cap * report["mean_weight"])
    for variable, row in MARGINS.items():
        assert [c["weighted"] for c in capped["weighting"]["margins"][variable]] == pytest.approx(
            list(row.values()), rel=1e-9)
    tight = weighting.community_weighted(campaign, community.id, cap=1.05)
    assert tight["weighting"]["status"] == "not_converged" and "上限" in tight["weighting"]["message"]
    assert not tight["weighting"]["raking"]["converged"]
    assert all(item["weighted"] is None and item["unweighted"]["n"] > 0 for item in tight["items"])


def test_a_category_with_residents_but_no_respondent_cannot_be_weighted(app, surveyed):
    campaign, _, other = surveyed  # its five respondents are all young men
    weighting.save_margins(campaign, other.id, MARGINS)
    db.session.commit()
    body = weighting.community_weighted(campaign, other.id)
    assert body["weighting"]["status"] == "not_possible" and "「70岁及以上」" in body["weighting"]["message"]
    assert body["items"][0]["weighted"] is None and body["items"][0]["unweighted"]["n"] == 5
    assert body["weighting"]["raking"] is None
    # One margin alone is allowed: sex only, with women absent from the population, weights every respondent.
    weighting.save_margins(campaign, other.id, {"sex": {"m": 300, "f": 0}})
    db.session.commit()
    body = weighting.community_weighted(campaign, other.id)
    assert body["weighting"]["status"] == "weighted" and body["weighting"]["variables"] == ["sex"]
    assert body["items"][0]["weighted"]["satisfaction_rate"]["estimate"] == 1.0


def test_margins_are_stored_replaced_cleared_and_audited(app, surveyed):
    campaign, community, _ = surveyed
    client = logged_in(app, community.parent.parent)
    path = f"/api/v1/campaigns/{campaign.id}/communities/{community.id}/margins"
    response = client.put(path, json=MARGINS)
    assert response.status_code == 200 and response.get_json()["changed"] is True
    assert response.get_json()["margins"] == MARGINS
    assert client.put(path, json=MARGINS).get_json()["changed"] is False  # the same again: no new audit entry
    changed = {"age_band": {**MARGINS["age_band"], "5": 600}, "sex": {"m": 1750, "f": 1850}}
    assert client.put(path, json=changed).status_code == 200
    assert weighting.stored_margins(campaign.id, community.id) == changed
    assert client.delete(path).get_json() == {"campaign_id": campaign.id, "community_id": community.id,
                                             "changed": True, "margins": {}}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PopulationMargin)) == 0
    trail = db.session.execute(sa.select(AuditEntry.action, AuditEntry.before, AuditEntry.after, AuditEntry.region_id,
                                         AuditEntry.account_id)
                               .where(AuditEntry.object_type == "population_margins").order_by(AuditEntry.id)).all()
    where = {"campaign_id": campaign.id, "community_id": community.id}
    assert [(t.action, t.before, t.after) for t in trail] == [
        ("enter", None, {**where, "margins": MARGINS}),
        ("enter", {**where, "margins": MARGINS}, {**where, "margins": changed}),
        ("clear", {**where, "margins": changed}, None),
    ]
    assert {t.region_id for t in trail} == {community.id} and None not in {t.account_id for t in trail}
    # The audit log page reads it in Chinese.
    assert object_label("population_margins") == "加权用的人口结构"
    lines = describe_changes(trail[2].before, trail[2].after)  # (PostgreSQL's JSONB reorders keys)
    assert any(line.startswith("各类人口数：") and "年龄段：1：600；" in line and "性别：" in line for line in lines)


@pytest.mark.parametrize("body, words", [
    ({"age_band": {**MARGINS["age_band"], "1": -5}, "sex": MARGINS["sex"]}, "整数"),
    ({"age_band": {**MARGINS["age_band"], "1": 600.5}, "sex": MARGINS["sex"]}, "整数"),
    ({"age_band": {**MARGINS["age_band"], "1": "600"}, "sex": MARGINS["sex"]}, "整数"),
    ({"age_band": {**MARGINS["age_band"], "1": True}, "sex": MARGINS["sex"]}, "整数"),
    ({"age_band": {**MARGINS["age_band"], "1": 10**9}, "sex": MARGINS["sex"]}, "整数"),
    ({"age_band": MARGINS["age_band"], "sex": {"m": 1700, "f": 1800, "x": 3}}, "没有「x」"),
    ({"age_band": MARGINS["age_band"], "sex": {"m": 3500}}, "缺少「女」"),
    ({"age_band": MARGINS["age_band"], "sex": {"m": 1700, "f": 1801}}, "合计应当相等"),
    ({"age_band": {code: 0 for code in AGES}}, "合计为 0"),
    ({"age_band": MARGINS["age_band"], "income": {"1": 5}}, "只能填年龄段"),
    ({"sex": [1700, 1800]}, "按选项"),
    ({}, "请填写"),
])
def test_bad_margins_are_refused_in_chinese_and_nothing_is_stored(app, surveyed, body, words):
    campaign, community, _ = surveyed
    client = logged_in(app, community.parent.parent)
    response = client.put(f"/api/v1/campaigns/{campaign.id}/communities/{community.id}/margins", json=body)
    assert response.status_code == 400 and response.is_json
    assert words in response.get_json()["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PopulationMargin)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.object_type == "population_margins")) == 0


def test_a_bad_change_leaves_the_stored_margins_alone(app, surveyed):
    campaign, community, _ = surveyed
    weighting.save_margins(campaign, community.id, MARGINS)
    db.session.commit()
    client = logged_in(app, community.parent.parent)
    path = f"/api/v1/campaigns/{campaign.id}/communities/{community.id}/margins"
    assert client.put(path, json={"age_band": MARGINS["age_band"], "sex": {"m": 1, "f": 2}}).status_code == 400
    for not_json in ({"data": "age_band=1"}, {"data": "{}", "content_type": "text/plain"},
                     {"data": "[1, 2]", "content_type": "application/json"},
                     {"data": "{not json", "content_type": "application/json"}):
        response = client.put(path, **not_json)
        assert response.status_code == 400 and response.is_json
    assert weighting.stored_margins(campaign.id, community.id) == MARGINS


def test_a_questionnaire_without_the_question_cannot_be_weighted_by_it(app, make):
    community = make.community()
    campaign = make.campaign(communities=[community])  # the small survey: no age band, no sex
    db.session.commit()
    with pytest.raises(weighting.MarginError) as refused:
        weighting.save_margins(campaign, community.id, MARGINS)
    assert refused.value.messages == ["这份问卷没有问年龄段，不能按年龄段加权", "这份问卷没有问性别，不能按性别加权"]
    with pytest.raises(weighting.MarginError, match="不在本次测评里"):
        weighting.save_margins(campaign, make.community().id, MARGINS)


def test_margins_are_entered_by_admin_and_evaluator_accounts_in_scope(app, client, surveyed, make):
    campaign, community, _ = surveyed
    elsewhere = make.community()
    db.session.commit()
    path = f"/api/v1/campaigns/{campaign.id}/communities/{community.id}/margins"
    response = client.put(path, json=MARGINS)
    assert response.status_code == 401 and response.is_json
    assert logged_in(app, community, Role.COMMUNITY).put(path, json=MARGINS).status_code == 403
    assert logged_in(app, community.parent, Role.STREET).delete(path).status_code == 403
    outsider = logged_in(app, elsewhere.parent.parent, Role.ADMIN)
    assert outsider.put(path, json=MARGINS).status_code == 404
    admin = logged_in(app, community.parent.parent, Role.ADMIN)
    assert admin.put(f"/api/v1/campaigns/{campaign.id}/communities/{elsewhere.id}/margins",
                     json=MARGINS).status_code == 404
    assert admin.put(f"/api/v1/campaigns/999999/communities/{community.id}/margins", json=MARGINS).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PopulationMargin)) == 0
    assert admin.put(path, json=MARGINS).status_code == 200
    assert logged_in(app, community.parent.parent, Role.EVALUATOR).delete(path).status_code == 200


@pytest.mark.parametrize("query, status", [
    ("", 400), ("?community=", 400), ("?community=abc", 400), ("?community=-1", 400),
    ("?community=99999999999", 400), ("?community=999999", 404),
    ("?community={id}&cap=1", 400), ("?community={id}&cap=0.5", 400), ("?community={id}&cap=abc", 400),
    ("?community={id}&cap=nan", 400), ("?community={id}&cap=inf", 400), ("?community={id}&cap=1e9", 400),
    ("?community={id}&cap=3", 200), ("?community={id}", 200),
])
def test_weighted_requests_get_json_and_bad_ones_a_400(app, surveyed, query, status):
    campaign, community, _ = surveyed
    client = logged_in(app, community.parent.parent)
    response = client.get(f"/api/v1/campaigns/{campaign.id}/weighted" + query.format(id=community.id))
    assert response.status_code == status and response.is_json
    if status != 200:
        assert response.get_json()["error"]["message"]
    assert client.get(f"/api/v1/campaigns/999999/weighted?community={community.id}").status_code == 404


def test_the_demo_enters_made_up_margins_and_weights_where_it_can(app, runner):
    result = runner.invoke(args=["demo", "--responses", "300"])
    assert result.exit_code == 0, result.output
    assert "made-up population margins (age band, sex) for weighting in 105 communities" in result.output
    totals = db.session.execute(
        sa.select(PopulationMargin.campaign_id, PopulationMargin.community_id, PopulationMargin.variable,
                  sa.func.sum(PopulationMargin.population), sa.func.count())
        .group_by(PopulationMargin.campaign_id, PopulationMargin.community_id, PopulationMargin.variable)).all()
    by_community: dict = {}
    for campaign_id, community_id, variable, total, codes in totals:
        assert codes == {"age_band": 5, "sex": 2}[variable] and total > 0
        by_community.setdefault((campaign_id, community_id), set()).add(total)
    assert len(by_community) == 105 and all(len(t) == 1 for t in by_community.values())
    example = re.search(r"(/api/v1/campaigns/\d+/weighted\?community=(\d+))", result.output)
    assert example, result.output  # a community with a respondent in every band and sex: weighted
    community = db.session.get(Region, int(example.group(2)))
    body = logged_in(app, community.parent.parent).get(example.group(1)).get_json()
    assert body["weighting"]["status"] == "weighted"
    assert any(item["weighted"]["satisfaction_rate"] for item in body["items"])
