"""Evaluators and the district: scores by a scheme, the ranking with its uncertainty, and the
entries (levels, measured figures, the district's points and weights) that feed them."""
from flask import Blueprint

bp = Blueprint("evaluators", __name__, url_prefix="/evaluate", template_folder="templates")

from . import views  # noqa: F401
from . import published_views  # noqa: F401
