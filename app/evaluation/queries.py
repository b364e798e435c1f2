"""The SQL behind the evaluation figures: the database groups and counts answers.

Every function returns plain rows (``db.session.execute(select(...))``), never ORM objects: a
campaign of a city holds millions of answers, and none of them becomes a Python object.

Groups: ``community``, ``street`` and ``district`` roll communities up the regions tree
(district → street → community); ``channel`` is the way a response reached us, which only
the responses table knows.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from ..extensions import db
from ..models import Answer, AnswerTally, CampaignCommunity, Region, Response

#: The groupings a summary can be made by.
GROUPINGS = ("community", "street", "district", "channel")

answers = Answer.__table__
responses = Response.__table__
tallies = AnswerTally.__table__


def _check_grouping(group_by: str) -> None:
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}, got {group_by!r}")


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


def answer_counts(campaign_id: int, items: Collection[str], group_by: str = "community") -> list[sa.Row]:
    """(group, item, value, count) for the campaign's answers to ``items``, counted responses only.

    The group is a region id (community, street or district) or a Channel. Rows with a zero
    count are left out.
    """
    _check_grouping(group_by)
    items = list(items)
    if not items:
        return []
    if group_by == "channel":
        # The channel lives on the response, so every answer is joined to its response here,
        # and the join filters out the excluded responses at the same time.
        return db.session.execute(
            sa.select(responses.c.channel, answers.c.item, answers.c.value, sa.func.count())
            .select_from(answers.join(responses, responses.c.id == answers.c.response_id))
            .where(answers.c.campaign_id == campaign_id, answers.c.item.in_(items),
                   responses.c.exclusion_reason.is_(None))
            .group_by(responses.c.channel, answers.c.item, answers.c.value)
            .order_by(responses.c.channel, answers.c.item, answers.c.value)).all()

    # The geographic groupings read the counts made at submit and exclusion time (tallies.py),
    # never the answers themselves: a few rows per community and item, whatever the campaign's size.
    where = (tallies.c.campaign_id == campaign_id, tallies.c.item.in_(items), tallies.c.n > 0)
    if group_by == "community":
        return db.session.execute(
            sa.select(tallies.c.community_id, tallies.c.item, tallies.c.value, tallies.c.n)
            .where(*where)
            .order_by(tallies.c.community_id, tallies.c.item, tallies.c.value)).all()
    counted = sa.select(tallies.c.community_id, tallies.c.item, tallies.c.value, tallies.c.n).where(*where) \
        .subquery("counted")
    group, source = _rolled_up(counted, group_by)
    # SUM of a bigint is numeric on PostgreSQL: cast back so rows hold ints on both databases.
    total = sa.cast(sa.func.sum(counted.c.n), sa.BigInteger)
    return db.session.execute(
        sa.select(group, counted.c.item, counted.c.value, total)
        .select_from(source)
        .group_by(group, counted.c.item, counted.c.value)
        .order_by(group, counted.c.item, counted.c.value)).all()


def respondent_counts(campaign_id: int, group_by: str = "community") -> dict:
    """Counted (not excluded) responses per group: the denominator of ``missing``."""
    _check_grouping(group_by)
    counted = responses.c.exclusion_reason.is_(None)
    if group_by == "channel":
        query = (sa.select(responses.c.channel, sa.func.count())
                 .where(responses.c.campaign_id == campaign_id, counted)
                 .group_by(responses.c.channel))
    else:
        per_community = (
            sa.select(responses.c.community_id, sa.func.count().label("n"))
            .where(responses.c.campaign_id == campaign_id, counted)
            .group_by(responses.c.community_id)
            .subquery("per_community"))
        group, source = _rolled_up(per_community, group_by)
        query = (sa.select(group, sa.cast(sa.func.sum(per_community.c.n), sa.BigInteger))
                 .select_from(source).group_by(group))
    return dict(db.session.execute(query).all())


def campaign_regions(campaign_id: int, group_by: str, also: Collection[int] = ()) -> list[sa.Row]:
    """(id, code, name, target) of the regions a geographic summary lists, by code: the
    campaign's communities (with their target sample) or their streets or districts (target
    None), plus the regions ``also`` names (groups that have responses but left the campaign's list)."""
    regions = Region.__table__
    members = CampaignCommunity.__table__
    if group_by == "community":
        rows = db.session.execute(
            sa.select(regions.c.id, regions.c.code, regions.c.name, members.c.target_sample)
            .join(members, members.c.community_id == regions.c.id)
            .where(members.c.campaign_id == campaign_id)).all()
    else:
        community_ids = sa.select(members.c.community_id).where(members.c.campaign_id == campaign_id)
        street_ids = sa.select(regions.c.parent_id).where(regions.c.id.in_(community_ids))
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
