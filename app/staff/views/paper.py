"""Typing in paper questionnaires."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from ... import audit
from ...definitions.forms import make_survey_form
from ...extensions import db
from ...models import Channel, Region, Response
from ...models.types import utcnow
from ...resident import operations as resident_ops
from ...submissions import NewResponse, StoreOutcome, quality_flags_at_submit, store_response
from .. import bp
from .common import campaign_or_404, may_change

PAPER_SERIAL_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _paper_formdata(posted, definition) -> MultiDict:
    """What the typed codes mean as a resident's form: "1 3" or "1,3" in a multiple-choice
    box is two ticks; the page's own fields (community, paper number) are set aside."""
    out = MultiDict()
    for name, value in posted.items(multi=True):
        if name in ("community", "paper_serial"):
            continue
        item = definition.items_by_key.get(name)
        if item is not None and item.type == "multiple":
            for code in re.split(r"[\s,，、]+", value.strip()):
                if code:
                    out.add(name, code)
        else:
            out.add(name, value.strip() if item is not None and item.type != "text" else value)
    return out


@bp.route("/campaigns/<int:campaign_id>/paper", methods=["GET", "POST"])
@may_change
def paper_entry(campaign_id: int):
    campaign, access = campaign_or_404(campaign_id)
    communities = db.session.scalars(sa.select(Region).where(Region.id.in_(access.community_ids))
                                     .order_by(Region.code)).all()
    community_id = request.values.get("community", type=int)
    if community_id is None and len(communities) == 1:
        community_id = communities[0].id
    if community_id not in access.community_ids:
        if request.method == "POST":
            abort(400)
        return render_template("staff/paper_choose.html", campaign=campaign, communities=communities)
    community = db.session.get(Region, community_id)
    definition = campaign.survey_version.survey_definition
    form_class = make_survey_form(definition)
    secret = current_app.config["SECRET_KEY"]
    entered = db.session.scalar(sa.select(sa.func.count(Response.id)).where(
        Response.campaign_id == campaign.id, Response.community_id == community_id,
        Response.entered_by_id == current_user.id))
    context = dict(campaign=campaign, community=community, definition=definition, entered=entered,
                   notes=resident_ops.condition_notes(definition))

    if request.method == "GET":
        form = form_class(formdata=None)
        form.submission.data = resident_ops.new_submission_token(secret, campaign.id)
        return render_template("staff/paper.html", form=form, serial="", serial_error=None, **context)

    if not resident_ops.is_form_post(request):
        abort(400)
    posted = _paper_formdata(request.form, definition)
    if form_class.has_foreign_fields(posted):
        abort(400)
    form = form_class(formdata=posted)
    serial = request.form.get("paper_serial", "").strip()
    serial_error = None if not serial or PAPER_SERIAL_RE.fullmatch(serial) else "问卷编号只能是数字、字母、- 或 _，最多 32 位。"
    submission = resident_ops.read_submission_token(secret, request.form.get("submission"), campaign.id,
                                                    current_app.config["WTF_CSRF_TIME_LIMIT"])
    if not form.validate() or submission is None or serial_error:
        form.submission.data = request.form["submission"] if submission else \
            resident_ops.new_submission_token(secret, campaign.id)
        return render_template("staff/paper.html", form=form, serial=serial, serial_error=serial_error,
                               **context), 400

    answers = form.answer_rows()
    account = current_user._get_current_object()
    outcome = store_response(NewResponse(
        campaign_id=campaign.id, community_id=community.id, channel=Channel.PAPER, submission_id=submission.id,
        submitted_at=utcnow(), answers=answers, entered_by_id=account.id, paper_serial=serial or None,
        quality_flags=int(quality_flags_at_submit(definition, answers))),
        before_commit=lambda response_id: audit.record(
            "create", "response", response_id, actor=account,
            after={"channel": "paper", "community_id": community.id, "paper_serial": serial or None}))
    if outcome is StoreOutcome.PAPER_ENTERED:
        form.submission.data = resident_ops.new_submission_token(secret, campaign.id)
        return render_template("staff/paper.html", form=form, serial=serial,
                               serial_error=f"编号 {serial} 的问卷已经录入过了，没有重复保存。", **context), 409
    flash(f"已保存{'（编号 ' + serial + '）' if serial else ''}。请录入下一份。")
    return redirect(url_for("staff.paper_entry", campaign_id=campaign.id, community=community.id), 303)


