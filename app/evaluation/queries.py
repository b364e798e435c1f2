"""The SQL behind the evaluation figures: the database groups and counts answers.

Every function returns plain rows (``db.session.execute(select(...))``), never ORM objects: a
campaign of a city holds millions of answers, and none of them becomes a Python object.

Groups: ``community``, ``street`` and ``district`` roll communities up the regions tree
(district → street → community); ``channel`` is the way a response reached us, which only
the responses table knows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import Answer, AnswerTally, CampaignCommunity, Region, Response

#: The groupings a summary can be made by; besides these, ``item:<key>`` groups respondents by
#: their answer to a single-choice question (a respondent group: age band, sex, years lived here).
GROUPINGS = ("community", "street", "district", "campaign", "channel")
ITEM_GROUPING = "item:"

answers = Answer.__table__
responses = Response.__table__
tallies = AnswerTally.__table__


@dataclass(frozen=True)
class ResponseFilter:
    """Which responses a figure counts.

    By default the counted ones: responses an evaluator has not excluded and that carry no quality
    flag (straight-lining, too fast, a burst). Flagged responses are kept and counted apart, and
    come into the figures only when asked for (``include_flagged``); excluded ones likewise.
    """

    #: Only these communities (an account's part of the campaign, or a drill-down); None for all.
    community_ids: frozenset[int] | None = None
    #: Responses with a quality flag (straight-lining, too fast, a burst) count too.
    include_flagged: bool = False
    #: Responses an evaluator excluded count too (only when asked for, to see what they change).
    include_excluded: bool = False

    @property
    def uses_tallies(self) -> bool:
        """The answer tallies hold the answers of every response not excluded: they serve any filter
        that leaves the excluded out (flagged ones, being few, are then subtracted)."""
        return not self.include_excluded

    def on(self, table: sa.Table, response_table: sa.Table | None = None) -> list[sa.ColumnElement]:
        """The conditions on ``table`` (which has community_id) and on the responses table."""
        conditions = [] if self.community_ids is None else [table.c.community_id.in_(sorted(self.community_ids))]
        if response_table is not None:
            if not self.include_excluded:
                conditions.append(response_table.c.exclusion_reason.is_(None))
            if not self.include_flagged:
                conditions.append(response_table.c.quality_flags == 0)
        return conditions

    def words(self) -> str:
        """What the filter leaves out, for a person (Chinese)."""
        out = [label for label, left_out in (("已剔除的问卷", not self.include_excluded),
                                             ("可疑问卷（有质量标记）", not self.include_flagged)) if left_out]
        return ("不计" + "和".join(out)) if out else "计入全部问卷，含已剔除和可疑问卷"


#: The counted responses: not excluded, no quality flag (every figure's default).
COUNTED = ResponseFilter()
#: Every response not excluded, flagged ones included (what the answer tallies hold).
NOT_EXCLUDED = ResponseFilter(include_flagged=True)


def check_grouping(group_by: str) -> None:
    if group_by not in GROUPINGS and not (group_by.startswith(ITEM_GROUPING) and len(group_by) > len(ITEM_GROUPING)):
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)} or {ITEM_GROUPING}<key>, got {group_by!r}")


def _grouping_answer(group_by: str, response_id: sa.ColumnElement) -> tuple[sa.ColumnElement, sa.Alias, sa.ColumnElement]:
    """For ``item:<key>``: the group (the respondent's answer to that question, '' for none), the
    answers alias holding it and the condition that joins it to the response."""
    grouping = answers.alias("grouping")
    key = group_by.removeprefix(ITEM_GROUPING)
    joined = sa.and_(grouping.c.response_id == response_id, grouping.c.item == key)
    return sa.func.coalesce(grouping.c.value, ""), grouping, joined


def _rolled_up(counted: sa.Subquery, group_by: str) -> tuple[sa.ColumnElement, sa.FromClause]:
    """The group key of a subquery with a ``community_id`` column, and the FROM clause that
    reaches it through the regions tree (a community's parent is its street, a street's its district)."""
    if group_by == "community":
        return counted.c.community_id, counted
    community = Region.__table__.alias("community_region")
    joined = counted.join(community, community.c.id == counted.c.community_id)
    if group_by == "street":
        return community.c.parent_id, joined
    street = Region.__table__.alias("street_region")
    return street.c.parent_id, joined.join(street, street.c.id == community.c.parent_id)


def answer_counts(campaign_id: int, items: Collection[str], group_by: str = "community",
                  which: ResponseFilter = COUNTED) -> list[sa.Row]:
    """(group, item, value, count) for the campaign's answers to ``items``, counted responses only.

    The group is a region id (community, street or district) or a Channel. Rows with a zero
    count are left out.
    """
    check_grouping(group_by)
    items = list(items)
    if not items:
        return []
    counted = _counted_answers(campaign_id, items, group_by, which)
    total = sa.cast(sa.func.sum(counted.c.n), sa.BigInteger)
    return db.session.execute(
        sa.select(counted.c.group, counted.c.item, counted.c.value, total)
        .group_by(counted.c.group, counted.c.item, counted.c.value)
        .having(total > 0)
        .order_by(counted.c.group, counted.c.item, counted.c.value)).all()


def answer_count_table(campaign_id: int, items: Collection[str], codes: Sequence[str],
                       group_by: str = "community", which: ResponseFilter = COUNTED) -> list[sa.Row]:
    """The counts of answer_counts pivoted by the database: (group, item, n of codes[0], …,
    n of codes[-1], n of any other code), one row per group and item that has an answer.

    A few rows per community and item, with the codes as columns, is a fraction of the long rows
    to fetch: at a city's size this is what keeps the summary faster than a bare count.
    """
    check_grouping(group_by)
    items, codes = list(items), list(codes)
    if not items:
        return []
    counted = _counted_answers(campaign_id, items, group_by, which)

    def total(condition) -> sa.ColumnElement:
        # SUM of a bigint is numeric on PostgreSQL: cast back so rows hold ints on both databases.
        return sa.cast(sa.func.sum(sa.case((condition, counted.c.n), else_=0)), sa.BigInteger)

    others = counted.c.value.not_in(codes) if codes else sa.true()
    return db.session.execute(
        sa.select(counted.c.group, counted.c.item, *(total(counted.c.value == code) for code in codes),
                  total(others))
        .group_by(counted.c.group, counted.c.item)
        .order_by(counted.c.group, counted.c.item)).all()


def _counted_answers(campaign_id: int, items: list[str], group_by: str,
                     which: ResponseFilter = COUNTED) -> sa.Subquery:
    """(group, item, value, n) of the counted answers to ``items``, not yet summed per group."""
    if which.uses_tallies and not group_by.startswith(ITEM_GROUPING) and group_by != "channel":
        # The geographic groupings read the counts made at submit and exclusion time (tallies.py),
        # never the answers themselves: a few rows per community and item, whatever the campaign's
        # size. The tallies count flagged responses too; unless they are asked for, their answers
        # (a small share) are counted here and subtracted.
        kept = sa.select(tallies.c.campaign_id, tallies.c.community_id, tallies.c.item, tallies.c.value, tallies.c.n) \
            .where(tallies.c.campaign_id == campaign_id, tallies.c.item.in_(items), tallies.c.n > 0,
                   *which.on(tallies))
        if not which.include_flagged:
            flagged = (sa.select(answers.c.campaign_id, answers.c.community_id, answers.c.item, answers.c.value,
                                 sa.literal(-1, sa.BigInteger).label("n"))
                       .select_from(responses.join(answers, answers.c.response_id == responses.c.id))
                       .where(responses.c.campaign_id == campaign_id, responses.c.quality_flags != 0,
                              responses.c.exclusion_reason.is_(None), answers.c.item.in_(items),
                              *which.on(answers)))
            kept = sa.union_all(kept, flagged)
        kept = kept.subquery("kept")
        group, source = (kept.c.campaign_id, kept) if group_by == "campaign" else _rolled_up(kept, group_by)
        return (sa.select(group.label("group"), kept.c.item, kept.c.value, kept.c.n)
                .select_from(source).subquery("counted"))
    # Otherwise every answer is joined to its response: the channel, the flags and the exclusion
    # live there (and so does a respondent group's answer, through the response).
    joined = answers.join(responses, responses.c.id == answers.c.response_id)
    where = (answers.c.campaign_id == campaign_id, answers.c.item.in_(items), *which.on(answers, responses))
    one = sa.literal(1, sa.BigInteger).label("n")
    if group_by.startswith(ITEM_GROUPING):
        group, grouping, on = _grouping_answer(group_by, answers.c.response_id)
        return (sa.select(group.label("group"), answers.c.item, answers.c.value, one)
                .select_from(joined.outerjoin(grouping, on)).where(*where).subquery("counted"))
    if group_by == "channel":
        return (sa.select(responses.c.channel.label("group"), answers.c.item, answers.c.value, one)
                .select_from(joined).where(*where).subquery("counted"))
    kept = (sa.select(answers.c.campaign_id, answers.c.community_id, answers.c.item, answers.c.value, one)
            .select_from(joined).where(*where).subquery("kept"))
    group, source = (kept.c.campaign_id, kept) if group_by == "campaign" else _rolled_up(kept, group_by)
    return (sa.select(group.label("group"), kept.c.item, kept.c.value, kept.c.n)
            .select_from(source).subquery("counted"))


def respondent_table(campaign_id: int, group_by: str = "community", which: ResponseFilter = COUNTED) -> list[sa.Row]:
    """(group, channel, n) of the responses ``which`` lets in (by default the counted ones): in one
    pass over the responses, both the denominator of ``missing`` per group and the responses per channel."""
    check_grouping(group_by)
    kept = which.on(responses, responses)
    if group_by.startswith(ITEM_GROUPING):
        group, grouping, joined = _grouping_answer(group_by, responses.c.id)
        return db.session.execute(
            sa.select(group, responses.c.channel, sa.func.count())
            .select_from(responses.outerjoin(grouping, joined))
            .where(responses.c.campaign_id == campaign_id, *kept)
            .group_by(group, responses.c.channel)).all()
    per_community = (
        sa.select(responses.c.campaign_id, responses.c.community_id, responses.c.channel, sa.func.count().label("n"))
        .where(responses.c.campaign_id == campaign_id, *kept)
        .group_by(responses.c.campaign_id, responses.c.community_id, responses.c.channel)
        .subquery("per_community"))
    if group_by in ("channel", "campaign"):
        group = per_community.c.channel if group_by == "channel" else per_community.c.campaign_id
        source = per_community
    else:
        group, source = _rolled_up(per_community, group_by)
    return db.session.execute(
        sa.select(group, per_community.c.channel, sa.cast(sa.func.sum(per_community.c.n), sa.BigInteger))
        .select_from(source).group_by(group, per_community.c.channel)).all()


def campaign_regions(campaign_id: int, group_by: str, also: Collection[int] = (),
                     community_ids: Collection[int] | None = None) -> list[sa.Row]:
    """(id, code, name, target) of the regions a geographic summary lists, by code: the
    campaign's communities (with their target sample) or their streets or districts (target
    None), plus the regions ``also`` names (groups that have responses but left the campaign's list);
    only those of ``community_ids`` when given."""
    regions = Region.__table__
    members = CampaignCommunity.__table__
    mine = [] if community_ids is None else [members.c.community_id.in_(sorted(community_ids))]
    if group_by == "community":
        rows = db.session.execute(
            sa.select(regions.c.id, regions.c.code, regions.c.name, members.c.target_sample)
            .join(members, members.c.community_id == regions.c.id)
            .where(members.c.campaign_id == campaign_id, *mine)).all()
    else:
        member_ids = sa.select(members.c.community_id).where(members.c.campaign_id == campaign_id, *mine)
        street_ids = sa.select(regions.c.parent_id).where(regions.c.id.in_(member_ids))
        ids = street_ids if group_by == "street" else \
            sa.select(regions.c.parent_id).where(regions.c.id.in_(street_ids))
        rows = db.session.execute(
            sa.select(regions.c.id, regions.c.code, regions.c.name, sa.null())
            .where(regions.c.id.in_(ids))).all()
    missing = set(also) - {r[0] for r in rows}
    if missing:
        rows += db.session.execute(
            sa.select(regions.c.id, regions.c.code, regions.c.name, sa.null())
            .where(regions.c.id.in_(missing))).all()
    return sorted(rows, key=lambda r: r[1])
