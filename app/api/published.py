"""Published results: a campaign's satisfaction rates, public once a district admin has published them."""

from __future__ import annotations

from flask import abort, jsonify

from ..evaluation import published
from . import bp


@bp.get("/published/<int:campaign_id>")
def published_results(campaign_id: int):
    """The figures of the residents' page /results/<id>; no login, 404 unless published."""
    campaign = published.published_campaign(campaign_id)
    if campaign is None:
        abort(404, f"campaign {campaign_id} has no published results")
    return jsonify(published.published_results(campaign))
