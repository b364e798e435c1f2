"""Scores and ranking by a scheme, the district's numbers for its 待填, and evaluators' entries."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from ..definitions.schemes import FillInError
from ..evaluation import scores as scoring
from ..evaluation.downloads import attachment_headers
from ..evaluation.entries import (
    EntryConflict,
    EntryError,
    entry_leaves,
    locked_message,
    save_entries,
    save_fill_ins,
    set_locked,
    setting_for,
)
from ..evaluation.ranking_export import as_csv, as_xlsx, method_lines, ranking_rows
from ..extensions import db
from ..models import Region, Role
from ..staff.forms import StaffForm
from ..staff.views.common import campaign_or_404, form_errors, may_score
from . import bp
from .forms import entries_from, entry_form, fill_in_form, fill_ins_from

#: What the workspace links need to know of the scores pages' reader: they read the whole campaign.
WHOLE_CAMPAIGN = {"covers_all": True}


def _campaign_and_scheme(campaign_id: int, scheme_id: str | None):
    campaign, access = campaign_or_404(campaign_id)
    if not access.covers_all:  # a ranking needs every community of the campaign
        abort(403)
    available = scoring.schemes_for(campaign, current_app.config["SURVEYS_DIR"])
    scheme = next((s for s in available if s.id == scheme_id), None)
    if scheme_id is not None and scheme is None:
        abort(404)
    return campaign, available, scheme


@bp.get("/campaigns/<int:campaign_id>/scores")
@may_score
def scores(campaign_id: int):
    campaign, available, scheme = _campaign_and_scheme(campaign_id, request.args.get("scheme") or None)
    if scheme is None:
        to_fill = {}
        for s in available:
            try:
                to_fill[s.id] = len(scoring.scheme_for_campaign(campaign, s).placeholders)
            except FillInError:
                to_fill[s.id] = len(s.placeholders)
        return render_template("evaluators/schemes.html", campaign=campaign, available=available, to_fill=to_fill,
                               scope=WHOLE_CAMPAIGN)
    try:
        result = scoring.campaign_scores(campaign, scheme)
    except FillInError as e:  # the shipped file changed under stored numbers
        flash("本次测评填入的分值或权重与评分方案对不上：" + "；".join(e.messages))
        return redirect(url_for("evaluators.numbers", campaign_id=campaign.id, scheme_id=scheme.id), 303)
    return render_template("evaluators/scores.html", campaign=campaign, scheme=scheme, result=result, scope=WHOLE_CAMPAIGN,
                           leaves=entry_leaves(scoring.scheme_for_campaign(campaign, scheme)),
                           locked=locked_message(setting_for(campaign.id, scheme.id)), lock_form=StaffForm())


@bp.get("/campaigns/<int:campaign_id>/scores.<any(csv, xlsx):kind>")
@may_score
def scores_file(campaign_id: int, kind: str):
    """The ranking as a file for Excel/WPS: the same figures as the page and the scores API."""
    campaign, _, scheme = _campaign_and_scheme(campaign_id, request.args.get("scheme") or "")
    try:
        result = scoring.campaign_scores(campaign, scheme)
    except FillInError:
        return redirect(url_for("evaluators.numbers", campaign_id=campaign.id, scheme_id=scheme.id), 303)
    header, rows = ranking_rows(result)
    if kind == "csv":
        body, mimetype = as_csv(header, rows), "text/csv; charset=utf-8"
    else:
        body = as_xlsx(header, rows, method_lines(result))
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"{campaign.name}-{scheme.title}-排名.{kind}"
    return Response(body, mimetype=mimetype, headers=attachment_headers(name))


@bp.post("/campaigns/<int:campaign_id>/schemes/<scheme_id>/lock")
@may_score
def lock(campaign_id: int, scheme_id: str):
    """定稿 (lock=1) or lift it (lock=0): the district's admin files the scores as they stand."""
    campaign, _, scheme = _campaign_and_scheme(campaign_id, scheme_id)
    if current_user.role is not Role.ADMIN:
        abort(403)
    form = StaffForm()
    if not form.validate() or request.form.get("lock") not in ("0", "1"):
        abort(400)
    locking = request.form["lock"] == "1"
    if set_locked(campaign, scheme, locking):
        db.session.commit()
        flash("已定稿：评分和分值、权重都不能再改。" if locking else "已解除定稿，可以再改评分。")
    return redirect(url_for("evaluators.scores", campaign_id=campaign.id, scheme=scheme.id), 303)


@bp.route("/campaigns/<int:campaign_id>/schemes/<scheme_id>/numbers", methods=["GET", "POST"])
@may_score
def numbers(campaign_id: int, scheme_id: str):
    campaign, _, scheme = _campaign_and_scheme(campaign_id, scheme_id)
    if request.method == "POST" and current_user.role is not Role.ADMIN:  # the district decides its numbers
        abort(403)
    setting = setting_for(campaign.id, scheme.id)
    stored = setting.fill_ins if setting else {}
    form, rows = fill_in_form(scheme, stored, request.form if request.method == "POST" else None)
    problems = []
    if request.method == "POST":
        if form.validate():
            try:
                save_fill_ins(campaign, scheme, fill_ins_from(form, rows))
            except FillInError as e:
                problems = e.messages
            else:
                db.session.commit()
                flash("已保存。还没填的地方，相关指标暂不计分。")
                return redirect(url_for("evaluators.scores", campaign_id=campaign.id, scheme=scheme.id), 303)
        else:
            problems = [form_errors(form)]
    status = 400 if problems else 200
    return render_template("evaluators/numbers.html", campaign=campaign, scheme=scheme, form=form, rows=rows,
                           problems=problems, setting=setting), status


@bp.route("/campaigns/<int:campaign_id>/schemes/<scheme_id>/communities/<int:community_id>",
          methods=["GET", "POST"])
@may_score
def entries(campaign_id: int, scheme_id: str, community_id: int):
    campaign, _, scheme = _campaign_and_scheme(campaign_id, scheme_id)
    community = db.session.get(Region, community_id) if 0 < community_id < 2**31 else None
    if community is None or community_id not in {cc.community_id for cc in campaign.communities}:
        abort(404)
    try:
        filled = scoring.scheme_for_campaign(campaign, scheme)
    except FillInError:
        return redirect(url_for("evaluators.numbers", campaign_id=campaign.id, scheme_id=scheme.id), 303)
    leaves = entry_leaves(filled)
    stored = scoring.stored_entries(campaign.id, scheme.id, community.id)
    form = entry_form(leaves, stored, request.form if request.method == "POST" else None)
    problems = []
    if request.method == "POST":
        if form.validate():
            values, notes, shown = entries_from(form, leaves)
            try:
                changed = save_entries(campaign, filled, community.id, values, notes, shown=shown)
                db.session.commit()
            except (EntryConflict, IntegrityError) as e:
                # Someone else saved meanwhile (an IntegrityError: both made the same entry first).
                # Nothing was stored; the page starts again from what is stored now.
                db.session.rollback()
                problems = [str(e) if isinstance(e, EntryConflict) else
                            "另一位考评人员刚刚保存了同一项。本次没有保存任何改动，请看过现在的结果后再改"]
                stored = scoring.stored_entries(campaign.id, scheme.id, community.id)
                form = entry_form(leaves, stored)
            except EntryError as e:
                db.session.rollback()
                problems = [str(e)]
            else:
                flash(f"{community.name}：已保存 {changed} 项。" if changed else f"{community.name}：没有改动。")
                return redirect(url_for("evaluators.entries", campaign_id=campaign.id, scheme_id=scheme.id,
                                        community_id=community.id), 303)
        else:
            labels = {f"n{n}": leaf.label for n, leaf in enumerate(leaves)}
            problems = [f"{labels.get(name.removesuffix('_note'), '')}：{message}"
                        for name, messages in form.errors.items() for message in messages]
    return render_template("evaluators/entries.html", campaign=campaign, scheme=filled, community=community,
                           form=form, leaves=list(enumerate(leaves)), stored=stored,
                           locked=locked_message(setting_for(campaign.id, scheme.id)),
                           problems=problems), 400 if problems else 200
