"""The JSON API (/api/v1), described by openapi.yaml beside this file."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import crosstabs, dashboard, exports, open_answers, published, reports, routes  # noqa: F401
