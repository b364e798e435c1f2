"""Counting queries for the staff pages: the database groups and counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from ..analysis.sampling import margin_of_error
from ..extensions import db
from ..models import Campaign, CampaignCommunity, Channel, Region, Response, Ticket


@dataclass
class CommunityProgress:
    community: Region
    target: int | None
    by_channel: dict[Channel, int] = field(default_factory=dict)
    flagged: int = 0

    @property
    def responses(self) -> int:
        return sum(self.by_channel.values())

    @property
    def share_of_target(self) -> float | None:
        return self.responses / self.target if self.target else None


def campaign_progress(campaign: Campaign, community_ids: frozenset[int]) -> list[CommunityProgress]:
    """Per community the account sees: responses by channel, flagged, target."""
    members = db.session.execute(
        sa.select(Region, CampaignCommunity.target_sample)
        .join(CampaignCommunity, CampaignCommunity.community_id == Region.id)
        .where(CampaignCommunity.campaign_id == campaign.id, Region.id.in_(community_ids))
        .order_by(Region.code)).all()
    progress = {region.id: CommunityProgress(region, target) for region, target in members}
    counts = db.session.execute(
        sa.select(Response.community_id, Response.channel, sa.func.count(),
                  sa.func.count().filter(Response.quality_flags != 0))
        .where(Response.campaign_id == campaign.id, Response.community_id.in_(community_ids))
        .group_by(Response.community_id, Response.channel)).all()
    for community_id, channel, n, flagged in counts:
        row = progress[community_id]
        row.by_channel[channel] = n
        row.flagged += flagged
    return list(progress.values())


def reached_margin(row: CommunityProgress, confidence: float) -> float | None:
    """The ± margin (at p = 0.5) that the responses gathered so far give."""
    households = row.community.households
    n = row.responses if households is None else min(row.responses, households)
    return margin_of_error(n, households, confidence=confidence)


@dataclass
class TicketCount:
    community: Region
    issued: int = 0
    used: int = 0


def ticket_counts(campaign: Campaign, community_ids: frozenset[int]) -> list[TicketCount]:
    """Tickets issued and used per community the account sees."""
    members = db.session.scalars(
        sa.select(Region).join(CampaignCommunity, CampaignCommunity.community_id == Region.id)
        .where(CampaignCommunity.campaign_id == campaign.id, Region.id.in_(community_ids))
        .order_by(Region.code)).all()
    counts = {region.id: TicketCount(region) for region in members}
    for community_id, issued, used in db.session.execute(
            sa.select(Ticket.community_id, sa.func.count(), sa.func.count(Ticket.used_at))
            .where(Ticket.campaign_id == campaign.id, Ticket.community_id.in_(community_ids))
            .group_by(Ticket.community_id)):
        counts[community_id].issued, counts[community_id].used = issued, used
    return list(counts.values())
