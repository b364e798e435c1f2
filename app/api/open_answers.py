"""Free-text answers: the list (admin and evaluator accounts) and the words residents use (everyone in scope)."""

from __future__ import annotations

from flask import abort, jsonify, request

from ..evaluation import open_answers
from ..evaluators.access import ReadScope, read_scope
from . import bp


def _filters(scope: ReadScope) -> open_answers.Filters:
    try:
        filters = open_answers.parse_filters(scope.campaign, request.args)
    except open_answers.BadParameter as e:
        abort(400, str(e))
    if filters.community_id is not None:
        scope.community_or_404(filters.community_id)
    return filters


def _number(parse) -> int:
    try:
        return parse(request.args)
    except open_answers.BadParameter as e:
        abort(400, str(e))


@bp.get("/campaigns/<int:campaign_id>/open-answers")
def campaign_open_answers(campaign_id: int):
    scope = read_scope(campaign_id)
    scope.require_responses()  # answers as written may identify people
    filters = _filters(scope)
    page = _number(open_answers.parse_page)
    return jsonify(open_answers.list_answers(scope.campaign, scope.community_ids, filters, page))


@bp.get("/campaigns/<int:campaign_id>/open-answers/words")
def campaign_open_answer_words(campaign_id: int):
    scope = read_scope(campaign_id)
    filters = _filters(scope)
    if filters.q or filters.channel or filters.since or filters.until:
        abort(400, "the word counts take item, community, include_excluded and top only")
    top = _number(open_answers.parse_top)
    min_answers = 1 if scope.reads_responses else open_answers.STAFF_MIN_ANSWERS
    return jsonify(open_answers.word_frequencies(scope.campaign, scope.community_ids, filters, top=top,
                                                 min_answers=min_answers))
