"""Importing streets and communities from a spreadsheet: all rows or none, audited, in scope only."""

from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, CommunityKind, Region, RegionLevel
from tests.staff.conftest import csrf_of


def upload(client, text: str, name: str = "regions.csv"):
    return client.post("/staff/regions/import", data={
        "csrf_token": csrf_of(client, "/staff/"), "file": (io.BytesIO(text.encode("utf-8-sig")), name)},
        content_type="multipart/form-data")


def count_regions() -> int:
    return db.session.scalar(sa.select(sa.func.count(Region.id)))


GOOD = """code,name,parent_code,households,kind
S9,新街道,D1,,
C91,新社区甲,S9,1200,城市社区
C92,新社区乙,S9,800,村改居
C1,翠湖社区（改名）,S1,3100,城市社区
"""


def test_a_good_file_creates_and_updates_and_is_audited(as_role, world):
    before = count_regions()
    response = upload(as_role("admin"), GOOD)
    assert response.status_code == 303
    assert count_regions() == before + 3
    street = db.session.scalar(sa.select(Region).where(Region.code == "S9"))
    assert street.level is RegionLevel.STREET and street.parent.code == "D1"
    village = db.session.scalar(sa.select(Region).where(Region.code == "C92"))
    assert (village.level, village.parent.code, village.households, village.kind) == (
        RegionLevel.COMMUNITY, "S9", 800, CommunityKind.VILLAGE)
    db.session.expire_all()
    renamed = db.session.scalar(sa.select(Region).where(Region.code == "C1"))
    assert (renamed.name, renamed.households) == ("翠湖社区（改名）", 3100)
    edit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "edit",
                                                         AuditEntry.object_id == str(renamed.id)))
    assert edit.before["name"] == "翠湖社区" and edit.after["name"] == "翠湖社区（改名）"
    assert edit.account.username == "admin"
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "import")).after["created"] == 3


@pytest.mark.parametrize("bad_row, column, words", [
    ("C93,社区丙,S404,100,城市社区", "parent_code", "上级代码不对"),
    ("C93,社区丙,S9,很多,城市社区", "households", "户数请填一个整数"),
    ("C93,社区丙,S9,100,乡村", "kind", "城市社区"),
    ("C93,,S9,100,城市社区", "name", "请填写名称"),
    ("C4,苏铁社区,S9,100,城市社区", "code", "已经属于别的区"),
    ("C2,文林社区,S2,100,城市社区", "parent_code", "不会移动它"),
    ("S8,街道八,D1,500,", "households", "街道不填户数"),
])
def test_one_bad_row_imports_nothing(as_role, world, bad_row, column, words):
    before = count_regions()
    response = upload(as_role("admin"), GOOD + bad_row + "\n")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and f"<td>{column}</td>" in html and words in html
    assert count_regions() == before
    db.session.expire_all()
    assert db.session.scalar(sa.select(Region.name).where(Region.code == "C1")) == "翠湖社区"


def test_a_street_cannot_be_put_under_another_district(as_role, world):
    response = upload(as_role("admin"), "code,name,parent_code,households,kind\nS99,外区街道,D2,,\n")
    assert response.status_code == 400 and "上级代码不对" in response.get_data(as_text=True)


def test_the_template_imports_as_it_is(as_role, world):
    client = as_role("admin")
    book = openpyxl.load_workbook(io.BytesIO(client.get("/staff/regions/template.xlsx").data))
    assert [c.value for c in book["regions"][1]] == ["code", "name", "parent_code", "households", "kind"]
    buf = io.BytesIO()
    book.save(buf)
    response = client.post("/staff/regions/import", data={
        "csrf_token": csrf_of(client, "/staff/"), "file": (io.BytesIO(buf.getvalue()), "regions.xlsx")},
        content_type="multipart/form-data")
    assert response.status_code == 303
    assert db.session.scalar(sa.select(Region).where(Region.code == "D1001001")).parent.code == "D1001"


@pytest.mark.parametrize("role, status", [("admin", 303), ("street", 403), ("community", 403),
                                          ("evaluator", 403), ("outsider", 400)])
def test_only_a_district_admin_imports_into_their_district(as_role, world, role, status):
    assert upload(as_role(role), GOOD).status_code == status


@pytest.mark.parametrize("role, sees, hidden", [("admin", "护国街道", "河门口街道"), ("street", "文林社区", "青云社区"),
                                                ("outsider", "苏铁社区", "翠湖社区")])
def test_the_regions_page_shows_the_accounts_subtree(as_role, world, role, sees, hidden):
    html = as_role(role).get("/staff/regions").get_data(as_text=True)
    assert sees in html and hidden not in html
