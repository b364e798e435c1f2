"""Importing responses from a CSV or XLSX file: every row checked, all stored or none.

Rows are checked with the same form a resident fills in, so an imported answer obeys
exactly the rules of a typed one. Each row's submission id is derived from the file's
hash and the row number: importing the same file again is refused, never counted twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
from dataclasses import dataclass, field

import openpyxl
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from ..definitions import SurveyDefinition
from ..definitions.forms import make_survey_form
from ..evaluation import tallies
from ..extensions import db
from ..models import Answer, Campaign, Channel, Region, Response
from ..models.types import utcnow
from ..submissions import quality_flags_at_submit

COMMUNITY_COLUMN = "community_code"
SERIAL_COLUMN = "paper_serial"
#: Rows one import may hold.
MAX_ROWS = 20_000
SERIAL_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def canonical_serial(serial: str) -> str:
    """The one way a paper's number is kept, so the same paper typed as "0042" and "42", or
    "a7" and "A7", is one paper: letters in upper case, leading zeros of a number dropped."""
    serial = serial.strip().upper()
    return str(int(serial)) if serial.isdigit() and serial.isascii() else serial


@dataclass(frozen=True)
class RowProblem:
    row: int          # as the spreadsheet numbers it (the header is row 1)
    column: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    stored: int = 0


def template_columns(definition: SurveyDefinition) -> list[str]:
    return [COMMUNITY_COLUMN, SERIAL_COLUMN] + [item.key for item in definition.items]


def template_xlsx(definition: SurveyDefinition, community_codes: list[str]) -> bytes:
    """A workbook to fill in: the columns, one example row, and a codebook sheet."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "responses"
    sheet.append(template_columns(definition))
    codebook = book.create_sheet("codebook")
    codebook.append(["列名", "题目", "类型", "可填的值"])
    codebook.append([COMMUNITY_COLUMN, "社区代码（必填）", "", "、".join(community_codes)])
    codebook.append([SERIAL_COLUMN, "纸质问卷编号（可不填；填了可以防止重复导入同一份）", "", "数字、字母、- 或 _"])
    for item in definition.items:
        if item.choices:
            values = "；".join(f"{c.code}={c.label}" for c in item.choices)
            if item.type == "multiple":
                values += "（多选：几个代码用空格隔开）"
        elif item.type == "number":
            values = "数字" + (f"（{item.unit}）" if item.unit else "")
        else:
            values = f"文字，最多 {item.max_length} 字"
        condition = ""
        if item.show_if:
            condition = f"（仅当 {item.show_if.item} 为 {'/'.join(sorted(item.show_if.values))} 时填写）"
        codebook.append([item.key, item.text + ("（必答）" if item.required else "") + condition, item.type, values])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def read_rows(filename: str, data: bytes, sheet_name: str = "responses") -> list[dict[str, str]]:
    """The rows of a CSV (UTF-8, with or without BOM, or GB18030 as Excel saves it) or XLSX file,
    as {header: text}; blank rows skipped."""
    if filename.lower().endswith(".xlsx"):
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book[sheet_name] if sheet_name in book.sheetnames else book.worksheets[0]
        values = [["" if v is None else _cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    elif filename.lower().endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValueError("文件的文字编码无法识别，请另存为 UTF-8 编码的 CSV 或 XLSX。")
        values = list(csv.reader(io.StringIO(text)))
    else:
        raise ValueError("只能导入 .xlsx 或 .csv 文件。")
    if not values:
        raise ValueError("文件是空的。")
    header = [str(h).strip() for h in values[0]]
    # Blank header cells (a trailing comma, a styled cell past the template in Excel/WPS) are no columns.
    columns = [i for i, name in enumerate(header) if name]
    rows = []
    for row in values[1:]:
        cells = [str(v).strip() for v in row]
        if any(cells):
            if any(CONTROL_CHARACTERS.search(c) for c in cells):
                raise ValueError(f"第 {len(rows) + 2} 行里有无法保存的特殊符号。")
            rows.append({header[i]: (cells[i] if i < len(cells) else "") for i in columns})
    if len(rows) > MAX_ROWS:
        raise ValueError(f"一次最多导入 {MAX_ROWS} 行。")
    return rows


def _cell_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_and_store(campaign: Campaign, communities: dict[str, Region], filename: str, data: bytes,
                    entered_by_id: int) -> ImportReport:
    """Check every row; store them all in one transaction only if none has a problem."""
    report = ImportReport()
    definition = campaign.survey_version.survey_definition
    try:
        rows = read_rows(filename, data)
    except (ValueError, KeyError, OSError, csv.Error, openpyxl.utils.exceptions.InvalidFileException) as e:
        message = str(e) if isinstance(e, ValueError) and str(e) else "文件打不开：请用模板另存为 .xlsx 或 .csv。"
        report.problems.append(RowProblem(1, "", message))
        return report
    except Exception:  # a damaged workbook can fail deep inside openpyxl
        report.problems.append(RowProblem(1, "", "文件打不开：请用模板另存为 .xlsx 或 .csv。"))
        return report
    report.rows = len(rows)
    expected = set(template_columns(definition))
    header = set(rows[0]) if rows else expected
    for missing in sorted({COMMUNITY_COLUMN} - header):
        report.problems.append(RowProblem(1, missing, "缺少这一列。"))
    for unknown in sorted(header - expected):
        report.problems.append(RowProblem(1, unknown, "模板里没有这一列（请用下载的模板）。"))
    if report.problems or not rows:
        if not rows:
            report.problems.append(RowProblem(2, "", "文件里没有数据行。"))
        return report

    digest = hashlib.sha256(data).hexdigest()
    form_class = make_survey_form(definition)
    prepared, serials = [], {}
    for number, row in enumerate(rows, start=2):
        community = communities.get(row.get(COMMUNITY_COLUMN, ""))
        if community is None:
            report.problems.append(RowProblem(number, COMMUNITY_COLUMN, "社区代码不对，或者不在本次调查/您的辖区里。"))
        serial = row.get(SERIAL_COLUMN, "") or None
        if serial is not None:
            if SERIAL_RE.fullmatch(serial):
                serial = canonical_serial(serial)
            key = (row.get(COMMUNITY_COLUMN, ""), serial)  # numbers are per community
            if not SERIAL_RE.fullmatch(serial):
                report.problems.append(RowProblem(number, SERIAL_COLUMN, "问卷编号只能是数字、字母、- 或 _，最多 32 位。"))
            elif key in serials:
                report.problems.append(RowProblem(number, SERIAL_COLUMN, f"和第 {serials[key]} 行的编号重复。"))
            serials.setdefault(key, number)
        formdata = MultiDict()
        for item in definition.items:
            value = row.get(item.key, "")
            if item.type == "multiple":
                for code in re.split(r"[\s,，、]+", value):
                    if code:
                        formdata.add(item.key, code)
            elif value != "":
                formdata.add(item.key, value)
        form = form_class(formdata=formdata, meta={"csrf": False})
        if not form.validate():
            for key, errors in form.errors.items():
                report.problems.append(RowProblem(number, key, errors[0]))
            continue
        if community is not None:
            answers = form.answer_rows()
            prepared.append((number, community, serial, answers))

    codes = {r.id: code for code, r in communities.items()}
    taken = {(codes.get(community_id), serial) for community_id, serial in db.session.execute(
        sa.select(Response.community_id, Response.paper_serial).where(
            Response.campaign_id == campaign.id,
            Response.paper_serial.in_([serial for _code, serial in serials])))} if serials else set()
    for key in sorted(taken & set(serials)):
        report.problems.append(RowProblem(serials[key], SERIAL_COLUMN, f"编号 {key[1]} 的问卷已经在系统里了。"))
    submission_ids = {number: uuid.UUID(hashlib.sha256(f"{campaign.id}:{digest}:{number}".encode()).hexdigest()[:32]).hex
                      for number, *_ in prepared}
    if submission_ids and db.session.scalar(sa.select(sa.func.count(Response.id)).where(
            Response.submission_id.in_(list(submission_ids.values())))):
        report.problems.append(RowProblem(1, "", "这个文件已经导入过了，没有重复导入。"))
    if report.problems:
        report.problems.sort(key=lambda p: (p.row, p.column))
        return report

    now = utcnow()
    table = Response.__table__
    ids = db.session.execute(
        sa.insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [{"campaign_id": campaign.id, "community_id": community.id, "site_id": None, "channel": Channel.IMPORT,
          "started_at": None, "submitted_at": now, "submission_id": submission_ids[number], "device_hash": None,
          "network_hash": None, "once_key": None, "entered_by_id": entered_by_id, "paper_serial": serial,
          "quality_flags": int(quality_flags_at_submit(definition, answers))}
         for number, community, serial, answers in prepared]).scalars().all()
    answer_rows = [{"response_id": rid, "item": item, "value": value, "number": num, "text": text,
                    "campaign_id": campaign.id, "community_id": community.id}
                   for rid, (_n, community, _s, answers) in zip(ids, prepared)
                   for item, (value, num, text) in answers]
    for start in range(0, len(answer_rows), 5000):
        db.session.execute(sa.insert(Answer.__table__), answer_rows[start:start + 5000])
    tallies.add_counts(tallies.count_rows(answer_rows))
    report.stored = len(ids)
    return report
