"""A meeting's record for the archive: attendance, every question with its counts by
source (phones, hands), and times; as XLSX (for Excel/WPS) and PDF (to print and file)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import openpyxl
from openpyxl.styles import Font
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ..staff.printing import FONT
from .queries import QuestionResult

SOURCES = "手机投票和举手分开记，合计为两者之和。"


@dataclass(frozen=True)
class MeetingRecord:
    community: str
    topic: str
    place: str
    starts_at: str          # China time, as shown
    ended_at: str | None
    attendance: int
    join_code: str
    results: list[QuestionResult]
    made_at: str


def _question_rows(result: QuestionResult) -> list[list]:
    q = result.question
    return [[q.position, q.text, o.label, o.phones, o.hands, o.total] for o in result.options]


def record_xlsx(record: MeetingRecord) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "会议记录"
    for row in (["社区", record.community], ["议题", record.topic], ["地点", record.place],
                ["开始时间", record.starts_at], ["结束时间", record.ended_at or "未结束"],
                ["到场人数", record.attendance], ["投票码", record.join_code], ["导出时间", record.made_at], []):
        sheet.append(row)
    header = ["题号", "问题", "选项", "手机投票", "举手", "合计"]
    sheet.append(header)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for result in record.results:
        for row in _question_rows(result):
            sheet.append(row)
        sheet.append([result.question.position, result.question.text, "小计", result.phones, result.hands,
                      result.total])
    sheet.append([])
    sheet.append([SOURCES])
    sheet.column_dimensions["B"].width = 40
    sheet.column_dimensions["C"].width = 16
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def record_pdf(record: MeetingRecord) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle(f"坝坝会记录 {record.topic}")
    width, height = A4
    left, y = 50, height - 60

    def line(text: str, size: float = 11, indent: float = 0, gap: float = 18) -> None:
        nonlocal y
        if y < 60:
            c.showPage()
            y = height - 60
        c.setFont(FONT, size)
        c.drawString(left + indent, y, text)
        y -= gap

    line(f"坝坝会记录：{record.topic}", 16, gap=26)
    line(f"社区：{record.community}　地点：{record.place}")
    line(f"开始：{record.starts_at}　结束：{record.ended_at or '未结束'}　到场：{record.attendance} 人")
    line(f"导出时间：{record.made_at}　{SOURCES}", 9, gap=24)
    columns = (("手机", 330), ("举手", 390), ("合计", 450))  # right edges of the number columns

    def row(label: str, numbers: tuple[int, ...] | None, bold: bool = False) -> None:
        nonlocal y
        if y < 60:
            c.showPage()
            y = height - 60
        c.setFont(FONT, 10)
        c.drawString(left + 14, y, label[:30])
        for (header, x), value in zip(columns, numbers or (None,) * 3):
            c.drawRightString(x, y, header if numbers is None else str(value))
        y -= 16

    for result in record.results:
        q = result.question
        line(f"{q.position}. {q.text}", 12, gap=20)
        row("选项", None)
        for o in result.options:
            row(o.label, (o.phones, o.hands, o.total))
        row("合计", (result.phones, result.hands, result.total))
        y -= 10
    c.save()
    return buf.getvalue()
