"""Evaluators and the district: the results dashboard, scores by a scheme, the ranking with its
uncertainty, and the entries (levels, measured figures, the district's points and weights) that feed them."""
from flask import Blueprint

bp = Blueprint("evaluators", __name__, url_prefix="/evaluate", template_folder="templates")

from . import crosstabs_views, dashboard_views, exports_views, open_answers_views, published_views, reports_views, views  # noqa: F401
