"""How long a print run of tickets takes to become a PDF, and what it weighs.

Builds the largest batch a staff member can ask for (MAX_TICKETS_PER_BATCH slips) the way
the app does (QR codes drawn as vector squares), and, for comparison in the same run, the
way it did before (one PNG image per QR code). Prints seconds, bytes and the ratio.

    .venv/bin/python bench/ticket_sheets.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qrcode  # noqa: E402
from qrcode.constants import ERROR_CORRECT_M  # noqa: E402
from reportlab.lib.utils import ImageReader  # noqa: E402

from app.staff import printing  # noqa: E402
from app.staff.operations import MAX_TICKETS_PER_BATCH  # noqa: E402


def _as_image(c, url, x, y, side):
    """The earlier way: a PNG per code, placed as an image."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=2)
    code.add_data(url)
    code.make(fit=True)
    c.drawImage(ImageReader(code.make_image().get_image()), x, y, side, side)


def timed(slips) -> tuple[float, int]:
    start = time.perf_counter()
    pdf = printing.tickets_pdf(slips)
    return time.perf_counter() - start, len(pdf)


def main() -> None:
    slips = [printing.Slip("2026年社区治理群众满意度测评", "华山街道 翠湖社区",
                           f"https://minyi.example.cn/t/{n:022d}", f"17-{n:03d}")
             for n in range(1, MAX_TICKETS_PER_BATCH + 1)]
    vector_s, vector_b = timed(slips)
    drawn = printing._draw_qr
    printing._draw_qr = _as_image
    try:
        image_s, image_b = timed(slips)
    finally:
        printing._draw_qr = drawn
    pages = -(-len(slips) // (printing.COLUMNS * printing.ROWS))
    print(f"{len(slips)} slips on {pages} A4 sheets")
    print(f"{'QR codes as':<14}{'seconds':>9}{'bytes':>11}")
    print(f"{'vector':<14}{vector_s:>9.2f}{vector_b:>11}")
    print(f"{'PNG images':<14}{image_s:>9.2f}{image_b:>11}")
    print(f"vector takes {vector_s / image_s:.0%} of the time and {vector_b / image_b:.0%} of the bytes")


if __name__ == "__main__":
    main()
