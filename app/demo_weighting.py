"""Demo weighting: made-up population margins (age band × sex) for the communities of the demo's
Kunming campaign, so that GET /api/v1/campaigns/<id>/weighted shows weighted figures on `make run`.

The numbers are made up for the demo and say so: a real evaluator enters each community's
residents per age band and sex from the 人口普查 or the community's own records.
"""

from __future__ import annotations

import random

from .evaluation.weighting import community_weights, respondent_items, save_margins

#: Made-up shares of adult residents per age band (18—29 … 70岁及以上): older than QR scanners.
DEMO_AGE_SHARES = (0.17, 0.25, 0.27, 0.17, 0.14)
#: Made-up share of men among adult residents.
DEMO_MALE_SHARE = 0.49
#: Made-up adults per household.
DEMO_ADULTS_PER_HOUSEHOLD = 2.4


def demo_margins(households: int, rng: random.Random, age_codes: list[str], sex_codes: list[str]) -> dict:
    """Made-up margins for a community of this many households; both margins total the same."""
    total = max(int(households * DEMO_ADULTS_PER_HOUSEHOLD), 1)
    shares = [share * rng.uniform(0.85, 1.15) for share in DEMO_AGE_SHARES[: len(age_codes)]]
    raw = [total * share / sum(shares) for share in shares]
    counts = [int(x) for x in raw]
    # Largest remainders first, so the bands add up to the total exactly.
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    men = round(total * (DEMO_MALE_SHARE + rng.uniform(-0.02, 0.02)))
    return {"age_band": dict(zip(age_codes, counts)), "sex": dict(zip(sex_codes, (men, total - men)))}


def add_demo_margins(campaigns, rng: random.Random) -> tuple[int, list[tuple[int, int]]]:
    """Made-up margins for every community of each demo campaign whose questionnaire asks age band
    and sex. Returns how many communities got them, and the (campaign id, community id) pairs whose
    respondents can be raked to them (with a few respondents per community, most cannot: a band
    with residents but no respondent)."""
    entered, weighted = 0, []
    for campaign in campaigns:
        items = respondent_items(campaign.survey_version.survey_definition)
        if set(items) != {"age_band", "sex"}:
            continue
        age_codes = [c.code for c in items["age_band"].options]
        sex_codes = [c.code for c in items["sex"].options]
        for member in campaign.communities:
            households = member.community.households or 2000
            save_margins(campaign, member.community_id, demo_margins(households, rng, age_codes, sex_codes))
            entered += 1
            if community_weights(campaign, member.community_id)[1].status == "weighted":
                weighted.append((campaign.id, member.community_id))
    return entered, weighted
