"""The counting queries behind the API: the database groups and counts."""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import CampaignCommunity, Region, Response


def response_counts(campaign_id: int) -> list[dict]:
    """Per community of the campaign: responses, flagged responses and target (communities with none included)."""
    counted = (
        sa.select(Response.community_id,
                  sa.func.count().label("responses"),
                  sa.func.count().filter(Response.quality_flags != 0).label("flagged"))
        .where(Response.campaign_id == campaign_id)
        .group_by(Response.community_id)
        .subquery())
    rows = db.session.execute(
        sa.select(Region.id, Region.code, Region.name, CampaignCommunity.target_sample,
                  sa.func.coalesce(counted.c.responses, 0), sa.func.coalesce(counted.c.flagged, 0))
        .join(CampaignCommunity, CampaignCommunity.community_id == Region.id)
        .outerjoin(counted, counted.c.community_id == Region.id)
        .where(CampaignCommunity.campaign_id == campaign_id)
        .order_by(Region.code)).all()
    return [{"community_id": id_, "code": code, "name": name, "responses": n, "flagged": flagged,
             "target": target} for id_, code, name, target, n, flagged in rows]
