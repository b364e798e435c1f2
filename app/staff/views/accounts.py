"""Staff accounts: creating, disabling and enabling them, and resetting passwords."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_user
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from ...extensions import db
from ...models import Account, Region, Role
from ...models.accounts import ROLE_LEVELS
from .. import bp, operations, scope
from ..forms import AccountForm, PasswordResetForm
from .common import admin_only, form_errors


def _accounts_in_scope():
    return db.session.scalars(sa.select(Account).where(
        Account.region_id.in_(scope.region_ids_under(current_user.region_id)))
        .options(joinedload(Account.region)).order_by(Account.username)).all()


def _account_or_404(account_id: int) -> Account:
    account = db.session.get(Account, account_id) if 0 < account_id < 2**31 else None
    if account is None or not scope.covers(current_user, account.region):
        abort(404)
    return account


@bp.route("/accounts", methods=["GET", "POST"])
@admin_only
def accounts():
    form = AccountForm()
    regions = db.session.scalars(sa.select(Region).where(Region.id.in_(scope.region_ids_under(current_user.region_id)))
                                 .order_by(Region.code)).all()
    form.role.choices = [SelectChoice(r.value, r.label) for r in Role]
    form.region.choices = [SelectChoice(r.id, f"{r.name}（{r.level.label}）") for r in regions]
    if form.validate_on_submit():
        region = next(r for r in regions if r.id == form.region.data)
        role = Role(form.role.data)
        if db.session.scalar(sa.select(Account.id).where(Account.username == form.username.data.strip())):
            form.username.errors.append("这个用户名已经有人用了。")
        elif region.level not in ROLE_LEVELS[role]:
            form.region.errors.append(f"{role.label}要选“{'或'.join(level.label for level in ROLE_LEVELS[role])}”一级的区域。")
        else:
            operations.create_account(form.username.data.strip(), form.display_name.data.strip(), form.password.data,
                                      role, region)
            db.session.commit()
            flash(f"账号 {form.username.data.strip()} 已建好，请把用户名和初始密码当面告诉本人。")
            return redirect(url_for("staff.accounts"), 303)
    status = 400 if form.errors or any(f.errors for f in form) else 200
    return render_template("staff/accounts.html", accounts=_accounts_in_scope(), form=form,
                           reset_form=PasswordResetForm(formdata=None)), status


@bp.post("/accounts/<int:account_id>/<any(disable, enable):action>")
@admin_only
def account_active(account_id: int, action: str):
    account = _account_or_404(account_id)
    if account.id == current_user.id:
        flash("不能停用自己的账号。")
    else:
        operations.set_account_active(account, action == "enable")
        db.session.commit()
        flash(f"账号 {account.username} 已{'启用' if action == 'enable' else '停用'}。")
    return redirect(url_for("staff.accounts"), 303)


@bp.post("/accounts/<int:account_id>/password")
@admin_only
def account_password(account_id: int):
    account = _account_or_404(account_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        operations.reset_password(account, form.password.data)
        db.session.commit()
        if account.id == current_user.id:
            login_user(account)  # one's own sessions elsewhere end; this one goes on
        flash(f"账号 {account.username} 的密码已重设，用旧密码登录的地方都已退出。")
    else:
        flash("密码没有改：" + form_errors(form))
    return redirect(url_for("staff.accounts"), 303)
