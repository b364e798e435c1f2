"""The free-text answers page: search and filter the answers, and the words residents use most."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template, request

from ..evaluation import open_answers
from ..extensions import db
from ..models import Channel, Region
from . import bp
from .access import read_scope


@bp.get("/campaigns/<int:campaign_id>/open-answers")
def open_answers_page(campaign_id: int):
    scope = read_scope(campaign_id)
    campaign = scope.campaign
    communities = db.session.execute(
        sa.select(Region.id, Region.name).where(Region.id.in_(scope.community_ids)).order_by(Region.code)).all()
    error, listing, words = None, None, None
    try:
        filters = open_answers.parse_filters(campaign, request.args)
        page = open_answers.parse_page(request.args)
    except open_answers.BadParameter as e:
        error, filters, page = e.message_zh, open_answers.Filters(), 1
    if filters.community_id is not None:
        scope.community_or_404(filters.community_id)
    if error is None:
        if scope.reads_responses:
            listing = open_answers.list_answers(campaign, scope.community_ids, filters, page)
        # The words panel follows the chosen question and community, not the search or the dates.
        panel = open_answers.Filters(item=filters.item, community_id=filters.community_id,
                                     include_excluded=filters.include_excluded)
        words = open_answers.word_frequencies(
            campaign, scope.community_ids, panel, per_community=False,
            min_answers=1 if scope.reads_responses else open_answers.STAFF_MIN_ANSWERS)
    chosen = next((name for id_, name in communities if id_ == filters.community_id), None)
    return render_template(
        "evaluators/open_answers.html", campaign=campaign, scope=scope, filters=filters, error=error,
        listing=listing, words=words["scope"] if words else None, min_answers=words["min_answers"] if words else 1,
        chosen_community=chosen, communities=communities, items=open_answers.text_items(campaign),
        channels=list(Channel)), 400 if error else 200
