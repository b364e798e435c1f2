"""Importing responses from a file: checked row by row, all stored or none, never twice."""

from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Answer, AuditEntry, Channel, Response
from tests.staff.conftest import csrf_of

HEADER = "community_code,paper_serial,sat,joined,joined_sat,channels,years,advice"
GOOD_ROWS = [
    "C1,p1,4,1,5,wechat board,12,多办活动",
    "C1,p2,dk,2,,meeting,3,",
    "C2,,2,2,,,,路灯坏了",
]


def upload(client, campaign_id, body: bytes, name: str = "answers.csv"):
    return client.post(f"/staff/campaigns/{campaign_id}/import", data={
        "csrf_token": csrf_of(client, "/staff/"), "file": (io.BytesIO(body), name)},
        content_type="multipart/form-data")


def csv_bytes(*rows: str, encoding: str = "utf-8-sig") -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode(encoding)


def responses() -> int:
    return db.session.scalar(sa.select(sa.func.count(Response.id)))


def test_a_good_file_is_stored_whole_and_audited(as_role, world):
    client = as_role("street")
    campaign_id = world.campaigns["A"].id
    result = upload(client, campaign_id, csv_bytes(*GOOD_ROWS))
    assert result.status_code == 303
    stored = db.session.scalars(sa.select(Response).order_by(Response.id)).all()
    assert [(r.channel, r.paper_serial, r.entered_by_id) for r in stored] == [
        (Channel.IMPORT, "P1", world.accounts["street"].id), (Channel.IMPORT, "P2", world.accounts["street"].id),
        (Channel.IMPORT, None, world.accounts["street"].id)]
    first = db.session.execute(sa.select(Answer.item, Answer.value).where(Answer.response_id == stored[0].id)
                               .order_by(Answer.item, Answer.value)).all()
    assert first == [("advice", ""), ("channels", "board"), ("channels", "wechat"), ("joined", "1"),
                     ("joined_sat", "5"), ("sat", "4"), ("years", "12")]
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "import"))
    assert entry.after["responses"] == 3 and entry.after["file"] == "answers.csv" and len(entry.after["sha256"]) == 64


@pytest.mark.parametrize("bad_row, row, column, words", [
    ("C1,p9,7,2,,,,", 5, "sat", "请从给出的选项中选择"),
    ("C3,p9,4,2,,,,", 5, "community_code", "社区代码不对"),
    ("C1,p1,4,2,,,,", 5, "paper_serial", "和第 2 行的编号重复"),
    ("C1,p9,4,1,,,,", 5, "joined_sat", "这一题还没有选"),
    ("C1,p9,4,2,,,abc,", 5, "years", "请填写一个数字"),
])
def test_one_bad_row_stores_nothing_and_is_reported(as_role, world, bad_row, row, column, words):
    result = upload(as_role("street"), world.campaigns["A"].id, csv_bytes(*GOOD_ROWS, bad_row))
    html = result.get_data(as_text=True)
    assert result.status_code == 400
    assert f'<td class="n">{row}</td><td>{column}</td><td>' in html and words in html
    assert "没有导入任何回答" in html
    assert responses() == 0


def test_the_same_file_twice_is_refused(as_role, world):
    client = as_role("street")
    body = csv_bytes(*GOOD_ROWS)
    assert upload(client, world.campaigns["A"].id, body).status_code == 303
    again = upload(client, world.campaigns["A"].id, body)
    assert again.status_code == 400 and "已经" in again.get_data(as_text=True)
    assert responses() == 3


def test_excel_saved_csv_in_gb18030_is_read(as_role, world):
    result = upload(as_role("street"), world.campaigns["A"].id, csv_bytes(*GOOD_ROWS, encoding="gb18030"))
    assert result.status_code == 303
    assert db.session.scalar(sa.select(Answer.text).where(Answer.text == "路灯坏了")) == "路灯坏了"


def test_the_template_filled_in_as_xlsx_imports(as_role, world):
    client = as_role("street")
    campaign_id = world.campaigns["A"].id
    template = client.get(f"/staff/campaigns/{campaign_id}/import/template.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(template.data))
    assert [c.value for c in book["responses"][1]] == HEADER.split(",")
    codebook = {row[0]: row for row in book["codebook"].iter_rows(min_row=2, values_only=True)}
    assert "C1" in codebook["community_code"][3] and "C3" not in codebook["community_code"][3]
    assert "5=非常满意" in codebook["sat"][3] and "dk=不了解/说不清" in codebook["sat"][3]
    sheet = book["responses"]
    sheet.append(["C1", "x1", 5, 2, None, "wechat", 7, None])  # numbers typed as numbers in Excel
    buf = io.BytesIO()
    book.save(buf)
    assert upload(client, campaign_id, buf.getvalue(), "filled.xlsx").status_code == 303
    assert db.session.scalar(sa.select(Answer.value).where(Answer.item == "sat")) == "5"


@pytest.mark.parametrize("body, name, words", [
    (b"hello", "answers.txt", "只能导入 .xlsx 或 .csv"),
    (b"not a zip", "answers.xlsx", "文件打不开"),
    (HEADER.encode() + b"\n", "answers.csv", "没有数据行"),
    (b"community_code,favourite_colour\nC1,red\n", "answers.csv", "模板里没有这一列"),
])
def test_a_file_that_is_not_a_filled_template_is_explained(as_role, world, body, name, words):
    result = upload(as_role("admin"), world.campaigns["A"].id, body, name)
    assert result.status_code == 400 and words in result.get_data(as_text=True)
    assert responses() == 0


@pytest.mark.parametrize("role, status", [("admin", 303), ("street", 303), ("community", 400),
                                          ("evaluator", 403), ("outsider", 404)])
def test_who_may_import(as_role, world, role, status):
    """Community staff may import, but only rows of their own community (C2's row is refused)."""
    result = upload(as_role(role), world.campaigns["A"].id, csv_bytes(*GOOD_ROWS))
    assert result.status_code == status
    assert responses() == (3 if status == 303 else 0)
