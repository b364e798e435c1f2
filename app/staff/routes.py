"""Staff pages: log in, campaigns (create, open, close, progress) and sites."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from functools import wraps

import sqlalchemy as sa
from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms.fields.choices import SelectChoice

from .. import audit, qrcodes
from ..extensions import db, limiter, login_manager
from ..models import Account, Answer, AuditEntry, Campaign, Region, RegionLevel, Response, Role, Site, Survey, SurveyVersion, TicketBatch
from ..definitions.forms import make_survey_form
from ..models import Channel
from ..resident import operations as resident_ops
from ..submissions import NewResponse, StoreOutcome, quality_flags_at_submit, refresh_quality_flags, store_response
from ..models.accounts import ROLE_LEVELS
from ..models.types import utcnow
from ..templating import LOCAL_TZ, local_time
from . import bp, imports, operations, printing, queries, regions_import, scope
from .forms import (AccountForm, CampaignForm, ExclusionForm, LoginForm, PasswordResetForm, SiteForm,
                    TicketBatchForm)

login_manager.login_view = "staff.login"
login_manager.login_message = "请先登录。"
login_manager.session_protection = "basic"

#: Checked when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


#: Control characters (other than tab and line breaks): PostgreSQL cannot store NUL, and none
#: belongs in anything staff type.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@bp.before_request
def refuse_control_characters():
    for value in list(request.args.values()) + list(request.form.values()):
        if CONTROL_CHARACTERS.search(value):
            abort(400, "内容里有无法保存的特殊符号。")


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
    if target and target.startswith("/staff/") and "//" not in target and "\\" not in target \
            and target.isascii() and not re.search(r"[\x00-\x20\x7f]", target):  # no spaces, no line breaks
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
    sites = _campaign_sites(campaign, access)
    if not sites:
        flash("这些社区还没有考评点，没有海报可以下载。请先在社区页面添加考评点。")
        return redirect(url_for("staff.posters", campaign_id=campaign.id), 303)
    pdf = printing.posters_pdf([_poster(campaign, site) for site in sites])
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
            operations.issue_tickets(campaign, community, form.count.data)
            db.session.commit()
            flash(f"已生成 {form.count.data} 张问卷票，请下载打印后随机发给居民。")
            return redirect(url_for("staff.tickets", campaign_id=campaign.id), 303)
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


# -- quality and exclusions ------------------------------------------------------------

#: Responses listed on one page.
RESPONSES_PER_PAGE = 200


def _may_review(view):
    """Individual responses are for evaluators and the district: not for the street or the
    community being evaluated (answers about their own cadres, and who might have given them)."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.role.may_exclude:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


@bp.post("/campaigns/<int:campaign_id>/quality")
@_may_review
def check_quality(campaign_id: int):
    campaign, access = _campaign_or_404(campaign_id)
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
@_may_review
def campaign_responses(campaign_id: int):
    campaign, access = _campaign_or_404(campaign_id)
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


def _response_or_404(response_id: int) -> Response:
    response = db.session.get(Response, response_id) if 0 < response_id < 2**63 else None
    if response is None:
        abort(404)
    community = db.session.get(Region, response.community_id)
    if not scope.covers(current_user, community):
        abort(404)
    return response


@bp.get("/responses/<int:response_id>")
@_may_review
def response_detail(response_id: int):
    response = _response_or_404(response_id)
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
@_may_review
def response_exclusion(response_id: int, action: str):
    response = _response_or_404(response_id)
    form = ExclusionForm()
    if action == "include":  # (the blueprint's CSRF check has already run)
        if response.excluded:
            operations.include_response(response)
            flash("这份回答重新计入统计。")
    else:
        if not form.validate_on_submit():
            flash("没有改动：" + "；".join(e for errors in form.errors.values() for e in errors))
            return redirect(url_for("staff.response_detail", response_id=response.id), 303)
        operations.exclude_response(response, form.reason.data)
        flash("这份回答已不计入统计（仍然保留，可以随时恢复）。")
    db.session.commit()
    return redirect(url_for("staff.response_detail", response_id=response.id), 303)


# -- the audit log ---------------------------------------------------------------------

ACTION_LABELS = {"check": "检查可疑回答", "create": "新建", "edit": "修改", "open": "开始", "close": "结束", "import": "导入",
                 "exclude": "不计入统计", "include": "重新计入", "login": "登录", "account": "账号变更"}
OBJECT_LABELS = {"campaign": "调查", "site": "考评点", "region": "区域", "account": "账号", "response": "回答",
                 "ticket_batch": "问卷票", "survey_version": "问卷版本"}
AUDIT_PAGE = 500


def _audit_entries(limit: int | None):
    """Entries made by accounts within the viewer's region, newest first."""
    accounts = sa.select(Account.id).where(Account.region_id.in_(scope.region_ids_under(current_user.region_id)))
    query = (sa.select(AuditEntry).where(AuditEntry.account_id.in_(accounts))
             .options(joinedload(AuditEntry.account)).order_by(AuditEntry.id.desc()))
    return db.session.scalars(query.limit(limit) if limit else query)


def _may_read_audit(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role not in (Role.ADMIN, Role.EVALUATOR):
            abort(403)
        return view(*args, **kwargs)
    return wrapped


@bp.get("/audit")
@_may_read_audit
def audit_log():
    return render_template("staff/audit.html", entries=_audit_entries(AUDIT_PAGE), limit=AUDIT_PAGE,
                           actions=ACTION_LABELS, objects=OBJECT_LABELS)


@bp.get("/audit.csv")
@_may_read_audit
def audit_csv():
    import csv
    import io
    import json
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["时间（北京时间）", "账号", "姓名", "操作", "对象", "编号", "改动前", "改动后"])
    for e in _audit_entries(None):
        writer.writerow([local_time(e.at), e.account.username if e.account else "", e.account.display_name if e.account else "",
                         ACTION_LABELS.get(e.action, e.action), OBJECT_LABELS.get(e.object_type, e.object_type),
                         e.object_id, json.dumps(e.before, ensure_ascii=False) if e.before is not None else "",
                         json.dumps(e.after, ensure_ascii=False) if e.after is not None else ""])
    # The byte-order mark makes Excel and WPS read the file as UTF-8.
    response = make_response("\ufeff" + out.getvalue())
    response.mimetype = "text/csv"
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response


# -- paper questionnaires --------------------------------------------------------------

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
    campaign, access = _campaign_or_404(campaign_id)
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


# -- imports ---------------------------------------------------------------------------

def _import_communities(access: scope.CampaignAccess) -> dict[str, Region]:
    return {r.code: r for r in db.session.scalars(sa.select(Region).where(Region.id.in_(access.community_ids)))}


@bp.route("/campaigns/<int:campaign_id>/import", methods=["GET", "POST"])
@may_change
def import_responses(campaign_id: int):
    campaign, access = _campaign_or_404(campaign_id)
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
    campaign, access = _campaign_or_404(campaign_id)
    data = imports.template_xlsx(campaign.survey_version.survey_definition, sorted(_import_communities(access)))
    response = make_response(data)
    response.mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers["Content-Disposition"] = f'attachment; filename="import-template-campaign-{campaign.id}.xlsx"'
    return response


# -- regions ---------------------------------------------------------------------------

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


# -- accounts --------------------------------------------------------------------------

def _admin_only(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role is not Role.ADMIN:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def _accounts_in_scope():
    return db.session.scalars(sa.select(Account).where(
        Account.region_id.in_(scope.region_ids_under(current_user.region_id)))
        .options(joinedload(Account.region)).order_by(Account.username)).all()


def _account_or_404(account_id: int) -> Account:
    account = db.session.get(Account, account_id) if 0 < account_id < 2**31 else None
    if account is None or not scope.covers(current_user, account.region):
        abort(404)
    return account


@bp.route("/accounts", methods=["GET", "POST"])
@_admin_only
def accounts():
    form = AccountForm()
    regions = db.session.scalars(sa.select(Region).where(Region.id.in_(scope.region_ids_under(current_user.region_id)))
                                 .order_by(Region.code)).all()
    form.role.choices = [SelectChoice(r.value, r.label) for r in Role]
    form.region.choices = [SelectChoice(r.id, f"{r.name}（{r.level.label}）") for r in regions]
    if form.validate_on_submit():
        region = next(r for r in regions if r.id == form.region.data)
        role = Role(form.role.data)
        if db.session.scalar(sa.select(Account.id).where(Account.username == form.username.data.strip())):
            form.username.errors.append("这个用户名已经有人用了。")
        elif region.level not in ROLE_LEVELS[role]:
            form.region.errors.append(f"{role.label}要选“{'或'.join(level.label for level in ROLE_LEVELS[role])}”一级的区域。")
        else:
            operations.create_account(form.username.data.strip(), form.display_name.data.strip(), form.password.data,
                                      role, region)
            db.session.commit()
            flash(f"账号 {form.username.data.strip()} 已建好，请把用户名和初始密码当面告诉本人。")
            return redirect(url_for("staff.accounts"), 303)
    status = 400 if form.errors or any(f.errors for f in form) else 200
    return render_template("staff/accounts.html", accounts=_accounts_in_scope(), form=form,
                           reset_form=PasswordResetForm(formdata=None)), status


@bp.post("/accounts/<int:account_id>/<any(disable, enable):action>")
@_admin_only
def account_active(account_id: int, action: str):
    account = _account_or_404(account_id)
    if account.id == current_user.id:
        flash("不能停用自己的账号。")
    else:
        operations.set_account_active(account, action == "enable")
        db.session.commit()
        flash(f"账号 {account.username} 已{'启用' if action == 'enable' else '停用'}。")
    return redirect(url_for("staff.accounts"), 303)


@bp.post("/accounts/<int:account_id>/password")
@_admin_only
def account_password(account_id: int):
    account = _account_or_404(account_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        operations.reset_password(account, form.password.data)
        db.session.commit()
        flash(f"账号 {account.username} 的密码已重设。")
    else:
        flash("密码没有改：" + "；".join(e for errors in form.errors.values() for e in errors))
    return redirect(url_for("staff.accounts"), 303)
