"""gunicorn settings for Minyi in production (docs/deployment.md).

    MINYI_POOL=residents gunicorn -c deploy/gunicorn.conf.py     # phones: gevent, event streams
    MINYI_POOL=staff     gunicorn -c deploy/gunicorn.conf.py     # /staff/, /meetings/: sync workers

It lives under deploy/ on purpose: gunicorn loads ./gunicorn.conf.py by itself, which would change
`make run`. Every value can be set from the environment (below); gunicorn's command line and
GUNICORN_CMD_ARGS still override it.

| variable | meaning | default |
|---|---|---|
| MINYI_POOL | `residents` (gevent workers) or `staff` (sync workers) | residents |
| MINYI_BIND | address:port nginx proxies to | 127.0.0.1:8001 (residents), 127.0.0.1:8002 (staff) |
| MINYI_WORKERS | worker processes | one per core (residents), two per core (staff) |
| MINYI_WORKER_CONNECTIONS | connections one gevent worker holds at once | 8000 |
| MINYI_TIMEOUT | seconds a worker may be silent before it is restarted | 60 (residents), 180 (staff) |
| MINYI_MAX_REQUESTS | requests before a worker is replaced (0: never) | 5000 (residents), 1000 (staff) |
| MINYI_ACCESS_LOG | file or `-` (stderr) for an access log without addresses | off |
| MINYI_LOG_LEVEL | the error log's level | info |
| FORWARDED_ALLOW_IPS | nginx's addresses, whose X-Forwarded-Proto gunicorn believes | 127.0.0.1,::1 |
"""

import multiprocessing
import os
from pathlib import Path

_env = os.environ.get
pool = _env("MINYI_POOL", "residents")
if pool not in ("residents", "staff"):
    raise ValueError(f"MINYI_POOL must be 'residents' or 'staff', not {pool!r}")
residents = pool == "residents"
cores = multiprocessing.cpu_count()

# The application, found from the repository root whatever the current directory.
wsgi_app = "wsgi:app"
chdir = str(Path(__file__).resolve().parent.parent)
proc_name = f"minyi-{pool}"

bind = [_env("MINYI_BIND", "127.0.0.1:8001" if residents else "127.0.0.1:8002")]

# Residents: gevent. At a 坝坝会 every phone holds one idle event stream (/m/<code>/events); a
# gevent worker keeps it for the cost of a greenlet, a sync worker would be taken whole by it
# (app/meetings/push.py). One worker per core: the work is CPU (templates, SQL round trips),
# the waiting is what gevent absorbs.
# Staff: sync workers. Staff pages, big screens, PDF reports and imports are few and some are
# long and CPU-bound (seconds): under gevent one of them would stall every phone of that worker.
# Two per core, since half their time is spent waiting on PostgreSQL.
worker_class = "gevent" if residents else "sync"
workers = int(_env("MINYI_WORKERS", cores if residents else 2 * cores))
# Each connection is a file descriptor: raise the open-files limit to match (LimitNOFILE in
# deploy/minyi@.service), and nginx's worker_connections too.
worker_connections = int(_env("MINYI_WORKER_CONNECTIONS", "8000"))

# A gevent worker's heartbeat runs in its own greenlet, so only a request that holds the CPU
# this long trips it; staff requests (a district's PDF report, a 20,000-row import) may.
timeout = int(_env("MINYI_TIMEOUT", "60" if residents else "180"))
# On restart or upgrade, requests in flight get this long to finish. Event streams do not finish
# by themselves (they live 4-6 minutes); they are cut at the end and the phones' EventSource
# reconnects within 3 s, to the new workers.
graceful_timeout = 30
# Behind nginx's upstream keep-alive (keepalive_timeout 60s in deploy/nginx.conf): gunicorn must
# keep an idle connection open longer than nginx, or nginx may send a request down a connection
# gunicorn is closing (a 502). Sync workers ignore it: they close after every response.
keepalive = 75

# A worker is replaced after this many requests (jitter: not all at once), bounding what a slow
# leak could grow to. Replacing a residents' worker ends its streams early, which is harmless.
max_requests = int(_env("MINYI_MAX_REQUESTS", "5000" if residents else "1000"))
max_requests_jitter = max_requests // 10

# No preload: the app is built in each worker after the fork. Under gevent the worker
# monkey-patches sockets and threads when it starts, and modules imported before that in the
# master (redis, psycopg, threading) would keep unpatched blocking calls. Without preload a
# HUP (kill -HUP <master>) also starts workers on the new code, which is how upgrades roll.
# Cost: each worker imports the app itself (a few seconds of start-up, no shared pages).
preload_app = False

# The heartbeat file on a RAM disk: a worker on a slow or full disk is not taken for a hung one.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# Behind nginx: gunicorn believes X-Forwarded-Proto only from these addresses. The client's
# address itself is taken from X-Forwarded-For by the app (TRUSTED_PROXIES=1, werkzeug's ProxyFix).
forwarded_allow_ips = _env("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Privacy: no IP address is written anywhere. The access log is off; where one is wanted
# (MINYI_ACCESS_LOG), its format has no address (%(h)s), no X-Forwarded-For, no user agent, no
# referrer and no query string (staff searches): time, method and path, status, bytes, duration.
# The error log (stderr, for journald) has no client addresses either: the only line of gunicorn's
# that names one ("Invalid request from ip=…") names the peer, which behind nginx is nginx.
accesslog = _env("MINYI_ACCESS_LOG") or None
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = _env("MINYI_LOG_LEVEL", "info")
