"""The residents' side: the QR survey form, reached by scanning a site's poster."""
from flask import Blueprint

from ..extensions import csrf, limiter

bp = Blueprint("resident", __name__, template_folder="templates")
# The survey form checks its own CSRF token (FlaskForm), so a stale token re-shows the
# form with the answers kept instead of the global check's bare 400.
csrf.exempt(bp)
# Its one limit (submissions per address) is counted inside the view, where a refusal can keep
# the resident's answers (extensions.within_limit); Flask-Limiter's per-request check has nothing
# to do here, and residents' posts are the hottest path.
limiter.exempt(bp)

from . import routes  # noqa: F401
