"""Typing in paper questionnaires, once or twice (double entry), and settling the
differences between two keyings."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from ...definitions.forms import make_survey_form
from ...extensions import db
from ...models import Campaign, PaperKeying, Region, Response
from ...models.types import utcnow
from ...resident import operations as resident_ops
from ...submissions import StoreOutcome
from .. import bp, imports, paper
from ..forms import CorrectionForm
from ..paper import KeyingOutcome
from .common import admin_only, campaign_or_404, may_change
from .review import response_or_404

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


def _read_posted_paper(form_class, definition, campaign_id: int):
    """The posted entry form, validated, and its submission token (None if it did not check
    out). On a failure the form carries a usable token again, to show it back."""
    if not resident_ops.is_form_post(request):
        abort(400)
    posted = _paper_formdata(request.form, definition)
    if form_class.has_foreign_fields(posted):
        abort(400)
    form = form_class(formdata=posted)
    secret = current_app.config["SECRET_KEY"]
    submission = resident_ops.read_submission_token(secret, request.form.get("submission"), campaign_id,
                                                    current_app.config["WTF_CSRF_TIME_LIMIT"])
    valid = form.validate()
    if not valid or submission is None:
        form.submission.data = request.form["submission"] if submission else \
            resident_ops.new_submission_token(secret, campaign_id)
    return form, submission, valid


def _serial_error(serial: str, double_entry: bool) -> str | None:
    if not serial:
        return "双人录入时每份问卷都要填编号：两个人录入同一份，靠编号对上。" if double_entry else None
    return None if PAPER_SERIAL_RE.fullmatch(serial) else "问卷编号只能是数字、字母、- 或 _，最多 32 位。"


def _entered_by_me(campaign: Campaign, community_id: int) -> int:
    model = PaperKeying if campaign.double_entry else Response
    return db.session.scalar(sa.select(sa.func.count(model.id)).where(
        model.campaign_id == campaign.id, model.community_id == community_id, model.entered_by_id == current_user.id))


#: What the keyer reads after saving (a flash), or beside the paper number (with the status).
KEYING_MESSAGES = {
    KeyingOutcome.STORED: "已保存{serial}。请录入下一份。",
    KeyingOutcome.DUPLICATE: "已保存{serial}。请录入下一份。",
    KeyingOutcome.FIRST_KEPT: "第一遍已保存{serial}，还要请另一位同事录入第二遍。请录入下一份。",
    KeyingOutcome.AGREED: "第二遍和第一遍完全一致，这份问卷已保存{serial}。请录入下一份。",
}
KEYING_REFUSALS = {
    KeyingOutcome.ALREADY_STORED: ("编号 {serial} 的问卷已经录入过了，没有重复保存。", 409),
    KeyingOutcome.SAME_PERSON: ("编号 {serial} 的第一遍是您录的，第二遍要请另一位同事录入，这样才能发现录错的地方。"
                                "没有保存。", 409),
    KeyingOutcome.AWAITING_RESOLUTION: ("编号 {serial} 已经录了两遍，两遍不一致，正在等人核对原件。没有再保存。", 409),
}


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
    context = dict(campaign=campaign, community=community, definition=definition,
                   entered=_entered_by_me(campaign, community_id), notes=resident_ops.condition_notes(definition))

    if request.method == "GET":
        form = form_class(formdata=None)
        form.submission.data = resident_ops.new_submission_token(secret, campaign.id)
        return render_template("staff/paper.html", form=form, serial="", serial_error=None, **context)

    form, submission, valid = _read_posted_paper(form_class, definition, campaign.id)
    serial = request.form.get("paper_serial", "").strip()
    serial_error = _serial_error(serial, campaign.double_entry)
    if not serial_error and serial:
        serial = imports.canonical_serial(serial)
    if not valid or submission is None or serial_error:
        return render_template("staff/paper.html", form=form, serial=serial, serial_error=serial_error,
                               **context), 400

    result = paper.enter_paper(paper.Paper(
        campaign_id=campaign.id, community_id=community.id, serial=serial or None, answers=form.answer_rows(),
        account=current_user._get_current_object(), submission_id=submission.id, at=utcnow()),
        definition, campaign.double_entry)
    shown_serial = f"（编号 {serial}）" if serial else ""
    if result.outcome in KEYING_MESSAGES:
        flash(KEYING_MESSAGES[result.outcome].format(serial=shown_serial))
    elif result.outcome is KeyingOutcome.DIFFERS:
        labels = "、".join(f"第 {definition.items.index(definition.items_by_key[k]) + 1} 题" for k in result.differences)
        flash(f"编号 {serial} 的第二遍和第一遍有 {len(result.differences)} 处不一致（{labels}），已记下，"
              "请找出原件核对。可以先录入下一份。")
    else:
        message, status = KEYING_REFUSALS[result.outcome]
        form.submission.data = resident_ops.new_submission_token(secret, campaign.id)
        return render_template("staff/paper.html", form=form, serial=serial, serial_error=message.format(serial=serial),
                               resolve_keying=result.first if result.outcome is KeyingOutcome.AWAITING_RESOLUTION
                               else None, **context), status
    return redirect(url_for("staff.paper_entry", campaign_id=campaign.id, community=community.id), 303)


@bp.get("/campaigns/<int:campaign_id>/paper/waiting")
@may_change
def paper_waiting(campaign_id: int):
    """Papers of a double-entry campaign not yet stored: keyed once, or twice with differences."""
    campaign, access = campaign_or_404(campaign_id)
    communities = {r.id: r for r in db.session.scalars(sa.select(Region).where(Region.id.in_(access.community_ids)))}
    return render_template("staff/paper_waiting.html", campaign=campaign, communities=communities,
                           papers=paper.waiting_papers(campaign.id, access.community_ids))


def _keyings_or_404(campaign: Campaign, community_ids, keying_id: int) -> tuple[PaperKeying, PaperKeying]:
    """The two differing keyings of a paper, found by its first keying's id."""
    first = db.session.get(PaperKeying, keying_id) if 0 < keying_id < 2**31 else None
    if first is None or first.campaign_id != campaign.id or first.community_id not in community_ids \
            or first.pass_number != 1:
        abort(404)
    second = db.session.scalar(sa.select(PaperKeying).where(
        PaperKeying.campaign_id == campaign.id, PaperKeying.community_id == first.community_id,
        PaperKeying.paper_serial == first.paper_serial, PaperKeying.pass_number == 2))
    return first, second


@bp.route("/campaigns/<int:campaign_id>/paper/settle/<int:keying_id>", methods=["GET", "POST"])
@may_change
def paper_settle(campaign_id: int, keying_id: int):
    """Settle a paper whose two keyings differ: the differing items are shown with both
    keyings' answers and left blank, to be typed again from the paper itself."""
    campaign, access = campaign_or_404(campaign_id)
    first, second = _keyings_or_404(campaign, access.community_ids, keying_id)
    if second is None or first.response_id is not None:
        flash("这份问卷已经保存了，不需要核对。" if first.response_id is not None else
              "这份问卷还没有录第二遍，录完两遍才能核对。")
        return redirect(url_for("staff.paper_waiting", campaign_id=campaign.id), 303)
    definition = campaign.survey_version.survey_definition
    first_answers, second_answers = paper.answers_from_json(first.answers), paper.answers_from_json(second.answers)
    differences = paper.differing_items(definition, first_answers, second_answers)
    form_class = make_survey_form(definition)
    secret = current_app.config["SECRET_KEY"]
    context = dict(campaign=campaign, community=db.session.get(Region, first.community_id), definition=definition,
                   first=first, second=second, differences=differences,
                   shown={key: (paper.shown_answer(definition, key, first_answers),
                                paper.shown_answer(definition, key, second_answers)) for key in differences},
                   notes=resident_ops.condition_notes(definition))

    if request.method == "GET":
        form = form_class(formdata=paper.formdata_of(definition, first_answers, leave_out=differences))
        form.submission.data = resident_ops.new_submission_token(secret, campaign.id)
        return render_template("staff/paper_settle.html", form=form, **context)

    form, submission, valid = _read_posted_paper(form_class, definition, campaign.id)
    if not valid or submission is None:
        return render_template("staff/paper_settle.html", form=form, **context), 400
    try:
        outcome = paper.settle_paper(first, second, paper.Paper(
            campaign_id=campaign.id, community_id=first.community_id, serial=first.paper_serial,
            answers=form.answer_rows(), account=current_user._get_current_object(), submission_id=submission.id,
            at=utcnow()), definition)
    except paper.SettleRefused as refused:
        return render_template("staff/paper_settle.html", form=form, refused=str(refused), **context), 409
    flash(f"编号 {first.paper_serial} 已核对并保存。" if outcome in (StoreOutcome.STORED, StoreOutcome.DUPLICATE)
          else f"编号 {first.paper_serial} 的问卷已经保存过了，没有重复保存。")
    return redirect(url_for("staff.paper_waiting", campaign_id=campaign.id), 303)


@bp.route("/responses/<int:response_id>/correct", methods=["GET", "POST"])
@admin_only
def correct_response(response_id: int):
    """Correct a typed-in response (paper or import) from the paper, with a reason: only the
    district's admins may — never the community being evaluated, and not evaluators, who
    change nothing but whether a response counts."""
    response = response_or_404(response_id)
    if response.channel not in paper.CORRECTABLE_CHANNELS:
        abort(403, "居民自己填写的回答不能更改。")
    campaign = db.session.get(Campaign, response.campaign_id)
    definition = campaign.survey_version.survey_definition
    form_class = make_survey_form(definition)
    reason_form = CorrectionForm()
    context = dict(response=response, campaign=campaign, definition=definition, reason_form=reason_form,
                   community=db.session.get(Region, response.community_id),
                   notes=resident_ops.condition_notes(definition))
    if request.method == "GET":
        form = form_class(formdata=paper.formdata_of(definition, paper.stored_answers(response.id)))
        return render_template("staff/response_correct.html", form=form, **context)
    posted = _paper_formdata(request.form, definition)
    posted.pop("reason", None)
    if form_class.has_foreign_fields(posted):
        abort(400)
    form = form_class(formdata=posted)
    reason_ok = reason_form.validate_on_submit()
    if not (form.validate() and reason_ok):
        return render_template("staff/response_correct.html", form=form, **context), 400
    changed = paper.correct_answers(response, form.answer_rows(), reason_form.reason.data, definition,
                                    actor=current_user._get_current_object())
    db.session.commit()
    flash(f"已更正 {len(changed)} 题，改动前后都记在操作记录里。" if changed else "答案和原来一样，没有改动。")
    return redirect(url_for("staff.response_detail", response_id=response.id), 303)
