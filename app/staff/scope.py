"""What an account may see and change: its region's subtree.

An object outside the subtree is answered as not found (404), so an account cannot even
learn that it exists; an evaluator may look but not change (403).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import Account, Campaign, CampaignCommunity, Region, RegionLevel


def community_ids_under(region_id: int) -> sa.Select:
    """The ids of the communities in a region's subtree (the tree is three levels deep)."""
    streets = sa.select(Region.id).where(Region.parent_id == region_id)
    return sa.select(Region.id).where(
        Region.level == RegionLevel.COMMUNITY,
        sa.or_(Region.id == region_id, Region.parent_id == region_id, Region.parent_id.in_(streets)))


def covers(account: Account, region: Region) -> bool:
    """Whether a region is the account's own or lies below it."""
    node: Region | None = region
    while node is not None:
        if node.id == account.region_id:
            return True
        node = node.parent
    return False


@dataclass(frozen=True)
class CampaignAccess:
    #: The campaign's communities the account sees (its own part of the campaign).
    community_ids: frozenset[int]
    #: Whether the account may change the campaign: all its communities in scope, and a role that changes things.
    may_change: bool
    #: Whether every community of the campaign is in the account's scope.
    covers_all: bool = False

    @property
    def may_view(self) -> bool:
        return bool(self.community_ids)


def campaign_access(account: Account, campaign: Campaign) -> CampaignAccess:
    mine = set(db.session.scalars(community_ids_under(account.region_id)))
    members = {cc.community_id for cc in campaign.communities}
    visible = frozenset(members & mine)
    covers_all = bool(members) and members <= mine
    return CampaignAccess(visible, account.role.may_change and covers_all, covers_all)


def visible_campaigns(account: Account) -> list[Campaign]:
    """Campaigns running in at least one community of the account's scope, newest first."""
    return list(db.session.scalars(
        sa.select(Campaign).where(Campaign.id.in_(
            sa.select(CampaignCommunity.campaign_id)
            .where(CampaignCommunity.community_id.in_(community_ids_under(account.region_id)))))
        .order_by(Campaign.id.desc())))


def communities_in_scope(account: Account) -> list[Region]:
    return list(db.session.scalars(
        sa.select(Region).where(Region.id.in_(community_ids_under(account.region_id))).order_by(Region.code)))


def region_ids_under(region_id: int) -> sa.Select:
    """The ids of a region and every region below it."""
    children = sa.select(Region.id).where(Region.parent_id == region_id)
    return sa.select(Region.id).where(sa.or_(
        Region.id == region_id, Region.parent_id == region_id, Region.parent_id.in_(children)))
