"""Logging in and out."""

from __future__ import annotations

import hmac
import re

import sqlalchemy as sa
from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from ... import audit
from ...extensions import db, limiter, login_manager
from ...models import Account
from .. import bp
from ..forms import LoginForm

login_manager.login_view = "staff.login"
login_manager.login_message = "请先登录。"
login_manager.session_protection = "basic"

#: Checked when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


#: Control characters (other than tab and line breaks): PostgreSQL cannot store NUL, and none
#: belongs in anything staff type.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@bp.before_request
def refuse_control_characters():
    for value in list(request.args.values()) + list(request.form.values()):
        if CONTROL_CHARACTERS.search(value):
            abort(400, "内容里有无法保存的特殊符号。")


@login_manager.user_loader
def load_account(session_id: str) -> Account | None:
    """The account a session belongs to, unless it was disabled or its password reset since."""
    account_id, _, key = session_id.partition(":")
    account = db.session.get(Account, int(account_id)) if account_id.isdigit() and len(account_id) < 12 else None
    if account is None or not account.active or not hmac.compare_digest(key, account.session_key):
        return None
    return account


def _failed_login(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_FAILURE_LIMIT"], methods=["POST"], deduct_when=_failed_login)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        account = db.session.scalar(sa.select(Account).where(Account.username == form.username.data.strip()))
        if account is None:
            check_password_hash(_DUMMY_HASH, form.password.data)
        elif account.active and account.check_password(form.password.data):
            login_user(account)
            audit.record("login", "account", account.id, actor=account)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")), 303)
        return make_response(render_template("staff/login.html", form=form, failed=True), 401)
    return render_template("staff/login.html", form=form, failed=False), 400 if form.errors else 200


def _safe_next(target: str | None) -> str:
    # Only our own staff pages: never an address on another site.
    if target and target.startswith("/staff/") and "//" not in target and "\\" not in target \
            and target.isascii() and not re.search(r"[\x00-\x20\x7f]", target):  # no spaces, no line breaks
        return target
    return url_for("staff.home")


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("staff.login"), 303)

