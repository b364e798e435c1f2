"""Community staff and district organisers: accounts, campaigns, sites, printing, paper entry."""
from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")

from . import views  # noqa: E402,F401
