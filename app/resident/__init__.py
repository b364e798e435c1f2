"""The residents' side: the QR survey form, reached by scanning a site's poster."""
from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("resident", __name__, template_folder="templates")
# The survey form checks its own CSRF token (FlaskForm), so a stale token re-shows the
# form with the answers kept instead of the global check's bare 400.
csrf.exempt(bp)

from . import routes  # noqa: E402,F401
