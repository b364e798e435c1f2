"""deploy/gunicorn.conf.py read the way gunicorn reads it, and deploy/nginx.conf checked by nginx itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gunicorn.app.base import Application
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


class _Loader(Application):
    """gunicorn's own application class, loading only its configuration file (no app)."""

    def __init__(self, path: Path):
        self._path = str(path)
        super().__init__(usage="", prog="gunicorn")

    def init(self, parser, opts, args):
        return None

    def load_config(self):
        self.cfg = Config(self.usage, prog=self.prog)
        self.load_config_from_file(self._path)

    def load(self):  # pragma: no cover - never served
        raise AssertionError("only the configuration is read")


def load(monkeypatch, **env: str) -> Config:
    for name in [n for n in os.environ if n.startswith("MINYI_") or n == "FORWARDED_ALLOW_IPS"]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return _Loader(GUNICORN_CONF).cfg


def test_the_residents_pool_is_gevent_without_preload(monkeypatch):
    cfg = load(monkeypatch)
    assert cfg.worker_class_str == "gevent" and cfg.worker_connections == 8000
    assert cfg.workers == os.cpu_count()
    assert cfg.bind == ["127.0.0.1:8001"] and cfg.wsgi_app == "wsgi:app" and cfg.chdir == str(ROOT)
    # Monkey-patching happens in the worker: the app must not be imported before it.
    assert cfg.preload_app is False
    assert cfg.timeout == 60 and cfg.graceful_timeout == 30
    # Longer than nginx's upstream keepalive_timeout (60 s), so nginx never reuses a closing connection.
    assert cfg.keepalive > 60
    assert cfg.max_requests == 5000 and 0 < cfg.max_requests_jitter < cfg.max_requests
    assert cfg.forwarded_allow_ips == ["127.0.0.1", "::1"]


def test_the_staff_pool_is_sync_with_a_longer_timeout(monkeypatch):
    cfg = load(monkeypatch, MINYI_POOL="staff")
    assert cfg.worker_class_str == "sync" and cfg.workers == 2 * os.cpu_count()
    assert cfg.bind == ["127.0.0.1:8002"] and cfg.timeout == 180 and cfg.proc_name == "minyi-staff"


def test_settings_come_from_the_environment(monkeypatch):
    cfg = load(monkeypatch, MINYI_BIND="10.0.0.11:9000", MINYI_WORKERS="3", MINYI_WORKER_CONNECTIONS="2000",
               MINYI_TIMEOUT="90", MINYI_MAX_REQUESTS="0", FORWARDED_ALLOW_IPS="10.0.0.2")
    assert cfg.bind == ["10.0.0.11:9000"] and cfg.workers == 3 and cfg.worker_connections == 2000
    assert cfg.timeout == 90 and cfg.max_requests == 0 and cfg.max_requests_jitter == 0
    assert cfg.forwarded_allow_ips == ["10.0.0.2"]
    with pytest.raises(SystemExit):  # gunicorn's loader reports the ValueError and exits
        load(monkeypatch, MINYI_POOL="threads")


def test_no_ip_address_is_logged(monkeypatch):
    cfg = load(monkeypatch)
    assert cfg.accesslog is None  # off unless asked for
    enabled = load(monkeypatch, MINYI_ACCESS_LOG="-")
    assert enabled.accesslog == "-"
    fmt = enabled.access_log_format
    # No remote address, no forwarded address, no user agent, no referrer, no query string.
    for forbidden in ("%(h)s", "%(a)s", "%(f)s", "%(r)s", "%(q)s", "%(U)s?"):
        assert forbidden not in fmt
    assert not re.search(r"%\(\{(x-forwarded-for|x-real-ip|forwarded|remote_addr)\}[ie]\)s", fmt, re.IGNORECASE)
    # And the line gunicorn writes with it, for a real request, has no address in it.
    from gunicorn.glogging import Logger
    logger = Logger(enabled)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/s/tok?x=1", "PATH_INFO": "/s/tok", "QUERY_STRING": "x=1",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.7",
               "HTTP_X_FORWARDED_FOR": "198.51.100.9", "HTTP_USER_AGENT": "MicroMessenger"}

    class Resp:
        status, status_code, sent, headers = "200 OK", 200, 512, [("Content-Type", "text/html")]
    from datetime import timedelta
    headers = [("X-FORWARDED-FOR", "198.51.100.9"), ("USER-AGENT", "MicroMessenger")]
    line = fmt % logger.atoms(Resp(), headers, environ, timedelta(milliseconds=12))
    assert "/s/tok" in line and "200" in line
    assert "203.0.113.7" not in line and "198.51.100.9" not in line and "MicroMessenger" not in line
    assert "x=1" not in line


def test_gunicorn_accepts_the_file():
    for pool in ("residents", "staff"):
        result = subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "--check-config", "-c", str(GUNICORN_CONF)],
                                check=False, cwd="/", capture_output=True, text=True,
                                env={**os.environ, "MINYI_POOL": pool}, timeout=120)
        assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists(), reason="nginx not installed")
def test_nginx_accepts_the_site_file(tmp_path):
    text = NGINX_CONF.read_text()
    directives = "\n".join(line.split("#")[0] for line in text.splitlines())
    # The settings the app relies on.
    assert "proxy_buffering off" in text and "X-Forwarded-For" in text and "X-Forwarded-Proto" in text
    assert "client_max_body_size 512k" in text and "client_max_body_size 16m" in text
    # No address in any log: no $remote_addr anywhere ($proxy_add_x_forwarded_for is for the app only).
    assert "$remote_addr" not in directives and "$http_x_forwarded_for" not in directives
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    # The site file as an operator fills it in: a (self-signed) certificate, logs in a folder of ours.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    site = tmp_path / "minyi.conf"
    site.write_text(text.replace("/etc/ssl/minyi/fullchain.pem", str(cert)).replace("/etc/ssl/minyi/privkey.pem", str(key))
                    .replace("/var/log/nginx/", f"{tmp_path}/"))
    main = tmp_path / "nginx.conf"
    main.write_text(f"pid {tmp_path}/nginx.pid; error_log stderr;\nevents {{}}\n"
                    f"http {{ include /etc/nginx/mime.types; include {site}; }}\n")
    result = subprocess.run([nginx, "-t", "-c", str(main), "-e", "stderr"], check=False, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr



def test_a_form_posted_over_https_on_another_port_behind_nginx_passes_the_csrf_check(database_uri):
    # nginx sends Host without the port (proxy_set_header Host $host) and the port apart; Flask-WTF
    # checks on HTTPS that the Referer is this host, port included. Without X-Forwarded-Port the
    # app took itself for https://minyi.example (port 443) and refused every staff form with a 400.
    from flask import request

    from app import create_app
    from tests.conftest import RequestScopedClient, base_config
    app = create_app({**base_config(database_uri), "TRUSTED_PROXIES": 1})
    app.test_client_class = RequestScopedClient
    seen = {}

    @app.get("/_seen")
    def _seen():
        seen.update(addr=request.remote_addr, secure=request.is_secure, host=request.host)
        return ""

    proxied = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7", "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "minyi.example", "X-Forwarded-Port": "8443",
               "Referer": "https://minyi.example:8443/staff/login"}
    nginx = {"REMOTE_ADDR": "127.0.0.1"}
    with app.app_context():
        client = app.test_client()
        page = client.get("/staff/login", headers=proxied, environ_base=nginx).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/staff/login", headers=proxied, environ_base=nginx,
                               data={"csrf_token": token, "username": "nobody", "password": "wrong-password"})
        assert response.status_code == 401  # the CSRF check passed; the login itself failed, as it should
        # The client is the address nginx put last (the first one the client could have forged).
        client.get("/_seen", headers=proxied, environ_base=nginx)
        assert seen == {"addr": "203.0.113.7", "secure": True, "host": "minyi.example:8443"}
        # On the standard port the host is the plain name.
        client.get("/_seen", headers={**proxied, "X-Forwarded-Port": "443"}, environ_base=nginx)
        assert seen["host"] == "minyi.example"
        from app.extensions import db
        db.session.remove()
        db.engine.dispose()
