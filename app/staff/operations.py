"""Small documented write functions for setting up regions, sites, surveys, campaigns and
accounts. Each records its audit entry in the same transaction; callers commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from .. import audit
from ..analysis.sampling import cochran_sample_size
from ..definitions import SurveyDefinition
from ..evaluation import tallies
from ..extensions import db
from ..models import (
    Account,
    Campaign,
    CampaignCommunity,
    CampaignState,
    CommunityKind,
    PaperKeying,
    Region,
    RegionLevel,
    Response,
    Role,
    Site,
    Survey,
    SurveyVersion,
    Ticket,
    TicketBatch,
)
from ..models.accounts import ROLE_LEVELS
from ..models.regions import PARENT_LEVEL

CAMPAIGN_FIELDS = ("name", "survey_version_id", "opens_at", "closes_at", "one_response_per_device",
                   "confidence", "margin", "double_entry")
#: What edit_campaign may change (the questionnaire is fixed once a campaign exists).
EDITABLE_CAMPAIGN_FIELDS = ("name", "opens_at", "closes_at", "one_response_per_device", "confidence", "margin",
                            "double_entry")


def add_region(code: str, name: str, level: RegionLevel, parent: Region | None = None, *,
               households: int | None = None, kind: CommunityKind | None = None,
               actor: Account | None = None) -> Region:
    """Add a district, street or community; the parent must be one level up."""
    if PARENT_LEVEL.get(level) != (parent.level if parent else None):
        raise ValueError(f"a {level.value} needs a parent of level {PARENT_LEVEL.get(level)}")
    if level is not RegionLevel.COMMUNITY and (households is not None or kind is not None):
        raise ValueError("only a community has households and a kind")
    region = Region(code=code, name=name, level=level, parent=parent, households=households, kind=kind)
    db.session.add(region)
    db.session.flush()
    audit.record("create", "region", region.id, actor=actor,
                 after=audit.snapshot(region, ("code", "name", "level", "parent_id", "households", "kind")))
    return region


def add_site(community: Region, name: str, *, actor: Account | None = None) -> Site:
    """A new evaluation point in a community, with a fresh unguessable token."""
    if community.level is not RegionLevel.COMMUNITY:
        raise ValueError("sites belong to communities")
    site = Site(community=community, name=name)
    db.session.add(site)
    db.session.flush()
    audit.record("create", "site", site.id, actor=actor, after=audit.snapshot(site, ("community_id", "name")))
    return site


def rename_site(site: Site, name: str, *, actor: Account | None = None) -> bool:
    """A new name for a site (the poster's words change; its QR code stays). False if the same."""
    name = name.strip()
    if not name:
        raise ValueError("a site needs a name")
    if name == site.name:
        return False
    before = {"name": site.name}
    site.name = name
    audit.record("edit", "site", site.id, actor=actor, before=before, after={"name": name})
    return True


def set_site_retired(site: Site, retired: bool, now: datetime, *, actor: Account | None = None) -> bool:
    """Stop using a site (its QR code then says so), or use it again. False if nothing changes."""
    if site.retired == retired:
        return False
    before = audit.snapshot(site, ("retired_at",))
    site.retired_at = now if retired else None
    audit.record("retire" if retired else "restore", "site", site.id, actor=actor, before=before,
                 after=audit.snapshot(site, ("retired_at",)))
    return True


@dataclass(frozen=True)
class SyncResult:
    version: SurveyVersion
    #: "created", "unchanged", "updated" (no responses yet) or "new version"
    action: str


def sync_survey(definition: SurveyDefinition, *, actor: Account | None = None) -> SyncResult:
    """Store a definition as the survey's current version.

    An unchanged definition changes nothing. A changed one replaces the latest version
    while no response refers to it, and becomes a new version once one does: a version
    with responses is never changed.
    """
    survey = db.session.scalar(sa.select(Survey).where(Survey.key == definition.id))
    if survey is None:
        survey = Survey(key=definition.id, title=definition.title)
        db.session.add(survey)
        result = SyncResult(_new_version(survey, 1, definition), "created")
    else:
        latest = survey.latest_version
        if latest is not None and latest.content_hash == definition.content_hash:
            return SyncResult(latest, "unchanged")
        survey.title = definition.title
        if latest is not None and not version_has_responses(latest):
            latest.definition = definition.to_dict()
            latest.content_hash = definition.content_hash
            result = SyncResult(latest, "updated")
        else:
            result = SyncResult(_new_version(survey, (latest.number + 1) if latest else 1, definition), "new version")
    db.session.flush()
    audit.record("create" if result.action != "updated" else "edit", "survey_version", result.version.id, actor=actor,
                 after={"survey": definition.id, "number": result.version.number,
                        "content_hash": definition.content_hash})
    return result


def _new_version(survey: Survey, number: int, definition: SurveyDefinition) -> SurveyVersion:
    version = SurveyVersion(survey=survey, number=number, definition=definition.to_dict(),
                            content_hash=definition.content_hash)
    db.session.add(version)
    return version


def version_has_responses(version: SurveyVersion) -> bool:
    return db.session.execute(
        sa.select(Response.id).join(Campaign, Campaign.id == Response.campaign_id)
        .where(Campaign.survey_version_id == version.id).limit(1)).first() is not None


def create_campaign(name: str, version: SurveyVersion, communities: dict[Region, int | None] | list[Region], *,
                    opens_at: datetime | None, closes_at: datetime | None = None,
                    one_response_per_device: bool = True, confidence: float = 0.95, margin: float = 0.05,
                    double_entry: bool = False, actor: Account | None = None) -> Campaign:
    """A campaign asking ``version`` in ``communities``.

    Given as a list, each community's target sample is computed from its households with
    Cochran's formula (finite-population corrected) at the campaign's confidence and margin;
    a mapping community → target sets them explicitly.
    """
    if opens_at and closes_at and closes_at <= opens_at:
        raise ValueError("a campaign must close after it opens")
    if not isinstance(communities, dict):
        communities = {c: cochran_sample_size(c.households, confidence=confidence, margin=margin)
                       for c in communities}
    campaign = Campaign(name=name, survey_version=version, opens_at=opens_at, closes_at=closes_at,
                        one_response_per_device=one_response_per_device, confidence=confidence, margin=margin,
                        double_entry=double_entry)
    for community, target in communities.items():
        if community.level is not RegionLevel.COMMUNITY:
            raise ValueError(f"{community.name} is not a community")
        campaign.communities.append(CampaignCommunity(community=community, target_sample=target))
    db.session.add(campaign)
    db.session.flush()
    audit.record("create", "campaign", campaign.id, actor=actor,
                 after=audit.snapshot(campaign, CAMPAIGN_FIELDS) | {
                     "targets": {c.code: t for c, t in communities.items()}})
    return campaign


class CampaignEditRefused(ValueError):
    """An edit that would break a rule; the message is for the staff member (Chinese)."""


def _targets_by_code(campaign: Campaign) -> dict[str, int | None]:
    return {cc.community.code: cc.target_sample for cc in campaign.communities}


def edit_campaign(campaign: Campaign, changes: dict, *, targets: dict[int, int | None] | None = None,
                  add_communities: list[Region] = (), recompute_targets: bool = False,
                  actor: Account | None = None) -> bool:
    """Change a campaign's settings, its communities' targets, or add communities; one audit
    entry with every changed field before and after. Returns False when nothing changed.

    ``targets`` maps community id → target (None for none). New communities, and all of
    them with ``recompute_targets``, get Cochran's target at the campaign's (new) plan.
    Turning double entry off is refused while papers wait for a second keying or to be
    settled: they would be stranded.
    """
    unknown = set(changes) - set(EDITABLE_CAMPAIGN_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    opens_at, closes_at = changes.get("opens_at", campaign.opens_at), changes.get("closes_at", campaign.closes_at)
    if opens_at and closes_at and closes_at <= opens_at:
        raise CampaignEditRefused("结束时间要晚于开始时间。")
    if campaign.double_entry and changes.get("double_entry") is False:
        waiting = db.session.scalar(sa.select(sa.func.count(PaperKeying.id)).where(
            PaperKeying.campaign_id == campaign.id, PaperKeying.response_id.is_(None)))
        if waiting:
            raise CampaignEditRefused("还有纸质问卷在等第二遍录入或核对，处理完以后才能改成只录一遍。")
    members = {cc.community_id for cc in campaign.communities}
    for community in add_communities:
        if community.level is not RegionLevel.COMMUNITY:
            raise ValueError(f"{community.name} is not a community")
    before = audit.snapshot(campaign, CAMPAIGN_FIELDS) | {"targets": _targets_by_code(campaign)}
    for name, value in changes.items():
        setattr(campaign, name, value)
    for community in add_communities:
        if community.id not in members:
            campaign.communities.append(CampaignCommunity(community=community, target_sample=cochran_sample_size(
                community.households, confidence=campaign.confidence, margin=campaign.margin)))
    for cc in campaign.communities:
        if recompute_targets:
            cc.target_sample = cochran_sample_size(cc.community.households, confidence=campaign.confidence,
                                                   margin=campaign.margin)
        elif targets is not None and cc.community_id in targets:
            cc.target_sample = targets[cc.community_id]
    db.session.flush()
    after = audit.snapshot(campaign, CAMPAIGN_FIELDS) | {"targets": _targets_by_code(campaign)}
    changed_before = {k: v for k, v in before.items() if after.get(k) != v}
    if not changed_before:
        return False
    audit.record("edit", "campaign", campaign.id, actor=actor, before=changed_before,
                 after={k: after[k] for k in changed_before})
    return True


def open_campaign(campaign: Campaign, now: datetime, *, actor: Account | None = None) -> bool:
    """Open a campaign now (a draft, a scheduled one, or a closed one again). False if already open."""
    state = campaign.state_at(now)
    if state is CampaignState.OPEN:
        return False
    before = audit.snapshot(campaign, CAMPAIGN_FIELDS)
    if state in (CampaignState.DRAFT, CampaignState.SCHEDULED):
        campaign.opens_at = now
    if campaign.closes_at is not None and campaign.closes_at <= now:
        campaign.closes_at = None
    audit.record("open", "campaign", campaign.id, actor=actor, before=before,
                 after=audit.snapshot(campaign, CAMPAIGN_FIELDS))
    return True


def close_campaign(campaign: Campaign, now: datetime, *, actor: Account | None = None) -> bool:
    """Stop taking answers now. False if it was not open."""
    if campaign.state_at(now) is not CampaignState.OPEN:
        return False
    before = audit.snapshot(campaign, CAMPAIGN_FIELDS)
    campaign.closes_at = now
    audit.record("close", "campaign", campaign.id, actor=actor, before=before,
                 after=audit.snapshot(campaign, CAMPAIGN_FIELDS))
    return True


def create_account(username: str, display_name: str, password: str, role: Role, region: Region, *,
                   actor: Account | None = None) -> Account:
    """A staff account rooted at a region of the level its role needs."""
    if region.level not in ROLE_LEVELS[role]:
        levels = "/".join(level.label for level in ROLE_LEVELS[role])
        raise ValueError(f"a {role.label} account belongs to a {levels}, not a {region.level.label}")
    if len(password) < 10:
        raise ValueError("the password must have at least 10 characters")
    account = Account(username=username, display_name=display_name, role=role, region=region)
    account.set_password(password)
    db.session.add(account)
    db.session.flush()
    audit.record("create", "account", account.id, actor=actor,
                 after=audit.snapshot(account, ("username", "display_name", "role", "region_id", "active")))
    return account


#: Most tickets one batch may hold (a print run of about 63 A4 sheets).
MAX_TICKETS_PER_BATCH = 500


def issue_tickets(campaign: Campaign, community: Region, count: int, *, actor: Account | None = None) -> TicketBatch:
    """A batch of single-use tickets for one community of a campaign."""
    if not 1 <= count <= MAX_TICKETS_PER_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_TICKETS_PER_BATCH} tickets")
    if community.id not in {cc.community_id for cc in campaign.communities}:
        raise ValueError(f"{community.name} is not in the campaign")
    batch = TicketBatch(campaign=campaign, community=community, account=actor or audit.acting_account())
    batch.tickets = [Ticket(campaign=campaign, community=community) for _ in range(count)]
    db.session.add(batch)
    db.session.flush()
    audit.record("create", "ticket_batch", batch.id, actor=actor,
                 after={"campaign_id": campaign.id, "community_id": community.id, "tickets": count})
    return batch


def exclude_response(response: Response, reason: str, *, actor: Account | None = None) -> None:
    """Leave a response out of the statistics (and the answer tallies), with the reason; it stays stored."""
    reason = reason.strip()
    if not reason:
        raise ValueError("an exclusion needs a reason")
    before = {"exclusion_reason": response.exclusion_reason}
    tallies.set_exclusion(response, reason)
    audit.record("exclude", "response", response.id, actor=actor, before=before, after={"exclusion_reason": reason})


def include_response(response: Response, *, actor: Account | None = None) -> None:
    """Count an excluded response again."""
    before = {"exclusion_reason": response.exclusion_reason}
    tallies.set_exclusion(response, None)
    audit.record("include", "response", response.id, actor=actor, before=before, after={"exclusion_reason": None})


ACCOUNT_FIELDS = ("username", "display_name", "role", "region_id", "active")


def set_account_active(account: Account, active: bool, *, actor: Account | None = None) -> None:
    """Disable or enable an account; accounts are never deleted (the audit log names them)."""
    before = audit.snapshot(account, ACCOUNT_FIELDS)
    account.active = active
    audit.record("account", "account", account.id, actor=actor, before=before,
                 after=audit.snapshot(account, ACCOUNT_FIELDS))


def reset_password(account: Account, password: str, *, actor: Account | None = None) -> None:
    """Give an account a new password. The audit entry says that it changed, never what to."""
    if len(password) < 10:
        raise ValueError("the password must have at least 10 characters")
    account.set_password(password)
    audit.record("account", "account", account.id, actor=actor, after={"password": "changed"})
