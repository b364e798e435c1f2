"""Demo scoring: the shipped schemes filled in and entered for the demo campaigns, so that the
scores page and API show totals, intervals and a ranking on `make run`.

The numbers here are made up for the demo and say so: the schemes' files keep 待填 wherever the
source documents give no number, and a real district fills those in on the 分值和权重 page.
"""

from __future__ import annotations

import random
from pathlib import Path

from .definitions.schemes import Scheme, load_schemes
from .evaluation.entries import entry_leaves, save_entries, save_fill_ins
from .evaluation.scores import scheme_for_campaign

#: Jinniu's four parts, weighted for the demo only (the source gives no weights).
DEMO_JINNIU_WEIGHTS = {"self": 0.2, "street-peer": 0.2, "district": 0.3, "residents": 0.3}
#: Each Kunming 考评标准 is worth this many points in the demo (the source gives none).
DEMO_KUNMING_LEAF_POINTS = 2


def demo_fill_ins(scheme: Scheme) -> dict:
    """Made-up numbers for every 待填 of a shipped scheme (parents left to sum their children)."""
    values: dict = {}
    for indicator, _ in scheme.walk():
        if indicator.feed is not None and indicator.feed.kind == "to_fill":
            values[indicator.id] = {"entered": f"{indicator.label}得分率"}
            continue
        for field in indicator.to_fill:
            if field == "weight":
                values.setdefault(indicator.id, {})["weight"] = DEMO_JINNIU_WEIGHTS.get(
                    indicator.id, round(1 / len(scheme.indicators), 6))
            elif field == "points" and indicator.is_leaf:
                values.setdefault(indicator.id, {})["points"] = DEMO_KUNMING_LEAF_POINTS
            elif field == "at_least":
                values.setdefault(indicator.id, {})["at_least"] = 10
    return values


def add_demo_scoring(campaigns, surveys_dir: str, rng: random.Random, mood: dict[int, float]) -> int:
    """Fill in every applicable scheme for each demo campaign and enter every community's levels and
    figures (better communities, by their latent mood, tend to get better entries). Returns the entries."""
    schemes = load_schemes(Path(surveys_dir) / "schemes")
    entered = 0
    for campaign in campaigns:
        key = campaign.survey_version.survey.key
        for scheme in schemes.values():
            if scheme.questionnaire not in (None, key) or (scheme.questionnaire is None and key != "pilot-satisfaction"):
                continue
            save_fill_ins(campaign, scheme, demo_fill_ins(scheme))
            filled = scheme_for_campaign(campaign, scheme)
            leaves = entry_leaves(filled)
            for member in campaign.communities:
                good = mood.get(member.community_id, 0.0)
                values = {leaf.id: _demo_value(leaf, good, rng) for leaf in leaves}
                entered += save_entries(campaign, filled, member.community_id, values)
    return entered


def _demo_value(leaf, good: float, rng: random.Random) -> float:
    feed = leaf.feed
    share = min(max(0.75 + 0.15 * good + rng.gauss(0, 0.1), 0.0), 1.0)
    if feed.kind == "levels":
        return min(feed.factors, key=lambda f: abs(f - share))
    if feed.kind == "standard":
        standard = feed.at_least if feed.at_least is not None else max(n for _, n in feed.at_least_by_kind)
        return round(standard * (share + 0.3), 1)
    return round(100 * share, 1)
