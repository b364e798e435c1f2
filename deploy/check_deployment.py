"""Follow docs/deployment.md once on this machine and check every step; prints PASS/FAIL per step.

    sudo /path/to/.venv/bin/python deploy/check_deployment.py     # root: it runs its own nginx

What it sets up, as the document says, all on 127.0.0.1 and all stopped and removed at the end
(also on failure or Ctrl-C): a PostgreSQL database `minyi_deploy` (made, then dropped), Redis db 5,
two "app servers" A and B each with both pools of deploy/gunicorn.conf.py (residents: gevent;
staff: sync), and an nginx with its own configuration in a temporary folder, made from
deploy/nginx.conf (the system's nginx is not touched), with a self-signed certificate. Clients
connect from 127.0.0.5 and 127.0.0.6 so that the app's idea of the client address can be told
apart from nginx's own (127.0.0.1). Nothing is fetched from the network.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import date
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS: list[tuple[bool, str, str]] = []


def step(ok: bool, name: str, detail: str = "") -> bool:
    RESULTS.append((ok, name, detail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f" — {detail}" if detail else ""), flush=True)
    return ok


def run(command: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600, **kw)


def psql(admin_url: str, sql: str, database: str | None = None) -> str:
    url = admin_url if database is None else admin_url.rsplit("/", 1)[0] + "/" + database
    result = subprocess.run(["psql", "-XAtq", url, "-c", sql], capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"psql: {result.stderr.strip()}")
    return result.stdout.strip()


# -- a small HTTP client with cookies, a chosen source address and TLS ---------------------------

class Client:
    def __init__(self, base: str, source: str = "127.0.0.1", context: ssl.SSLContext | None = None):
        self.scheme, rest = base.split("://")
        self.host, port = rest.split(":")
        self.port, self.source, self.context = int(port), source, context
        self.cookies: dict[str, str] = {}

    def connection(self, timeout: float = 15) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.context,
                                               source_address=(self.source, 0))
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout, source_address=(self.source, 0))

    def headers(self, extra: dict | None = None) -> dict:
        h = {"Accept-Encoding": "identity", **(extra or {})}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return h

    def keep_cookies(self, response: http.client.HTTPResponse) -> None:
        for raw in response.headers.get_all("Set-Cookie") or []:
            name, _, value = raw.split(";")[0].partition("=")
            self.cookies[name.strip()] = value.strip()

    def request(self, method: str, path: str, body: bytes | dict | None = None, headers: dict | None = None
                ) -> tuple[int, dict, bytes]:
        if isinstance(body, dict):
            body = urlencode(body, doseq=True).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=self.headers(headers))
            response = conn.getresponse()
            data = response.read()
            self.keep_cookies(response)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def get(self, path: str, headers: dict | None = None):
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data, headers: dict | None = None):
        return self.request("POST", path, data, headers)


def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page) or re.search(rf'value="([^"]*)"[^>]*name="{name}"', page)
    if not m:
        raise RuntimeError(f"no hidden field {name} in the page")
    return unescape(m.group(1))


def answer_survey(client: Client, token: str) -> int:
    """Open a site's form and answer it as a resident: each single choice its first answer."""
    status, _, body = client.get(f"/s/{token}")
    if status != 200:
        raise RuntimeError(f"the form answered {status}")
    page = body.decode()
    data: dict[str, str] = {"csrf_token": hidden(page, "csrf_token"), "submission": hidden(page, "submission")}
    for kind, name, value in re.findall(r'<input type="(radio|checkbox)" name="([^"]+)" value="([^"]+)"', page):
        if kind == "radio":
            data.setdefault(name, value)
        elif value == "none":
            data[name] = value
    action = unescape(re.search(r'<form id="survey" method="post" action="([^"]+)"', page).group(1))
    return client.post(action, data, {"Referer": f"{client.scheme}://{client.host}:{client.port}/s/{token}"})[0]


def login(client: Client, username: str, password: str) -> int:
    origin = f"{client.scheme}://{client.host}:{client.port}"
    _, _, body = client.get("/staff/login")
    form = {"csrf_token": hidden(body.decode(), "csrf_token"), "username": username, "password": password}
    return client.post("/staff/login", form, {"Referer": origin + "/staff/login"})[0]


# -- processes we start --------------------------------------------------------------------------

class Processes:
    def __init__(self, logs: Path):
        self.logs, self.running = logs, {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        with open(self.logs / f"{name}.log", "a") as log:  # the child keeps its own copy of the descriptor
            self.running[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True)

    def stop(self, name: str) -> None:
        proc = self.running.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # our own process (a gunicorn master stops its workers; nginx its own)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group we started for it
            proc.wait()

    def signal(self, name: str, sig: int) -> None:
        self.running[name].send_signal(sig)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def wait_healthy(port: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


# -- the walk-through ----------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a superuser connection to the PostgreSQL server (the database is made and dropped there)")
    parser.add_argument("--database", default="minyi_deploy")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5", help="a Redis database of its own")
    parser.add_argument("--http-port", type=int, default=8088)
    parser.add_argument("--https-port", type=int, default=8443)
    args = parser.parse_args()

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    ports = {"a-residents": 8101, "a-staff": 8111, "b-residents": 8102, "b-staff": 8112}
    busy = [p for p in [args.http_port, args.https_port, *ports.values()] if not free(p)]
    if busy or not Path(nginx).exists() or os.geteuid() != 0:
        print(f"needs root, nginx and free ports (busy: {busy})", file=sys.stderr)
        return 2

    print(f"Minyi deployment walk-through, {date.today().isoformat()}, nginx {nginx_version(nginx)}, "
          f"PostgreSQL {psql(args.postgres, 'SHOW server_version')}, {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="minyi-deploy-"))
    work.chmod(0o755)  # nginx's workers (an unprivileged user) read the certificate's folder and write temp files
    procs = Processes(work)
    created = False

    def interrupted(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    try:
        # 1. One PostgreSQL database, one Redis, the shared settings.
        psql(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}"')
        psql(args.postgres, f'CREATE DATABASE "{args.database}"')
        created = True
        base = f"https://127.0.0.1:{args.https_port}"
        database_url = args.postgres.rsplit("/", 1)[0] + "/" + args.database
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": args.redis, "SECRET_KEY": secrets.token_hex(32),
               "BASE_URL": base, "TRUSTED_PROXIES": "1", "MINYI_WORKERS": "1", "PYTHONUNBUFFERED": "1"}
        flask = [str(BIN / "flask"), "--app", "wsgi"]

        # 2. First install: schema, questionnaires, the first account (and demo data for the checks).
        ok = all(run(flask + cmd, env).returncode == 0 for cmd in (["db", "upgrade"], ["surveys", "sync"],
                                                                     ["demo", "--responses", "0"]))
        district = psql(args.postgres, "SELECT code FROM regions WHERE parent_id IS NULL ORDER BY id LIMIT 1",
                        args.database)
        password = secrets.token_urlsafe(12)
        made = run(flask + ["users", "create", "--username", "ops", "--role", "admin", "--region", district,
                            "--password", password], env)
        step(ok and made.returncode == 0, "first install: db upgrade, surveys sync, users create",
             f"admin account 'ops' for district {district}")
        token = run(flask + ["sites"], env).stdout.split("\n")[0].split("\t")[0]

        # 3. Two app servers, each with both pools.
        for name, port in ports.items():
            pool = name.split("-")[1]
            procs.start(name, [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py"],
                        {**env, "MINYI_POOL": pool, "MINYI_BIND": f"127.0.0.1:{port}"})
        step(all(wait_healthy(p) for p in ports.values()), "four gunicorns answer /healthz directly",
             ", ".join(f"{n} :{p}" for n, p in ports.items()))

        # 4. nginx from deploy/nginx.conf, changed only where it says CHANGE.
        site = nginx_site(work, args, ports)
        main_conf = work / "nginx.conf"
        main_conf.write_text(f"pid {work}/nginx.pid;\nerror_log {work}/nginx-main.error.log;\n"
                             "events { worker_connections 1024; }\n"
                             f"http {{\n  include /etc/nginx/mime.types;\n  client_body_temp_path {work}/body;\n"
                             f"  proxy_temp_path {work}/proxy;\n  include {site};\n}}\n")
        tested = subprocess.run([nginx, "-t", "-c", str(main_conf)], capture_output=True, text=True, check=False)
        step(tested.returncode == 0, "nginx -t accepts the site file", tested.stderr.strip().splitlines()[-1])
        procs.start("nginx", [nginx, "-c", str(main_conf), "-g", "daemon off;"], env)
        context = ssl.create_default_context(cafile=str(work / "cert.pem"))
        wait_for_port(args.https_port)

        web = Client(base, "127.0.0.5", context)
        checks(args, base, context, web, token, password, procs, ports, env, flask, work)
    except KeyboardInterrupt:
        step(False, "interrupted")
    except Exception as e:  # noqa: BLE001 - reported as a failed step, then everything is cleaned up
        step(False, "walk-through stopped", f"{type(e).__name__}: {e}")
    finally:
        procs.stop_all()
        if created:
            try:
                psql(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
                print(f"cleaned up: processes stopped, database {args.database} dropped")
            except RuntimeError as e:
                print(f"could not drop {args.database}: {e}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    failed = [name for ok, name, _ in RESULTS if not ok]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def nginx_version(nginx: str) -> str:
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr
    return out.strip().split("/")[-1]


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while free(port) and time.monotonic() < deadline:
        time.sleep(0.1)


def nginx_site(work: Path, args, ports: dict[str, int]) -> Path:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(work / "key.pem"),
                    "-out", str(work / "cert.pem")], check=True, capture_output=True)
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    replacements = {
        "10.0.0.11:8001": f"127.0.0.1:{ports['a-residents']}", "10.0.0.12:8001": f"127.0.0.1:{ports['b-residents']}",
        "10.0.0.11:8002": f"127.0.0.1:{ports['a-staff']}", "10.0.0.12:8002": f"127.0.0.1:{ports['b-staff']}",
        "listen 80;": f"listen 127.0.0.1:{args.http_port};", "listen 443 ssl": f"listen 127.0.0.1:{args.https_port} ssl",
        "/etc/ssl/minyi/fullchain.pem": str(work / "cert.pem"), "/etc/ssl/minyi/privkey.pem": str(work / "key.pem"),
        "/srv/minyi/static/": f"{ROOT}/static/", "/var/log/nginx/": f"{work}/",
    }
    for old, new in replacements.items():
        if old not in text:
            raise RuntimeError(f"deploy/nginx.conf no longer has {old!r}")
        text = text.replace(old, new)
    site = work / "minyi-site.conf"
    site.write_text(text)
    return site


def count_responses(args) -> int:
    return int(psql(args.postgres, "SELECT count(*) FROM responses", args.database))


def checks(args, base, context, web: Client, token, password, procs: Processes, ports, env, flask, work) -> None:
    # Plain HTTP only says where HTTPS is.
    plain = Client(f"http://127.0.0.1:{args.http_port}", "127.0.0.5")
    status, headers, _ = plain.get("/healthz")
    step(status == 301 and headers.get("location", "").startswith("https://"), "http:// redirects to https://",
         f"{status} {headers.get('location')}")

    status, _, body = web.get("/healthz")
    health = json.loads(body) if status == 200 else body[:200]
    step(status == 200 and health == {"status": "ok", "database": "ok", "redis": "ok"},
         "/healthz through nginx: database and redis ok", f"{status} {health}")

    # Static files from nginx itself: a hashed URL kept a year, compressed.
    status, headers, _ = web.get("/static/css/resident.css?v=0123456789", {"Accept-Encoding": "gzip"})
    step(status == 200 and "immutable" in headers.get("cache-control", "") and headers.get("content-encoding") == "gzip"
         and "content-security-policy" not in headers,  # the app would add it: so nginx served it
         "static file served by nginx, cached a year, gzipped",
         f"{status}, Cache-Control: {headers.get('cache-control')}, Content-Encoding: {headers.get('content-encoding')}")

    # A resident answers.
    before = count_responses(args)
    status = answer_survey(Client(base, "127.0.0.5", context), token)
    step(status == 303 and count_responses(args) == before + 1, "resident form GET + POST stores a response",
         f"POST {status}, responses {before} -> {count_responses(args)}")

    # Sizes: nginx refuses what the app would, imports get 16 MB.
    status, _, _ = web.post(f"/s/{token}", b"x" * (600 * 1024), {"Content-Type": "application/x-www-form-urlencoded"})
    big, _, _ = web.post("/staff/regions/import", b"x" * (2 * 1024 * 1024), {"Content-Type": "text/csv"})
    step(status == 413 and big != 413, "600 KB form refused by nginx (413); a 2 MB import passes to the app",
         f"form {status}, import {big}")

    # Staff log in over HTTPS on a non-standard port (the CSRF check compares the Referer with the host).
    staff = Client(base, "127.0.0.5", context)
    status = login(staff, "ops", password)
    home, _, _ = staff.get("/staff/")
    step(status == 303 and home == 200, "staff login through nginx", f"login {status}, /staff/ {home}")

    meeting_stream(args, base, context)
    forwarded_for(base, context)

    # One app server down: the site answers from the other.
    stopping = time.monotonic()
    procs.stop("a-residents")
    procs.stop("a-staff")
    stopped_in = time.monotonic() - stopping
    answers = [web.get("/healthz")[0] for _ in range(6)]
    form = answer_survey(Client(base, "127.0.0.5", context), token)
    page = staff.get("/staff/")[0]
    step(answers == [200] * 6 and form == 303 and page == 200, "server A stopped: nginx answers from B",
         f"stopped in {stopped_in:.0f} s; then /healthz {answers}, form POST {form}, /staff/ {page}")

    # Backup while running, then restore as the document says (app servers stopped first).
    backup = work / "minyi.dump"
    result = run(flask + ["backup", str(backup)], env)
    at_backup = count_responses(args)
    step(result.returncode == 0 and backup.stat().st_size > 0, "flask backup (pg_dump custom format) while serving",
         f"{backup.stat().st_size if backup.exists() else 0} bytes, {at_backup} responses")
    answer_survey(Client(base, "127.0.0.5", context), token)
    after = count_responses(args)
    procs.stop("b-residents")
    procs.stop("b-staff")
    restored = run(flask + ["restore", str(backup), "--yes"], env)
    psql(args.postgres, "ANALYZE", args.database)
    upgraded = run(flask + ["db", "upgrade"], env)
    step(restored.returncode == 0 and upgraded.returncode == 0 and count_responses(args) == at_backup,
         "flask restore, ANALYZE, db upgrade", f"responses {after} after the backup -> {count_responses(args)} restored"
         + (f"; {restored.stderr.strip()[-300:]}" if restored.returncode else ""))
    for name, port in ports.items():
        procs.start(name, [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py"],
                    {**env, "MINYI_POOL": name.split("-")[1], "MINYI_BIND": f"127.0.0.1:{port}"})
    back = all(wait_healthy(p) for p in ports.values())
    form = answer_survey(Client(base, "127.0.0.5", context), token)
    step(back and form == 303 and count_responses(args) == at_backup + 1, "servers started on the restored database",
         f"form POST {form}")

    # An upgrade: migrate (idempotent when there is nothing new), sync, then roll the servers one by one.
    head = run(flask + ["db", "current"], env).stdout.strip()
    again = run(flask + ["db", "upgrade"], env)
    synced = run(flask + ["surveys", "sync"], env)
    step(again.returncode == 0 and "Running upgrade" not in again.stderr and synced.returncode == 0
         and run(flask + ["db", "current"], env).stdout.strip() == head, "db upgrade again changes nothing",
         f"still at {head.splitlines()[-1] if head else '?'}")
    statuses = []
    for server in ("a", "b"):
        for pool in ("residents", "staff"):
            procs.signal(f"{server}-{pool}", signal.SIGHUP)  # new workers on the new code, old ones finish
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            statuses.append(web.get("/healthz")[0])
            time.sleep(0.2)
    step(set(statuses) == {200}, "rolling restart (HUP A, then B): the site kept answering",
         f"{len(statuses)} /healthz during the roll, all {sorted(set(statuses))}")

    # Privacy: the clients' addresses (127.0.0.5, 127.0.0.6) are in no log.
    logs = [p for p in work.iterdir() if p.suffix == ".log"]
    leaked = [p.name for p in logs if re.search(r"127\.0\.0\.[56]\b", p.read_text(errors="replace"))]
    access = len((work / "minyi.access.log").read_text().splitlines())
    step(not leaked and access > 50, "no client address in any log (nginx, gunicorn)",
         f"{len(logs)} logs read, the access log {access} lines" + (f"; found in {leaked}" if leaked else ""))


def meeting_stream(args, base: str, context: ssl.SSLContext) -> None:
    """A phone's event stream opens through nginx, gets the state at once and a staff action within seconds."""
    meeting_id, code, position = psql(
        args.postgres, "SELECT id, join_code, current_position FROM meetings ORDER BY id LIMIT 1", args.database
    ).split("|")
    phone = Client(base, "127.0.0.6", context)
    status, _, page = phone.get(f"/m/{code}")
    offered = f"/m/{code}/events" in page.decode()
    conn = phone.connection(timeout=10)
    started = time.monotonic()
    conn.request("GET", f"/m/{code}/events", headers=phone.headers({"Accept": "text/event-stream"}))
    stream = conn.getresponse()
    first = read_event(stream)
    first_after = time.monotonic() - started
    step(status == 200 and offered and stream.status == 200 and first is not None and first_after < 3
         and stream.getheader("Content-Type", "").startswith("text/event-stream"),
         "meeting event stream opens through nginx", f"page {status}, stream {stream.status}, first event after "
         f"{first_after:.2f} s")

    staff = Client(base, "127.0.0.1", context)
    login(staff, "cuihu", "minyi-demo-2026")
    _, _, control = staff.get(f"/meetings/{meeting_id}")
    shown = 2 if position == "1" else 1
    acted = time.monotonic()
    status, _, _ = staff.post(f"/meetings/{meeting_id}/show/{shown}", {"csrf_token": hidden(control.decode(),
                                                                                            "csrf_token")},
                              {"Referer": f"{base}/meetings/{meeting_id}"})
    second = read_event(stream)
    lag = time.monotonic() - acted
    conn.close()
    changed = second is not None and second != first
    step(status == 303 and changed and lag < 3, "staff action pushed to the phone through nginx, not buffered",
         f"staff POST {status}, event after {lag:.2f} s")


def read_event(stream: http.client.HTTPResponse) -> bytes | None:
    """The next `data:` line of an event stream (comments skipped), or None on timeout or end."""
    try:
        while line := stream.readline():
            if line.startswith(b"data:"):
                return line
    except TimeoutError:
        return None
    return None


def forwarded_for(base: str, context: ssl.SSLContext) -> None:
    """The rate limiter keys on the address nginx put in X-Forwarded-For, and a client cannot forge it."""
    guesser, neighbour = Client(base, "127.0.0.5", context), Client(base, "127.0.0.6", context)
    statuses = [guesser.get("/m?code=000000")[0] for _ in range(31)]
    forged = guesser.get("/m?code=000000", {"X-Forwarded-For": "198.51.100.9"})[0]
    other = neighbour.get("/m?code=000000")[0]
    step(statuses[:30] == [404] * 30 and statuses[30] == 429 and forged == 429 and other == 404,
         "X-Forwarded-For reaches the app: limits are per client, not per nginx, and not forgeable",
         f"127.0.0.5: 30 x 404 then {statuses[30]}; with a forged X-Forwarded-For {forged}; 127.0.0.6: {other}")


if __name__ == "__main__":
    sys.exit(main())
