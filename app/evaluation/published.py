"""Results made public (Kunming Ⅱ-14.4: an evaluation system with residents' satisfaction as its main
measure, its results made public): a district admin publishes a campaign's satisfaction rates or
withdraws them; residents read them at /results/<id> without an account.

Only satisfaction rates go public: the campaign's overall rate of each scale item and each
community's, each with how many residents rated it and its interval, from the same counted
responses as the summary. No open answers, no individual responses, no ranking, no staff names.
"""

from __future__ import annotations

from datetime import datetime

from .. import audit
from ..extensions import db
from ..models import Account, Campaign
from ..models.types import utcnow
from .summary import campaign_summary


def is_published(campaign: Campaign) -> bool:
    return campaign.results_published_at is not None


def published_campaign(campaign_id: int) -> Campaign | None:
    """The campaign if its results are public now; None otherwise (or for no such campaign)."""
    campaign = db.session.get(Campaign, campaign_id) if 0 < campaign_id < 2**31 else None
    return campaign if campaign is not None and is_published(campaign) else None


def set_published(campaign: Campaign, publish: bool, *, actor: Account | None = None) -> bool:
    """Publish (or withdraw) the campaign's satisfaction rates, audited. Returns whether anything changed;
    the caller commits."""
    if is_published(campaign) == publish:
        return False
    actor = actor or audit.acting_account()
    before = {"results_published_at": _iso(campaign.results_published_at)}
    campaign.results_published_at = utcnow() if publish else None
    db.session.flush()
    audit.record("publish" if publish else "withdraw", "campaign", campaign.id, actor=actor, before=before,
                 after={"results_published_at": _iso(campaign.results_published_at)})
    return True


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _rate(group: dict) -> dict:
    interval = group["rate_interval"]
    return {"n_valid": group["n_valid"], "satisfaction_rate": group["satisfaction_rate"],
            "rate_interval": None if interval is None else {"low": interval["low"], "high": interval["high"]}}


def published_results(campaign: Campaign) -> dict:
    """What the public page and its JSON twin show: per scale item, the campaign's satisfaction rate
    and each community's (communities in code order, never ranked), with valid n and the interval,
    from campaign_summary's default counted responses."""
    overall = campaign_summary(campaign, "campaign")
    by_community = campaign_summary(campaign, "community")
    items, satisfied, off_scale = [], {}, {}
    for whole, per_community in zip(overall["items"], by_community["items"]):
        scale = whole["scale"]
        satisfied.update(dict.fromkeys(lv["label"] for lv in scale["levels"] if lv["code"] in scale["satisfied"]))
        off_scale.update(dict.fromkeys(answer["label"] for answer in scale["off_scale"]))
        items.append({
            "key": whole["key"],
            "text": whole["text"],
            "campaign": _rate(whole["groups"][0]),
            "communities": [{"id": group["key"], "name": group["name"], **_rate(group)}
                            for group in per_community["groups"]],
        })
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "published_at": _iso(campaign.results_published_at),
        "confidence": campaign.confidence,
        "respondents": overall["respondents"],
        "channels": [{"channel": c["channel"], "name": c["name"], "respondents": c["respondents"]}
                     for c in overall["channels"]],
        "communities": len(by_community["groups"]),
        #: The answers a satisfaction rate counts as satisfied, and those it leaves out (不了解), over all items.
        "satisfied_answers": list(satisfied),
        "off_scale_answers": list(off_scale),
        "items": items,
    }


def percent(rate: float | None) -> str | None:
    """A rate as a whole percent: "82%"."""
    return None if rate is None else f"{round(rate * 100)}%"


def percent_range(interval: dict | None) -> str | None:
    """An interval in plain words' numbers: "78%–86%" (whole percents, rounded)."""
    if interval is None:
        return None
    return f"{round(interval['low'] * 100)}%–{round(interval['high'] * 100)}%"
