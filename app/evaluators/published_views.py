"""Publishing a campaign's satisfaction rates to residents (/results/<id>), or withdrawing them."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..evaluation.published import NotPublishable, set_published
from ..extensions import db
from ..models import Role
from ..staff.forms import StaffForm
from . import bp
from .access import read_scope


@bp.post("/campaigns/<int:campaign_id>/publish")
@login_required
def publish(campaign_id: int):
    """publish=1 makes the satisfaction rates public, publish=0 withdraws them: the district's admin
    covering every community of the campaign decides, audited. Only a closed campaign is published;
    otherwise the page says why and nothing changes."""
    scope = read_scope(campaign_id)
    if current_user.role is not Role.ADMIN or not scope.covers_all:
        abort(403)
    form = StaffForm()
    if not form.validate() or request.form.get("publish") not in ("0", "1"):
        abort(400)
    publishing = request.form["publish"] == "1"
    try:
        changed = set_published(scope.campaign, publishing)
    except NotPublishable as refused:
        db.session.rollback()
        flash(str(refused))
        return redirect(url_for("staff.campaign", campaign_id=campaign_id), 303)
    if changed:
        db.session.commit()
        flash("满意率结果已公布，居民不用登录就能看到。" if publishing else "已撤回公布，居民看不到结果了。")
    return redirect(url_for("staff.campaign", campaign_id=campaign_id), 303)
