"""GET /healthz for load balancers and monitors."""

import sqlalchemy as sa
from flask import Blueprint, jsonify

from .extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as e:  # noqa: BLE001 - any failure means "not healthy"
        db.session.rollback()
        return jsonify(status="error", database=f"unavailable: {type(e).__name__}"), 503
    return jsonify(status="ok", database="ok")
