"""坝坝会 live polling: meetings, their questions on a big screen, votes by phone and by hand."""
from flask import Blueprint

bp = Blueprint("meetings", __name__, template_folder="templates")

from . import routes  # noqa: E402,F401
