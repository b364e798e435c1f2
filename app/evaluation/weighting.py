"""Weighted satisfaction figures for one community: its respondents raked to the population margins
(age band, sex) an evaluator entered, beside the unweighted figures, which stay the default.

QR scanners are younger and meeting attendees older than the community. Where the evaluator has
entered how many residents fall in each age band and each sex, every respondent gets a weight
(app.analysis.weighting.rake: iterative proportional fitting) so that the weighted sample has the
community's make-up, and each likert item's satisfaction rate and index are estimated with those
weights, with a Taylor-linearised standard error, the design effect and Kish's effective n.

Respondents who did not give their age band or sex (both items are optional) cannot be placed in a
margin: they are left out of the weighted estimates and counted as ``unweighted_out``; they stay in
the unweighted figures. Imputing a category would invent data, and spreading their weight over the
others would be the same as leaving them out.

The database pivots the answers (one row per counted response: its category on each variable, and
per likert item its points and whether it is a top box); this module stores margins, fetches those
rows and names the figures. The statistics are app.analysis.weighting's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import sqlalchemy as sa

from .. import audit
from ..analysis import weighting as stats
from ..definitions import Item, SurveyDefinition
from ..extensions import db
from ..models import Account, Answer, Campaign, CampaignCommunity, Region, Response
from ..models.types import utcnow
from ..models.weighting import PopulationMargin
from .summary import RANDOM_SAMPLE_NOTE, scale_scoring

#: The respondent variables weighting knows, in the order they are raked, and the tag that marks
#: the questionnaire's item for each (surveys/README.md).
VARIABLES = {"age_band": "respondent:age_band", "sex": "respondent:sex"}
VARIABLE_LABELS = {"age_band": "年龄段", "sex": "性别"}
#: No community is bigger; a larger count is a typing error (and must fit the column).
MAX_POPULATION = 10_000_000
#: Most a cap may be, as a multiple of the mean weight (beyond it a cap means nothing).
MAX_CAP = 1000.0

answers = Answer.__table__
responses = Response.__table__


class MarginError(ValueError):
    """Margins that cannot be stored; ``messages`` (Chinese) say each problem to the evaluator."""

    def __init__(self, messages: list[str]):
        self.messages = list(messages)
        super().__init__("；".join(self.messages))


def respondent_items(definition: SurveyDefinition) -> dict[str, Item]:
    """variable → the questionnaire's single-choice item tagged for it (absent if it asks none)."""
    found = {}
    for variable, tag in VARIABLES.items():
        item = next((i for i in definition.items if tag in i.tags and i.type == "single"), None)
        if item is not None:
            found[variable] = item
    return found


def stored_margins(campaign_id: int, community_id: int) -> dict[str, dict[str, int]]:
    """variable → code → population, as stored for the community in this campaign ({} if none)."""
    found: dict[str, dict[str, int]] = {}
    for variable, code, population in db.session.execute(
            sa.select(PopulationMargin.variable, PopulationMargin.code, PopulationMargin.population)
            .where(PopulationMargin.campaign_id == campaign_id, PopulationMargin.community_id == community_id)
            .order_by(PopulationMargin.id)):
        found.setdefault(variable, {})[code] = population
    return found


def check_margins(definition: SurveyDefinition, margins: object) -> dict[str, dict[str, int]]:
    """The margins as stored (variable → code → whole number, in the questionnaire's order), or
    MarginError listing, in Chinese, everything wrong with them."""
    if not isinstance(margins, Mapping) or not margins:
        raise MarginError(["请填写年龄段和/或性别的人口数"])
    items = respondent_items(definition)
    problems: list[str] = []
    checked: dict[str, dict[str, int]] = {}
    for variable, counts in margins.items():
        if variable not in VARIABLES:
            problems.append(f"不能按「{variable}」加权：只能填年龄段（age_band）和性别（sex）")
            continue
        label = VARIABLE_LABELS[variable]
        item = items.get(variable)
        if item is None:
            problems.append(f"这份问卷没有问{label}，不能按{label}加权")
            continue
        if not isinstance(counts, Mapping):
            problems.append(f"{label}：请按选项填写人数")
            continue
        options = {c.code: c.label for c in item.options}
        unknown = [str(code) for code in counts if code not in options]
        if unknown:
            problems.append(f"{label}没有「{'」「'.join(unknown)}」这一项（问卷的选项是 "
                            + "、".join(f"{code} {text}" for code, text in options.items()) + "）")
        row: dict[str, int] = {}
        for code, text in options.items():
            if code not in counts:
                problems.append(f"{label}缺少「{text}」的人数")
                continue
            value = counts[code]
            whole = (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, float) and math.isfinite(value) and value.is_integer())
            if not whole or not 0 <= value <= MAX_POPULATION:
                problems.append(f"{label}「{text}」的人数要填 0 到 {MAX_POPULATION} 之间的整数")
                continue
            row[code] = int(value)
        if len(row) == len(options) and sum(row.values()) == 0:
            problems.append(f"{label}的人数合计为 0")
        checked[variable] = row
    if not problems:
        totals = {variable: sum(row.values()) for variable, row in checked.items()}
        if len(set(totals.values())) > 1:
            problems.append("、".join(f"{VARIABLE_LABELS[v]}合计 {t} 人" for v, t in totals.items())
                            + "：两者是同一批居民，合计应当相等")
    if problems:
        raise MarginError(problems)
    return {variable: checked[variable] for variable in VARIABLES if variable in checked}


def save_margins(campaign: Campaign, community_id: int, margins: object, *, actor: Account | None = None) -> bool:
    """Replace the community's population margins in this campaign (None clears them). Everything
    is checked before anything is stored (MarginError, in Chinese); the change is audited with
    before and after. Returns whether anything changed; the caller commits."""
    if db.session.get(CampaignCommunity, (campaign.id, community_id)) is None:
        raise MarginError(["这个社区不在本次测评里"])
    checked = {} if margins is None else check_margins(campaign.survey_version.survey_definition, margins)
    before = stored_margins(campaign.id, community_id)
    if before == checked:
        return False  # nothing changed: nothing to audit
    actor = actor or audit.acting_account()
    db.session.execute(sa.delete(PopulationMargin).where(PopulationMargin.campaign_id == campaign.id,
                                                         PopulationMargin.community_id == community_id))
    now = utcnow()
    db.session.add_all(PopulationMargin(campaign_id=campaign.id, community_id=community_id, variable=variable,
                                        code=code, population=population, entered_at=now,
                                        entered_by_id=actor.id if actor else None)
                       for variable, row in checked.items() for code, population in row.items())
    db.session.flush()
    where = {"campaign_id": campaign.id, "community_id": community_id}
    audit.record("enter" if checked else "clear", "population_margins", f"{campaign.id}:{community_id}",
                 actor=actor, region=community_id, before={**where, "margins": before} if before else None,
                 after={**where, "margins": checked} if checked else None)
    return True


# -- the query ------------------------------------------------------------------------


def respondent_rows(campaign: Campaign, community_id: int, categorical: Mapping[str, Item],
                    likert: list[Item]) -> tuple[np.ndarray, np.ndarray]:
    """The ids of the community's counted responses, in order, and one row per response: its category index on each
    of ``categorical``'s variables (NaN: not answered), then per likert item its points on the
    0–100 index and 1/0 for a top box or not (both NaN: not answered, or off the scale)."""
    columns = []
    for item in categorical.values():
        columns.append(sa.func.max(sa.case(*((sa.and_(answers.c.item == item.key, answers.c.value == c.code), i)
                                             for i, c in enumerate(item.options)))))
    for item in likert:
        scale = scale_scoring(item.scale)
        on_item = answers.c.item == item.key
        columns.append(sa.func.max(sa.case(*((sa.and_(on_item, answers.c.value == code), score)
                                             for code, score in zip(scale.codes, scale.scores)))))
        columns.append(sa.func.max(sa.case(
            (sa.and_(on_item, answers.c.value.in_(sorted(scale.satisfied))), 1),
            (sa.and_(on_item, answers.c.value.in_(list(scale.codes))), 0))))
    keys = [item.key for item in categorical.values()] + [item.key for item in likert]
    joined = responses.outerjoin(answers, sa.and_(answers.c.response_id == responses.c.id,
                                                  answers.c.item.in_(keys or [""])))
    query = (sa.select(responses.c.id, *columns)
             .select_from(joined)
             .where(responses.c.campaign_id == campaign.id, responses.c.community_id == community_id,
                    responses.c.exclusion_reason.is_(None), responses.c.quality_flags == 0)
             .group_by(responses.c.id)
             .order_by(responses.c.id))
    # yield_per streams (a server-side cursor on PostgreSQL): one chunk of rows in memory at a time.
    parts = [np.array(chunk, dtype=float).reshape(len(chunk), 1 + len(columns))
             for chunk in db.session.execute(query.execution_options(yield_per=20_000)).partitions()]
    block = np.concatenate(parts) if parts else np.zeros((0, 1 + len(columns)))
    return block[:, 0].astype(np.int64), block[:, 1:]


# -- the figures ----------------------------------------------------------------------


def _number(x) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _estimate(e: stats.WeightedEstimate | None) -> dict | None:
    if e is None:
        return None
    return {"estimate": _number(e.estimate), "standard_error": _number(e.standard_error),
            "interval": None if e.interval is None else {"low": _number(e.interval.low),
                                                         "high": _number(e.interval.high)},
            "design_effect": _number(e.design_effect), "effective_n": _number(e.effective_n), "n": e.n}


def _figures(points: np.ndarray, top: np.ndarray, weights: np.ndarray | None, confidence: float) -> dict:
    """The satisfaction rate (share of top boxes) and index (mean points) of those who answered."""
    if len(points) == 0 or (weights is not None and weights.sum() <= 0):
        return {"n": len(points), "satisfaction_rate": None, "satisfaction_index": None}
    return {"n": len(points),
            "satisfaction_rate": _estimate(stats.weighted_proportion(top.astype(bool), weights, confidence=confidence)),
            "satisfaction_index": _estimate(stats.weighted_mean(points, weights, confidence=confidence))}


def _margins_table(items: Mapping[str, Item], margins: Mapping[str, Mapping[str, int]], categories: np.ndarray,
                   weights: np.ndarray | None) -> dict:
    """Per variable and category: the population, the respondents (of those weighted) and their weights' sum."""
    out = {}
    for v, (variable, row) in enumerate(margins.items()):
        item = items[variable]
        out[variable] = [{
            "code": c.code, "label": c.label, "population": row.get(c.code, 0),
            "respondents": int((categories[:, v] == i).sum()),
            "weighted": None if weights is None else float(weights[categories[:, v] == i].sum()),
        } for i, c in enumerate(item.options)]
    return out


class Raked(NamedTuple):
    """How a community's respondents were weighted."""

    #: "weighted", or why not: "no_margins", "not_possible", "not_converged".
    status: str
    #: Why not, in Chinese (None when weighted).
    message: str | None
    #: Per respondent: answered every margin's variable (only these are weighted).
    complete: np.ndarray
    #: Per respondent: the raked weight, NaN for those left out; None unless status is "weighted".
    weights: np.ndarray | None
    result: stats.RakingResult | None


def rake_respondents(items: Mapping[str, Item], margins: Mapping[str, Mapping[str, int]], categories: np.ndarray,
                     cap: float | None) -> Raked:
    """Rake the respondents whose categories (columns in ``margins``' order, NaN: not answered) are
    complete to the population margins, or say in Chinese why that cannot be done."""
    complete = ~np.isnan(categories).any(axis=1) if margins else np.zeros(len(categories), dtype=bool)
    if not margins:
        return Raked("no_margins", "尚未录入这个社区的人口结构（年龄段、性别），只有不加权的结果", complete, None, None)
    if not complete.any():
        return Raked("not_possible", "没有填了年龄段和性别的受访者，无法加权", complete, None, None)
    cells = categories[complete].astype(np.int64)
    targets = [[margins[variable].get(c.code, 0) for c in items[variable].options] for variable in margins]
    empty = [f"「{items[variable].options[i].label}」" for v, variable in enumerate(margins)
             for i, population in enumerate(targets[v]) if population > 0 and not (cells[:, v] == i).any()]
    if empty:
        # rake() refuses these too; the evaluator reads why in Chinese.
        return Raked("not_possible", f"受访者中没有{'、'.join(empty)}的人，而人口里有：无法加权。请多收集这些居民的问卷",
                     complete, None, None)
    result = stats.rake(list(cells.T), targets, cap=cap)
    if not result.converged:
        why = (f"权重上限为平均权重的 {cap:g} 倍时无法同时符合各项人口数，请放宽上限或不设上限" if cap is not None
               else "反复调整后仍无法同时符合各项人口数（样本里某些年龄段和性别的组合太少），无法加权")
        return Raked("not_converged", why, complete, None, result)
    weights = np.full(len(categories), np.nan)
    weights[complete] = result.weights
    return Raked("weighted", None, complete, weights, result)


def _community_margins(campaign: Campaign, community_id: int, items: Mapping[str, Item]) -> dict[str, dict[str, int]]:
    # In VARIABLES order, which is the order categories' columns and rake() take them in.
    stored = stored_margins(campaign.id, community_id)
    return {variable: stored[variable] for variable in items if variable in stored}


def community_weights(campaign: Campaign, community_id: int, *, cap: float | None = None) -> tuple[np.ndarray, Raked]:
    """The community's counted responses' ids (in order) and how they were raked."""
    items = respondent_items(campaign.survey_version.survey_definition)
    margins = _community_margins(campaign, community_id, items)
    ids, rows = respondent_rows(campaign, community_id, {v: items[v] for v in margins}, [])
    return ids, rake_respondents(items, margins, rows, cap)


def community_weighted(campaign: Campaign, community_id: int, *, cap: float | None = None,
                       confidence: float | None = None) -> dict:
    """Every likert item's satisfaction rate and index for one community, unweighted and raked to
    its population margins, side by side, with the raking's report; ready for JSON.

    ``cap`` bounds each weight at cap × the mean weight (None: no cap). The weighted figures are
    None, and ``weighting.status`` says why, when no margins are stored, when a category with
    residents has no respondent, or when raking under the cap does not converge.
    """
    if db.session.get(CampaignCommunity, (campaign.id, community_id)) is None:
        raise MarginError(["这个社区不在本次测评里"])
    confidence = campaign.confidence if confidence is None else confidence
    definition = campaign.survey_version.survey_definition
    likert = [item for item in definition.items if item.type == "likert" and item.scale is not None]
    items = respondent_items(definition)
    margins = _community_margins(campaign, community_id, items)
    _ids, rows = respondent_rows(campaign, community_id, {v: items[v] for v in margins}, likert)
    categories = rows[:, :len(margins)]
    points, tops = rows[:, len(margins)::2], rows[:, len(margins) + 1::2]
    raked = rake_respondents(items, margins, categories, cap)
    result = raked.result
    raking = None if result is None else {
        "converged": result.converged, "iterations": result.iterations,
        "max_margin_error": result.max_margin_error, "tolerance": stats.RAKING_TOLERANCE,
        "cap": cap, "weight_cap": result.weight_cap, "capped": len(result.capped),
        "mean_weight": float(result.weights.mean()), "min_weight": float(result.weights.min()),
        "max_weight": float(result.weights.max()),
        "effective_n": float(result.weights.sum() ** 2 / (result.weights @ result.weights)),
    }
    out_items = []
    for j, item in enumerate(likert):
        answered = ~np.isnan(points[:, j])
        weighted = None
        if raked.weights is not None:
            mine = answered & raked.complete
            weighted = _figures(points[mine, j], tops[mine, j], raked.weights[mine], confidence)
        out_items.append({
            "key": item.key, "text": item.text,
            "unweighted": _figures(points[answered, j], tops[answered, j], None, confidence),
            "weighted": weighted,
        })
    community = db.session.get(Region, community_id)
    complete = raked.complete
    return {
        "campaign_id": campaign.id,
        "community": {"id": community.id, "code": community.code, "name": community.name},
        "confidence": confidence,
        "respondents": len(rows),
        "weighting": {
            "status": raked.status, "message": raked.message,
            "variables": list(margins),
            "weighted_respondents": int(complete.sum()) if raked.weights is not None else 0,
            "unweighted_out": int((~complete).sum()) if margins else None,
            "margins": _margins_table(items, margins, categories[complete],
                                      None if raked.weights is None else raked.weights[complete]),
            "raking": raking,
        },
        "note": ("Unweighted is the default; weighted figures rake the respondents who gave every margin's "
                 "answer to the community's entered population (iterative proportional fitting), the rest "
                 "count as unweighted_out. Standard errors are Taylor-linearised with the weights taken as "
                 "fixed (R survey: svymean on svydesign(ids = ~1, weights = ~w)), intervals are t intervals "
                 "with n − 1 degrees of freedom; design_effect is against a simple random sample of the same "
                 "size, effective_n is Kish's (Σw)²/Σw². Weighting corrects the sample's age and sex make-up, "
                 "not who chose to answer. " + RANDOM_SAMPLE_NOTE),
        "items": out_items,
    }
