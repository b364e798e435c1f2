"""Sites (考评点) of a community: listing, adding, renaming, retiring and restoring them."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ...extensions import db
from ...models import Region, RegionLevel, Site
from ...models.types import utcnow
from .. import bp, once, operations, scope
from ..forms import SiteForm, SiteRenameForm
from .common import form_errors, may_change


@bp.route("/communities/<int:community_id>/sites", methods=["GET", "POST"])
@login_required
def sites(community_id: int):
    community = db.session.get(Region, community_id) if 0 < community_id < 2**31 else None
    if community is None or community.level is not RegionLevel.COMMUNITY or not scope.covers(current_user, community):
        abort(404)
    form = SiteForm()
    if request.method == "POST":
        if not current_user.role.may_change:
            abort(403)
        if form.validate_on_submit():
            url = url_for("staff.sites", community_id=community.id)

            def create() -> str:
                operations.add_site(community, form.name.data.strip())
                return url

            _url, created = once.run_once(form.form_id.data, current_user.id, create)
            flash("考评点已添加，可以打印二维码了。" if created else "这张表刚才已经提交过了，没有重复添加。")
            return redirect(url, 303)
    return render_template("staff/sites.html", community=community, form=form, rename_form=SiteRenameForm(formdata=None),
                           base_url=current_app.config["BASE_URL"]), 400 if form.errors else 200


def _site_or_404(site_id: int) -> Site:
    site = db.session.get(Site, site_id) if 0 < site_id < 2**31 else None
    if site is None or not scope.covers(current_user, site.community):
        abort(404)
    return site


@bp.post("/sites/<int:site_id>/name")
@may_change
def rename_site(site_id: int):
    site = _site_or_404(site_id)
    form = SiteRenameForm()
    if form.validate_on_submit():
        if operations.rename_site(site, form.name.data):
            db.session.commit()
            flash(f"考评点已改名为“{site.name}”。二维码不变，已贴出的海报可以继续用；想让海报上的名字也变，请重新打印。")
    else:
        flash("没有改名：" + form_errors(form))
    return redirect(url_for("staff.sites", community_id=site.community_id), 303)


@bp.post("/sites/<int:site_id>/<any(retire, restore):action>")
@may_change
def site_in_use(site_id: int, action: str):
    site = _site_or_404(site_id)
    if operations.set_site_retired(site, action == "retire", utcnow()):
        db.session.commit()
        flash(f"“{site.name}”已停用：扫它的二维码会提示居民这个考评点不用了。" if action == "retire"
              else f"“{site.name}”已恢复使用。")
    return redirect(url_for("staff.sites", community_id=site.community_id), 303)
