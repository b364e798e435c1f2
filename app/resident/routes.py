"""Resident pages: a site's survey form, the thank-you page, and the site's QR code."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response as HttpResponse
from flask import abort, current_app, make_response, redirect, render_template, request, url_for

from .. import qrcodes
from ..definitions.forms import make_survey_form, read_valid_answers
from ..evaluation import published
from ..extensions import within_limit
from ..models import CampaignState
from ..models.types import utcnow
from ..submissions import StoreOutcome
from . import bp
from . import operations as ops

#: What a resident reads when a site has no form to show: (status, title, words).
EXPLAIN = {
    ops.Problem.SCHEDULED: (404, "调查还没有开始", "这份调查还没有开始，请到时候再来。"),
    ops.Problem.CLOSED: (410, "调查已经结束", "这份调查已经结束了，谢谢您的关心！"),
    ops.Problem.NONE: (404, "现在没有调查", "这里现在没有正在进行的调查。"),
}
NOT_FOUND = (404, "找不到这份问卷", "这个二维码或网址不对，或者已经作废。请向社区工作人员询问。")
NOT_OUR_FORM = (400, "提交的内容有误", "提交的内容和问卷对不上，没有保存。请重新打开问卷填写。")
ALREADY = "这部手机已经填过这份问卷，每人填一次就好。谢谢您的参与！"
#: Shown when the form's tokens did not check out; the answers are kept on the page.
RESUBMIT = "这一页需要重新提交：您填的内容都还在，请再点一次“提交”。"
#: Shown when one address submits faster than SUBMIT_LIMIT; nothing was stored, the answers are on the page.
TOO_FREQUENT = "提交太频繁了，请过一会儿再点“提交”，您填的内容都还在。"


def _message(status: int, title: str, message: str, **context):
    return make_response(render_template("resident/message.html", title=title, message=message, **context), status)


SITE_RETIRED = (410, "这个考评点已经不用了", "这个二维码已经停用。请到社区里其他贴着二维码的地方扫码，或向社区工作人员询问。")
TICKET_NOT_FOUND = (404, "找不到这张问卷票", "这张票上的二维码不对。请向发票的工作人员询问。")
TICKET_USED = (410, "这张票已经用过了", "这张问卷票已经填过一次了，每张票只能用一次。谢谢您的参与！")


@bp.route("/s/<token>", methods=["GET", "POST"])
def survey(token: str):
    """The survey of the campaign open at a site (its poster's QR code)."""
    posting = request.method == "POST"
    if posting:
        entry = _open_entry_posted_to(token)
        if entry is not None:  # the usual case, in one query; anything amiss takes the long way below
            return _form_flow(entry, action=lambda: url_for("resident.survey", token=token, c=entry.campaign_id),
                              thanks=lambda: url_for("resident.thanks", token=token, c=entry.campaign_id))
    site = ops.site_by_token(token)
    if site is None:
        return _message(*NOT_FOUND)
    if site.retired:
        return _message(*SITE_RETIRED)
    if posting and not ops.is_form_post(request):
        return _message(*NOT_OUR_FORM)
    wanted = _campaign_wanted(posting)
    found = ops.resolve_campaign(site, utcnow(), wanted, posting=posting)
    if found.problem is ops.Problem.CHOOSE:
        if posting:  # our forms always name their campaign
            return _message(*NOT_OUR_FORM)
        return make_response(render_template("resident/choose.html", site=site, campaigns=found.campaigns))
    if found.campaign is None:
        opens_at = found.campaigns[0].opens_at if found.campaigns else None
        return _message(*EXPLAIN[found.problem], opens_at=opens_at)
    entry = ops.Entry.of(found.campaign, site.community_id, f"{site.community.name} · {site.name}", site=site)
    campaign_id = found.campaign.id
    return _form_flow(entry, action=lambda: url_for("resident.survey", token=site.token, c=campaign_id),
                      thanks=lambda: url_for("resident.thanks", token=token, c=campaign_id))


def _campaign_wanted(posting: bool) -> int | None:
    """The campaign a request names: in the form's address, or (posting) in its signed token."""
    wanted = request.args.get("c", type=int)
    if posting and wanted is None:
        wanted = ops.campaign_of_token(current_app.config["SECRET_KEY"], request.form.get("submission"))
    return wanted


def _open_entry_posted_to(token: str) -> ops.Entry | None:
    """A post's entry when the site is in use and the campaign it names is open there."""
    if not ops.is_form_post(request):
        return None
    wanted = _campaign_wanted(posting=True)
    return None if wanted is None else ops.open_entry_at_site(token, wanted, utcnow())


@bp.route("/t/<token>", methods=["GET", "POST"])
def ticket_survey(token: str):
    """The survey a single-use ticket (handed out at random) leads to."""
    ticket = ops.ticket_by_token(token)
    if ticket is None:
        return _message(*TICKET_NOT_FOUND)
    posting = request.method == "POST"
    if posting and not ops.is_form_post(request):
        return _message(*NOT_OUR_FORM)
    state = ticket.campaign.state_at(utcnow())
    if state is not CampaignState.OPEN:
        problem = {CampaignState.CLOSED: ops.Problem.CLOSED, CampaignState.SCHEDULED: ops.Problem.SCHEDULED}.get(
            state, ops.Problem.NONE)
        return _message(*EXPLAIN[problem], opens_at=ticket.campaign.opens_at)
    if ticket.used_at is not None and not posting:
        return _message(*TICKET_USED)
    entry = ops.Entry.of(ticket.campaign, ticket.community_id, f"{ticket.community.name} · 随机发放的问卷票",
                         ticket=ticket)
    return _form_flow(entry, action=lambda: url_for("resident.ticket_survey", token=token),
                      thanks=lambda: url_for("resident.ticket_thanks", token=token))


def _form_flow(entry: ops.Entry, *, action: Callable[[], str], thanks: Callable[[], str]):
    """Show the entry's form, or take its answers: the part every way in shares. The form's
    address and the thank-you page's are made only when needed (each costs a URL build)."""
    secret = current_app.config["SECRET_KEY"]
    device = ops.read_device(secret, request.cookies.get(ops.DEVICE_COOKIE))
    form_class = make_survey_form(entry.definition)

    if request.method != "POST":  # GET and HEAD
        if entry.ticket_id is None and entry.one_response_per_device and entry.campaign_id in device.answered:
            return _with_device(_message(200, "您已经填过了", ALREADY), device)
        form = form_class(formdata=None)
        form.submission.data = ops.new_submission_token(secret, entry.campaign_id)
        return _with_device(_render_form(entry, form, action(), 200), device)

    if form_class.has_foreign_fields(request.form):
        return _message(*NOT_OUR_FORM)
    submission = ops.read_submission_token(secret, request.form.get("submission"), entry.campaign_id,
                                           current_app.config["WTF_CSRF_TIME_LIMIT"])
    # Nearly every post is valid: its answers are read straight from it. Otherwise the form
    # judges, and shows the resident what to put right.
    answers = read_valid_answers(entry.definition, request.form) \
        if submission is not None and ops.csrf_token_valid(request.form.get("csrf_token")) else None
    if answers is None:
        form = form_class(formdata=request.form)
        if not form.validate() or submission is None:
            notice = None
            if submission is None or form.csrf_token.errors:
                notice = RESUBMIT
                form.csrf_token.errors = []
            # A good token is kept, so the start time and the submission id stay those of the first showing.
            form.submission.data = request.form["submission"] if submission else \
                ops.new_submission_token(secret, entry.campaign_id)
            return _with_device(_render_form(entry, form, action(), 400, notice=notice), device)
        answers = form.answer_rows()

    # Counted only for a post that would be stored: a resident correcting a mistake is not
    # slowed down. Refused, the page comes back as posted (same submission id) and nothing is stored.
    if not within_limit(current_app.config["SUBMIT_LIMIT"], "resident-submit"):
        form = form_class(formdata=request.form)
        form.validate()  # decides the items shown, as the page needs
        return _with_device(_render_form(entry, form, action(), 429, notice=TOO_FREQUENT), device)
    outcome = ops.submit(entry=entry, answers=answers, submission=submission, device=device, secret=secret,
                         remote_addr=request.remote_addr)
    if outcome is StoreOutcome.ALREADY_ANSWERED:
        return _with_device(_message(409, "您已经填过了", "这部手机已经填过这份问卷，这次的回答没有再保存。谢谢您的参与！"),
                            device)
    if outcome is StoreOutcome.TICKET_USED:
        return _with_device(_message(*TICKET_USED), device)
    return _with_device(redirect(thanks(), 303), device)


def _render_form(entry: ops.Entry, form, action: str, status: int, notice: str | None = None):
    # The campaign is always in the form's address, so the answers go to it and no other.
    definition = form.definition
    return make_response(render_template(
        "resident/survey.html", where=entry.where, form=form, definition=definition,
        notes=ops.condition_notes(definition), notice=notice, action=action), status)


def _with_device(response, device: ops.Device):
    return ops.with_device_cookie(response, device)


@bp.get("/s/<token>/thanks")
def thanks(token: str):
    site = ops.site_by_token(token)
    if site is None:
        return _message(*NOT_FOUND)
    campaign_id = request.args.get("c", type=int)
    outro = None
    for campaign in ops.campaigns_at_site(site):
        if campaign.id == campaign_id:
            outro = campaign.survey_version.survey_definition.outro
    return render_template("resident/thanks.html", site=site, outro=outro)


@bp.get("/t/<token>/thanks")
def ticket_thanks(token: str):
    ticket = ops.ticket_by_token(token)
    if ticket is None:
        return _message(*TICKET_NOT_FOUND)
    return render_template("resident/thanks.html", outro=ticket.campaign.survey_version.survey_definition.outro)


@bp.get("/qr/<token>.<any(png, svg):fmt>")
def qr_code(token: str, fmt: str):
    site = ops.site_by_token(token)
    if site is None:
        abort(404)
    url = qrcodes.site_url(current_app.config["BASE_URL"], site.token)
    body = qrcodes.png(url) if fmt == "png" else qrcodes.svg(url)
    response = HttpResponse(body, mimetype="image/png" if fmt == "png" else "image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


NOT_PUBLISHED = (404, "找不到公布的结果", "这次调查的结果还没有公布，或者网址不对。")


@bp.get("/results/<int:campaign_id>")
def results(campaign_id: int):
    """A campaign's satisfaction rates, once a district admin has published them (Kunming Ⅱ-14.4)."""
    campaign = published.published_campaign(campaign_id)
    if campaign is None:
        return _message(*NOT_PUBLISHED)
    return make_response(render_template("resident/results.html", results=published.published_results(campaign),
                                         published_at=campaign.results_published_at, percent=published.percent,
                                         percent_range=published.percent_range))
