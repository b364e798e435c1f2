"""What evaluators change for a scheme: the district's numbers for its 待填, and their entries per
community (a level, a measured number, a 得分率). Every change is audited with before and after;
the caller commits."""

from __future__ import annotations

import math
from collections.abc import Mapping

import sqlalchemy as sa

from .. import audit
from ..definitions.schemes import FILLABLE, FillInError, Indicator, Scheme, filled_scheme
from ..extensions import db
from ..models import Account, Campaign, CampaignCommunity
from ..models.scoring import IndicatorEntry, SchemeSetting
from ..models.types import utcnow
from ..templating import local_time

#: The kinds of leaf an evaluator enters a value for.
ENTERED_FEEDS = ("levels", "standard", "entered")


def setting_for(campaign_id: int, scheme_id: str) -> SchemeSetting | None:
    """The district's numbers for a scheme's 待填 in this campaign (None: none stored yet)."""
    return db.session.scalar(sa.select(SchemeSetting).where(SchemeSetting.campaign_id == campaign_id,
                                                            SchemeSetting.scheme_id == scheme_id))


def locked_message(setting: SchemeSetting | None) -> str | None:
    """Why nothing may change, when the scores of this scheme and campaign are 定稿 (None: they are not)."""
    if setting is None or setting.locked_at is None:
        return None
    who = setting.locked_by.display_name if setting.locked_by else "区级管理员"
    return (f"这次测评的评分已于 {local_time(setting.locked_at)} 由{who}定稿，不能再改。"
            "确实需要改动，请区级管理员先解除定稿")


def set_locked(campaign: Campaign, scheme: Scheme, locked: bool, *, actor: Account | None = None) -> bool:
    """定稿 (or lift it) for this scheme in this campaign, audited. Returns whether anything changed."""
    setting = setting_for(campaign.id, scheme.id)
    if (setting is not None and setting.locked_at is not None) == locked:
        return False
    actor = actor or audit.acting_account()
    if setting is None:
        setting = SchemeSetting(campaign_id=campaign.id, scheme_id=scheme.id, fill_ins={}, updated_at=utcnow())
        db.session.add(setting)
    before = {"locked_at": setting.locked_at, "locked_by_id": setting.locked_by_id}
    setting.locked_at = utcnow() if locked else None
    setting.locked_by_id = (actor.id if actor else None) if locked else None
    db.session.flush()
    audit.record("lock" if locked else "unlock", "scheme_setting", setting.id, actor=actor,
                 before={k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in before.items()},
                 after={"campaign_id": campaign.id, "scheme_id": scheme.id,
                        "locked_at": setting.locked_at.isoformat() if setting.locked_at else None,
                        "locked_by_id": setting.locked_by_id})
    return True


class EntryError(ValueError):
    """A value the indicator cannot take; the message (Chinese) is shown to the evaluator."""


class EntryConflict(EntryError):
    """The entry changed since the evaluator's page showed it: someone else saved meanwhile."""


def entry_leaves(scheme: Scheme) -> list[Indicator]:
    """The scheme's leaves an evaluator enters, in the scheme's order."""
    return [leaf for leaf in scheme.leaves if leaf.feed is not None and leaf.feed.kind in ENTERED_FEEDS]


def check_value(indicator: Indicator, value: float) -> float:
    """The value as stored, or EntryError saying in Chinese what the indicator takes."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EntryError(f"{indicator.label}：请填写数字")
    feed = indicator.feed
    if feed.kind == "levels":
        for factor in feed.factors:
            if abs(value - factor) <= 1e-9:
                return factor
        raise EntryError(f"{indicator.label}：请选择一个等级")
    if feed.kind == "standard" and value < 0:
        raise EntryError(f"{indicator.label}：{feed.label}不能是负数")
    if feed.kind == "entered" and not 0 <= value <= 100:
        raise EntryError(f"{indicator.label}：得分率在 0 到 100 之间")
    return float(value)


def save_fill_ins(campaign: Campaign, scheme: Scheme, values: Mapping[str, Mapping[str, object]], *,
                  actor: Account | None = None) -> SchemeSetting:
    """Store the district's numbers for the scheme's 待填 in this campaign. The filled scheme is
    built first, so numbers that do not add up are refused (FillInError, in Chinese) and nothing
    is stored."""
    cleaned = {key: {field: value for field, value in fields.items() if field in FILLABLE and value is not None}
               for key, fields in values.items()}
    cleaned = {key: fields for key, fields in cleaned.items() if fields}
    filled_scheme(scheme, cleaned)  # raises FillInError / ValueError
    setting = setting_for(campaign.id, scheme.id)
    if (message := locked_message(setting)) is not None:
        raise FillInError([message])
    if setting is not None and setting.fill_ins == cleaned:
        return setting  # nothing changed: nothing to audit
    before = None if setting is None else {"fill_ins": setting.fill_ins}
    if setting is None:
        setting = SchemeSetting(campaign_id=campaign.id, scheme_id=scheme.id, fill_ins={})
        db.session.add(setting)
    setting.fill_ins = cleaned
    setting.updated_at = utcnow()
    actor = actor or audit.acting_account()
    setting.updated_by_id = actor.id if actor else None
    db.session.flush()
    audit.record("edit" if before else "create", "scheme_setting", setting.id, actor=actor, before=before,
                 after={"campaign_id": campaign.id, "scheme_id": scheme.id, "fill_ins": cleaned})
    return setting


def save_entries(campaign: Campaign, scheme: Scheme, community_id: int, values: Mapping[str, float | None],
                 notes: Mapping[str, str | None] | None = None, *, actor: Account | None = None,
                 shown: Mapping[str, tuple | None] | None = None) -> int:
    """Set (or, with None, clear) the community's entries for the named indicators of the scheme as
    filled in for this campaign. All are checked before any is stored. Returns how many changed.

    ``shown[id]`` is the (value, note) the evaluator's page showed: where the stored entry no longer
    matches it, someone else saved meanwhile, and nothing is stored (EntryError says what changed)."""
    member = db.session.get(CampaignCommunity, (campaign.id, community_id))
    if member is None:
        raise EntryError("这个社区不在本次测评里")
    if (message := locked_message(setting_for(campaign.id, scheme.id))) is not None:
        raise EntryError(message)
    by_id = scheme.indicators_by_id
    checked: dict[str, float | None] = {}
    for indicator_id, value in values.items():
        indicator = by_id.get(indicator_id)
        if indicator is None or indicator.feed is None or indicator.feed.kind not in ENTERED_FEEDS:
            raise EntryError(f"指标 {indicator_id} 不需要考评人员录入")
        checked[indicator_id] = None if value is None else check_value(indicator, value)
        if value is None and ((notes or {}).get(indicator_id) or "").strip():
            raise EntryError(f"{indicator.label}：写了依据但没有评分。请选好评分，或删去依据")
    notes = notes or {}
    existing = {e.indicator_id: e for e in db.session.scalars(
        sa.select(IndicatorEntry).where(IndicatorEntry.campaign_id == campaign.id,
                                        IndicatorEntry.scheme_id == scheme.id,
                                        IndicatorEntry.community_id == community_id,
                                        IndicatorEntry.indicator_id.in_(list(checked))))}
    for indicator_id, was in (shown or {}).items():
        entry = existing.get(indicator_id)
        now = (None, None) if entry is None else (entry.value, entry.note)
        if was is not None and now != was:
            who = entry.entered_by.display_name if entry is not None and entry.entered_by else "其他人"
            raise EntryConflict(f"{by_id[indicator_id].label}：你打开本页后，{who}已改过这一项。"
                             "本次没有保存任何改动，请看过现在的结果后再改")
    actor = actor or audit.acting_account()
    changed = 0
    for indicator_id, value in checked.items():
        entry = existing.get(indicator_id)
        note = (notes.get(indicator_id) or "").strip() or None
        where = {"campaign_id": campaign.id, "scheme_id": scheme.id, "community_id": community_id,
                 "indicator": indicator_id}
        before = None if entry is None else {"value": entry.value, "note": entry.note, **where}
        if value is None:
            if entry is None:
                continue
            db.session.delete(entry)
            after = None
        else:
            if entry is not None and entry.value == value and entry.note == note:
                continue
            if entry is None:
                entry = IndicatorEntry(campaign_id=campaign.id, scheme_id=scheme.id, community_id=community_id,
                                       indicator_id=indicator_id)
                db.session.add(entry)
            entry.value, entry.note = value, note
            entry.entered_at = utcnow()
            entry.entered_by_id = actor.id if actor else None
            after = {"value": value, "note": note}
        changed += 1
        db.session.flush()
        audit.record("enter" if after is not None else "clear", "indicator_entry", entry.id, actor=actor,
                     region=community_id, before=before,
                     after=None if after is None else {**after, **where})
    return changed
