"""Small documented write functions for setting up regions, sites, surveys and campaigns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..definitions import SurveyDefinition
from ..extensions import db
from ..models import (Campaign, CampaignCommunity, CommunityKind, Region, RegionLevel, Response, Site,
                      Survey, SurveyVersion)
from ..models.regions import PARENT_LEVEL


def add_region(code: str, name: str, level: RegionLevel, parent: Region | None = None, *,
               households: int | None = None, kind: CommunityKind | None = None) -> Region:
    """Add a district, street or community; the parent must be one level up."""
    if PARENT_LEVEL.get(level) != (parent.level if parent else None):
        raise ValueError(f"a {level.value} needs a parent of level {PARENT_LEVEL.get(level)}")
    if level is not RegionLevel.COMMUNITY and (households is not None or kind is not None):
        raise ValueError("only a community has households and a kind")
    region = Region(code=code, name=name, level=level, parent=parent, households=households, kind=kind)
    db.session.add(region)
    return region


def add_site(community: Region, name: str) -> Site:
    """A new evaluation point in a community, with a fresh unguessable token."""
    if community.level is not RegionLevel.COMMUNITY:
        raise ValueError("sites belong to communities")
    site = Site(community=community, name=name)
    db.session.add(site)
    return site


@dataclass(frozen=True)
class SyncResult:
    version: SurveyVersion
    #: "created", "unchanged", "updated" (no responses yet) or "new version"
    action: str


def sync_survey(definition: SurveyDefinition) -> SyncResult:
    """Store a definition as the survey's current version.

    An unchanged definition changes nothing. A changed one replaces the latest version
    while no response refers to it, and becomes a new version once one does: a version
    with responses is never changed.
    """
    survey = db.session.scalar(sa.select(Survey).where(Survey.key == definition.id))
    if survey is None:
        survey = Survey(key=definition.id, title=definition.title)
        db.session.add(survey)
        version = SurveyVersion(survey=survey, number=1, definition=definition.to_dict(),
                                content_hash=definition.content_hash)
        db.session.add(version)
        return SyncResult(version, "created")
    latest = survey.latest_version
    if latest is not None and latest.content_hash == definition.content_hash:
        return SyncResult(latest, "unchanged")
    survey.title = definition.title
    if latest is not None and not version_has_responses(latest):
        latest.definition = definition.to_dict()
        latest.content_hash = definition.content_hash
        return SyncResult(latest, "updated")
    version = SurveyVersion(survey=survey, number=(latest.number + 1) if latest else 1,
                            definition=definition.to_dict(), content_hash=definition.content_hash)
    db.session.add(version)
    return SyncResult(version, "new version")


def version_has_responses(version: SurveyVersion) -> bool:
    return db.session.execute(
        sa.select(Response.id).join(Campaign, Campaign.id == Response.campaign_id)
        .where(Campaign.survey_version_id == version.id).limit(1)).first() is not None


def create_campaign(name: str, version: SurveyVersion, communities: dict[Region, int | None], *,
                    opens_at: datetime | None, closes_at: datetime | None = None,
                    one_response_per_device: bool = True) -> Campaign:
    """A campaign asking ``version`` in ``communities`` (community → target sample)."""
    if opens_at and closes_at and closes_at <= opens_at:
        raise ValueError("a campaign must close after it opens")
    campaign = Campaign(name=name, survey_version=version, opens_at=opens_at, closes_at=closes_at,
                        one_response_per_device=one_response_per_device)
    for community, target in communities.items():
        if community.level is not RegionLevel.COMMUNITY:
            raise ValueError(f"{community.name} is not a community")
        campaign.communities.append(CampaignCommunity(community=community, target_sample=target))
    db.session.add(campaign)
    return campaign
