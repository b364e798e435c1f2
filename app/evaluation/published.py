"""Results made public (Kunming Ⅱ-14.4: an evaluation system with residents' satisfaction as its main
measure, its results made public): a district admin publishes a closed campaign's satisfaction rates
or withdraws them; residents read them at /results/<id> without an account.

Only satisfaction rates go public: the campaign's overall rate of each scale item and each
community's, each with how many residents rated it and its interval, from the summary's counted
responses (``campaign_summary``'s default filter, ``queries.COUNTED``). No totals of respondents,
no counts by channel, no open answers, no individual responses, no ranking, no staff names.

Small groups are held back: a rate from fewer than MIN_PUBLISHED_N residents (a community's, or the
campaign's) is not shown, since it comes close to telling what a few known people answered. And as
the campaign's figure is shown, the communities held back must together hold at least
MIN_PUBLISHED_N residents, or the campaign's figure minus the shown communities' would give theirs
away: while they do not, the smallest shown community is held back too.

Only a closed campaign can be published, so the figures do not move under "公布于…". A campaign
re-opened afterwards (its closing time moved later) stays published, and the page says the survey
is running again and the figures may still change (``figures_may_change``): an admin who wants
them gone withdraws them.
"""

from __future__ import annotations

from datetime import datetime

from .. import audit
from ..extensions import db
from ..models import Account, Campaign, CampaignState
from ..models.types import utcnow
from ..templating import local_time
from .summary import campaign_summary

#: A rate is published only when at least this many residents rated the item on the scale.
MIN_PUBLISHED_N = 10

#: Why a group's rate is held back (``withheld_reason`` in the JSON).
TOO_FEW = "too_few"
PROTECTS_OTHERS = "protects_others"


class NotPublishable(ValueError):
    """The campaign cannot be published now; the message is the Chinese sentence staff read."""


def is_published(campaign: Campaign) -> bool:
    return campaign.results_published_at is not None


def published_campaign(campaign_id: int) -> Campaign | None:
    """The campaign if its results are public now; None otherwise (or for no such campaign)."""
    campaign = db.session.get(Campaign, campaign_id) if 0 < campaign_id < 2**31 else None
    return campaign if campaign is not None and is_published(campaign) else None


def refusal(campaign: Campaign) -> str | None:
    """Why the campaign cannot be published now (a Chinese sentence), or None when it can: only a
    closed campaign is, so the published figures are the final ones."""
    state = campaign.state
    if state is CampaignState.CLOSED:
        return None
    if state is CampaignState.DRAFT:
        return "这次调查还没有发布，调查结束以后才能公布结果。"
    if state is CampaignState.SCHEDULED:
        return "这次调查还没有开始，调查结束以后才能公布结果。"
    if campaign.closes_at is None:
        return "这次调查还在进行，也没有设结束时间。请先设好结束时间，调查结束以后才能公布结果。"
    return f"这次调查还在进行（{local_time(campaign.closes_at)} 结束），结束以后才能公布结果，免得公布后数字还在变。"


def set_published(campaign: Campaign, publish: bool, *, actor: Account | None = None) -> bool:
    """Publish (or withdraw) the campaign's satisfaction rates, audited. Returns whether anything changed;
    the caller commits. Publishing a campaign that is not closed raises NotPublishable (nothing
    stored, nothing audited); withdrawing is always possible."""
    if is_published(campaign) == publish:
        return False
    if publish and (why := refusal(campaign)) is not None:
        raise NotPublishable(why)
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
            "rate_interval": None if interval is None else {"low": interval["low"], "high": interval["high"]},
            "withheld": False, "withheld_reason": None}


def _withhold(rate: dict, reason: str) -> dict:
    return {**rate, "n_valid": None, "satisfaction_rate": None, "rate_interval": None,
            "withheld": True, "withheld_reason": reason}


def withhold_small_groups(whole: dict, communities: list[dict], minimum: int = MIN_PUBLISHED_N
                          ) -> tuple[dict, list[dict]]:
    """The campaign's rate and the communities' (as ``_rate`` makes them) with the small groups held back.

    A group under ``minimum`` residents is held back (TOO_FEW). When the campaign's rate is shown,
    the residents of the held-back communities (the campaign's n less the shown communities') must
    be none or at least ``minimum``, else subtracting would give their figures: the smallest shown
    communities (then by position) are held back too (PROTECTS_OTHERS) until they are."""
    if whole["n_valid"] < minimum:
        return _withhold(whole, TOO_FEW), [_withhold(c, TOO_FEW) for c in communities]
    shown = [c["n_valid"] >= minimum for c in communities]
    reasons = [None if ok else TOO_FEW for ok in shown]
    while 0 < whole["n_valid"] - sum(c["n_valid"] for c, ok in zip(communities, shown) if ok) < minimum:
        smallest = min((i for i, ok in enumerate(shown) if ok), key=lambda i: communities[i]["n_valid"], default=None)
        if smallest is None:
            break
        shown[smallest], reasons[smallest] = False, PROTECTS_OTHERS
    return whole, [c if reason is None else _withhold(c, reason) for c, reason in zip(communities, reasons)]


def published_results(campaign: Campaign) -> dict:
    """What the public page and its JSON twin show: per scale item, the campaign's satisfaction rate
    and each community's (communities in code order, never ranked), with valid n and the interval,
    from campaign_summary's default counted responses; groups too small held back (null rate,
    ``withheld``)."""
    overall = campaign_summary(campaign, "campaign")
    by_community = campaign_summary(campaign, "community")
    items, satisfied, off_scale = [], {}, {}
    for whole, per_community in zip(overall["items"], by_community["items"]):
        scale = whole["scale"]
        satisfied.update(dict.fromkeys(lv["label"] for lv in scale["levels"] if lv["code"] in scale["satisfied"]))
        off_scale.update(dict.fromkeys(answer["label"] for answer in scale["off_scale"]))
        campaign_rate, community_rates = withhold_small_groups(
            _rate(whole["groups"][0]),
            [{"id": group["key"], "name": group["name"], **_rate(group)} for group in per_community["groups"]])
        items.append({"key": whole["key"], "text": whole["text"], "campaign": campaign_rate,
                      "communities": community_rates})
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "published_at": _iso(campaign.results_published_at),
        #: Re-opened after publishing: the survey runs again and the figures may still change.
        "figures_may_change": campaign.state is not CampaignState.CLOSED,
        "confidence": campaign.confidence,
        "min_published_n": MIN_PUBLISHED_N,
        #: The ways residents took part (names only, no counts): only tickets are a random sample.
        "channels": [{"channel": c["channel"], "name": c["name"]} for c in overall["channels"]],
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
