"""Checks and small helpers the staff views share: who may do what, and finding a campaign in scope."""

from __future__ import annotations

from functools import wraps

from flask import abort, make_response
from flask_login import current_user, login_required

from ...extensions import db
from ...models import Campaign, Role
from .. import scope


def may_change(view):
    """Refuse (403) a role that only reads, such as an evaluator."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.role.may_change:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def campaign_or_404(campaign_id: int) -> tuple[Campaign, scope.CampaignAccess]:
    campaign = db.session.get(Campaign, campaign_id) if 0 < campaign_id < 2**31 else None
    if campaign is None:
        abort(404)
    access = scope.campaign_access(current_user, campaign)
    if not access.may_view:
        abort(404)
    return campaign, access


def pdf_response(data: bytes, filename: str):
    response = make_response(data)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def may_review(view):
    """Individual responses are for evaluators and the district: not for the street or the
    community being evaluated (answers about their own cadres, and who might have given them)."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.role.may_exclude:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def may_score(view):
    """Scores, rankings and evaluators' entries are for evaluators and the district, not for those scored."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.role.may_score:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def may_read_audit(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role not in (Role.ADMIN, Role.EVALUATOR):
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def admin_only(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role is not Role.ADMIN:
            abort(403)
        return view(*args, **kwargs)
    return wrapped



def form_errors(form) -> str:
    """A refused form's messages on one line, for a flash after a redirect."""
    return "；".join(e for errors in form.errors.values() for e in errors)
