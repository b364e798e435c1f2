"""Print files: A4 posters for sites, and sheets of single-use ticket slips with cut lines.

reportlab with its built-in CJK font (STSong-Light, an Adobe CID font every PDF reader
knows), so nothing is downloaded and no font file is shipped.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

POSTER_HOWTO = "用手机微信“扫一扫”下面的二维码，就能填写问卷。"
POSTER_PROMISE = "不用写名字，大约需要 5 分钟。您的意见会用来评价和改进社区工作。"
#: The words beside a slip's QR code, one line each.
SLIP_LINES = ("请用手机微信", "扫码填写问卷。", "每张票只能用一次，", "不用写名字。")


@dataclass(frozen=True)
class Poster:
    title: str
    community: str
    site: str
    url: str


@dataclass(frozen=True)
class Slip:
    title: str
    community: str
    url: str
    #: A short number printed on the slip, so staff can tell slips apart.
    serial: str


def _draw_qr(c: canvas.Canvas, url: str, x: float, y: float, side: float) -> None:
    """A QR code as vector squares (sharp at any print resolution, and much cheaper than an
    image per code): each run of dark modules in a row is one rectangle."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=2)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()  # with the quiet zone (border) included
    module = side / len(matrix)
    path = c.beginPath()
    for row, cells in enumerate(matrix):
        top = y + side - (row + 1) * module
        col = 0
        while col < len(cells):
            if cells[col]:
                start = col
                while col < len(cells) and cells[col]:
                    col += 1
                path.rect(x + start * module, top, (col - start) * module, module)
            else:
                col += 1
    c.saveState()
    c.setFillGray(0)
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()


def _fit(c: canvas.Canvas, text: str, size: float, width: float) -> float:
    """The largest font size up to ``size`` at which text fits in width."""
    while size > 8 and pdfmetrics.stringWidth(text, FONT, size) > width:
        size -= 1
    return size


def posters_pdf(posters: list[Poster]) -> bytes:
    """One A4 page per poster: title, community and site, how to answer, a large QR code, the URL."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle("考评点二维码海报")
    width, height = A4
    margin = 50
    for poster in posters:
        c.setFont(FONT, _fit(c, poster.title, 30, width - 2 * margin))
        c.drawCentredString(width / 2, height - 95, poster.title)
        where = f"{poster.community} · {poster.site}"
        c.setFont(FONT, _fit(c, where, 20, width - 2 * margin))
        c.drawCentredString(width / 2, height - 135, where)
        c.setFont(FONT, _fit(c, POSTER_HOWTO, 17, width - 2 * margin))
        c.drawCentredString(width / 2, height - 185, POSTER_HOWTO)
        side = 340
        _draw_qr(c, poster.url, (width - side) / 2, height - 215 - side, side)
        c.setFont(FONT, _fit(c, POSTER_PROMISE, 14, width - 2 * margin))
        c.drawCentredString(width / 2, height - 250 - side, POSTER_PROMISE)
        c.setFont("Helvetica", _fit(c, poster.url, 11, width - 2 * margin))
        c.drawCentredString(width / 2, height - 280 - side, poster.url)
        c.showPage()
    c.save()
    return buf.getvalue()


#: Slips per A4 sheet: 2 across, 4 down.
COLUMNS, ROWS = 2, 4


def tickets_pdf(slips: list[Slip]) -> bytes:
    """Slips 2 × 4 to an A4 sheet, with dashed cut lines between them."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle("随机发放问卷票")
    width, height = A4
    cell_w, cell_h = width / COLUMNS, height / ROWS
    per_page = COLUMNS * ROWS
    for start in range(0, len(slips), per_page):
        _cut_lines(c, width, height, cell_w, cell_h)
        for index, slip in enumerate(slips[start:start + per_page]):
            col, row = index % COLUMNS, index // COLUMNS
            x, top = col * cell_w, height - row * cell_h
            _slip(c, slip, x, top, cell_w, cell_h)
        c.showPage()
    c.save()
    return buf.getvalue()


def _cut_lines(c: canvas.Canvas, width: float, height: float, cell_w: float, cell_h: float) -> None:
    c.saveState()
    c.setDash(4, 4)
    c.setLineWidth(0.5)
    c.setStrokeGray(0.45)
    for col in range(1, COLUMNS):
        c.line(col * cell_w, 0, col * cell_w, height)
    for row in range(1, ROWS):
        c.line(0, row * cell_h, width, row * cell_h)
    c.restoreState()


def _slip(c: canvas.Canvas, slip: Slip, x: float, top: float, cell_w: float, cell_h: float) -> None:
    pad = 14
    inner = cell_w - 2 * pad
    c.setFont(FONT, _fit(c, slip.title, 13, inner))
    c.drawString(x + pad, top - pad - 13, slip.title)
    c.setFont(FONT, _fit(c, slip.community, 11, inner))
    c.drawString(x + pad, top - pad - 30, slip.community)
    qr_top = top - pad - 42
    side = cell_h - 2 * pad - 50
    _draw_qr(c, slip.url, x + pad, qr_top - side, side)
    text_x = x + pad + side + 8
    c.setFont(FONT, 11)
    for line, text in enumerate(SLIP_LINES):
        c.drawString(text_x, qr_top - 18 - line * 17, text)
    c.setFont("Helvetica", 9)
    c.drawString(text_x, qr_top - side + 4, f"No. {slip.serial}")
