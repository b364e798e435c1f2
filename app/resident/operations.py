"""What the resident pages do, kept out of the views."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Campaign, CampaignCommunity, CampaignState, Site, SurveyVersion

#: Seconds a rendered form stays good for submitting (a day: elderly residents are not rushed).
SUBMISSION_MAX_AGE = 24 * 3600
DEVICE_COOKIE = "minyi_device"
#: Campaigns remembered per device: enough for years of campaigns in one community.
DEVICE_MEMORY = 40


def site_by_token(token: str) -> Site | None:
    if not token or len(token) > 32:
        return None
    return db.session.scalar(
        sa.select(Site).where(Site.token == token).options(joinedload(Site.community)))


@dataclass
class SiteCampaigns:
    """The campaigns of a site's community, sorted by what a resident can do with them."""

    open: list[Campaign] = field(default_factory=list)
    scheduled: list[Campaign] = field(default_factory=list)
    closed: list[Campaign] = field(default_factory=list)


def campaigns_at_site(site: Site, now: datetime) -> SiteCampaigns:
    campaigns = db.session.scalars(
        sa.select(Campaign)
        .join(CampaignCommunity, CampaignCommunity.campaign_id == Campaign.id)
        .where(CampaignCommunity.community_id == site.community_id, Campaign.opens_at.is_not(None))
        .options(joinedload(Campaign.survey_version).joinedload(SurveyVersion.survey))
        .order_by(Campaign.opens_at, Campaign.id)
    ).all()
    found = SiteCampaigns()
    for campaign in campaigns:
        state = campaign.state_at(now)
        if state is CampaignState.OPEN:
            found.open.append(campaign)
        elif state is CampaignState.SCHEDULED:
            found.scheduled.append(campaign)
        elif state is CampaignState.CLOSED:
            found.closed.append(campaign)
    return found


# -- the submission token: made when the form is rendered ---------------------------

def _submission_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="minyi.submission")


def new_submission_token(secret: str, campaign_id: int) -> str:
    """A signed (submission id, campaign) pair; its signing time is when the form was shown."""
    return _submission_serializer(secret).dumps([uuid.uuid4().hex, campaign_id])


@dataclass(frozen=True)
class Submission:
    id: str
    started_at: datetime


def read_submission_token(secret: str, token: str | None, campaign_id: int) -> Submission | None:
    """The submission a posted token names, or None if it is missing, forged, stale or for another campaign."""
    if not token or len(token) > 200:
        return None
    try:
        (sid, cid), signed_at = _submission_serializer(secret).loads(
            token, max_age=SUBMISSION_MAX_AGE, return_timestamp=True)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    if cid != campaign_id or not isinstance(sid, str) or len(sid) != 32:
        return None
    return Submission(sid, signed_at.astimezone(timezone.utc))


# -- the device cookie --------------------------------------------------------------

@dataclass
class Device:
    """What a resident's phone carries: a random id and the campaigns it has answered."""

    id: str
    answered: list[int]
    is_new: bool = False


def _device_serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="minyi.device")


def read_device(secret: str, cookie: str | None) -> Device:
    if cookie and len(cookie) < 1024:
        try:
            data = _device_serializer(secret).loads(cookie)
            if isinstance(data, dict) and isinstance(data.get("d"), str) \
                    and all(isinstance(c, int) for c in data.get("a", [])):
                return Device(data["d"], list(data.get("a", [])))
        except BadSignature:
            pass
    return Device(secrets.token_hex(16), [], is_new=True)


def device_cookie_value(secret: str, device: Device) -> str:
    return _device_serializer(secret).dumps({"d": device.id, "a": device.answered[-DEVICE_MEMORY:]})


def _keyed_hash(secret: str, purpose: str, value: str, length: int) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:length]


def device_hash(secret: str, device_id: str) -> str:
    return _keyed_hash(secret, "device", device_id, 32)


def network_hash(secret: str, address: str | None) -> str | None:
    """A keyed hash of the address's network (/24 for IPv4, /48 for IPv6); the address itself is never kept."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    return _keyed_hash(secret, "network", str(network), 16)


# -- presenting a definition --------------------------------------------------------

def condition_notes(definition) -> dict[str, str]:
    """For each item with show_if, the note residents read when scripts are off:
    “第 3 题选“是”的请回答”."""
    numbers = {item.key: n for n, item in enumerate(definition.items, start=1)}
    notes = {}
    for item in definition.items:
        cond = item.show_if
        if cond is None:
            continue
        target = definition.items_by_key[cond.item]
        labels = "”或“".join(c.label for c in target.choices if c.code in cond.values)
        notes[item.key] = f"第 {numbers[target.key]} 题选了“{labels}”的，请回答这一题。"
    return notes
