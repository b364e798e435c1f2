"""Staff pages: log in, campaigns (create, open, close, progress) and sites."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import wraps

import sqlalchemy as sa
from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms.fields.choices import SelectChoice

from .. import audit, qrcodes
from ..extensions import db, limiter, login_manager
from ..models import Account, Campaign, Region, RegionLevel, Site, Survey, SurveyVersion, TicketBatch
from ..models.types import utcnow
from ..templating import LOCAL_TZ
from . import bp, operations, printing, queries, scope
from .forms import CampaignForm, LoginForm, SiteForm, TicketBatchForm

login_manager.login_view = "staff.login"
login_manager.login_message = "请先登录。"
login_manager.session_protection = "basic"

#: Checked when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


@login_manager.user_loader
def load_account(account_id: str) -> Account | None:
    account = db.session.get(Account, int(account_id)) if account_id.isdigit() else None
    return account if account is not None and account.active else None


def may_change(view):
    """Refuse (403) a role that only reads, such as an evaluator."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.role.may_change:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def _failed_login(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_FAILURE_LIMIT"], methods=["POST"], deduct_when=_failed_login)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        account = db.session.scalar(sa.select(Account).where(Account.username == form.username.data.strip()))
        if account is None:
            check_password_hash(_DUMMY_HASH, form.password.data)
        elif account.active and account.check_password(form.password.data):
            login_user(account)
            audit.record("login", "account", account.id, actor=account)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")), 303)
        return make_response(render_template("staff/login.html", form=form, failed=True), 401)
    return render_template("staff/login.html", form=form, failed=False), 400 if form.errors else 200


def _safe_next(target: str | None) -> str:
    # Only our own staff pages: never an address on another site.
    if target and target.startswith("/staff/") and "//" not in target and "\\" not in target:
        return target
    return url_for("staff.home")


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("staff.login"), 303)


@bp.get("/")
@login_required
def home():
    campaigns = scope.visible_campaigns(current_user)
    return render_template("staff/home.html", campaigns=campaigns, now=utcnow())


def _campaign_or_404(campaign_id: int) -> tuple[Campaign, scope.CampaignAccess]:
    campaign = db.session.get(Campaign, campaign_id) if 0 < campaign_id < 2**31 else None
    if campaign is None:
        abort(404)
    access = scope.campaign_access(current_user, campaign)
    if not access.may_view:
        abort(404)
    return campaign, access


@bp.get("/campaigns/<int:campaign_id>")
@login_required
def campaign(campaign_id: int):
    campaign, access = _campaign_or_404(campaign_id)
    rows = queries.campaign_progress(campaign, access.community_ids)
    margins = {row.community.id: queries.reached_margin(row, campaign.confidence) for row in rows}
    return render_template("staff/campaign.html", campaign=campaign, access=access, rows=rows, margins=margins,
                           now=utcnow())


@bp.post("/campaigns/<int:campaign_id>/<any(open, close):action>")
@may_change
def campaign_state(campaign_id: int, action: str):
    campaign, access = _campaign_or_404(campaign_id)
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
        campaign = operations.create_campaign(
            form.name.data.strip(), version, chosen,
            opens_at=_local_to_utc(form.opens_at.data), closes_at=_local_to_utc(form.closes_at.data),
            one_response_per_device=form.one_response_per_device.data,
            confidence=form.confidence.data, margin=form.margin.data / 100)
        db.session.commit()
        flash("调查已创建。" + ("" if campaign.opens_at else "还没有设开始时间：准备好后点“开始调查”。"))
        return redirect(url_for("staff.campaign", campaign_id=campaign.id), 303)
    return render_template("staff/campaign_new.html", form=form), 400 if form.errors else 200


def _local_to_utc(local: datetime | None) -> datetime | None:
    """A time typed on the page (China time) as an aware UTC time."""
    if local is None:
        return None
    return local.replace(tzinfo=LOCAL_TZ).astimezone(timezone.utc)


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
            operations.add_site(community, form.name.data.strip())
            db.session.commit()
            flash("考评点已添加，可以打印二维码了。")
            return redirect(url_for("staff.sites", community_id=community.id), 303)
    return render_template("staff/sites.html", community=community, form=form,
                           base_url=current_app.config["BASE_URL"]), 400 if form.errors else 200


# -- posters ---------------------------------------------------------------------------

def _campaign_sites(campaign: Campaign, access: scope.CampaignAccess) -> list[Site]:
    return list(db.session.scalars(
        sa.select(Site).join(Region, Region.id == Site.community_id)
        .where(Site.community_id.in_(access.community_ids))
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
    campaign, access = _campaign_or_404(campaign_id)
    return render_template("staff/posters.html", campaign=campaign, sites=_campaign_sites(campaign, access))


@bp.get("/campaigns/<int:campaign_id>/posters.pdf")
@login_required
def posters_pdf(campaign_id: int):
    campaign, access = _campaign_or_404(campaign_id)
    pdf = printing.posters_pdf([_poster(campaign, site) for site in _campaign_sites(campaign, access)])
    return _pdf(pdf, f"posters-campaign-{campaign.id}.pdf")


@bp.get("/campaigns/<int:campaign_id>/sites/<int:site_id>/poster")
@login_required
def poster(campaign_id: int, site_id: int):
    campaign, access = _campaign_or_404(campaign_id)
    site = db.session.get(Site, site_id) if 0 < site_id < 2**31 else None
    if site is None or site.community_id not in access.community_ids:
        abort(404)
    return render_template("staff/poster.html", poster=_poster(campaign, site), site=site,
                           howto=printing.POSTER_HOWTO, promise=printing.POSTER_PROMISE)


def _pdf(data: bytes, filename: str):
    response = make_response(data)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# -- tickets ---------------------------------------------------------------------------

@bp.route("/campaigns/<int:campaign_id>/tickets", methods=["GET", "POST"])
@login_required
def tickets(campaign_id: int):
    campaign, access = _campaign_or_404(campaign_id)
    counts = queries.ticket_counts(campaign, access.community_ids)
    form = TicketBatchForm()
    form.community.choices = [SelectChoice(row.community.id, row.community.name) for row in counts]
    if request.method == "POST":
        if not current_user.role.may_change:
            abort(403)
        if form.validate_on_submit():
            community = next(row.community for row in counts if row.community.id == form.community.data)
            batch = operations.issue_tickets(campaign, community, form.count.data)
            db.session.commit()
            flash(f"已生成 {form.count.data} 张问卷票，请下载打印后随机发给居民。")
            return redirect(url_for("staff.tickets", campaign_id=campaign.id, new=batch.id), 303)
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
    _campaign, access = _campaign_or_404(batch.campaign_id)
    if batch.community_id not in access.community_ids:
        abort(404)
    base = current_app.config["BASE_URL"].rstrip("/")
    title = batch.campaign.survey_version.survey.title
    community = f"{batch.community.parent.name} {batch.community.name}"
    slips = [printing.Slip(title, community, f"{base}/t/{ticket.token}", f"{batch.id}-{n:03d}")
             for n, ticket in enumerate(batch.tickets, start=1)]
    return _pdf(printing.tickets_pdf(slips), f"tickets-batch-{batch.id}.pdf")
