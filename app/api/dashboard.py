"""The dashboard's figures as JSON: exactly what /evaluate/campaigns/<id>/dashboard shows."""

from __future__ import annotations

from flask import jsonify

from ..evaluators.access import read_scope
from ..evaluators.dashboard_views import build_dashboard
from . import bp


@bp.get("/campaigns/<int:campaign_id>/dashboard")
def campaign_dashboard(campaign_id: int):
    return jsonify(build_dashboard(read_scope(campaign_id)))
