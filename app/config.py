"""Settings from the environment. Tests pass their own mapping to create_app()."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def database_url(raw: str | None, instance_path: str) -> str:
    """The SQLAlchemy URL: DATABASE_URL if given, else SQLite in the instance folder.

    A bare ``postgresql://`` URL is pointed at psycopg 3, the driver we ship.
    """
    if not raw:
        return "sqlite:///" + os.path.join(instance_path, "minyi.sqlite3")
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


def load_secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one generated once into the instance folder.

    Generating it once (not per start) keeps residents' signed cookies and open forms
    valid across restarts and across workers.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = Path(instance_path) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: when several workers start at once, exactly one writes the key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def from_environment(instance_path: str) -> dict:
    """The configuration of a served application."""
    return {
        "SECRET_KEY": load_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url(os.environ.get("DATABASE_URL"), instance_path),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Shared state for several workers and servers (rate limits); in memory without it.
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        # Meetings push their state to phones: "auto" (under gunicorn's gevent worker, with
        # Redis), "on" or "off" (phones poll). See app/meetings/push.py.
        "MEETING_PUSH": os.environ.get("MEETING_PUSH", "auto"),
        # Number of reverse proxies in front of us whose X-Forwarded-For we trust.
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        "SESSION_COOKIE_SECURE": os.environ.get("BASE_URL", "").startswith("https://"),
    }


#: Settings every application gets unless its configuration overrides them.
DEFAULTS = {
    # hide_parameters: a failed statement's values (residents' answers) never reach the logs.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
    # A 20-item survey with every text box full is about 400 KB URL-encoded; anything
    # bigger is not a survey answer.
    "MAX_CONTENT_LENGTH": 512 * 1024,
    # Spreadsheet imports (20,000 rows) are the only larger requests.
    "LARGE_UPLOAD_ENDPOINTS": ("staff.import_responses", "staff.import_regions"),
    "LARGE_UPLOAD_BYTES": 16 * 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # How long a shown form stays good for submitting (its CSRF token and its signed
    # submission id alike): elderly residents may leave a form open a long while.
    "WTF_CSRF_TIME_LIMIT": 24 * 3600,
    # WTForms' own Chinese messages (its bundled "zh" catalogue, chosen by each form's Meta)
    # rather than Flask-WTF's Babel hook, which would need Flask-Babel for nothing else.
    "WTF_I18N_ENABLED": False,
    "SURVEYS_DIR": str(Path(__file__).resolve().parent.parent / "surveys"),
    "BASE_URL": "http://127.0.0.1:5000",
    "TRUSTED_PROXIES": 0,
    "REDIS_URL": None,
    "MEETING_PUSH": "auto",
    # Failed staff logins allowed per client address before it must wait.
    "LOGIN_FAILURE_LIMIT": "10 per 15 minutes",
    # Residents' submitted forms (/s/ and /t/) per client address; past it the form comes back
    # with the answers kept and nothing stored (429). One address is often many residents: a
    # community centre's Wi-Fi, a carrier's shared address, a 坝坝会 where everyone scans the
    # poster at once. A form takes minutes to fill, so 30 in a minute is a whole meeting pressing
    # 提交 together and 300 in an hour several times a busy survey day at one point; only scripts
    # go faster. Below that, five or more from one network within ten minutes are stored flagged
    # (BURST) and counted apart (app/submissions.py), never refused.
    "SUBMIT_LIMIT": "30 per minute; 300 per hour",
    # Wrong meeting codes a client address may try (a meeting's code is six digits).
    "MEETING_CODE_GUESS_LIMIT": "30 per 10 minutes",
}
