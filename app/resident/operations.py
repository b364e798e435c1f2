"""What the resident pages do, kept out of the views."""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import ipaddress
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import current_app, request
from flask_wtf.csrf import validate_csrf
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy.orm import joinedload
from wtforms.validators import ValidationError

from ..definitions import SurveyDefinition
from ..definitions.loader import stored_definition
from ..definitions.types import AnswerRow
from ..extensions import db
from ..models import Campaign, CampaignCommunity, CampaignState, Channel, Region, Site, SurveyVersion, Ticket
from ..models.types import utcnow
from ..submissions import NewResponse, StoreOutcome, quality_flags_at_submit, store_response

DEVICE_COOKIE = "minyi_device"
#: The largest id a campaign row can have (an INTEGER key on PostgreSQL).
MAX_ID = 2**31 - 1
#: Campaigns remembered per device: enough for years of campaigns in one community.
DEVICE_MEMORY = 40
#: What a site token looks like (secrets.token_urlsafe); anything else is not looked up.
SITE_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{8,43}")
#: The only bodies our form sends. JSON, or a file part, is never a resident's answer.
FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def site_by_token(token: str) -> Site | None:
    """The site a QR code's token names, with its community; None for anything else."""
    if not SITE_TOKEN_RE.fullmatch(token or ""):
        return None
    return db.session.scalar(
        sa.select(Site).where(Site.token == token).options(joinedload(Site.community)))


class Problem(enum.Enum):
    """Why a site's page cannot show a form."""

    CHOOSE = "choose"        # several campaigns open: the resident picks one
    SCHEDULED = "scheduled"  # not open yet
    CLOSED = "closed"        # over
    NONE = "none"            # nothing here


@dataclass
class Resolution:
    campaign: Campaign | None = None
    problem: Problem | None = None
    #: The open campaigns to choose from, or the scheduled one that opens next.
    campaigns: list[Campaign] = field(default_factory=list)


def campaigns_at_site(site: Site) -> list[Campaign]:
    """Every published campaign that runs in the site's community, oldest first."""
    return list(db.session.scalars(
        sa.select(Campaign)
        .join(CampaignCommunity, CampaignCommunity.campaign_id == Campaign.id)
        .where(CampaignCommunity.community_id == site.community_id, Campaign.opens_at.is_not(None))
        .options(joinedload(Campaign.survey_version).joinedload(SurveyVersion.survey))
        .order_by(Campaign.opens_at, Campaign.id)))


def resolve_campaign(site: Site, now: datetime, wanted: int | None, *, posting: bool) -> Resolution:
    """Which campaign a request at a site is for.

    Showing a form, a wanted campaign that is not open is ignored and the usual choice
    made. Posting answers, the wanted campaign (from the form's address or its signed
    token) is the only one that may take them: answers are never filed under another
    campaign that happened to open or close meanwhile.
    """
    campaigns = campaigns_at_site(site)
    by_state: dict[CampaignState, list[Campaign]] = {state: [] for state in CampaignState}
    for campaign in campaigns:
        by_state[campaign.state_at(now)].append(campaign)
    open_now = by_state[CampaignState.OPEN]
    if wanted is not None:
        chosen = next((c for c in campaigns if c.id == wanted), None)
        if chosen in open_now:
            return Resolution(chosen)
        if posting:
            if chosen is not None and chosen in by_state[CampaignState.CLOSED]:
                return Resolution(problem=Problem.CLOSED)
            return Resolution(problem=Problem.NONE)
    if len(open_now) == 1:
        return Resolution(open_now[0])
    if len(open_now) > 1:
        return Resolution(problem=Problem.CHOOSE, campaigns=open_now)
    if by_state[CampaignState.SCHEDULED]:
        return Resolution(problem=Problem.SCHEDULED, campaigns=by_state[CampaignState.SCHEDULED][:1])
    if by_state[CampaignState.CLOSED]:
        return Resolution(problem=Problem.CLOSED)
    return Resolution(problem=Problem.NONE)


def is_form_post(request) -> bool:
    """A body our own form could have sent: form-encoded, without file parts."""
    return request.mimetype in FORM_MIMETYPES and not request.files


# -- the submission token: made when the form is rendered ---------------------------

@functools.lru_cache(maxsize=4)  # one secret per app; made once, not on every request
def _submission_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="minyi.submission")


def new_submission_token(secret: str, campaign_id: int) -> str:
    """A signed (submission id, campaign) pair; its signing time is when the form was shown."""
    return _submission_serializer(secret).dumps([uuid.uuid4().hex, campaign_id])


@dataclass(frozen=True)
class Submission:
    id: str
    started_at: datetime


def read_submission_token(secret: str, token: str | None, campaign_id: int, max_age: int) -> Submission | None:
    """The submission a posted token names, or None if it is missing, forged, stale or for another campaign."""
    if not token or len(token) > 200:
        return None
    try:
        (sid, cid), signed_at = _submission_serializer(secret).loads(
            token, max_age=max_age, return_timestamp=True)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    if cid != campaign_id or not isinstance(sid, str) or len(sid) != 32:
        return None
    return Submission(sid, signed_at.astimezone(timezone.utc))


def campaign_of_token(secret: str, token: str | None) -> int | None:
    """The campaign a posted form was made for (signature checked, age not)."""
    if not token or len(token) > 200:
        return None
    try:
        _sid, cid = _submission_serializer(secret).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return cid if isinstance(cid, int) else None


def csrf_token_valid(token: str | None) -> bool:
    """Whether a posted CSRF token is good for this session, by the check the form itself
    makes (Flask-WTF's, with the app's secret and time limit)."""
    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True


# -- the device cookie --------------------------------------------------------------

@dataclass
class Device:
    """What a resident's phone carries: a random id and the campaigns it has answered."""

    id: str
    answered: list[int]
    is_new: bool = False


@functools.lru_cache(maxsize=4)
def _device_serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="minyi.device")


def read_device(secret: str, cookie: str | None) -> Device:
    """The phone's signed cookie, or a new random identity when it has none (or a forged one)."""
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


def with_device_cookie(response, device: Device):
    """Give the phone its signed cookie when it is new, and again on every post (it carries
    what the phone has answered)."""
    if device.is_new or request.method == "POST":
        response.set_cookie(DEVICE_COOKIE, device_cookie_value(current_app.config["SECRET_KEY"], device),
                            max_age=400 * 24 * 3600, httponly=True, samesite="Lax",
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


def _keyed_hash(secret: str, purpose: str, value: str, length: int) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:length]


def device_hash(secret: str, device_id: str) -> str:
    """A keyed hash of the phone's random cookie id: the same phone, the same hash; not reversible."""
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


# -- submitting ------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """How a resident reached a form (a site's poster, or a single-use ticket) and the
    campaign it takes answers for: plain values, so the submit path needs no ORM objects."""

    campaign_id: int
    definition: SurveyDefinition
    one_response_per_device: bool
    community_id: int
    #: Shown under the title: where the resident is.
    where: str
    site_id: int | None = None
    ticket_id: int | None = None

    @property
    def channel(self) -> Channel:
        return Channel.TICKET if self.ticket_id is not None else Channel.QR

    @classmethod
    def of(cls, campaign: Campaign, community_id: int, where: str, *, site: Site | None = None,
           ticket: Ticket | None = None) -> Entry:
        return cls(campaign.id, campaign.survey_version.survey_definition, campaign.one_response_per_device,
                   community_id, where, site.id if site else None, ticket.id if ticket else None)


_sites, _regions, _campaigns = Site.__table__, Region.__table__, Campaign.__table__
_campaign_communities, _versions = CampaignCommunity.__table__, SurveyVersion.__table__

#: Everything a post to a site's form needs, in one query: the site (not retired), its
#: community, and the named campaign if it runs there.
_POSTING_AT_SITE = (
    sa.select(_sites.c.id, _sites.c.name, _sites.c.community_id, _regions.c.name.label("community_name"),
              _campaigns.c.opens_at, _campaigns.c.closes_at, _campaigns.c.one_response_per_device,
              _versions.c.id.label("version_id"), _versions.c.content_hash)
    .join(_regions, _regions.c.id == _sites.c.community_id)
    .join(_campaign_communities, (_campaign_communities.c.community_id == _sites.c.community_id)
          & (_campaign_communities.c.campaign_id == sa.bindparam("campaign_id")))
    .join(_campaigns, _campaigns.c.id == _campaign_communities.c.campaign_id)
    .join(_versions, _versions.c.id == _campaigns.c.survey_version_id)
    .where(_sites.c.token == sa.bindparam("token"), _sites.c.retired_at.is_(None))
)


def open_entry_at_site(token: str, campaign_id: int, now: datetime) -> Entry | None:
    """The entry a post to a site's form goes to, when all is well: the site is in use and
    the campaign runs in its community and is open. None otherwise, and the caller takes
    the long way, which says what is wrong.

    Residents' submissions are the hottest path: one small query here instead of loading
    the site, its community and every campaign there as ORM objects (about a third of a
    submit's time before)."""
    # An id no row can have must not reach the database (PostgreSQL refuses it); the long way
    # finds no such campaign.
    if not SITE_TOKEN_RE.fullmatch(token or "") or not 0 < campaign_id <= MAX_ID:
        return None
    row = db.session.execute(_POSTING_AT_SITE, {"token": token, "campaign_id": campaign_id}).first()
    if row is None or Campaign.state_between(row.opens_at, row.closes_at, now) is not CampaignState.OPEN:
        return None
    definition = stored_definition(row.content_hash, lambda: db.session.scalar(
        sa.select(_versions.c.definition).where(_versions.c.id == row.version_id)))
    return Entry(campaign_id, definition, row.one_response_per_device, row.community_id,
                 f"{row.community_name} · {row.name}", site_id=row.id)


def ticket_by_token(token: str) -> Ticket | None:
    """The ticket a slip's token names, with its campaign and community; None for anything else."""
    if not SITE_TOKEN_RE.fullmatch(token or ""):
        return None
    return db.session.scalar(
        sa.select(Ticket).where(Ticket.token == token)
        .options(joinedload(Ticket.campaign).joinedload(Campaign.survey_version), joinedload(Ticket.community)))


def submit(*, entry: Entry, answers: list[tuple[str, AnswerRow]], submission: Submission, device: Device,
           secret: str, remote_addr: str | None) -> StoreOutcome:
    """Store a validated post's answers once, by the entry's channel; remember the phone.

    A ticket is its own limit (one response each), so the one-per-phone rule applies to
    site posters only.
    """
    device_key = device_hash(secret, device.id)
    campaign_id = entry.campaign_id
    once = entry.one_response_per_device and entry.ticket_id is None
    outcome = store_response(NewResponse(
        campaign_id=campaign_id, community_id=entry.community_id, site_id=entry.site_id,
        channel=entry.channel, submission_id=submission.id, started_at=submission.started_at,
        submitted_at=utcnow(), answers=answers, device_hash=device_key,
        network_hash=network_hash(secret, remote_addr), once_key=device_key if once else None,
        quality_flags=int(quality_flags_at_submit(entry.definition, answers)),
        ticket_id=entry.ticket_id,
    ))
    # Stored, stored before, or refused as a second answer: either way this phone has answered.
    if outcome is not StoreOutcome.TICKET_USED and campaign_id not in device.answered:
        device.answered.append(campaign_id)
    return outcome


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
        chosen = [c.label for c in target.choices if c.code in cond.values]
        others = [c.label for c in target.choices if c.code not in cond.values]
        if len(chosen) > 2 and len(others) <= 2:
            # "选了“报纸”或“广播”或…" reads badly; name the few answers that do not lead here.
            notes[item.key] = f"第 {numbers[target.key]} 题选了“{'”“'.join(others)}”以外的选项的，请回答这一题。"
        else:
            notes[item.key] = f"第 {numbers[target.key]} 题选了“{'”或“'.join(chosen)}”的，请回答这一题。"
    return notes
