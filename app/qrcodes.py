"""QR codes for sites: PNG through Pillow for screens, SVG for print."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M


def site_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/s/{token}"


def _make(url: str, **kwargs) -> qrcode.QRCode:
    # Level M survives about 15 % damage: enough for a poster that gets scuffed or rained on.
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4, **kwargs)
    code.add_data(url)
    code.make(fit=True)
    return code


def png(url: str) -> bytes:
    buf = io.BytesIO()
    _make(url).make_image().save(buf, format="PNG")
    return buf.getvalue()


def svg(url: str) -> bytes:
    buf = io.BytesIO()
    _make(url, image_factory=qrcode.image.svg.SvgPathImage).make_image().save(buf)
    return buf.getvalue()


def write(url: str, path: str) -> None:
    """Write a PNG or SVG, chosen by the file's extension."""
    data = svg(url) if path.lower().endswith(".svg") else png(url)
    with open(path, "wb") as f:
        f.write(data)
