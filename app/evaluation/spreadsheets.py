"""Tables as files evaluators open in Excel or WPS: CSV in UTF-8 with a byte-order mark (without
it Excel reads Chinese as mojibake) and XLSX workbooks of named sheets with a 说明 sheet.

Words that residents typed go into these files (and campaign, community and option names that
staff typed), and a spreadsheet runs a cell beginning with = as a formula (=HYPERLINK(…) sends
data away). Every value, header and note goes through one function per format: in XLSX, words
are written as text cells whatever they begin with; in CSV, which has no types, such words get a
leading apostrophe (OWASP's advice).

Workbooks are written row by row in openpyxl's write-only mode: a sheet of a city's responses
never sits in memory as cell objects, and writing it takes time in proportion to its cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

#: How a column of shares (0–1) is shown in Excel: as a percentage, the stored value unchanged.
PERCENT = "0.0%"
#: What a spreadsheet may take for the start of a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A value as a CSV cell: words that a spreadsheet would run as a formula get a leading '."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def as_csv(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(v) for v in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_cell(sheet, value, number_format: str | None = None):
    """A value as an XLSX cell of ``sheet`` (a write-only sheet): words always a text cell (never
    a formula, nor an error like #N/A), with the characters XML cannot hold left out; numbers as
    they are, in ``number_format`` when given."""
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"  # openpyxl would make "=…" a formula and "#N/A" an error
        return cell
    if number_format is None or value is None:
        return value
    cell = WriteOnlyCell(sheet, value)
    cell.number_format = number_format
    return cell


def new_workbook() -> Workbook:
    """An empty workbook: add_table and add_notes add its sheets (each written once, in order)."""
    return Workbook(write_only=True)


def _write(sheet, rows: Iterable[Sequence], number_formats: dict[int, str] | None = None) -> None:
    formats = number_formats or {}
    for row in rows:
        sheet.append([xlsx_cell(sheet, value, formats.get(column)) for column, value in enumerate(row)])


def add_table(book: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence],
              number_formats: dict[int, str] | None = None) -> None:
    """A sheet of one table: the header row frozen, columns sized to their names, and the
    0-based columns of ``number_formats`` shown in that format (e.g. PERCENT)."""
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for column, name in enumerate(header, start=1):  # before any row: a write-only sheet writes them first
        sheet.column_dimensions[get_column_letter(column)].width = max(8, min(30, 2 * len(str(name)) + 2))
    _write(sheet, [header])
    _write(sheet, rows, number_formats)


def add_notes(book: Workbook, lines: Sequence[Sequence[str]], title: str = "说明") -> None:
    """A sheet of (what, says) lines beside the tables: what the figures are, for the 档案."""
    notes = book.create_sheet(title)
    notes.column_dimensions["A"].width, notes.column_dimensions["B"].width = 18, 90
    _write(notes, lines)


def workbook_bytes(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
