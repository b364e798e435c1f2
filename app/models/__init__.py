"""The database models, one module per aggregate."""

from .campaigns import Campaign, CampaignCommunity, CampaignState
from .regions import CommunityKind, Region, RegionLevel, Site
from .responses import Answer, Channel, QualityFlag, Response
from .surveys import Survey, SurveyVersion

__all__ = [
    "Answer", "Campaign", "CampaignCommunity", "CampaignState", "Channel", "CommunityKind",
    "QualityFlag", "Region", "RegionLevel", "Response", "Site", "Survey", "SurveyVersion",
]
