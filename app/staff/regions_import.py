"""Importing a district's streets and communities from a spreadsheet: all rows or none.

Columns: code, name, parent_code, households, kind. A row whose parent is the district is a
street; a row whose parent is a street is a community. A parent must exist already or come
earlier in the file. An existing code updates that region's name, households and kind (its
parent never moves); every creation and change is audited.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import openpyxl
import sqlalchemy as sa

from .. import audit
from ..extensions import db
from ..models import Account, CommunityKind, Region, RegionLevel
from .imports import RowProblem, read_rows
from .operations import add_region
from .scope import region_ids_under

COLUMNS = ["code", "name", "parent_code", "households", "kind"]
KIND_WORDS = {"城市社区": CommunityKind.URBAN, "urban": CommunityKind.URBAN,
              "村改居": CommunityKind.VILLAGE, "village": CommunityKind.VILLAGE}
CHILD_LEVEL = {RegionLevel.DISTRICT: RegionLevel.STREET, RegionLevel.STREET: RegionLevel.COMMUNITY}
EXAMPLE = [["530102001", "华山街道", "530102", "", ""],
           ["530102001001", "翠湖社区", "530102001", "3200", "城市社区"],
           ["530102001002", "文林社区", "530102001", "1800", "村改居"]]


@dataclass
class RegionImport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    problems: list[RowProblem] = field(default_factory=list)


def template_xlsx(district: Region) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "regions"
    sheet.append(COLUMNS)
    for row in EXAMPLE:
        sheet.append([row[0].replace("530102", district.code, 1), row[1], row[2].replace("530102", district.code, 1),
                      row[3], row[4]])
    notes = book.create_sheet("说明")
    for line in (["列名", "说明"], ["code", "区域代码，唯一（如行政区划代码）"], ["name", "街道或社区的名称"],
                 ["parent_code", f"上级代码：街道填本区代码 {district.code}，社区填所属街道的代码"],
                 ["households", "社区户数（街道不填），用来算目标样本量"], ["kind", "社区类型：城市社区 或 村改居（街道不填）"],
                 ["", "示例行可以删掉或改掉。上级要先有，或写在前面的行里。"]):
        notes.append(line)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def import_regions(district: Region, filename: str, data: bytes, actor: Account) -> RegionImport:
    """Check every row; create and update them all only if none has a problem (caller commits)."""
    report = RegionImport()
    try:
        rows = read_rows(filename, data, sheet_name="regions")
    except (ValueError, KeyError, OSError, csv.Error) as e:
        report.problems.append(RowProblem(1, "", str(e) if isinstance(e, ValueError) and str(e) else "文件打不开。"))
        return report
    except Exception:  # a damaged workbook can fail deep inside openpyxl
        report.problems.append(RowProblem(1, "", "文件打不开：请用模板另存为 .xlsx 或 .csv。"))
        return report
    report.rows = len(rows)
    if not rows:
        report.problems.append(RowProblem(2, "", "文件里没有数据行。"))
        return report
    for missing in [c for c in ("code", "name", "parent_code") if c not in rows[0]]:
        report.problems.append(RowProblem(1, missing, "缺少这一列。"))
    if report.problems:
        return report

    in_district = {r.code: r for r in db.session.scalars(
        sa.select(Region).where(Region.id.in_(region_ids_under(district.id))))}
    codes_elsewhere = set(db.session.scalars(sa.select(Region.code).where(
        Region.code.in_([row.get("code", "") for row in rows]), Region.id.not_in(region_ids_under(district.id)))))
    levels = {code: region.level for code, region in in_district.items()}
    plan, seen_codes = [], {}
    for number, row in enumerate(rows, start=2):
        code, name, parent_code = row.get("code", ""), row.get("name", ""), row.get("parent_code", "")
        problems_before = len(report.problems)
        if code in seen_codes:
            report.problems.append(RowProblem(number, "code", f"和第 {seen_codes[code]} 行的代码重复。"))
        seen_codes.setdefault(code, number)
        if not code or len(code) > 32:
            report.problems.append(RowProblem(number, "code", "请填写代码（最多 32 位）。"))
        elif code in codes_elsewhere:
            report.problems.append(RowProblem(number, "code", "这个代码已经属于别的区。"))
        if not name or len(name) > 100:
            report.problems.append(RowProblem(number, "name", "请填写名称（最多 100 字）。"))
        parent_level = levels.get(parent_code)
        if parent_level not in CHILD_LEVEL:
            report.problems.append(RowProblem(number, "parent_code", "上级代码不对：应是本区或本区的一个街道（写在前面的行里也可以）。"))
            continue
        level = CHILD_LEVEL[parent_level]
        households, kind = row.get("households", ""), row.get("kind", "")
        if level is RegionLevel.COMMUNITY:
            if households and (not (households.isascii() and households.isdigit()) or int(households) > 10_000_000):
                report.problems.append(RowProblem(number, "households", "户数请填一个整数。"))
            if kind and kind not in KIND_WORDS:
                report.problems.append(RowProblem(number, "kind", "社区类型请填“城市社区”或“村改居”。"))
        elif households or kind:
            report.problems.append(RowProblem(number, "households" if households else "kind", "街道不填户数和社区类型。"))
        existing = in_district.get(code)
        if existing is not None and (existing.level is not level or existing.parent.code != parent_code):
            report.problems.append(RowProblem(number, "parent_code", "这个区域已经在别的上级下面，导入不会移动它。"))
        if len(report.problems) == problems_before:
            levels[code] = level
            plan.append((code, name, parent_code, level, int(households) if households else None,
                         KIND_WORDS.get(kind) if kind else None))
    if report.problems:
        return report

    by_code = dict(in_district)
    for code, name, parent_code, level, households, kind in plan:
        region = by_code.get(code)
        if region is None:
            by_code[code] = add_region(code, name, level, by_code[parent_code],
                                       households=households if level is RegionLevel.COMMUNITY else None,
                                       kind=kind if level is RegionLevel.COMMUNITY else None, actor=actor)
            report.created += 1
            continue
        fields = ("name", "households", "kind")
        before = audit.snapshot(region, fields)
        region.name = name
        # An empty cell (or a missing column) keeps what is there; it never erases it.
        if level is RegionLevel.COMMUNITY:
            if households is not None:
                region.households = households
            if kind is not None:
                region.kind = kind
        after = audit.snapshot(region, fields)
        if after != before:
            audit.record("edit", "region", region.id, actor=actor, before=before, after=after)
            report.updated += 1
    return report
