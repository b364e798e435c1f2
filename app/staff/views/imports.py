"""Importing responses from a CSV or XLSX file."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ... import audit
from ...extensions import db
from ...models import Region
from .. import bp, imports, scope
from .common import campaign_or_404, may_change


def _import_communities(access: scope.CampaignAccess) -> dict[str, Region]:
    return {r.code: r for r in db.session.scalars(sa.select(Region).where(Region.id.in_(access.community_ids)))}


@bp.route("/campaigns/<int:campaign_id>/import", methods=["GET", "POST"])
@may_change
def import_responses(campaign_id: int):
    campaign, access = campaign_or_404(campaign_id)
    if request.method == "GET":
        return render_template("staff/import.html", campaign=campaign, report=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("staff/import.html", campaign=campaign, report=None, missing=True), 400
    data = upload.read()
    upload.close()  # a large upload is a temporary file: let it go now
    try:
        report = imports.check_and_store(campaign, _import_communities(access), upload.filename, data,
                                         current_user.id)
    except sa.exc.IntegrityError:
        # The same file imported at the same moment (a double click): the other one won.
        db.session.rollback()
        report = imports.ImportReport(problems=[imports.RowProblem(1, "", "这个文件已经导入过了，没有重复导入。")])
    if report.problems:
        db.session.rollback()
        return render_template("staff/import.html", campaign=campaign, report=report), 400
    audit.record("import", "campaign", campaign.id, after={
        "file": upload.filename, "sha256": hashlib.sha256(data).hexdigest(), "responses": report.stored})
    db.session.commit()
    flash(f"已导入 {report.stored} 份回答。")
    return redirect(url_for("staff.campaign", campaign_id=campaign.id), 303)


@bp.get("/campaigns/<int:campaign_id>/import/template.xlsx")
@login_required
def import_template(campaign_id: int):
    campaign, access = campaign_or_404(campaign_id)
    data = imports.template_xlsx(campaign.survey_version.survey_definition, sorted(_import_communities(access)))
    response = make_response(data)
    response.mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers["Content-Disposition"] = f'attachment; filename="import-template-campaign-{campaign.id}.xlsx"'
    return response


