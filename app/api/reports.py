"""The PDF reports through the API: the same files as the evaluators' pages, under the same read rules."""

from __future__ import annotations

# The module, not its names: it imports app.evaluation.reports, which reads app.api.queries, so the
# two packages may be half-imported when this line runs.
from ..evaluators import reports_views
from . import bp


@bp.get("/campaigns/<int:campaign_id>/report.pdf")
def campaign_report_pdf(campaign_id: int):
    return reports_views.campaign_report_response(campaign_id)


@bp.get("/campaigns/<int:campaign_id>/communities/<int:community_id>/report.pdf")
def community_report_pdf(campaign_id: int, community_id: int):
    return reports_views.community_report_response(campaign_id, community_id)
