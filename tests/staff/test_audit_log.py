"""The audit log (操作记录): scoped by the region of the record an entry is about, in words
staff read, filtered, and exported to CSV.

The world (tests/staff/conftest.py):

    D1 五华区 ── S1 华山街道 ── C1 翠湖社区 (site1), C2 文林社区
            └─ S2 护国街道 ── C3 青云社区 (site3)
    D2 西区   ── S3 河门口街道 ── C4 苏铁社区

    campaign A (甲调查): C1, C2      campaign B (乙调查): C3

Everything the world fixture builds is made on the "command line" (no acting account).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from app import audit
from app.extensions import db
from app.models import AuditEntry, Channel, PaperKeying, Response, Role
from app.models.types import utcnow
from app.staff import operations
from app.staff.audit_format import Names, describe_changes, format_value, readable, references
from app.submissions import NewResponse, store_response
from tests.staff.conftest import PASSWORD, csrf_of, log_in


def page(client, query: str = "") -> str:
    response = client.get(f"/staff/audit{query}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def exported(client, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/staff/audit.csv{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def about(rows: list[dict], object_type: str, name: str) -> list[dict]:
    return [row for row in rows if row["对象"] == object_type and row["名称"] == name]


def region_of(object_type: str, object_id) -> int | None:
    return audit.record("test", object_type, object_id).region_id


def add_response(campaign, community) -> int:
    store_response(NewResponse(campaign_id=campaign.id, community_id=community.id, channel=Channel.QR,
                               submission_id=uuid.uuid4().hex, submitted_at=utcnow(),
                               answers=[("sat", ("4", None, None))]))
    return db.session.scalar(sa.select(sa.func.max(Response.id)))


# -- the region an entry belongs to -----------------------------------------------------

def test_each_record_gets_the_region_it_belongs_to(world, make):
    r, a = world.regions, world.accounts
    both_streets = make.campaign(communities=[r["C1"], r["C3"]], name="全区调查")
    across_districts = make.campaign(communities=[r["C1"], r["C4"]], name="跨区调查")
    batch = operations.issue_tickets(world.campaigns["A"], r["C2"], 5)
    response_id = add_response(world.campaigns["B"], r["C3"])
    keying = PaperKeying(campaign_id=world.campaigns["A"].id, community_id=r["C2"].id, paper_serial="7",
                         pass_number=1, entered_by_id=a["community"].id, submission_id=uuid.uuid4().hex, answers=[])
    db.session.add(keying)
    db.session.flush()
    assert region_of("campaign", world.campaigns["B"].id) == r["C3"].id        # one community
    assert region_of("campaign", world.campaigns["A"].id) == r["S1"].id        # two in one street
    assert region_of("campaign", both_streets.id) == r["D1"].id               # two streets of a district
    assert region_of("campaign", across_districts.id) is None                # no region covers it
    assert region_of("site", world.sites["site3"].id) == r["C3"].id
    assert region_of("response", response_id) == r["C3"].id
    assert region_of("ticket_batch", batch.id) == r["C2"].id
    assert region_of("paper_keying", keying.id) == r["C2"].id
    assert region_of("region", r["S2"].id) == r["S2"].id
    assert region_of("account", a["street"].id) == r["S1"].id
    assert region_of("survey_version", world.campaigns["A"].survey_version_id) is None
    assert region_of("campaign", 999_999) is None and region_of("site", "not-a-number") is None
    # The caller may say it; an unknown kind of record is refused rather than left unscoped.
    assert audit.record("test", "campaign", world.campaigns["A"].id, region=r["C1"]).region_id == r["C1"].id
    assert audit.record("test", "campaign", world.campaigns["A"].id, region=None).region_id is None
    with pytest.raises(ValueError, match="no region rule"):
        audit.record("test", "gadget", 1)
    db.session.rollback()


def test_entries_written_by_the_application_carry_their_region(world):
    entries = db.session.scalars(sa.select(AuditEntry)).all()
    regions = {(e.object_type, e.object_id): e.region_id for e in entries if e.action == "create"}
    assert regions[("campaign", str(world.campaigns["A"].id))] == world.regions["S1"].id
    assert regions[("site", str(world.sites["site1"].id))] == world.regions["C1"].id
    assert regions[("account", str(world.accounts["outsider"].id))] == world.regions["D2"].id
    assert regions[("region", str(world.regions["C4"].id))] == world.regions["C4"].id


def test_the_migration_fills_in_the_regions_of_existing_entries(world, make):
    """Downgrading drops the column; upgrading again fills it in by SQL, by the same rules
    as the application (campaigns, sites, responses, ticket batches, regions, accounts)."""
    from flask_migrate import downgrade, upgrade
    r = world.regions
    make.campaign(communities=[r["C1"], r["C3"]], name="全区调查")
    operations.issue_tickets(world.campaigns["A"], r["C2"], 5)
    operations.exclude_response(db.session.get(Response, add_response(world.campaigns["B"], r["C3"])), "重复")
    audit.record("login", "account", world.accounts["street"].id)
    db.session.commit()
    written = dict(db.session.execute(sa.select(AuditEntry.id, AuditEntry.region_id)).all())
    assert len({v for v in written.values()}) > 5
    db.session.close()
    downgrade(revision="0007")
    upgrade()
    with db.engine.connect() as conn:
        filled = dict(conn.execute(sa.text("SELECT id, region_id FROM audit_entries")).all())
    assert filled == written


# -- who sees what -----------------------------------------------------------------------

def test_the_other_district_never_sees_district_1_entries_even_from_the_command_line(as_role, world, runner):
    result = runner.invoke(args=["users", "create", "--username", "cli_made", "--role", "community",
                                 "--region", "C2", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    street = as_role("street")
    street.post(f"/staff/campaigns/{world.campaigns['A'].id}/close", data={"csrf_token": csrf_of(street, "/staff/")})

    outsider = exported(as_role("outsider"))
    district_1 = {"五华区", "华山街道", "护国街道", "翠湖社区", "文林社区", "青云社区"}
    assert not [row for row in outsider if row["区域"] in district_1]
    assert not about(outsider, "账号", "cli_made（cli_made）") and not about(outsider, "调查", "甲调查")
    # Its own district's records it does see, made on the command line too.
    assert about(outsider, "区域", "苏铁社区") and about(outsider, "账号", "outsider（外区管理员）")

    admin = exported(as_role("admin"))
    made = about(admin, "账号", "cli_made（cli_made）")
    assert [(row["姓名"], row["操作"], row["区域"]) for row in made] == [("", "新建", "文林社区")]
    assert "外区管理员" not in {row["名称"] for row in admin}


def test_an_entry_by_a_district_1_account_about_a_district_1_record_is_seen_in_district_1(as_role, world):
    street = as_role("street")
    street.post(f"/staff/campaigns/{world.campaigns['A'].id}/close", data={"csrf_token": csrf_of(street, "/staff/")})
    for role in ("admin", "evaluator"):
        closes = [row for row in about(exported(as_role(role)), "调查", "甲调查") if row["操作"] == "结束"]
        assert [(row["账号"], row["姓名"], row["区域"]) for row in closes] == [("street", "街道", "华山街道")]
    assert "甲调查" not in page(as_role("outsider"))


def test_entries_follow_the_record_not_the_actor(as_role, world, app):
    # Made by the other district's admin about a district-1 campaign (a command-line script
    # acting as them, say): district 1's business, not theirs.
    audit.record("edit", "campaign", world.campaigns["A"].id, actor=world.accounts["outsider"],
                 before={"name": "甲调查"}, after={"name": "甲调查（改）"})
    db.session.commit()
    assert "甲调查（改）" in page(as_role("admin"))
    assert "甲调查（改）" not in page(as_role("outsider"))


def test_a_street_evaluator_sees_its_street_only(world, app):
    operations.create_account("s2eval", "护国考评", PASSWORD, Role.EVALUATOR, world.regions["S2"])
    db.session.commit()
    client = app.test_client()
    assert log_in(client, "s2eval").status_code == 303
    rows = exported(client)
    assert about(rows, "调查", "乙调查") and about(rows, "考评点", "小区东门")
    assert not about(rows, "调查", "甲调查") and not about(rows, "考评点", "文化中心")
    assert {row["区域"] for row in rows} <= {"护国街道", "青云社区", "—"}


def test_survey_versions_from_the_command_line_are_seen_by_every_district(as_role, world):
    title = world.campaigns["A"].survey_version.survey.title
    for role in ("admin", "outsider", "evaluator"):
        versions = [row for row in exported(as_role(role)) if row["对象"] == "问卷版本"]
        assert versions and all(row["区域"] == "—" and row["名称"].startswith(title) for row in versions)


def test_a_login_is_seen_where_the_account_belongs(as_role, world):
    as_role("community")
    logins = [row for row in exported(as_role("admin")) if row["操作"] == "登录"]
    assert ("community", "翠湖社区") in {(row["账号"], row["区域"]) for row in logins}
    assert "community" not in {row["账号"] for row in exported(as_role("outsider")) if row["操作"] == "登录"}


# -- in words ------------------------------------------------------------------------------

def test_the_page_names_records_in_chinese_and_china_time(as_role, world):
    audit.record("close", "campaign", world.campaigns["A"].id,
                 before={"closes_at": "2026-03-01T16:30:00+00:00", "name": "甲调查"},
                 after={"closes_at": "2026-03-01T02:00:00+00:00", "name": "甲调查"})
    db.session.commit()
    html = page(as_role("admin"))
    assert "调查 甲调查" in html and "<td>华山街道</td>" in html and "<td>命令行</td>" in html
    # 16:30 UTC on 1 March is half past midnight on 2 March in Beijing; unchanged fields are left out.
    assert "结束时间：2026年3月2日 00:30 → 2026年3月1日 10:00" in html
    assert "名称：" not in html.split("结束时间：2026年3月2日")[1].split("</tr>")[0]
    assert "closes_at" not in html and "+00:00" not in html
    assert "账号 street（街道）" in html and "角色：街道工作人员" in html and "负责的区域：华山街道" in html
    assert "区域 翠湖社区" in html and "级别：社区/村" in html and "上级区域：华山街道" in html


def test_a_password_is_never_shown(as_role, world):
    admin = as_role("admin")
    secret = "the new secret password"
    assert admin.post(f"/staff/accounts/{world.accounts['community'].id}/password",
                      data={"csrf_token": csrf_of(admin, "/staff/"), "password": secret}).status_code == 303
    # Even an entry that held one by mistake shows only that it changed.
    audit.record("account", "account", world.accounts["street"].id, after={"password": "hunter2-hunter2"})
    db.session.commit()
    html = page(as_role("admin"))
    assert html.count("密码：已重设") == 2 and secret not in html and "hunter2" not in html
    rows = exported(as_role("admin"))
    assert secret not in str(rows)
    assert [row["改动"] for row in rows if row["账号"] == "admin" and row["操作"] == "账号变更"] == ["密码：已重设"]


def test_the_page_looks_names_up_in_bulk_not_per_entry(as_role, world):
    client = as_role("admin")

    def statements_for_page() -> int:
        count = 0

        def counter(*args):
            nonlocal count
            count += 1
        sa.event.listen(db.engine, "before_cursor_execute", counter)
        try:
            page(client)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", counter)
        return count

    before = statements_for_page()
    for n in range(30):
        operations.add_site(world.regions["C2"], f"第{n}号楼")
        audit.record("close", "campaign", world.campaigns["B"].id, actor=world.accounts["street"])
    db.session.commit()
    assert statements_for_page() == before


# -- filters ------------------------------------------------------------------------------

def test_filters_by_action_object_and_china_date(as_role, world):
    late = audit.record("edit", "region", world.regions["C1"].id, before={"name": "翠湖社区"}, after={"name": "夜里改"})
    late.at = datetime(2026, 3, 1, 16, 30, tzinfo=timezone.utc)  # 2 March, 00:30 in Beijing
    early = audit.record("edit", "region", world.regions["C1"].id, before={"name": "翠湖社区"}, after={"name": "早上改"})
    early.at = datetime(2026, 3, 1, 1, 0, tzinfo=timezone.utc)   # 1 March, 09:00 in Beijing
    db.session.commit()
    admin = as_role("admin")

    def changes(query: str) -> set[str]:
        return {row["改动"] for row in exported(admin, query) if row["操作"] == "修改"}

    assert changes("?from=2026-03-02&to=2026-03-02") == {"名称：翠湖社区 → 夜里改"}
    assert changes("?from=2026-03-01&to=2026-03-01") == {"名称：翠湖社区 → 早上改"}
    assert changes("?to=2026-03-02") == changes("?from=2026-03-01&to=2026-03-02") == \
        {"名称：翠湖社区 → 夜里改", "名称：翠湖社区 → 早上改"}
    assert changes("?from=2026-03-03") == set()
    assert {row["操作"] for row in exported(admin, "?action=edit")} == {"修改"}
    assert {row["对象"] for row in exported(admin, "?object=site")} == {"考评点"}
    html = page(admin, "?action=edit&object=region&from=2026-03-02")
    assert "夜里改" in html and "早上改" not in html and "考评点 文化中心" not in html
    assert '<option value="edit" selected>' in html and 'value="2026-03-02"' in html
    # The download link carries the same filters.
    assert "/staff/audit.csv?action=edit&amp;object=region&amp;from=2026-03-02" in html
    assert {(row["操作"], row["对象"]) for row in exported(admin, "?action=create&object=account")} == {("新建", "账号")}


@pytest.mark.parametrize("query, words", [
    ("?action=drop", "没有这种操作"),
    ("?object=meeting", "没有这种对象"),
    ("?from=2026-13-01", "日期请按"),
    ("?from=20260301", "日期请按"),
    ("?to=yesterday", "日期请按"),
    ("?from=0001-01-01", "2000 年到 2100 年"),
    ("?to=9999-12-31", "2000 年到 2100 年"),
    ("?from=2026-03-02&to=2026-03-01", "开始日期不能晚于结束日期"),
])
def test_a_bad_filter_is_refused_in_words(as_role, world, query, words):
    admin = as_role("admin")
    for path in ("/staff/audit", "/staff/audit.csv"):
        response = admin.get(path + query)
        assert response.status_code == 400 and words in response.get_data(as_text=True)


# -- CSV ------------------------------------------------------------------------------------

def test_the_export_keeps_the_raw_json_and_adds_words(as_role, world):
    street = as_role("street")
    street.post(f"/staff/campaigns/{world.campaigns['A'].id}/close", data={"csrf_token": csrf_of(street, "/staff/")})
    response = as_role("evaluator").get("/staff/audit.csv")
    assert response.data.startswith("\ufeff".encode())
    header, *rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert header == ["时间（北京时间）", "账号", "姓名", "操作", "对象", "编号", "改动前", "改动后", "名称", "区域", "改动"]
    close = next(dict(zip(header, row)) for row in rows if row[3] == "结束")
    assert '"closes_at"' in close["改动前"] and '"closes_at"' in close["改动后"]
    assert close["名称"] == "甲调查" and close["区域"] == "华山街道" and close["改动"].startswith("结束时间：")
    assert "T" not in close["改动"].split("：", 1)[1]


def test_the_export_keeps_a_name_that_looks_like_a_formula_as_text(as_role, world, make):
    make.campaign(communities=[world.regions["C2"]], name="=HYPERLINK(\"http://x\")")
    db.session.commit()
    names = {row["名称"] for row in exported(as_role("admin"))}
    assert "'=HYPERLINK(\"http://x\")" in names


# -- the formatting itself (no database) -----------------------------------------------------

def test_format_value_speaks_chinese():
    assert format_value("one_response_per_device", True) == "是"
    assert format_value("active", False) == "否"
    assert format_value("role", "evaluator") == "考评人员"
    assert format_value("kind", "village") == "村改居"
    assert format_value("level", "street") == "街道/乡镇"
    assert format_value("channel", "paper") == "纸质问卷"
    assert format_value("role", "superuser") == "superuser"  # an unknown value as it is
    assert format_value("confidence", 0.95) == "95%"
    assert format_value("margin", 0.035) == "±3.5 个百分点"
    assert format_value("closes_at", "2026-01-31T16:00:00+00:00") == "2026年2月1日 00:00"
    assert format_value("closes_at", None) == "（空）"
    assert format_value("password", "anything") == "已重设"
    assert format_value("sha256", "ab" * 32) == " ".join(["abababab"] * 8)
    assert format_value("community_id", 3, Names(regions={3: "青云社区"})) == "青云社区"
    assert format_value("community_id", 4, Names()) == "#4"
    assert format_value("entered_by_id", 2, Names(accounts={2: ("li", "李四")})) == "li（李四）"
    assert format_value("double_entry", "settled") == "两遍不一致，核对后保存"
    assert format_value("sat", {"first": "满意", "second": "很满意"}) == "第一遍：满意；第二遍：很满意"


def test_describe_changes_lists_what_changed():
    names = Names(region_codes={"C1": "翠湖社区", "C2": "文林社区"})
    assert describe_changes(None, {"name": "甲调查", "targets": {"C1": 100, "C2": None}}, names) == [
        "名称：甲调查", "目标样本量：翠湖社区 100 份，文林社区 未设"]
    assert describe_changes({"name": "甲", "margin": 0.05, "targets": {"C1": 100}},
                            {"name": "乙", "margin": 0.05, "targets": {"C1": 120, "C2": 80}}, names) == [
        "名称：甲 → 乙", "目标样本量（翠湖社区）：100 份 → 120 份", "目标样本量（文林社区）：（不在调查中） → 80 份"]
    assert describe_changes({"exclusion_reason": None}, {"exclusion_reason": "重复提交"}) == [
        "不计入原因：（空） → 重复提交"]
    assert describe_changes(None, {"password": "changed"}) == ["密码：已重设"]
    assert describe_changes({"password": "old"}, {"password": "new"}) == ["密码：已重设"]
    assert describe_changes(None, {"unknown_field": 3}) == ["unknown_field：3"]
    # A correction from the paper: the items (by key) before and after, and the reason.
    assert describe_changes({"sat": "满意"}, {"sat": "很满意", "reason": "录错了"}) == [
        "sat：满意 → 很满意", "原因：录错了"]
    assert describe_changes({"gone": 1}, None) == ["gone：1 → （空）"]
    assert describe_changes(None, None) == []


def test_readable_and_references_agree():
    class Entry:
        at = datetime(2026, 5, 1, 0, 0, tzinfo=timezone.utc)
        account_id, action, object_type, object_id, region_id = 7, "enter", "paper_keying", "12", 3
        before, after = None, {"paper_serial": "A-1", "pass": 2, "community_id": 3}

    refs = references([Entry])
    assert (refs.regions, refs.accounts) == ({3}, {7})
    r = readable(Entry, Names(regions={3: "青云社区"}, accounts={7: ("wang", "王五")}))
    assert (r.at, r.actor, r.actor_username, r.action, r.object_type, r.object_name, r.region) == (
        "2026年5月1日 08:00", "王五", "wang", "录入", "纸质问卷录入", "#12", "青云社区")
    assert r.changes == ["问卷编号：A-1", "第几遍录入：2", "社区：青云社区"]
