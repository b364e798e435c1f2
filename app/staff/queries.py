"""Counting queries for the staff pages: the database groups and counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from ..analysis.sampling import margin_of_error
from ..extensions import db
from ..models import Campaign, CampaignCommunity, Channel, Region, Response, Ticket
from . import paper


@dataclass
class CommunityProgress:
    community: Region
    target: int | None
    #: Responses that count (not excluded), by channel.
    by_channel: dict[Channel, int] = field(default_factory=dict)
    #: Counted responses with a quality flag (kept, counted, shown apart).
    flagged: int = 0
    #: Responses an evaluator left out of the statistics (kept, not counted).
    excluded: int = 0
    #: Double entry: papers keyed once, and papers whose two keyings differ (not counted yet).
    papers_keyed_once: int = 0
    papers_differing: int = 0

    @property
    def responses(self) -> int:
        """Questionnaires that count: every channel but meetings, whose phones answer only the
        few questions put to the room, so they are shown apart and never make up a target."""
        return sum(n for channel, n in self.by_channel.items() if channel is not Channel.MEETING)

    @property
    def meeting_phones(self) -> int:
        return self.by_channel.get(Channel.MEETING, 0)

    @property
    def random_sample(self) -> int:
        """Responses from tickets handed out at random: the part that is a random sample."""
        return self.by_channel.get(Channel.TICKET, 0)

    @property
    def share_of_target(self) -> float | None:
        return self.responses / self.target if self.target else None


def campaign_progress(campaign: Campaign, community_ids: frozenset[int]) -> list[CommunityProgress]:
    """Per community the account sees: counted responses by channel, flagged, excluded, target,
    and papers waiting in double entry."""
    members = db.session.execute(
        sa.select(Region, CampaignCommunity.target_sample)
        .join(CampaignCommunity, CampaignCommunity.community_id == Region.id)
        .where(CampaignCommunity.campaign_id == campaign.id, Region.id.in_(community_ids))
        .order_by(Region.code)).all()
    progress = {region.id: CommunityProgress(region, target) for region, target in members}
    counts = db.session.execute(
        sa.select(Response.community_id, Response.channel, Response.exclusion_reason.is_not(None), sa.func.count(),
                  sa.func.count().filter(Response.quality_flags != 0))
        .where(Response.campaign_id == campaign.id, Response.community_id.in_(community_ids))
        .group_by(Response.community_id, Response.channel, Response.exclusion_reason.is_not(None))).all()
    for community_id, channel, excluded, n, flagged in counts:
        row = progress[community_id]
        if excluded:
            row.excluded += n
        else:
            row.by_channel[channel] = n
            row.flagged += flagged
    if campaign.double_entry:
        for community_id, (once, differing) in paper.waiting_counts(campaign.id, community_ids).items():
            progress[community_id].papers_keyed_once, progress[community_id].papers_differing = once, differing
    return list(progress.values())


def reached_margin(row: CommunityProgress, confidence: float, *, random_only: bool = False) -> float | None:
    """The ± margin (at p = 0.5) that the counted responses gathered so far give; with
    ``random_only``, that of the ticket responses alone (the random sample)."""
    households = row.community.households
    n = row.random_sample if random_only else row.responses
    if households is not None:
        n = min(n, households)
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
