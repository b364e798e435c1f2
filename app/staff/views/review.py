"""Quality checks, individual responses, and excluding a response from the statistics (or including it again)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ... import audit
from ...extensions import db
from ...models import Answer, Campaign, Region, Response
from ...submissions import refresh_quality_flags
from .. import bp, operations, scope
from ..forms import ExclusionForm
from .common import campaign_or_404, form_errors, may_review

#: Responses listed on one page.
RESPONSES_PER_PAGE = 200


@bp.post("/campaigns/<int:campaign_id>/quality")
@may_review
def check_quality(campaign_id: int):
    campaign, access = campaign_or_404(campaign_id)
    if not access.covers_all:  # the check rewrites flags across the whole campaign
        abort(403)
    check = refresh_quality_flags(campaign.id)
    audit.record("check", "campaign", campaign.id, after={
        "responses": check.responses, "too_fast": check.too_fast, "bursts": check.bursts})
    db.session.commit()
    median = f"，中位用时 {check.median_seconds / 60:.1f} 分钟" if check.median_seconds else ""
    flash(f"已检查 {check.responses} 份回答{median}：填得特别快的 {check.too_fast} 份，"
          f"同一网络短时间大量提交的 {check.bursts} 份。可疑回答仍然保留，单独统计。")
    return redirect(url_for("staff.campaign_responses", campaign_id=campaign.id), 303)


@bp.get("/campaigns/<int:campaign_id>/responses")
@may_review
def campaign_responses(campaign_id: int):
    campaign, access = campaign_or_404(campaign_id)
    show = request.args.get("show", "flagged")
    query = (sa.select(Response).where(Response.campaign_id == campaign.id,
                                       Response.community_id.in_(access.community_ids))
             .order_by(Response.id.desc()).limit(RESPONSES_PER_PAGE))
    if show == "flagged":
        query = query.where(Response.quality_flags != 0)
    elif show == "excluded":
        query = query.where(Response.exclusion_reason.is_not(None))
    else:
        show = "all"
    responses = db.session.scalars(query).all()
    communities = {r.id: r for r in db.session.scalars(sa.select(Region).where(Region.id.in_(access.community_ids)))}
    return render_template("staff/responses.html", campaign=campaign, responses=responses, show=show,
                           communities=communities, limit=RESPONSES_PER_PAGE)


def response_or_404(response_id: int) -> Response:
    response = db.session.get(Response, response_id) if 0 < response_id < 2**63 else None
    if response is None:
        abort(404)
    community = db.session.get(Region, response.community_id)
    if not scope.covers(current_user, community):
        abort(404)
    return response


@bp.get("/responses/<int:response_id>")
@may_review
def response_detail(response_id: int):
    response = response_or_404(response_id)
    campaign = db.session.get(Campaign, response.campaign_id)
    definition = campaign.survey_version.survey_definition
    given: dict[str, list] = {}
    for answer in db.session.scalars(sa.select(Answer).where(Answer.response_id == response.id)):
        given.setdefault(answer.item, []).append(answer)
    shown = []
    for item in definition.items:
        labels = {c.code: c.label for c in item.choices}
        answers = given.get(item.key, [])
        text = "、".join(a.text if item.type == "text" else labels.get(a.value, a.value) for a in answers)
        shown.append((item, text))
    return render_template("staff/response.html", response=response, campaign=campaign, shown=shown,
                           community=db.session.get(Region, response.community_id), form=ExclusionForm())


@bp.post("/responses/<int:response_id>/<any(exclude, include):action>")
@may_review
def response_exclusion(response_id: int, action: str):
    response = response_or_404(response_id)
    form = ExclusionForm()
    if action == "include":  # (the blueprint's CSRF check has already run)
        if response.excluded:
            operations.include_response(response)
            flash("这份回答重新计入统计。")
    else:
        if not form.validate_on_submit():
            flash("没有改动：" + form_errors(form))
            return redirect(url_for("staff.response_detail", response_id=response.id), 303)
        operations.exclude_response(response, form.reason.data)
        flash("这份回答已不计入统计（仍然保留，可以随时恢复）。")
    db.session.commit()
    return redirect(url_for("staff.response_detail", response_id=response.id), 303)


