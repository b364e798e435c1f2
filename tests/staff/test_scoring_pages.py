"""The evaluators' pages (/evaluate): who may open them, the 分值和权重 form, and the entry screen
with each level's descriptor beside it, audited. The world's campaigns use the small test survey,
so the one scheme that applies is Panzhihua's (fed by evaluators alone; one part 待填)."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry
from app.models.scoring import IndicatorEntry, SchemeSetting
from tests.staff.conftest import csrf_of

SCHEME = "panzhihua-xiqu"


def paths(world) -> dict[str, str]:
    a, c1 = world.campaigns["A"].id, world.regions["C1"].id
    return {"schemes": f"/evaluate/campaigns/{a}/scores",
            "scores": f"/evaluate/campaigns/{a}/scores?scheme={SCHEME}",
            "numbers": f"/evaluate/campaigns/{a}/schemes/{SCHEME}/numbers",
            "entries": f"/evaluate/campaigns/{a}/schemes/{SCHEME}/communities/{c1}"}


@pytest.mark.parametrize("role, status", [("admin", 200), ("evaluator", 200), ("street", 403),
                                          ("community", 403), ("outsider", 404)])
def test_only_evaluators_and_the_district_score(as_role, world, role, status):
    client = as_role(role)
    for name, path in paths(world).items():
        assert client.get(path).status_code == status, name
    before = db.session.scalar(sa.select(sa.func.count()).select_from(IndicatorEntry))
    response = client.post(paths(world)["entries"], data={"csrf_token": csrf_of(client), "n0": "1"})
    assert response.status_code == (303 if status == 200 else status)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IndicatorEntry)) == before + (status == 200)


def test_an_unknown_scheme_or_a_community_outside_the_campaign_is_not_found(as_role, world):
    client = as_role("evaluator")
    a = world.campaigns["A"].id
    assert client.get(f"/evaluate/campaigns/{a}/scores?scheme=kunming").status_code == 404  # not this questionnaire
    assert client.get(f"/evaluate/campaigns/{a}/schemes/{SCHEME}/communities/{world.regions['C3'].id}"
                      ).status_code == 404
    assert client.get(f"/evaluate/campaigns/{a}/schemes/{SCHEME}/communities/{2**40}").status_code == 404


def test_the_entry_screen_shows_descriptors_and_audits_each_entry(as_role, world):
    client = as_role("evaluator")
    page = client.get(paths(world)["entries"]).get_data(as_text=True)
    assert "领导协调机构存在3处及以上设置不严密" in page and "主要查看领导协调机构设置是否合理" in page
    assert page.count('type="radio"') > 20
    token = csrf_of(client)
    # a factor that is no level of the indicator: refused in Chinese, nothing stored
    refused = client.post(paths(world)["entries"], data={"csrf_token": token, "n0": "0.5"})
    assert refused.status_code == 400 and "组织保障（领导协调机构）：不是有效的选择" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IndicatorEntry)) == 0
    saved = client.post(paths(world)["entries"], data={"csrf_token": token, "n0": "0.8", "n0_note": "见会议纪要",
                                                       "n1": "1"})
    assert saved.status_code == 303
    entries = {e.indicator_id: (e.value, e.note) for e in db.session.scalars(sa.select(IndicatorEntry))}
    assert entries == {"org-coordination": (0.8, "见会议纪要"), "org-leadership-agenda": (1.0, None)}
    trail = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.object_type == "indicator_entry")).all()
    assert len(trail) == 2 and {t.account_id for t in trail} == {world.accounts["evaluator"].id}
    assert {t.region_id for t in trail} == {world.regions["C1"].id}
    again = client.get(paths(world)["entries"]).get_data(as_text=True)
    assert re.search(r'value="0.8"[^>]*checked|checked[^>]*value="0.8"', again)
    assert "上次录入" in again and "考评" in again
    # the audit log reads it in Chinese
    log = client.get("/staff/audit").get_data(as_text=True)
    assert "指标评分" in log and "录入值" in log


def test_the_district_fills_in_the_missing_part_and_the_scores_page_ranks(as_role, world):
    client = as_role("admin")
    page = client.get(paths(world)["numbers"]).get_data(as_text=True)
    assert "项目效益其余指标" in page and "原文评分表在“示范引领情况”之后截断" in page
    response = client.post(paths(world)["numbers"], data={"csrf_token": csrf_of(client), "n0_entered": "y"})
    assert response.status_code == 303
    setting = db.session.scalar(sa.select(SchemeSetting))
    assert setting.fill_ins == {"benefit-rest": {"entered": "项目效益其余指标（待填）得分率"}}
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.object_type == "scheme_setting")) == "create"
    scores = client.get(paths(world)["scores"]).get_data(as_text=True)
    assert "还有" not in scores and "算不出" in scores  # nothing entered yet
    assert "录入评分" in scores


def test_only_the_district_admin_sets_the_numbers(as_role, world):
    evaluator = as_role("evaluator")
    page = evaluator.get(paths(world)["numbers"]).get_data(as_text=True)
    assert "这些数字由区级管理员填写" in page
    refused = evaluator.post(paths(world)["numbers"], data={"csrf_token": csrf_of(evaluator), "n0_entered": "y"})
    assert refused.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SchemeSetting)) == 0


def shown(client, world) -> dict[str, str]:
    """The entry page's form as loaded: its token and what each entry showed (the n*_was fields)."""
    page = client.get(paths(world)["entries"]).get_data(as_text=True)
    fields = {m[0]: html.unescape(m[1]) for m in re.findall(r'<input[^>]*name="(n\d+_was)"[^>]*value="([^"]*)"', page)}
    assert fields, "the entry form carries what it showed"
    return {"csrf_token": csrf_of(client), **fields}


def stored_entries() -> dict[str, tuple]:
    db.session.expire_all()
    return {e.indicator_id: (e.value, e.note) for e in db.session.scalars(sa.select(IndicatorEntry))}


def test_two_evaluators_on_one_community_keep_each_others_entries(as_role, world):
    first, second = as_role("evaluator"), as_role("admin")
    first_form, second_form = shown(first, world), shown(second, world)  # both open the page
    assert first.post(paths(world)["entries"], data={**first_form, "n0": "0.8"}).status_code == 303
    # the second changes another indicator only: the first's level stays (the form sent back n0 as shown)
    assert second.post(paths(world)["entries"], data={**second_form, "n1": "1"}).status_code == 303
    assert stored_entries() == {"org-coordination": (0.8, None), "org-leadership-agenda": (1.0, None)}


def test_a_change_made_meanwhile_is_not_overwritten(as_role, world):
    first, second = as_role("evaluator"), as_role("admin")
    first_form, second_form = shown(first, world), shown(second, world)
    assert first.post(paths(world)["entries"], data={**first_form, "n0": "0.8"}).status_code == 303
    trail = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    refused = second.post(paths(world)["entries"], data={**second_form, "n0": "0.3", "n1": "1"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "你打开本页后" in text and "本次没有保存任何改动" in text
    # nothing of the second's form was stored, the first's level stands, no audit line was written
    assert stored_entries() == {"org-coordination": (0.8, None)}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == trail
    # the page now starts from what is stored: saving again is a decision made knowing it
    assert re.search(r'value="0.8"[^>]*checked|checked[^>]*value="0.8"', text)
    again = second.post(paths(world)["entries"], data={**shown(second, world), "n0": "0.3"})
    assert again.status_code == 303 and stored_entries() == {"org-coordination": (0.3, None)}


def test_a_note_without_a_value_is_refused_not_dropped(as_role, world):
    client = as_role("evaluator")
    refused = client.post(paths(world)["entries"], data={**shown(client, world), "n0_note": "见会议纪要"})
    assert refused.status_code == 400
    assert "写了依据但没有评分" in refused.get_data(as_text=True)
    assert stored_entries() == {}


def test_the_district_files_the_scores_and_nothing_changes_until_it_lifts_that(as_role, world):
    admin, evaluator = as_role("admin"), as_role("evaluator")
    a = world.campaigns["A"].id
    lock = f"/evaluate/campaigns/{a}/schemes/{SCHEME}/lock"
    assert evaluator.post(paths(world)["entries"], data={**shown(evaluator, world), "n0": "0.8"}).status_code == 303
    # only the district's admin files them
    assert evaluator.post(lock, data={"csrf_token": csrf_of(evaluator), "lock": "1"}).status_code == 403
    assert admin.post(lock, data={"csrf_token": csrf_of(admin), "lock": "maybe"}).status_code == 400
    assert admin.post(lock, data={"csrf_token": csrf_of(admin), "lock": "1"}).status_code == 303
    assert "定稿，不能再改" in admin.get(paths(world)["scores"]).get_data(as_text=True)
    # entries and numbers are refused in Chinese, nothing stored
    refused = evaluator.post(paths(world)["entries"], data={**shown(evaluator, world), "n0": "1"})
    assert refused.status_code == 400 and "定稿，不能再改" in refused.get_data(as_text=True)
    numbers = admin.post(paths(world)["numbers"], data={"csrf_token": csrf_of(admin), "n0_entered": "y"})
    assert numbers.status_code == 400 and "定稿，不能再改" in numbers.get_data(as_text=True)
    assert stored_entries() == {"org-coordination": (0.8, None)}
    assert db.session.scalar(sa.select(SchemeSetting.fill_ins)) == {}
    # lifted: entries go in again; both steps are in the audit log
    assert admin.post(lock, data={"csrf_token": csrf_of(admin), "lock": "0"}).status_code == 303
    assert evaluator.post(paths(world)["entries"], data={**shown(evaluator, world), "n0": "1"}).status_code == 303
    assert stored_entries() == {"org-coordination": (1.0, None)}
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "scheme_setting")
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["lock", "unlock"]
    log = admin.get("/staff/audit").get_data(as_text=True)
    assert "解除定稿" in log and "定稿时间" in log
