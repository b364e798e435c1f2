"""The campaign list, a campaign's progress page, and creating, changing, opening and closing campaigns."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from ...extensions import db
from ...models import Survey, SurveyVersion
from ...models.types import utcnow
from ...templating import LOCAL_TZ
from .. import bp, once, operations, queries, scope
from ..forms import CampaignEditForm, CampaignForm, read_targets
from .common import campaign_or_404, may_change


@bp.get("/")
@login_required
def home():
    campaigns = scope.visible_campaigns(current_user)
    return render_template("staff/home.html", campaigns=campaigns, now=utcnow())


@bp.get("/campaigns/<int:campaign_id>")
@login_required
def campaign(campaign_id: int):
    campaign, access = campaign_or_404(campaign_id)
    rows = queries.campaign_progress(campaign, access.community_ids)
    margins = {row.community.id: (queries.reached_margin(row, campaign.confidence),
                                  queries.reached_margin(row, campaign.confidence, random_only=True)) for row in rows}
    return render_template("staff/campaign.html", campaign=campaign, access=access, rows=rows, margins=margins,
                           now=utcnow())


@bp.post("/campaigns/<int:campaign_id>/<any(open, close):action>")
@may_change
def campaign_state(campaign_id: int, action: str):
    campaign, access = campaign_or_404(campaign_id)
    if not access.may_change:
        abort(403)
    change = operations.open_campaign if action == "open" else operations.close_campaign
    if change(campaign, utcnow()):
        db.session.commit()
        flash("调查已开始，居民现在可以扫码填写。" if action == "open" else "调查已结束，不再接收新的回答。")
    return redirect(url_for("staff.campaign", campaign_id=campaign.id), 303)


def _latest_versions() -> list[SurveyVersion]:
    surveys = db.session.scalars(sa.select(Survey).options(joinedload(Survey.versions)).order_by(Survey.title)).unique()
    return [s.latest_version for s in surveys if s.latest_version is not None]


@bp.route("/campaigns/new", methods=["GET", "POST"])
@may_change
def new_campaign():
    form = CampaignForm()
    versions = _latest_versions()
    communities = scope.communities_in_scope(current_user)
    form.survey_version.choices = [SelectChoice(v.id, f"{v.survey.title}（第 {v.number} 版）") for v in versions]
    form.communities.choices = [SelectChoice(c.id, f"{c.parent.name} · {c.name}") for c in communities]
    if request.method == "GET":
        form.communities.data = [c.id for c in communities] if len(communities) <= 12 else []
    if form.validate_on_submit():
        chosen = [c for c in communities if c.id in set(form.communities.data)]
        version = next(v for v in versions if v.id == form.survey_version.data)

        def create() -> str:
            campaign = operations.create_campaign(
                form.name.data.strip(), version, chosen,
                opens_at=_local_to_utc(form.opens_at.data), closes_at=_local_to_utc(form.closes_at.data),
                one_response_per_device=form.one_response_per_device.data, double_entry=form.double_entry.data,
                confidence=form.confidence.data, margin=form.margin.data / 100)
            return url_for("staff.campaign", campaign_id=campaign.id)

        url, created = once.run_once(form.form_id.data, current_user.id, create)
        if not created:
            flash("这张表刚才已经提交过了，没有重复创建。")
            return redirect(url or url_for("staff.home"), 303)
        flash("调查已创建。" + ("" if form.opens_at.data else "还没有设开始时间：准备好后点“开始调查”。"))
        return redirect(url, 303)
    return render_template("staff/campaign_new.html", form=form), 400 if form.errors else 200


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@may_change
def edit_campaign(campaign_id: int):
    campaign, access = campaign_or_404(campaign_id)
    if not access.may_change:
        abort(403)
    form = CampaignEditForm(obj=campaign) if request.method == "GET" else CampaignEditForm()
    if request.method == "GET":
        form.opens_at.data, form.closes_at.data = _utc_to_local(campaign.opens_at), _utc_to_local(campaign.closes_at)
        form.margin.data = round(campaign.margin * 100, 2)
    members = {cc.community_id for cc in campaign.communities}
    candidates = [c for c in scope.communities_in_scope(current_user) if c.id not in members]
    form.add_communities.choices = [SelectChoice(c.id, f"{c.parent.name} · {c.name}") for c in candidates]
    targets, target_errors = read_targets(request.form, sorted(members)) if request.method == "POST" else ({}, {})
    error = None
    if form.validate_on_submit() and not target_errors:
        chosen = set(form.add_communities.data or ())
        changes = {"name": form.name.data.strip(),
                   "opens_at": _same_minute_kept(_local_to_utc(form.opens_at.data), campaign.opens_at),
                   "closes_at": _same_minute_kept(_local_to_utc(form.closes_at.data), campaign.closes_at),
                   "one_response_per_device": form.one_response_per_device.data,
                   "double_entry": form.double_entry.data, "confidence": form.confidence.data,
                   "margin": form.margin.data / 100}
        plan_changed = (form.confidence.data, form.margin.data / 100) != (campaign.confidence, campaign.margin)
        try:
            changed = operations.edit_campaign(campaign, changes, targets=targets,
                                               add_communities=[c for c in candidates if c.id in chosen],
                                               recompute_targets=form.recompute_targets.data)
        except operations.CampaignEditRefused as refused:
            db.session.rollback()
            error = str(refused)
        else:
            db.session.commit()
            flash("调查设置已保存。" if changed else "没有改动。")
            if plan_changed and not form.recompute_targets.data:
                flash("注意：抽样要求改了，但已有社区的目标没有重算。需要的话，请回到“修改设置”勾选“重新计算”。")
            return redirect(url_for("staff.campaign", campaign_id=campaign.id), 303)
    rows = sorted(campaign.communities, key=lambda cc: cc.community.code)
    status = 400 if form.errors or target_errors or error else 200
    return render_template("staff/campaign_edit.html", campaign=campaign, form=form, rows=rows, error=error,
                           typed=request.form, target_errors=target_errors), status


def _same_minute_kept(typed: datetime | None, stored: datetime | None) -> datetime | None:
    """The page shows times to the minute: a time left as shown keeps its stored seconds
    (the 开始调查 button opens at the exact second), so an unrelated edit does not move it."""
    if typed is not None and stored is not None and stored.replace(second=0, microsecond=0) == typed:
        return stored
    return typed


def _utc_to_local(moment: datetime | None) -> datetime | None:
    """A stored time as the naive China time the page's datetime-local field shows."""
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None) if moment else None


def _local_to_utc(local: datetime | None) -> datetime | None:
    """A time typed on the page (China time) as an aware UTC time."""
    if local is None:
        return None
    return local.replace(tzinfo=LOCAL_TZ).astimezone(timezone.utc)


