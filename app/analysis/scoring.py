"""Scoring a community by a scheme: indicator points and the overall score, from plain numbers.

Input is a scheme (app.definitions.schemes.Scheme, read from surveys/schemes/), the survey figures
per community and tag, and the evaluators' entries per community and indicator. Output is every
indicator's points and share of full marks, the overall score, and — never a guess — which
indicators could not be scored and why (an entry missing, no survey figure, a number still 待填 in
the scheme, a community kind not known).

The scheme is read by attribute only (its dataclasses are not imported), so this package stays
free of the definitions and of Flask. The conversions accept numpy arrays as well as floats, so a
bootstrap can score replicate rates in one call (``survey_factor``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from app.definitions.schemes import Indicator, Scheme, SurveyFeed

#: Sums are compared, and percent values rounded, to this precision.
PRECISION = 9


class Reason(enum.Enum):
    """Why an indicator could not be scored; the message (Chinese) is what evaluators read."""

    MISSING_ENTRY = "尚未录入：{label}"
    MISSING_SURVEY = "没有问卷数据：{tags}"
    PLACEHOLDER = "评分方案中还有待填的内容：{what}"
    UNKNOWN_KIND = "不知道本社区是城市社区还是村改居，无法确定达标标准"
    INCOMPLETE = "下级指标未能计分：{ids}"


#: How each to-fill field is named to evaluators.
TO_FILL_NAMES = {"points": "分值", "weight": "权重", "at_least": "达标标准", "indicator": "指标"}


@dataclass(frozen=True)
class Unscorable:
    """One indicator that could not be scored, and why."""

    indicator: str
    reason: Reason
    message: str


@dataclass(frozen=True)
class IndicatorScore:
    """One indicator for one community."""

    id: str
    label: str
    #: Full points (None when 待填, or not given under a weighted parent).
    max_points: float | None
    #: Points awarded; None when not scored, or when the indicator has no full points.
    points: float | None
    #: Share of full marks achieved (得分率, 0–1); None when not scored.
    fraction: float | None
    #: Why it was not scored (empty when scored). A parent lists its own reason (INCOMPLETE).
    unscorable: tuple[Unscorable, ...] = ()

    @property
    def scored(self) -> bool:
        return not self.unscorable


@dataclass(frozen=True)
class CommunityScore:
    """Every indicator's score and the overall score of one community."""

    community: object
    #: Indicator id → its score, parents before children, in the scheme's order.
    indicators: dict[str, IndicatorScore]
    #: Overall points (None when anything could not be scored, or the scheme has no full points).
    total: float | None
    #: Overall share of full marks (得分率, 0–1); None when anything could not be scored.
    fraction: float | None
    max_points: float | None
    #: The root causes: leaves and parents that could not be scored for their own reason (not INCOMPLETE).
    unscorable: tuple[Unscorable, ...]
    #: Points of the scored evaluator-entered leaves and of the scored survey-fed leaves (None when the
    #: scheme's points do not make them additive, i.e. under weights): for a bootstrap, the survey part
    #: varies and the entered part stays fixed.
    entered_points: float | None = None
    survey_points: float | None = None

    @property
    def complete(self) -> bool:
        return self.fraction is not None

    @property
    def percent(self) -> float | None:
        """The overall score on the 百分制 (share of full marks × 100)."""
        return None if self.fraction is None else 100 * self.fraction


def survey_value(feed: SurveyFeed, figures: Mapping[str, Mapping[str, float | None]]):
    """The value a survey-fed leaf reads: mean over its tags of the rate (in percent) or the index.

    ``figures[tag]`` is ``{"rate": share 0–1, "index": 0–100}``. Returns None when a tag has no figure.
    """
    values = []
    for tag in feed.tags:
        figure = figures.get(tag)
        value = None if figure is None else figure.get(feed.measure)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        values.append(_check_measure(feed.measure, value, tag))
    return sum(values) / len(values)


def _check_measure(measure: str, value, tag: str):
    array = np.asarray(value, dtype=float)
    if not np.isfinite(array).all():
        raise ValueError(f"{tag}: the {measure} must be a finite number, got {value!r}")
    if measure == "rate":
        if ((array < 0) | (array > 1)).any():
            raise ValueError(f"{tag}: a rate is a share between 0 and 1, got {value!r} (pass 0.85, not 85)")
        # Percent for comparison with the scheme's anchors; rounded so 0.29 × 100 reaches 29.
        percent = np.round(array * 100, PRECISION)
        return float(percent) if percent.ndim == 0 else percent
    if ((array < 0) | (array > 100)).any():
        raise ValueError(f"{tag}: an index lies between 0 and 100, got {value!r}")
    return value


def survey_factor(feed: SurveyFeed, value):
    """Share of points (0–1) a survey value earns: a float, or an array of them (e.g. replicates).

    ``value`` is in percent for a rate and 0–100 for an index. Linear: (value − zero) / (full − zero),
    clipped to [0, 1]. Thresholds: the factor of the first row (highest first) the value reaches, else 0.
    """
    array = np.asarray(value, dtype=float)
    if feed.linear is not None:
        rule = feed.linear
        factor = np.clip((array - rule.zero) / (rule.full - rule.zero), 0.0, 1.0)
    else:
        factor = np.zeros_like(array)
        # Lowest threshold first, so a higher one reached overwrites it.
        for threshold in reversed(feed.thresholds):
            factor = np.where(array >= threshold.at_least, threshold.factor, factor)
    return float(factor) if factor.ndim == 0 else factor


def standard_factor(feed, value: float, standard: float) -> float:
    """Share of points a measured value earns against a standard (≥ standard)."""
    if feed.scoring == "met":
        return 1.0 if value >= standard else 0.0
    return min(max(value, 0.0) / standard, 1.0)


def score_community(scheme: Scheme, figures: Mapping[str, Mapping[str, float | None]] | None = None,
                    entries: Mapping[str, float | None] | None = None, *, community_kind: str | None = None,
                    community: object = None) -> CommunityScore:
    """Score one community.

    ``figures``: tag → {"rate": share 0–1, "index": 0–100} (None or absent when the survey has none).
    The figures may be arrays, one value per bootstrap replicate (all of one length): every
    survey-fed points, the parents above them and the total are then arrays too, computed with
    the same rules and rounding as one value at a time.
    ``entries``: indicator id → the evaluator's value: the chosen level's factor (levels), the measured
    number (standard), the 得分率 in percent 0–100 (entered); None or absent when not yet entered.
    ``community_kind``: "urban" or "village", for standards that differ by kind.
    Raises ValueError for an entry the scheme cannot take (unknown indicator, a factor that is not a
    level, a value out of range): a bad entry is a mistake to show, not a gap to skip.
    """
    figures = figures or {}
    entries = entries or {}
    _check_entries(scheme, entries)
    scores: dict[str, IndicatorScore] = {}
    parts = {"entered": 0.0, "survey": 0.0}
    results = [_score(indicator, scheme, figures, entries, community_kind, scores, parts)
               for indicator in scheme.indicators]
    root = _combine(_Root(scheme), results)
    fraction = root.fraction
    if scheme.points_to_fill:
        placeholder = Unscorable("", Reason.PLACEHOLDER, Reason.PLACEHOLDER.value.format(what="总分值"))
        causes = (placeholder,)
    else:
        causes = ()
    causes += tuple(u for s in scores.values() for u in s.unscorable if u.reason is not Reason.INCOMPLETE)
    if causes:
        fraction = None
    max_points = root.max_points
    total = None if fraction is None or max_points is None else root.points
    additive = scheme.combine == "sum" and not _has_weights(scheme)
    return CommunityScore(
        community=community, indicators=_in_scheme_order(scheme, scores), total=total, fraction=fraction,
        max_points=max_points, unscorable=causes,
        entered_points=_round(parts["entered"]) if additive else None,
        survey_points=_round(parts["survey"]) if additive else None)


def score_communities(scheme: Scheme, figures: Mapping[object, Mapping[str, Mapping[str, float | None]]],
                      entries: Mapping[object, Mapping[str, float | None]],
                      community_kinds: Mapping[object, str | None] | None = None,
                      communities: Iterable[object] | None = None) -> dict[object, CommunityScore]:
    """Score every community: those named in ``communities``, else every one in figures or entries."""
    kinds = community_kinds or {}
    if communities is None:
        communities = list(dict.fromkeys([*figures, *entries]))
    return {c: score_community(scheme, figures.get(c), entries.get(c), community_kind=kinds.get(c), community=c)
            for c in communities}


# -- the tree ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Root:
    """The scheme seen as the parent of its top-level indicators."""

    scheme: Scheme

    @property
    def id(self) -> str:
        return ""

    @property
    def points(self) -> float | None:
        return self.scheme.points

    @property
    def combine(self) -> str:
        return self.scheme.combine

    @property
    def children(self):
        return self.scheme.indicators


def _round(value):
    """Round a number, or every replicate of an array of them, to PRECISION places."""
    return np.round(value, PRECISION) if isinstance(value, np.ndarray) else round(value, PRECISION)


def _has_weights(scheme: Scheme) -> bool:
    return any(indicator.combine == "weighted" for indicator, _ in scheme.walk())


def _in_scheme_order(scheme: Scheme, scores: dict[str, IndicatorScore]) -> dict[str, IndicatorScore]:
    return {indicator.id: scores[indicator.id] for indicator, _ in scheme.walk()}


def _score(indicator: Indicator, scheme: Scheme, figures, entries, kind, scores: dict, parts: dict) -> IndicatorScore:
    if indicator.children:
        results = [_score(child, scheme, figures, entries, kind, scores, parts) for child in indicator.children]
        combined = _combine(indicator, results)
        own = _placeholder(indicator)
        failed = [r.id for r in results if not r.scored]
        reasons = own + ((Unscorable(indicator.id, Reason.INCOMPLETE,
                                     Reason.INCOMPLETE.value.format(ids="、".join(failed))),) if failed else ())
        score = combined if not reasons else IndicatorScore(indicator.id, indicator.label, indicator.points,
                                                            None, None, reasons)
    else:
        score = _score_leaf(indicator, figures, entries, kind, parts)
    scores[indicator.id] = score
    return score


def _combine(node, results: list[IndicatorScore]) -> IndicatorScore:
    """A parent's score from its children's (only meaningful when every child was scored)."""
    label = getattr(node, "label", "")
    if any(not r.scored for r in results):
        return IndicatorScore(node.id, label, node.points, None, None)
    if node.combine == "weighted":
        weights = [child.weight for child in node.children]
        if any(w is None for w in weights):
            return IndicatorScore(node.id, label, node.points, None, None)
        fraction = _round(sum(w * r.fraction for w, r in zip(weights, results)))
        points = None if node.points is None else _round(node.points * fraction)
        return IndicatorScore(node.id, label, node.points, points, fraction)
    if any(r.points is None or r.max_points is None for r in results):
        return IndicatorScore(node.id, label, node.points, None, None)
    points = _round(sum(r.points for r in results))
    max_points = node.points if node.points is not None else sum(r.max_points for r in results)
    fraction = points / max_points if max_points > 0 else 1.0
    return IndicatorScore(node.id, label, max_points, points, _round(fraction))


def _placeholder(indicator: Indicator) -> tuple[Unscorable, ...]:
    if not indicator.is_placeholder:
        return ()
    feed = indicator.feed
    if feed is not None and feed.kind == "to_fill":
        what = f"{TO_FILL_NAMES['indicator']}（{feed.reason}）"
    else:
        what = "、".join(TO_FILL_NAMES.get(name, name) for name in indicator.to_fill)
    return (Unscorable(indicator.id, Reason.PLACEHOLDER, Reason.PLACEHOLDER.value.format(what=what)),)


def _score_leaf(leaf: Indicator, figures, entries, kind, parts: dict) -> IndicatorScore:
    def unscored(reason: Reason, **values) -> IndicatorScore:
        problem = Unscorable(leaf.id, reason, reason.value.format(**values))
        return IndicatorScore(leaf.id, leaf.label, leaf.points, None, None, (problem,))

    placeholder = _placeholder(leaf)
    if placeholder:
        return IndicatorScore(leaf.id, leaf.label, leaf.points, None, None, placeholder)
    feed = leaf.feed
    if feed.kind == "survey":
        value = survey_value(feed, figures)
        if value is None:
            return unscored(Reason.MISSING_SURVEY, tags="、".join(feed.tags))
        factor = survey_factor(feed, value)
        part = "survey"
    else:
        value = entries.get(leaf.id)
        if value is None:
            return unscored(Reason.MISSING_ENTRY, label=_entry_label(leaf))
        if feed.kind == "levels":
            factor = float(value)
        elif feed.kind == "standard":
            standard = feed.standard_for(kind)
            if standard is None:
                return unscored(Reason.UNKNOWN_KIND)
            factor = standard_factor(feed, float(value), standard)
        else:  # entered: 得分率 in percent
            factor = float(value) / 100
        part = "entered"
    factor = _round(factor)
    points = None if leaf.points is None else _round(leaf.points * factor)
    if points is not None:
        parts[part] += points
    return IndicatorScore(leaf.id, leaf.label, leaf.points, points, factor)


def _entry_label(leaf: Indicator) -> str:
    feed = leaf.feed
    if feed.kind in ("standard", "entered"):
        return f"{leaf.label}（{feed.label}）"
    return leaf.label


def _check_entries(scheme: Scheme, entries: Mapping[str, float | None]) -> None:
    by_id = scheme.indicators_by_id
    for indicator_id, value in entries.items():
        indicator = by_id.get(indicator_id)
        if indicator is None:
            raise ValueError(f"an entry for {indicator_id!r}, which is not an indicator of scheme {scheme.id!r}")
        if value is None:
            continue
        feed = indicator.feed
        if feed is None or feed.kind in ("survey", "to_fill"):
            what = "a parent" if feed is None else f"fed by {feed.kind}"
            raise ValueError(f"indicator {indicator_id!r} is {what}: it takes no evaluator entry")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"indicator {indicator_id!r}: the entry must be a finite number, got {value!r}")
        if feed.kind == "levels" and not any(abs(value - f) <= 10 ** -PRECISION for f in feed.factors):
            raise ValueError(f"indicator {indicator_id!r}: {value!r} is not one of its levels' factors "
                             f"{list(feed.factors)}")
        if feed.kind == "standard" and value < 0:
            raise ValueError(f"indicator {indicator_id!r}: a measured value cannot be negative, got {value!r}")
        if feed.kind == "entered" and not 0 <= value <= 100:
            raise ValueError(f"indicator {indicator_id!r}: a 得分率 is a percent between 0 and 100, got {value!r}")
