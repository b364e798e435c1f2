"""Meeting pages: staff set up and run a meeting from a phone, a big screen shows it, and
residents vote from theirs at /m/<code>."""

from __future__ import annotations

import re
from datetime import timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from flask import abort, current_app, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from .. import qrcodes
from ..extensions import db, limiter
from ..definitions import Item
from ..models import Campaign, CampaignCommunity, CampaignState, Meeting, MeetingQuestion, MeetingVote, QuestionKind
from ..models.types import utcnow
from ..resident import operations as resident_ops
from ..staff import once, scope
from ..staff.views.common import form_errors, may_change
from ..templating import LOCAL_TZ, local_time
from . import bp
from . import operations as ops
from . import record as meeting_record
from .forms import AttendanceForm, MeetingForm, QuestionForm, SurveyQuestionForm
from .push import meeting_push
from .queries import JOIN_CODE_RE, live_state, meeting_by_code, phone_state, phone_state_json, results
from .state_cache import phone_state_cache

#: How often the big screen and residents' phones ask for the state (milliseconds). The
#: screen asks twice a second: a vote then shows within half a second plus the answer's
#: time, with room for a busy server inside the 2-second promise (one screen per meeting,
#: so it costs little). Phones wait longer (with a random spread) because there are
#: hundreds of them and their state changes only when staff move on (where it is pushed,
#: they do not poll at all).
SCREEN_POLL_MS = 500
PHONE_POLL_MS = 3000


def _meeting_or_404(meeting_id: int) -> Meeting:
    meeting = db.session.get(Meeting, meeting_id) if 0 < meeting_id < 2**31 else None
    if meeting is None or not scope.covers(current_user, meeting.community):
        abort(404)
    return meeting


def _question_or_404(meeting: Meeting, question_id: int) -> MeetingQuestion:
    question = next((q for q in meeting.questions if q.id == question_id), None)
    if question is None:
        abort(404)
    return question


def _join_url(meeting: Meeting) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/m/{meeting.join_code}"


# -- staff --------------------------------------------------------------------------

@bp.route("/meetings/", methods=["GET", "POST"])
@login_required
def meetings():
    form = MeetingForm()
    communities = scope.communities_in_scope(current_user)
    form.community.choices = [SelectChoice(c.id, f"{c.parent.name} · {c.name}") for c in communities]
    campaigns = _campaigns_to_feed([c.id for c in communities])
    form.campaign.choices = [SelectChoice(0, "不计入测评")] + [
        SelectChoice(c.id, f"{c.name}（{c.state.label}）") for c in campaigns]
    if request.method == "GET":
        form.starts_at.data = utcnow().astimezone(LOCAL_TZ).replace(tzinfo=None, second=0, microsecond=0)
    if request.method == "POST":
        if not current_user.role.may_change:
            abort(403)
        campaign = next((c for c in campaigns if c.id == form.campaign.data), None)
        valid = form.validate_on_submit()
        if valid and campaign is not None and form.community.data not in {cc.community_id for cc in campaign.communities}:
            form.campaign.errors = ["所选社区不在这次测评里，请换一次测评，或选“不计入测评”。"]
            valid = False
        if valid:
            community = next(c for c in communities if c.id == form.community.data)

            def create() -> str:
                meeting = ops.create_meeting(
                    community, form.topic.data, form.place.data,
                    form.starts_at.data.replace(tzinfo=LOCAL_TZ).astimezone(timezone.utc),
                    attendance=form.attendance.data, campaign=campaign)
                return url_for("meetings.control", meeting_id=meeting.id)

            url, created = once.run_once(form.form_id.data, current_user.id, create)
            flash("坝坝会已建好，请添加要投票的问题。" if created else "这张表刚才已经提交过了，没有重复创建。")
            return redirect(url or url_for("meetings.meetings"), 303)
    listed = db.session.scalars(sa.select(Meeting).where(Meeting.community_id.in_(
        scope.community_ids_under(current_user.region_id))).order_by(Meeting.starts_at.desc()).limit(100)).all()
    return render_template("meetings/list.html", meetings=listed, form=form), 400 if form.errors else 200


def _campaigns_to_feed(community_ids: list[int]) -> list[Campaign]:
    """Campaigns not yet closed that one of these communities takes part in."""
    now = utcnow()
    found = db.session.scalars(sa.select(Campaign).where(Campaign.id.in_(
        sa.select(CampaignCommunity.campaign_id).where(CampaignCommunity.community_id.in_(community_ids))))
        .order_by(Campaign.id.desc())).all()
    return [c for c in found if c.state_at(now) is not CampaignState.CLOSED]


def _askable_items(meeting: Meeting) -> list[Item]:
    """The campaign questionnaire's single-choice and scale items not yet asked in the meeting.
    Items asked only after another answer (show_if) are left out: a room cannot be asked them."""
    if meeting.campaign is None:
        return []
    asked = {q.source for q in meeting.questions}
    return [i for i in meeting.campaign.survey_version.survey_definition.items
            if i.type in ("single", "likert") and i.show_if is None and i.key not in asked]


def _survey_question_form(meeting: Meeting, **kwargs) -> SurveyQuestionForm:
    form = SurveyQuestionForm(**kwargs)
    form.item.choices = [SelectChoice(i.key, i.text) for i in _askable_items(meeting)]
    return form


@bp.get("/meetings/<int:meeting_id>")
@login_required
def control(meeting_id: int):
    """The staff member's phone: move through the questions, open and close voting, hands, attendance."""
    meeting = _meeting_or_404(meeting_id)
    return render_template("meetings/control.html", meeting=meeting, results=results(meeting.questions),
                           campaign_state=meeting.campaign.state_at(utcnow()) if meeting.campaign else None,
                           question_form=QuestionForm(formdata=None),
                           survey_question_form=_survey_question_form(meeting, formdata=None),
                           attendance_form=AttendanceForm(formdata=None, attendance=meeting.attendance),
                           join_url=_join_url(meeting))


def _commit(meeting: Meeting) -> None:
    """Commit a staff action, then drop the phones' cached copy so they see it at their next
    poll, and push the change to phones that listen."""
    db.session.commit()
    phone_state_cache().forget(meeting.join_code)
    push = meeting_push()
    if push is not None:
        push.publish(meeting.join_code)


def _back(meeting: Meeting):
    return redirect(url_for("meetings.control", meeting_id=meeting.id) + "#now", 303)


@bp.post("/meetings/<int:meeting_id>/questions")
@may_change
def add_question(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    form = QuestionForm()
    if not form.validate_on_submit():
        flash("没有添加：" + form_errors(form))
        return _back(meeting)
    kind = QuestionKind(form.kind.data)
    labels = [line for line in re.split(r"[\r\n]+", form.options.data or "")]
    _add(meeting, lambda: ops.add_question(
        meeting, kind, form.text.data, options=labels if kind is QuestionKind.CHOOSE_ONE else None),
        done="问题已添加。", refused="没有添加：单选题要写 2 到 8 个不同的选项，一行一个。")
    return _back(meeting)


@bp.post("/meetings/<int:meeting_id>/questions/from-survey")
@may_change
def add_survey_question(meeting_id: int):
    """Ask a question of the campaign's questionnaire, with its own words and answers."""
    meeting = _meeting_or_404(meeting_id)
    form = _survey_question_form(meeting)
    if not form.validate_on_submit():
        flash("没有添加：" + form_errors(form))
        return _back(meeting)
    item = meeting.campaign.survey_version.survey_definition.items_by_key[form.item.data]
    _add(meeting, lambda: ops.add_question(meeting, QuestionKind.SURVEY_ITEM, item.text, item=item),
         done="问卷里的题已添加。", refused="没有添加：这道题不能在会上问。")
    return _back(meeting)


def _add(meeting: Meeting, add, *, done: str, refused: str) -> None:
    """Add a question (the first goes on the big screen by itself); a refusal, or a second
    staff member adding at the same moment (the unique position), changes nothing."""
    if meeting.ended:
        flash("会已经结束，不能再添加问题。")
        return
    try:
        add()
        if meeting.current_position is None:
            ops.show_question(meeting, 1)
        _commit(meeting)
    except ValueError:
        db.session.rollback()
        flash(refused)
    except IntegrityError:
        db.session.rollback()
        flash("刚才有人同时添加了问题，这一题没有添加，请再添加一次。")
    else:
        flash(done)


@bp.post("/meetings/<int:meeting_id>/show/<int:position>")
@may_change
def show(meeting_id: int, position: int):
    meeting = _meeting_or_404(meeting_id)
    if ops.show_question(meeting, position):
        _commit(meeting)
    return _back(meeting)


@bp.post("/meetings/<int:meeting_id>/questions/<int:question_id>/<any(open, close):action>")
@may_change
def voting(meeting_id: int, question_id: int, action: str):
    meeting = _meeting_or_404(meeting_id)
    question = _question_or_404(meeting, question_id)
    change = ops.open_voting if action == "open" else ops.close_voting
    if change(question, utcnow()):
        _commit(meeting)
    elif meeting.ended:
        flash("会已经结束，不能再投票。")
    return _back(meeting)


@bp.post("/meetings/<int:meeting_id>/questions/<int:question_id>/hands")
@may_change
def hands(meeting_id: int, question_id: int):
    meeting = _meeting_or_404(meeting_id)
    question = _question_or_404(meeting, question_id)
    counts, bad = {}, False
    for code in question.codes:
        raw = (request.form.get(f"hands-{code}") or "").strip()
        if raw == "":
            continue
        if raw.isascii() and raw.isdigit() and int(raw) <= 100_000:
            counts[code] = int(raw)
        else:
            bad = True
    if bad:
        flash("举手人数请填 0 到 100000 的整数，没有改动。")
    elif counts and ops.set_hand_counts(question, counts):
        _commit(meeting)
        flash("举手人数已记下。")
    return _back(meeting)


@bp.post("/meetings/<int:meeting_id>/attendance")
@may_change
def attendance(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    form = AttendanceForm()
    if form.validate_on_submit():
        if ops.set_attendance(meeting, form.attendance.data):
            _commit(meeting)
    else:
        flash("到场人数没有改：" + form_errors(form))
    return _back(meeting)


@bp.post("/meetings/<int:meeting_id>/end")
@may_change
def end(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    if request.form.get("confirm") != "yes":
        flash("没有结束：请先勾选“确认结束”。")
    elif ops.end_meeting(meeting, utcnow()):
        _commit(meeting)
        flash("会已结束，投票都已关闭。")
    return _back(meeting)


@bp.get("/meetings/<int:meeting_id>/screen")
@login_required
def screen(meeting_id: int):
    """The big screen (a projector or a TV): join code, the question, the bars, votes so far."""
    meeting = _meeting_or_404(meeting_id)
    return render_template("meetings/screen.html", meeting=meeting, state=live_state(meeting),
                           join_url=_join_url(meeting), poll_ms=SCREEN_POLL_MS,
                           state_url=url_for("meetings.screen_state", meeting_id=meeting.id))


@bp.get("/meetings/<int:meeting_id>/state.json")
@login_required
def screen_state(meeting_id: int):
    return _state_response(_meeting_or_404(meeting_id))


@bp.get("/meetings/<int:meeting_id>/join.svg")
@login_required
def join_qr(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    response = make_response(qrcodes.svg(_join_url(meeting)))
    response.mimetype = "image/svg+xml"
    return response


@bp.get("/meetings/<int:meeting_id>/record.<any(xlsx, pdf):fmt>")
@login_required
def record(meeting_id: int, fmt: str):
    """The meeting's record for the archive."""
    meeting = _meeting_or_404(meeting_id)
    entry = meeting_record.MeetingRecord(
        community=f"{meeting.community.parent.name} {meeting.community.name}", topic=meeting.topic,
        place=meeting.place, starts_at=local_time(meeting.starts_at), ended_at=local_time(meeting.ended_at),
        attendance=meeting.attendance, join_code=meeting.join_code, results=results(meeting.questions),
        made_at=local_time(utcnow()))
    if fmt == "xlsx":
        response = make_response(meeting_record.record_xlsx(entry))
        response.mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        response = make_response(meeting_record.record_pdf(entry))
        response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="meeting-{meeting.id}.{fmt}"'
    return response


def _state_response(meeting: Meeting):
    state = live_state(meeting)
    response = jsonify(state)
    response.set_etag(state["version"])
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


# -- residents ------------------------------------------------------------------------

def _code_not_found(response) -> bool:
    return response.status_code == 404


#: Wrong codes per client address, counted together on both pages: guessing a meeting's
#: code from afar gets slow.
_code_guesses = limiter.shared_limit(lambda: current_app.config["MEETING_CODE_GUESS_LIMIT"], scope="meeting-code",
                                     deduct_when=_code_not_found)


@bp.get("/m")
@_code_guesses
def join():
    """Type the six-digit code shown on the big screen."""
    code = (request.args.get("code") or "").strip()
    if code:
        if meeting_by_code(code) is not None:
            return redirect(url_for("meetings.vote", code=code), 303)
        return make_response(render_template("meetings/join.html", code=code, wrong=True), 404)
    return render_template("meetings/join.html", code="", wrong=False)


VOTE_MESSAGES = {
    ops.VoteOutcome.COUNTED: (200, "投票成功，谢谢！"),
    ops.VoteOutcome.ALREADY_VOTED: (409, "这部手机已经投过这道题了，每人一票。"),
    ops.VoteOutcome.NOT_OPEN: (409, "这道题现在不能投票（还没开始或已经结束）。"),
    ops.VoteOutcome.NO_SUCH_QUESTION: (409, "这道题已经换了，请看下面的新问题。"),
    ops.VoteOutcome.NO_SUCH_OPTION: (400, "没有这个选项，请重新选择。"),
}
#: A vote without the cookie the page gives: posting again and again must not count again and again.
NO_DEVICE = (409, "请在这个页面上投票（如果手机禁止了网站数据，请允许后再试）。")


def _cast(code: str, device) -> tuple[ops.VoteOutcome | None, int, str]:
    """Count the posted vote of this phone in the meeting with this code: (outcome, status, words)."""
    if device.is_new:
        return None, *NO_DEVICE
    secret = current_app.config["SECRET_KEY"]
    outcome = ops.cast_vote(ops.Vote(request.form.get("question", type=int) or 0, (request.form.get("option") or "")[:32],
                                     resident_ops.device_hash(secret, device.id), utcnow()), join_code=code)
    return outcome, *VOTE_MESSAGES[outcome]


@bp.route("/m/<code>", methods=["GET", "POST"])
@_code_guesses
def vote(code: str):
    """One question at a time, following the staff; one vote per phone per question. The page's
    script votes through vote_json (no reload); this form post works without it."""
    meeting = meeting_by_code(code)
    if meeting is None:
        return make_response(render_template("meetings/join.html", code=code[:12], wrong=True), 404)
    secret = current_app.config["SECRET_KEY"]
    device = resident_ops.read_device(secret, request.cookies.get(resident_ops.DEVICE_COOKIE))
    status, message = 200, None
    if request.method == "POST":
        outcome, status, message = _cast(code, device)
        if outcome is ops.VoteOutcome.COUNTED:
            flash(message)
            return resident_ops.with_device_cookie(redirect(url_for("meetings.vote", code=code), 303), device)
    state = phone_state(meeting)
    voted = _voted_option(meeting, device, secret)
    push = meeting_push()
    question = meeting.current_question
    # Residents are told when their answer reaches the evaluation (a questionnaire item, the
    # campaign collecting): the vote then is also their anonymous answer to it.
    counts_for_evaluation = bool(question is not None and question.source and meeting.campaign is not None
                                 and meeting.campaign.state_at(utcnow()) is CampaignState.OPEN)
    return resident_ops.with_device_cookie(make_response(render_template(
        "meetings/vote.html", meeting=meeting, state=state, voted=voted, message=message, poll_ms=PHONE_POLL_MS,
        counts_for_evaluation=counts_for_evaluation,
        state_url=url_for("meetings.vote_state", code=code), vote_url=url_for("meetings.vote_json", code=code),
        events_url=url_for("meetings.vote_events", code=code) if push and push.serves_streams else None), status),
        device)


@bp.post("/m/<code>/vote")
def vote_json(code: str):
    """The vote page's script posts here: one light request and a short JSON answer, no page
    reload on a weak signal. The meeting is found by the vote's own query. A wrong code and a
    question not (or no longer) in the meeting get the same answer, so this URL tells a code
    guesser nothing and needs no guess limit (the page reloads and shows which it was)."""
    device = resident_ops.read_device(current_app.config["SECRET_KEY"], request.cookies.get(resident_ops.DEVICE_COOKIE))
    outcome, status, message = _cast(code[:12], device)
    return jsonify(outcome=outcome.value if outcome else "no_device", message=message), status


@bp.get("/m/<code>/events")
@_code_guesses
def vote_events(code: str):
    """The phone state pushed as it changes (Server-Sent Events). 204 where push is not
    available: EventSource then stops, and the page polls state.json instead."""
    push = meeting_push()
    if push is None or not push.ready():
        return "", 204
    if not JOIN_CODE_RE.fullmatch(code) or db.session.scalar(
            sa.select(Meeting.id).where(Meeting.join_code == code)) is None:
        return _no_meeting()
    response = current_app.response_class(push.stream(code), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _voted_option(meeting: Meeting, device, secret: str) -> str | None:
    question = meeting.current_question
    if question is None or device.is_new:
        return None
    return db.session.scalar(sa.select(MeetingVote.option).where(
        MeetingVote.question_id == question.id,
        MeetingVote.device_hash == resident_ops.device_hash(secret, device.id)))


@bp.get("/m/<code>/state.json")
@_code_guesses
def vote_state(code: str):
    """Polled by every phone in the courtyard: from Redis where it is set, else the database."""
    if not JOIN_CODE_RE.fullmatch(code):
        return _no_meeting()
    cache = phone_state_cache()
    cached = cache.get(code)
    if cached is None:
        meeting = meeting_by_code(code)
        if meeting is None:
            return _no_meeting()
        version, body = phone_state_json(meeting)
        cached = version.encode() + b"\n" + body
        cache.put(code, cached)
    version, _, body = cached.partition(b"\n")
    response = current_app.response_class(body, mimetype="application/json")
    response.set_etag(version.decode())
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


def _no_meeting():
    return jsonify(error={"status": 404, "message": "没有这个会"}), 404
