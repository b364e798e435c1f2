"""A campaign's free-text answers: the list (searched, filtered, paged) and the words residents use.

Answers to ``text`` items are stored as one answer row with value '' and the words in ``text``.
The list shows answers as written, which may identify people: the views call
``scope.require_responses()`` before it. Word counts are aggregates, read by everyone in scope;
for accounts that may not read the answers, a word must come from at least STAFF_MIN_ANSWERS
distinct responses (residents): a word a few residents alone wrote may point at them, and one
resident's answers to several text questions, or the same words written twice, count once.

Every function takes the community ids the caller may read and never looks beyond them.
Excluded responses are left out unless the filters ask for them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from ..analysis.word_frequency import WordFrequencies, count_words, segment
from ..definitions import Item
from ..extensions import db
from ..models import Answer, Campaign, Channel, Region, Response
from ..templating import LOCAL_TZ

answers = Answer.__table__
responses = Response.__table__
regions = Region.__table__

#: Answers on one page of the list.
PAGE_SIZE = 50
#: Words listed per community by default, and at most.
DEFAULT_TOP = 30
MAX_TOP = 200
#: Longest search text.
MAX_QUERY = 100
#: Words shown to accounts that may not read the answers come from at least this many distinct
#: responses (a response's several text answers count once). The name is kept for the callers.
STAFF_MIN_ANSWERS = 5

EXCLUDED_NOTE = ("Excluded responses (left out of the statistics by an evaluator) are not listed; "
                 "include_excluded=true lists them too, marked.")


class BadParameter(ValueError):
    """A request parameter the list or the word counts cannot use: English for the API, Chinese for pages."""

    def __init__(self, name: str, message: str, message_zh: str):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message_zh = message_zh


@dataclass(frozen=True)
class Filters:
    #: Only answers to this text item (its key); None: every text item.
    item: str | None = None
    #: Only this community (already checked to be in the reader's scope by the caller).
    community_id: int | None = None
    #: Only answers whose text contains this (case-insensitive, literally: % and _ are no wildcards).
    q: str = ""
    channel: Channel | None = None
    #: Submitted on or after / on or before these days, China time.
    since: date | None = None
    until: date | None = None
    #: List excluded responses too (marked); by default they are left out.
    include_excluded: bool = False

    def as_args(self) -> dict[str, str]:
        """The filters as GET parameters (for links to other pages of the list)."""
        args = {"item": self.item, "community": self.community_id, "q": self.q,
                "channel": self.channel.value if self.channel else None,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "include_excluded": "true" if self.include_excluded else None}
        return {k: str(v) for k, v in args.items() if v not in (None, "")}

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(channel=self.channel.value if self.channel else None,
                 since=self.since.isoformat() if self.since else None,
                 until=self.until.isoformat() if self.until else None)
        return d


def text_items(campaign: Campaign) -> list[Item]:
    """The free-text questions of the campaign's questionnaire, in order."""
    return [item for item in campaign.survey_version.survey_definition.items if item.type == "text"]


# -- reading the request's parameters ------------------------------------------------------------


def _whole_number(args: Mapping[str, str], name: str, low: int, high: int, zh: str) -> int | None:
    raw = args.get(name, "").strip()
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise BadParameter(name, f"must be a whole number from {low} to {high}; got {raw!r}", zh)
    return int(raw)


def _day(args: Mapping[str, str], name: str) -> date | None:
    raw = args.get(name, "").strip()
    if raw == "":
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, f"must be a date YYYY-MM-DD; got {raw!r}", "日期请按“2026-01-31”的样子填写。") from None
    if not 2000 <= day.year <= 2100:
        raise BadParameter(name, f"must be a date from 2000 to 2100; got {raw!r}", "请填 2000 年到 2100 年之间的日期。")
    return day


def _flag(args: Mapping[str, str], name: str) -> bool:
    raw = args.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes", "on"):
        return True
    raise BadParameter(name, f"must be true or false; got {raw!r}", "参数有误，请从页面上重新选择。")


def parse_filters(campaign: Campaign, args: Mapping[str, str]) -> Filters:
    """The filters a request names (item, community, q, channel, since, until, include_excluded).

    Raises BadParameter for anything unusable: an item that is not a text question of the
    questionnaire, a community that is not a whole number, an unknown channel, a bad date, a
    date range ending before it starts, a search text over MAX_QUERY characters. Whether the
    community is the reader's to see is the caller's to check (it answers 404)."""
    item = args.get("item", "").strip() or None
    if item is not None:
        found = campaign.survey_version.survey_definition.items_by_key.get(item)
        if found is None:
            raise BadParameter("item", f"the questionnaire has no item {item!r}", "问卷里没有这道题。")
        if found.type != "text":
            raise BadParameter("item", f"item {item!r} is not a free-text question (type {found.type})",
                               "这道题不是填空题，没有文字回答。")
    community_id = _whole_number(args, "community", 1, 2**31 - 1, "请从列表里选社区。")
    q = args.get("q", "").strip()
    if len(q) > MAX_QUERY:
        raise BadParameter("q", f"the search text is longer than {MAX_QUERY} characters",
                           f"搜索的词太长了，请少于 {MAX_QUERY} 个字。")
    channel_raw = args.get("channel", "").strip()
    try:
        channel = Channel(channel_raw) if channel_raw else None
    except ValueError:
        raise BadParameter("channel", f"must be one of {', '.join(c.value for c in Channel)}; got {channel_raw!r}",
                           "请从列表里选回答方式。") from None
    since, until = _day(args, "since"), _day(args, "until")
    if since and until and since > until:
        raise BadParameter("until", f"the range ends ({until}) before it starts ({since})", "开始日期不能晚于结束日期。")
    return Filters(item, community_id, q, channel, since, until, _flag(args, "include_excluded"))


def parse_page(args: Mapping[str, str]) -> int:
    return _whole_number(args, "page", 1, 1_000_000, "页码不对。") or 1


def parse_top(args: Mapping[str, str]) -> int:
    return _whole_number(args, "top", 1, MAX_TOP, f"常用词的个数请填 1 到 {MAX_TOP}。") or DEFAULT_TOP


# -- the list ------------------------------------------------------------------------------------


def _where(campaign: Campaign, community_ids: Collection[int], filters: Filters, *, excluded_too: bool) -> list:
    """Conditions on answers joined to their responses; excluded responses only with ``excluded_too``."""
    keys = [filters.item] if filters.item else [item.key for item in text_items(campaign)]
    ids = sorted({filters.community_id} & set(community_ids) if filters.community_id else community_ids)
    clauses = [answers.c.campaign_id == campaign.id, answers.c.community_id.in_(ids), answers.c.item.in_(keys),
               answers.c.value == "", answers.c.text.is_not(None), answers.c.text != ""]
    if filters.q:
        # autoescape: a % or _ typed into the box is searched for as itself, not as a wildcard.
        clauses.append(answers.c.text.icontains(filters.q, autoescape=True))
    if filters.channel:
        clauses.append(responses.c.channel == filters.channel)
    if filters.since:
        clauses.append(responses.c.submitted_at >= datetime.combine(filters.since, time(), LOCAL_TZ))
    if filters.until:
        clauses.append(responses.c.submitted_at < datetime.combine(filters.until + timedelta(days=1), time(), LOCAL_TZ))
    if not excluded_too:
        clauses.append(responses.c.exclusion_reason.is_(None))
    return clauses


def _joined():
    return answers.join(responses, responses.c.id == answers.c.response_id)


def list_answers(campaign: Campaign, community_ids: Collection[int], filters: Filters, page: int = 1) -> dict:
    """One page of the free-text answers that pass ``filters``, newest first, with the total."""
    questions = {item.key: item.text for item in text_items(campaign)}
    excluded = responses.c.exclusion_reason.is_not(None)
    all_n, excluded_n = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.case((excluded, 1))))
        .select_from(_joined()).where(*_where(campaign, community_ids, filters, excluded_too=True))).one()
    total = all_n if filters.include_excluded else all_n - excluded_n
    rows = db.session.execute(
        sa.select(responses.c.id, answers.c.item, answers.c.community_id, regions.c.name, responses.c.channel,
                  responses.c.submitted_at, answers.c.text, responses.c.exclusion_reason, responses.c.quality_flags)
        .select_from(_joined().join(regions, regions.c.id == answers.c.community_id))
        .where(*_where(campaign, community_ids, filters, excluded_too=filters.include_excluded))
        .order_by(responses.c.submitted_at.desc(), responses.c.id.desc(), answers.c.item)
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "filters": filters.to_dict(),
        "items": [{"key": key, "text": text} for key, text in questions.items()],
        "include_excluded": filters.include_excluded,
        # Answers that pass the other filters but belong to excluded responses (listed only on request).
        "excluded": excluded_n,
        "excluded_note": None if filters.include_excluded else EXCLUDED_NOTE,
        "total": total,
        "page": page,
        "page_size": PAGE_SIZE,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "answers": [{
            "response_id": response_id,
            "item": item,
            "question": questions.get(item, item),
            "community_id": community_id,
            "community": community,
            "channel": Channel(channel).value,
            "channel_label": Channel(channel).label,
            "submitted_at": _aware(submitted_at).isoformat(),
            "submitted_on": _aware(submitted_at).astimezone(LOCAL_TZ).date().isoformat(),
            "text": text,
            "flagged": bool(flags),
            "excluded": reason is not None,
            "exclusion_reason": reason,
        } for response_id, item, community_id, community, channel, submitted_at, text, reason, flags in rows],
    }


def _aware(moment: datetime) -> datetime:
    # UTCDateTime gives aware UTC times; a naive one (never expected) is taken as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# -- word counts ---------------------------------------------------------------------------------


def _words(result: WordFrequencies) -> dict:
    return {"answers": result.answers, "total_words": result.total_words, "distinct_words": result.distinct_words,
            "words": [{"word": w.word, "count": w.count, "answers": w.answers, "share": w.share}
                      for w in result.words]}


def word_frequencies(campaign: Campaign, community_ids: Collection[int], filters: Filters, *, top: int = DEFAULT_TOP,
                     min_answers: int = 1, per_community: bool = True) -> dict:
    """The ``top`` words of the answers that pass ``filters``, for the whole of ``community_ids``
    (or the one community the filters name) and, with ``per_community``, for each of those communities.

    ``min_answers``: list only words that at least this many distinct responses use (one resident's
    answers to several text questions are one response), so a word's ``answers`` is at least it too."""
    ids = sorted({filters.community_id} & set(community_ids) if filters.community_id else community_ids)
    rows = db.session.execute(
        sa.select(answers.c.community_id, answers.c.response_id, answers.c.text).select_from(_joined())
        .where(*_where(campaign, community_ids, filters, excluded_too=filters.include_excluded))
        .order_by(answers.c.community_id, answers.c.response_id, answers.c.item)).all()
    by_community: dict[int, list[tuple[int, str]]] = {id_: [] for id_ in ids}
    for community_id, response_id, text in rows:
        by_community[community_id].append((response_id, text))
    # Each text is cut once, though counted for its community and for the whole scope.
    cuts: dict[str, list[str]] = {}

    def cut(text: str) -> list[str]:
        if text not in cuts:
            cuts[text] = segment(text)
        return cuts[text]

    def count(answered: Sequence[tuple]) -> WordFrequencies:
        # answered: (…, response id, text); the threshold counts distinct responses.
        return count_words([row[-1] for row in answered], responses=[row[-2] for row in answered], top=top,
                           min_responses=min_answers, cut=cut)

    region_rows = db.session.execute(
        sa.select(regions.c.id, regions.c.code, regions.c.name).where(regions.c.id.in_(ids))
        .order_by(regions.c.code)).all()
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "filters": {"item": filters.item, "community": filters.community_id,
                    "include_excluded": filters.include_excluded},
        "top": top,
        "min_answers": min_answers,
        "include_excluded": filters.include_excluded,
        "excluded_note": None if filters.include_excluded else "Excluded responses are left out.",
        "scope": _words(count(rows)),
        "communities": [
            {"id": id_, "code": code, "name": name, **_words(count(by_community[id_]))}
            for id_, code, name in region_rows] if per_community else None,
    }
