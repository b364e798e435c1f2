"""The residents' side: the QR survey form, reached by scanning a site's poster."""
from flask import Blueprint

bp = Blueprint("resident", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401
