"""The database models, one module per aggregate."""

from .accounts import Account, Role
from .audit import AuditEntry
from .forms import HandledForm
from .campaigns import Campaign, CampaignCommunity, CampaignState
from .meetings import HandCount, Meeting, MeetingQuestion, MeetingVote, QuestionKind
from .paper import PaperKeying
from .regions import CommunityKind, Region, RegionLevel, Site
from .scoring import IndicatorEntry, SchemeSetting
from .responses import Answer, Channel, QualityFlag, Response
from .surveys import Survey, SurveyVersion
from .tallies import AnswerTally
from .tickets import Ticket, TicketBatch
from .weighting import PopulationMargin

__all__ = [
    "Account", "AuditEntry", "Role",
    "Answer", "AnswerTally", "Campaign", "CampaignCommunity", "CampaignState", "Channel", "CommunityKind", "HandledForm",
    "HandCount", "IndicatorEntry", "Meeting", "MeetingQuestion", "MeetingVote", "PaperKeying", "PopulationMargin", "QuestionKind", "QualityFlag", "Region", "RegionLevel", "Response", "SchemeSetting", "Site", "Survey", "SurveyVersion", "Ticket", "TicketBatch",
]
