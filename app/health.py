"""GET /healthz for load balancers and monitors: the database answers, and Redis where it is configured."""

import redis
import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from .extensions import db

bp = Blueprint("health", __name__)


def _redis_state() -> str | None:
    """'ok', 'unavailable: …', or None when no REDIS_URL is set (then nothing relies on Redis)."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    try:
        redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5).ping()
    except redis.RedisError as e:
        return f"unavailable: {type(e).__name__}"
    return "ok"


@bp.get("/healthz")
def healthz():
    body, healthy = {}, True
    try:
        db.session.execute(sa.text("SELECT 1"))
        body["database"] = "ok"
    except Exception as e:  # noqa: BLE001 - any failure means "not healthy"
        db.session.rollback()
        body["database"], healthy = f"unavailable: {type(e).__name__}", False
    state = _redis_state()
    if state is not None:
        body["redis"] = state
        healthy &= state == "ok"
    return jsonify(status="ok" if healthy else "error", **body), 200 if healthy else 503
