"""What gets printed: site posters (one page each, or all as one PDF) and single-use ticket sheets."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from ... import qrcodes
from ...extensions import db
from ...models import Campaign, Region, Site, TicketBatch
from .. import bp, once, operations, printing, queries, scope
from ..forms import TicketBatchForm
from .common import campaign_or_404, pdf_response


def _campaign_sites(campaign: Campaign, access: scope.CampaignAccess) -> list[Site]:
    return list(db.session.scalars(
        sa.select(Site).join(Region, Region.id == Site.community_id)
        .where(Site.community_id.in_(access.community_ids), Site.retired_at.is_(None))
        .options(joinedload(Site.community).joinedload(Region.parent))
        .order_by(Region.code, Site.id)))


def _poster(campaign: Campaign, site: Site) -> printing.Poster:
    community = site.community
    return printing.Poster(title=campaign.survey_version.survey.title,
                           community=f"{community.parent.name} {community.name}", site=site.name,
                           url=qrcodes.site_url(current_app.config["BASE_URL"], site.token))


@bp.get("/campaigns/<int:campaign_id>/posters")
@login_required
def posters(campaign_id: int):
    campaign, access = campaign_or_404(campaign_id)
    return render_template("staff/posters.html", campaign=campaign, sites=_campaign_sites(campaign, access))


@bp.get("/campaigns/<int:campaign_id>/posters.pdf")
@login_required
def posters_pdf(campaign_id: int):
    campaign, access = campaign_or_404(campaign_id)
    sites = _campaign_sites(campaign, access)
    if not sites:
        flash("这些社区还没有考评点，没有海报可以下载。请先在社区页面添加考评点。")
        return redirect(url_for("staff.posters", campaign_id=campaign.id), 303)
    pdf = printing.posters_pdf([_poster(campaign, site) for site in sites])
    return pdf_response(pdf, f"posters-campaign-{campaign.id}.pdf")


@bp.get("/campaigns/<int:campaign_id>/sites/<int:site_id>/poster")
@login_required
def poster(campaign_id: int, site_id: int):
    campaign, access = campaign_or_404(campaign_id)
    site = db.session.get(Site, site_id) if 0 < site_id < 2**31 else None
    if site is None or site.community_id not in access.community_ids or site.retired:
        abort(404)
    return render_template("staff/poster.html", poster=_poster(campaign, site), site=site,
                           howto=printing.POSTER_HOWTO, promise=printing.POSTER_PROMISE)


@bp.route("/campaigns/<int:campaign_id>/tickets", methods=["GET", "POST"])
@login_required
def tickets(campaign_id: int):
    campaign, access = campaign_or_404(campaign_id)
    counts = queries.ticket_counts(campaign, access.community_ids)
    form = TicketBatchForm()
    form.community.choices = [SelectChoice(row.community.id, row.community.name) for row in counts]
    if request.method == "POST":
        if not current_user.role.may_change:
            abort(403)
        if form.validate_on_submit():
            url = url_for("staff.tickets", campaign_id=campaign.id)
            community = next(row.community for row in counts if row.community.id == form.community.data)

            def create() -> str:
                operations.issue_tickets(campaign, community, form.count.data)
                return url

            _url, created = once.run_once(form.form_id.data, current_user.id, create)
            flash(f"已生成 {form.count.data} 张问卷票，请下载打印后随机发给居民。" if created
                  else "这张表刚才已经提交过了，没有重复生成问卷票。")
            return redirect(url, 303)
    batches = db.session.scalars(
        sa.select(TicketBatch).where(TicketBatch.campaign_id == campaign.id,
                                     TicketBatch.community_id.in_(access.community_ids))
        .order_by(TicketBatch.id.desc())).all()
    return render_template("staff/tickets.html", campaign=campaign, counts=counts, form=form, batches=batches,
                           max_per_batch=operations.MAX_TICKETS_PER_BATCH), 400 if form.errors else 200


@bp.get("/ticket-batches/<int:batch_id>.pdf")
@login_required
def ticket_batch_pdf(batch_id: int):
    batch = db.session.get(TicketBatch, batch_id) if 0 < batch_id < 2**31 else None
    if batch is None:
        abort(404)
    _campaign, access = campaign_or_404(batch.campaign_id)
    if batch.community_id not in access.community_ids:
        abort(404)
    base = current_app.config["BASE_URL"].rstrip("/")
    title = batch.campaign.survey_version.survey.title
    community = f"{batch.community.parent.name} {batch.community.name}"
    slips = [printing.Slip(title, community, f"{base}/t/{ticket.token}", f"{batch.id}-{n:03d}")
             for n, ticket in enumerate(batch.tickets, start=1)]
    return pdf_response(printing.tickets_pdf(slips), f"tickets-batch-{batch.id}.pdf")


