"""Minyi (民意): resident surveys for community-governance evaluation."""

from __future__ import annotations

import os

from flask import Flask, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import config
from .extensions import csrf, db, limiter, login_manager, migrate


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application. Tests pass their own configuration mapping."""
    app = Flask(__name__, instance_relative_config=True,
                static_folder=os.path.join(os.path.dirname(os.path.dirname(__file__)), "static"))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(config.DEFAULTS)
    if test_config is None:
        app.config.update(config.from_environment(app.instance_path))
    else:
        app.config.update(test_config)

    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = app.config["TRUSTED_PROXIES"]
        # x_port too: nginx's Host has no port, and on HTTPS Flask-WTF refuses a form whose Referer
        # (https://host:8443/…) is not the host the app believes it is (docs/deployment.md).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)

    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    if app.config["REDIS_URL"]:
        # A Redis that stops answering must cost a submit half a second, not a TCP timeout.
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 0.5, "socket_connect_timeout": 0.5})
    # With Redis down, limits fall back to each process's memory instead of failing the
    # request: residents must still be able to vote and answer.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A file cannot drop a connection: pinging it would add a statement to every request.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"),
                     compare_type=True, render_as_batch=True)
    # Before CSRFProtect, whose check reads (and so size-checks) the form: spreadsheet imports
    # may be larger than any other request.
    @app.before_request
    def allow_large_uploads():
        if request.endpoint in app.config["LARGE_UPLOAD_ENDPOINTS"]:
            request.max_content_length = app.config["LARGE_UPLOAD_BYTES"]

    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from . import models  # noqa: F401  (registers the tables with the metadata)
    from .api import bp as api_bp
    from .evaluators import bp as evaluators_bp
    from .health import bp as health_bp
    from .meetings import bp as meetings_bp
    from .resident import bp as resident_bp
    from .staff import bp as staff_bp
    app.register_blueprint(resident_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(meetings_bp)
    app.register_blueprint(evaluators_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(health_bp)

    from . import errors, security, templating
    errors.register(app)
    security.register(app)
    templating.register(app)

    from .cli import register_commands
    register_commands(app)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets residents' reads go on during a write; SQLite leaves foreign keys off unless asked."""
    import sqlite3
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
