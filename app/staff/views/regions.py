"""The region tree: viewing it, importing it from a file, and its template."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from ... import audit
from ...extensions import db
from ...models import Region, Role
from .. import bp, imports, regions_import, scope
from .common import may_change


def _regions_page(report=None, status: int = 200):
    regions = db.session.scalars(sa.select(Region).where(Region.id.in_(scope.region_ids_under(current_user.region_id)))
                                 .options(joinedload(Region.sites)).order_by(Region.code)).unique().all()
    return render_template("staff/regions.html", regions=regions, report=report,
                           may_import=current_user.role is Role.ADMIN), status


@bp.get("/regions")
@login_required
def regions():
    return _regions_page()


@bp.post("/regions/import")
@may_change
def import_regions():
    if current_user.role is not Role.ADMIN:
        abort(403)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请先选择要上传的文件。")
        return redirect(url_for("staff.regions"), 303)
    data = upload.read()
    upload.close()  # a large upload is a temporary file: let it go now
    try:
        report = regions_import.import_regions(current_user.region, upload.filename, data,
                                               current_user._get_current_object())
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        report = regions_import.RegionImport(problems=[imports.RowProblem(1, "", "同一时间有另一次导入，请刷新后再试。")])
    if report.problems:
        db.session.rollback()
        return _regions_page(report, 400)
    audit.record("import", "region", current_user.region_id, after={
        "file": upload.filename, "sha256": hashlib.sha256(data).hexdigest(),
        "created": report.created, "updated": report.updated})
    db.session.commit()
    flash(f"已导入：新建 {report.created} 个，更新 {report.updated} 个。")
    return redirect(url_for("staff.regions"), 303)


@bp.get("/regions/template.xlsx")
@login_required
def regions_template():
    if current_user.role is not Role.ADMIN:
        abort(403)
    response = make_response(regions_import.template_xlsx(current_user.region))
    response.mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers["Content-Disposition"] = 'attachment; filename="regions-template.xlsx"'
    return response


