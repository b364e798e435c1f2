"""Resident pages: a site's survey form, the thank-you page, and the site's QR code."""

from __future__ import annotations

from flask import Response as HttpResponse
from flask import abort, current_app, make_response, redirect, render_template, request, url_for

from .. import qrcodes
from ..definitions.forms import CONTROL_FIELDS, make_survey_form
from ..models import Channel
from ..models.types import utcnow
from ..submissions import NewResponse, StoreOutcome, quality_flags_at_submit, store_response
from . import bp
from . import operations as ops


def _page(template: str, status: int, **context):
    return make_response(render_template(template, **context), status)


def _resolve(token: str):
    """The site and the campaign a request is for, or the page that explains why not."""
    site = ops.site_by_token(token)
    if site is None:
        return None, None, _page("resident/message.html", 404, title="找不到这份问卷",
                                 message="这个二维码或网址不对，或者已经作废。请向社区工作人员询问。")
    found = ops.campaigns_at_site(site, utcnow())
    if not found.open:
        if found.scheduled:
            return site, None, _page("resident/message.html", 404, title="调查还没有开始",
                                     message="这份调查还没有开始，请到时候再来。",
                                     opens_at=found.scheduled[0].opens_at)
        if found.closed:
            return site, None, _page("resident/message.html", 410, title="调查已经结束",
                                     message="这份调查已经结束了，谢谢您的关心！")
        return site, None, _page("resident/message.html", 404, title="现在没有调查",
                                 message="这里现在没有正在进行的调查。")
    if len(found.open) == 1:
        return site, found.open[0], None
    wanted = request.args.get("c", type=int)
    for campaign in found.open:
        if campaign.id == wanted:
            return site, campaign, None
    return site, None, _page("resident/choose.html", 200, site=site, campaigns=found.open)


@bp.route("/s/<token>", methods=["GET", "POST"])
def survey(token: str):
    site, campaign, page = _resolve(token)
    if page is not None:
        return page
    secret = current_app.config["SECRET_KEY"]
    device = ops.read_device(secret, request.cookies.get(ops.DEVICE_COOKIE))
    definition = campaign.survey_version.survey_definition
    form_class = make_survey_form(definition)

    if campaign.one_response_per_device and campaign.id in device.answered and request.method == "GET":
        return _with_device(_page("resident/message.html", 200, title="您已经填过了",
                                  message="这部手机已经填过这份问卷，每人填一次就好。谢谢您的参与！"), device)

    if request.method == "GET":
        form = form_class(formdata=None)
        form.submission.data = ops.new_submission_token(secret, campaign.id)
        return _with_device(_render_form(site, campaign, form, 200), device)

    # POST: anything our own form could not have sent is refused outright.
    if _malformed(request.form, definition):
        return _page("resident/message.html", 400, title="提交的内容有误",
                     message="提交的内容和问卷对不上，没有保存。请重新打开问卷填写。")
    form = form_class()
    submission = ops.read_submission_token(secret, request.form.get("submission"), campaign.id)
    if not form.validate() or submission is None:
        notice = None
        if submission is None or form.csrf_token.errors:
            # Kept the answers; a fresh token lets the resident simply tap submit again.
            notice = "页面放得太久已经失效，您填的内容都还在，请再点一次“提交”。"
            form.csrf_token.errors = []
        # A good token is kept, so the start time and the submission id stay those of the first showing.
        form.submission.data = request.form["submission"] if submission else \
            ops.new_submission_token(secret, campaign.id)
        return _with_device(_render_form(site, campaign, form, 400, notice=notice), device)

    answers = form.answer_rows()
    device_key = ops.device_hash(secret, device.id)
    outcome = store_response(NewResponse(
        campaign_id=campaign.id, community_id=site.community_id, site_id=site.id, channel=Channel.QR,
        submission_id=submission.id, started_at=submission.started_at, submitted_at=utcnow(),
        answers=answers, device_hash=device_key, network_hash=ops.network_hash(secret, request.remote_addr),
        once_key=device_key if campaign.one_response_per_device else None,
        quality_flags=int(quality_flags_at_submit(definition, answers)),
    ))
    if outcome is StoreOutcome.ALREADY_ANSWERED:
        return _with_device(_page("resident/message.html", 409, title="您已经填过了",
                                  message="这部手机已经填过这份问卷，这次的回答没有再保存。谢谢您的参与！"), device)
    if campaign.id not in device.answered:
        device.answered.append(campaign.id)
    return _with_device(redirect(url_for("resident.thanks", token=token, c=campaign.id), 303), device)


def _malformed(posted, definition) -> bool:
    """Unknown field names, or several values where the item takes one."""
    for name in posted.keys():
        item = definition.items_by_key.get(name)
        if item is None:
            if name not in CONTROL_FIELDS:
                return True
        elif item.type != "multiple" and len(posted.getlist(name)) > 1:
            return True
    return any(len(posted.getlist(name)) > 1 for name in CONTROL_FIELDS)


def _render_form(site, campaign, form, status: int, notice: str | None = None):
    definition = form.definition
    return _page("resident/survey.html", status, site=site, campaign=campaign, form=form,
                 definition=definition, notes=ops.condition_notes(definition), notice=notice,
                 action=request.path + (f"?c={campaign.id}" if request.args.get("c") else ""))


def _with_device(response, device: ops.Device):
    if device.is_new or request.method == "POST":
        response.set_cookie(ops.DEVICE_COOKIE, ops.device_cookie_value(current_app.config["SECRET_KEY"], device),
                            max_age=400 * 24 * 3600, httponly=True, samesite="Lax",
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


@bp.get("/s/<token>/thanks")
def thanks(token: str):
    site = ops.site_by_token(token)
    if site is None:
        abort(404)
    campaign_id = request.args.get("c", type=int)
    outro = None
    for campaign in ops.campaigns_at_site(site, utcnow()).open:
        if campaign.id == campaign_id:
            outro = campaign.survey_version.survey_definition.outro
    return render_template("resident/thanks.html", site=site, outro=outro)


@bp.get("/qr/<token>.<any(png, svg):fmt>")
def qr_code(token: str, fmt: str):
    site = ops.site_by_token(token)
    if site is None:
        abort(404)
    url = qrcodes.site_url(current_app.config["BASE_URL"], site.token)
    body = qrcodes.png(url) if fmt == "png" else qrcodes.svg(url)
    mimetype = "image/png" if fmt == "png" else "image/svg+xml"
    response = HttpResponse(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
