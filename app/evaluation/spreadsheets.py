"""Tables as files evaluators open in Excel or WPS: CSV in UTF-8 with a byte-order mark (without
it Excel reads Chinese as mojibake) and XLSX workbooks of named sheets with a 说明 sheet.

Words that residents typed go into these files, and a spreadsheet runs a cell beginning with = as
a formula (=HYPERLINK(…) sends data away). XLSX cells are written as text whatever they begin
with; in CSV, which has no types, such words get a leading apostrophe (OWASP's advice).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

#: How a column of shares (0–1) is shown in Excel: as a percentage, the stored value unchanged.
PERCENT = "0.0%"
#: What a spreadsheet may take for the start of a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def as_csv(header: Sequence[str], rows: Sequence[Sequence]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[_csv_cell(v) for v in row] for row in rows])
    return out.getvalue().encode("utf-8-sig")


def new_workbook() -> Workbook:
    """An empty workbook: add_table and add_notes add its sheets."""
    book = Workbook()
    book.remove(book.active)
    return book


def add_table(book: Workbook, title: str, header: Sequence[str], rows: Sequence[Sequence],
              number_formats: dict[int, str] | None = None) -> None:
    """A sheet of one table: the header row frozen, columns sized to their names, and the
    0-based columns of ``number_formats`` shown in that format (e.g. PERCENT)."""
    sheet = book.create_sheet(title)
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.data_type == "f":  # words, never a formula
                cell.data_type = "s"
    sheet.freeze_panes = "A2"
    for column, name in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = max(8, min(30, 2 * len(str(name)) + 2))
    for column, number_format in (number_formats or {}).items():
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.number_format = number_format


def add_notes(book: Workbook, lines: Sequence[Sequence[str]], title: str = "说明") -> None:
    """A sheet of (what, says) lines beside the tables: what the figures are, for the 档案."""
    notes = book.create_sheet(title)
    for line in lines:
        notes.append(list(line))
    notes.column_dimensions["A"].width, notes.column_dimensions["B"].width = 18, 90


def workbook_bytes(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
