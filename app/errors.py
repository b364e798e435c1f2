"""Error pages: Chinese words for people, JSON for the API, never a bare 500."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .extensions import db

#: What a person reads for each status.
MESSAGES = {
    400: ("提交的内容有误", "提交的内容有误，没有保存。请返回重新操作。"),
    401: ("需要登录", "请先登录再查看。"),
    403: ("没有权限", "您没有权限查看这个页面。"),
    404: ("找不到页面", "这个网址不对，或者页面已经不存在了。"),
    405: ("操作不对", "这个页面不能这样打开。"),
    409: ("有冲突", "这件事已经办过了。"),
    410: ("已经结束", "这个页面已经不再使用。"),
    413: ("内容太多", "提交的内容太多了，没有保存。请精简后再提交。"),
    429: ("太频繁了", "操作太频繁，请稍等一会儿再试。"),
    500: ("出错了", "系统出了点问题，您的操作没有完成。请稍后再试。"),
}


def wants_json() -> bool:
    """The API, and pages' scripts that ask for JSON (a meeting vote), get JSON errors."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


#: What a person reads when a change (not a page) is refused.
REFUSED_CHANGE = {403: "您没有权限做这件事，什么都没有改动。"}


def error_response(status: int, detail: str | None = None):
    """A Chinese error page, or {"error": …} JSON under /api/. ``detail`` (our own words,
    given to abort()) replaces the general message."""
    title, message = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    if request.method == "POST" and status in REFUSED_CHANGE:
        message = REFUSED_CHANGE[status]
    if wants_json():
        return jsonify(error={"status": status, "title": title, "message": detail or message}), status
    return render_template("error.html", title=title, message=detail or message), status


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(e):
        if request.path.startswith("/api/"):
            return error_response(400, "CSRF token missing or invalid")
        return error_response(400, "这个页面打开太久或已经过期，刚才的内容没有保存。请刷新页面后重新提交。")

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        # Werkzeug's English descriptions are for machines; the words we pass to abort() are
        # always Chinese, and only those are shown to a person.
        ours = isinstance(e.description, str) and not e.description.isascii()
        return error_response(e.code or 500, e.description if wants_json() or ours else None)

    @app.errorhandler(Exception)
    def server_error(e: Exception):
        # Roll back so the failed request leaves nothing half-written and the session is usable.
        db.session.rollback()
        app.logger.exception("unhandled error")
        return error_response(500)
