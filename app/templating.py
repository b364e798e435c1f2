"""Template helpers: versioned static URLs, Chinese dates, paragraphs."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, request, url_for
from markupsafe import Markup, escape

#: Residents and staff read times in China Standard Time.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def register(app: Flask) -> None:
    static_root = Path(app.static_folder)

    @lru_cache(maxsize=None)
    def _version(filename: str) -> str:
        return hashlib.sha256((static_root / filename).read_bytes()).hexdigest()[:10]

    def asset(filename: str) -> str:
        # The content hash in the URL lets browsers keep the file for a year, and a
        # changed file gets a new URL.
        return url_for("static", filename=filename, v=_version(filename))

    app.jinja_env.globals["asset"] = asset

    @app.after_request
    def cache_versioned_assets(response):
        # A URL carrying the file's content hash never changes meaning: keep it a year.
        if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
            response.cache_control.public = True
            response.cache_control.max_age = 365 * 24 * 3600
            response.cache_control.immutable = True
            response.cache_control.no_cache = None
        return response
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["paragraphs"] = paragraphs


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    t = value.astimezone(LOCAL_TZ)
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"


def paragraphs(text: str) -> Markup:
    parts = [p.strip() for p in str(text).split("\n") if p.strip()]
    return Markup("".join(f"<p>{escape(p)}</p>" for p in parts))
