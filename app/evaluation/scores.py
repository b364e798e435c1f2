"""A campaign's communities scored by a scheme, with the survey part's uncertainty and the ranking.

The database sums each counted response's answers per tag of the scheme (one row per response:
answers on the scale, satisfied answers, index points, for every tag); app.analysis.score_intervals
resamples those rows per community and scores every replicate. Evaluators' entries and the
district's numbers for the scheme's 待填 come from their tables (app.models.scoring). This module
only fetches, lines up and names the figures.
"""

from __future__ import annotations

import functools
import json
import queue
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from ..analysis.score_intervals import SchemeScores, TagTallies, rank_scored, score_one, tag_figures
from ..analysis.scoring import Reason
from ..definitions import SurveyDefinition
from ..definitions.schemes import Scheme, SurveyFeed, filled_scheme, load_schemes
from ..extensions import db
from ..models import Answer, CampaignCommunity, Region, Response
from ..models.scoring import IndicatorEntry
from .entries import ENTERED_FEEDS, EntryError, check_value, setting_for
from .summary import RANDOM_SAMPLE_NOTE, scale_scoring

NO_SPREAD_NOTE = "这个社区的问卷回答全都一样（例如全部满意），抽样误差从样本里看不出来，实际的不确定性比这个范围大"

#: Most bootstrap replicates one request may ask for (1,000 is the default and what the issue asks).
MAX_REPLICATES = 10_000

answers = Answer.__table__
responses = Response.__table__


@functools.lru_cache(maxsize=8)
def _schemes(surveys_dir: str) -> dict[str, Scheme]:
    return load_schemes(Path(surveys_dir) / "schemes")


def schemes(surveys_dir: str) -> dict[str, Scheme]:
    """Every shipped scheme by id (read once per process; a changed file needs a restart)."""
    return _schemes(str(surveys_dir))


def schemes_for(campaign, surveys_dir: str) -> list[Scheme]:
    """The schemes that can score a campaign: those reading its questionnaire's tags, and those
    fed by evaluators alone (no questionnaire)."""
    key = campaign.survey_version.survey.key
    return [s for s in schemes(surveys_dir).values() if s.questionnaire in (None, key)]


def scheme_for_campaign(campaign, scheme: Scheme) -> Scheme:
    """The scheme with the district's numbers for this campaign written in (app.definitions.schemes.fill_in)."""
    setting = setting_for(campaign.id, scheme.id)
    return _filled(scheme, json.dumps(setting.fill_ins if setting else {}, sort_keys=True, ensure_ascii=False))


@functools.lru_cache(maxsize=128)
def _filled(scheme: Scheme, fill_ins: str) -> Scheme:
    # Filling in reads the scheme's file and builds it again (a tenth of a second); the same numbers
    # give the same scheme, and a page may ask for it several times.
    return filled_scheme(scheme, json.loads(fill_ins))


# -- the query ------------------------------------------------------------------------


def _tag_items(definition: SurveyDefinition, tags) -> dict[str, list]:
    """Each tag's likert items (those with a scale) in the questionnaire the campaign uses."""
    return {tag: [item for item in definition.items
                  if tag in item.tags and item.type == "likert" and item.scale is not None] for tag in tags}


def tag_tally_columns(definition: SurveyDefinition, tags, items: list[str]) -> list[sa.ColumnElement]:
    """For every tag: SUM of answers on the scale, of satisfied answers, of index points, over
    one response's answers to the tag's items (three columns per tag, in ``tags`` order).
    ``items`` are the items the query joins: where a tag reads them all on one scale (the usual
    case) the expressions test the answer's value alone, which keeps a city's millions of answers cheap."""
    columns = []
    for tag_items in _tag_items(definition, tags).values():
        if not tag_items:  # the campaign's version has no item with this tag: no answers
            columns += [sa.literal(0), sa.literal(0), sa.literal(0.0)]
            continue
        # The tag's items, grouped by scale: each group's answers are read by that scale's codes.
        by_scale: dict[tuple, list[str]] = {}
        for item in tag_items:
            scale = scale_scoring(item.scale)
            by_scale.setdefault((scale.codes, tuple(sorted(scale.satisfied)), tuple(scale.scores)), []).append(item.key)
        valid, satisfied, points = [], [], []
        for (codes, top, scores_), keys in by_scale.items():
            of_group = sa.true() if sorted(keys) == sorted(items) else answers.c.item.in_(keys)
            valid.append((sa.and_(of_group, answers.c.value.in_(codes)), 1))
            satisfied.append((sa.and_(of_group, answers.c.value.in_(top)), 1))
            points.append((of_group, sa.case(dict(zip(codes, scores_)), value=answers.c.value, else_=0.0)))
        point_sum = points[0][1] if len(points) == 1 and len(tag_items) == len(items) else sa.case(*points, else_=0.0)
        columns += [sa.func.sum(sa.case(*valid, else_=0)), sa.func.sum(sa.case(*satisfied, else_=0)),
                    sa.func.sum(point_sum)]
    return columns


def tag_tally_query(campaign, tags: tuple[str, ...]) -> sa.Select:
    """One row per counted response: its community, then its sums per tag (tag_tally_columns).

    One statement (responses LEFT JOIN their tagged answers), so a submit or an exclusion landing
    meanwhile is either wholly in or wholly out. Responses that answered none of the tags' items
    are rows of zeros: they were drawn into the sample all the same, so the bootstrap resamples
    them too. Rows are in community and then response order, so the same data and seed give the
    same intervals, and a community's rows are complete once the next community's begin.
    """
    definition = campaign.survey_version.survey_definition
    items = sorted({item.key for tag_items in _tag_items(definition, tags).values() for item in tag_items})
    columns = tag_tally_columns(definition, tags, items) if items else [
        sa.literal(zero).label(f"{what}{t}") for t in range(len(tags))
        for what, zero in (("valid", 0), ("satisfied", 0), ("points", 0.0))]
    # The counted responses (queries.COUNTED): not excluded, no quality flag.
    counted = (responses.c.campaign_id == campaign.id, responses.c.exclusion_reason.is_(None),
               responses.c.quality_flags == 0)
    if items and db.session.get_bind().dialect.name == "postgresql":
        # Each response's sums in a LATERAL subquery: PostgreSQL then walks the responses in
        # community order (an index, then an incremental sort by id) and hands out the first rows at
        # once, where a GROUP BY over the join makes it sum every answer before the first row.
        sums = sa.select(*columns).where(answers.c.response_id == responses.c.id,
                                         answers.c.item.in_(items)).lateral("sums")
        return (sa.select(responses.c.community_id, *sums.c)
                .select_from(responses.outerjoin(sums, sa.true()))
                .where(*counted)
                .order_by(responses.c.community_id, responses.c.id))
    # SQLite reads the responses through their (campaign, community) index, whose entries end in the
    # row id: already in this order, so the rows stream as they are summed.
    joined = responses.outerjoin(answers, sa.and_(answers.c.response_id == responses.c.id,
                                                  answers.c.item.in_(items or [""])))
    return (sa.select(responses.c.community_id, *columns)
            .select_from(joined)
            .where(*counted)
            .group_by(responses.c.community_id, responses.c.id)
            .order_by(responses.c.community_id, responses.c.id))


def community_tallies(connection, query: sa.Select, tags: tuple[str, ...]) -> Iterator[tuple[int, TagTallies]]:
    """(community, TagTallies) for each community in turn, as the query's rows stream in."""
    width = 1 + 3 * len(tags)
    parts: list[np.ndarray] = []
    current = None
    # yield_per streams (a server-side cursor on PostgreSQL): one chunk of rows in memory at a time.
    for chunk in connection.execute(query.execution_options(yield_per=20_000)).partitions():
        # Rows as plain tuples: numpy would probe each Row for array interfaces, one failed key lookup apiece.
        block = np.array([tuple(row) for row in chunk], dtype=float).reshape(len(chunk), width)
        for community, rows in _split_by_first_column(block):
            if community != current and parts:
                yield current, _as_tallies(tags, parts)
                parts = []
            current = community
            parts.append(rows)
    if parts:
        yield current, _as_tallies(tags, parts)


def _as_tallies(tags: tuple[str, ...], parts: list[np.ndarray]) -> TagTallies:
    rows = np.nan_to_num(np.concatenate(parts))  # SUM over no joined answer is NULL
    return TagTallies(tuple(tags), valid=rows[:, 0::3], satisfied=rows[:, 1::3], points=rows[:, 2::3])


def tag_tallies(campaign, tags: tuple[str, ...]) -> dict[int, TagTallies]:
    """Per community: one row per counted response of its sums per tag (TagTallies)."""
    return dict(community_tallies(db.session, tag_tally_query(campaign, tags), tags))


_FINISHED = object()


def _in_background(connection: sa.Connection, query: sa.Select,
                   tags: tuple[str, ...]) -> Iterator[tuple[int, TagTallies]]:
    """community_tallies read by a thread of its own, handed over community by community: the
    database sums the next communities' answers while this thread resamples the last ones, which on
    a city's campaign takes about as long. The database (a server, or SQLite's C code) and numpy's
    loops run without Python's lock, so the two overlap on two cores. The reader has the connection
    to itself until it is done: the caller must not use it meanwhile."""
    handed: queue.Queue = queue.Queue(maxsize=32)
    stop = threading.Event()

    def read() -> None:
        try:
            for item in community_tallies(connection, query, tags):
                if stop.is_set():
                    return
                handed.put(item)
        except Exception as e:  # noqa: BLE001  (not swallowed: handed to the caller, raised there)
            handed.put(e)
        finally:
            handed.put(_FINISHED)

    reader = threading.Thread(target=read, name="tag-tallies", daemon=True)
    reader.start()
    try:
        while (item := handed.get()) is not _FINISHED:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while item is not _FINISHED:  # let the reader finish: it may wait on a full queue
            item = handed.get()
        reader.join()


def _split_by_first_column(block: np.ndarray):
    """(key, rows without the key) for each run of equal first-column values of a sorted block."""
    if not len(block):
        return
    keys = block[:, 0].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    for start, stop in zip(starts, np.r_[starts[1:], len(keys)]):
        yield int(keys[start]), block[start:stop, 1:]


# -- entries --------------------------------------------------------------------------


def entries(campaign_id: int, scheme_id: str) -> dict[int, dict[str, float]]:
    """community id → indicator id → the evaluator's value."""
    found: dict[int, dict[str, float]] = {}
    for community, indicator, value in db.session.execute(
            sa.select(IndicatorEntry.community_id, IndicatorEntry.indicator_id, IndicatorEntry.value)
            .where(IndicatorEntry.campaign_id == campaign_id, IndicatorEntry.scheme_id == scheme_id)):
        found.setdefault(community, {})[indicator] = value
    return found


def stored_entries(campaign_id: int, scheme_id: str, community_id: int) -> dict[str, IndicatorEntry]:
    """One community's entries by indicator id (with who entered them, and when)."""
    return {e.indicator_id: e for e in db.session.scalars(
        sa.select(IndicatorEntry).where(IndicatorEntry.campaign_id == campaign_id,
                                        IndicatorEntry.scheme_id == scheme_id,
                                        IndicatorEntry.community_id == community_id))}


def _usable(scheme: Scheme, entered: Mapping[str, float]) -> dict[str, float]:
    """Entries the (filled-in) scheme still takes: one whose indicator was dropped, is no longer
    entered, or whose levels changed is left out (the indicator then shows 尚未录入)."""
    by_id = scheme.indicators_by_id
    usable = {}
    for key, value in entered.items():
        indicator = by_id.get(key)
        if indicator is None or indicator.feed is None or indicator.feed.kind not in ENTERED_FEEDS:
            continue
        try:
            usable[key] = check_value(indicator, value)
        except EntryError:
            continue
    return usable


def campaign_communities(campaign_id: int) -> list[sa.Row]:
    """(id, code, name, kind) of the campaign's communities, by code."""
    return db.session.execute(
        sa.select(Region.id, Region.code, Region.name, Region.kind)
        .join(CampaignCommunity, CampaignCommunity.community_id == Region.id)
        .where(CampaignCommunity.campaign_id == campaign_id)
        .order_by(Region.code)).all()


# -- the scores -----------------------------------------------------------------------


def score_campaign(campaign, scheme: Scheme, *, replicates: int = 1000, seed: int = 0,
                   confidence: float | None = None) -> tuple[Scheme, SchemeScores, dict[int, TagTallies]]:
    """Every community of the campaign scored by the scheme (with this campaign's numbers for its
    待填), its survey part bootstrapped over respondents, and the ranking of those with a total.
    Each community is scored as soon as its respondents' rows have come in (_in_background)."""
    filled = scheme_for_campaign(campaign, scheme)
    tags = tuple(sorted(filled.survey_tags))
    members = campaign_communities(campaign.id)
    entered = entries(campaign.id, scheme.id)
    kinds = {c.id: c.kind.value if c.kind is not None else None for c in members}
    confidence = campaign.confidence if confidence is None else confidence
    query = tag_tally_query(campaign, tags)

    def score(community: int, own: TagTallies | None):
        return score_one(filled, community, own, _usable(filled, entered.get(community) or {}), kinds[community],
                         replicates=replicates, confidence=confidence, seed=seed)

    tallies: dict[int, TagTallies] = {}
    scored = {}
    # The session's own connection (same transaction, same snapshot); nothing below touches the
    # database until the reader is done.
    for community, own in _in_background(db.session.connection(), query, tags):
        tallies[community] = own
        if community in kinds:
            scored[community] = score(community, own)
    ordered = [scored[c.id] if c.id in scored else score(c.id, None) for c in members]
    return filled, rank_scored(ordered, replicates=replicates, confidence=confidence, seed=seed), tallies


def _iso(moment) -> str | None:
    return None if moment is None else moment.isoformat()


def _number(x) -> float | None:
    return None if x is None else float(x)


def _feed(indicator) -> dict | None:
    feed = indicator.feed
    if feed is None:
        return None
    out: dict = {"kind": feed.kind}
    if isinstance(feed, SurveyFeed):
        out |= {"tags": list(feed.tags), "measure": feed.measure}
    elif feed.kind == "levels":
        out["levels"] = [{"factor": level.factor, "label": level.label} for level in feed.levels]
    elif feed.kind in ("standard", "entered"):
        out["label"] = feed.label
    return out


def campaign_scores(campaign, scheme: Scheme, *, replicates: int = 1000, seed: int = 0) -> dict:
    """The scores of every community, ready for JSON: each indicator's points, the total with its
    bootstrap interval, the rank with its interval and the communities it cannot be told apart from."""
    filled, result, tallies = score_campaign(campaign, scheme, replicates=replicates, seed=seed)
    members = {c.id: c for c in campaign_communities(campaign.id)}
    depth = {indicator.id: d for indicator, d in filled.walk()}
    position = {community: i for i, community in enumerate(result.ranked)}
    ranking = result.ranking
    communities = []
    for scored in result.communities:
        member = members[scored.community]
        score = scored.score
        row = {
            "id": member.id, "code": member.code, "name": member.name,
            "kind": member.kind.value if member.kind is not None else None,
            "respondents": scored.respondents,
            "total": _number(score.total), "max_points": _number(score.max_points),
            "percent": _number(score.percent),
            "score": scored.value,
            "score_interval": None if scored.low is None else {"low": scored.low, "high": scored.high},
            # A percentile interval of zero width from a sample is no certainty: every resample of
            # answers that are all alike (all 满意, say) is alike too. Said, so it is not read as exact.
            "interval_note": NO_SPREAD_NOTE if (scored.low is not None and scored.low == scored.high
                                               and scored.respondents and filled.survey_tags) else None,
            "rank": None, "rank_interval": None, "not_told_apart_from": [],
            "unscorable": [{"indicator": u.indicator, "reason": u.reason.name.lower(), "message": u.message}
                           for u in score.unscorable],
            "tags": {tag: {**figure, "answers": int(tallies[member.id].valid[:, t].sum())}
                     for tag, figure in tag_figures(tallies[member.id]).items()
                     for t in [tallies[member.id].tags.index(tag)]} if member.id in tallies else {},
            "indicators": [{"id": s.id, "label": s.label, "depth": depth[s.id], "max_points": _number(s.max_points),
                            "points": _number(s.points), "fraction": _number(s.fraction), "scored": s.scored,
                            "reasons": [u.message for u in s.unscorable if u.reason is not Reason.INCOMPLETE]}
                           for s in score.indicators.values()],
        }
        if ranking is not None and member.id in position:
            i = position[member.id]
            row["rank"] = int(ranking.ranks[i])
            row["rank_interval"] = {"low": int(ranking.rank_low[i]), "high": int(ranking.rank_high[i])}
            row["not_told_apart_from"] = [members[result.ranked[j]].code for j in ranking.not_told_apart_from(i)]
        communities.append(row)
    communities.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["code"]))
    return {
        "campaign_id": campaign.id,
        "scheme": {"id": filled.id, "title": filled.title, "points": _number(filled.points),
                   "combine": filled.combine, "to_fill": list(filled.placeholders),
                   "indicators": [{"id": i.id, "label": i.label, "depth": d, "points": _number(i.points),
                                   "weight": _number(i.weight), "method": i.method, "feed": _feed(i)}
                                  for i, d in filled.walk()]},
        # What "score" is: total points, or the 百分制 share of full marks for a scheme without full points.
        "score_unit": "percent" if filled.combine == "weighted" and filled.points is None else "points",
        # 定稿: when the district filed these scores (entries and numbers are refused since); None while open.
        "locked_at": _iso(setting.locked_at) if (setting := setting_for(campaign.id, scheme.id)) else None,
        "replicates": result.replicates,
        "seed": result.seed,
        "confidence": result.confidence,
        "ranked": len(result.ranked),
        "note": ("Intervals carry the survey's sampling uncertainty only (a bootstrap over each community's "
                 "respondents); evaluators' entries are taken as exact. Communities listed in "
                 "not_told_apart_from cannot be ordered by this survey. " + RANDOM_SAMPLE_NOTE),
        "communities": communities,
    }
