"""The evaluator workspace at a district's size: every page and download an evaluator opens.

Loads the demo (五华区: 89 communities in 10 streets, the Kunming questionnaire, N synthetic
responses of which the Kunming campaign takes most) into SQLite (a temporary file) and into
PostgreSQL (a throwaway database, dropped at the end), logs in as the demo's district evaluator
then ANALYZEs (as autovacuum would after a load this size) and times, as the server would answer them (the app in this process, its test client):

  the dashboard (district, one street, one community; JSON), a cross-tab, the open answers' words,
  the summary workbook, the raw data as CSV, XLSX and SPSS, and the PDF reports (campaign, community).

Each request once, after one warm-up of the dashboard; prints seconds, bytes and the process's
peak resident memory. There is no target in the issue; the figures say what an evaluator waits.

    .venv/bin/python bench/workspace_scale.py                                   # 20,000 responses, both databases
    .venv/bin/python bench/workspace_scale.py --responses 3000 --database sqlite   # a quick one
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from throwaway_db import Database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    try:
        return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def log_in(app, username: str, password: str):
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    answer = client.post("/staff/login", data={"csrf_token": token, "username": username, "password": password})
    assert answer.status_code == 303, "the demo's evaluator could not log in"
    return client


def run(kind: str, args) -> list[tuple[str, int, float, int]]:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.config import database_url
    from app.demo import DEMO_PASSWORD, load_demo
    from app.extensions import db
    from app.models import Campaign, Response

    database = Database(kind, args.pg_url)
    try:
        database.create()
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url(database.url, "/tmp"),
                          "SURVEYS_DIR": str(ROOT / "surveys"), "RATELIMIT_ENABLED": False})
        with app.app_context():
            import contextlib
            import io
            with contextlib.redirect_stderr(io.StringIO()):
                upgrade()
            started = time.perf_counter()
            load_demo(n_responses=args.responses, seed=args.seed, surveys_dir=str(ROOT / "surveys"))
            db.session.commit()
            # The planner's statistics, as autovacuum would gather them after a load this size. Without
            # them, PostgreSQL planned one of the dashboard's queries as if the tables were empty and
            # the district's dashboard took 203 s in a first run of this script.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
            campaign = db.session.scalar(sa.select(Campaign).where(Campaign.name.like("%治理创新考评%")))
            responses = db.session.scalar(sa.select(sa.func.count()).where(Response.campaign_id == campaign.id))
            print(f"\n== {database.version}: demo with {args.responses:,} responses loaded in "
                  f"{time.perf_counter() - started:.1f} s; the Kunming campaign holds {responses:,} responses "
                  f"in {len(campaign.communities)} communities ==", flush=True)
            campaign_id = campaign.id
            community = min(cc.community_id for cc in campaign.communities)
            street = db.session.scalar(sa.text("SELECT parent_id FROM regions WHERE id = :c"), {"c": community})
            db.session.remove()

        client = log_in(app, "kaoping", DEMO_PASSWORD)
        base, page = f"/api/v1/campaigns/{campaign_id}", f"/evaluate/campaigns/{campaign_id}"
        requests = [
            ("dashboard page, district", f"{page}/dashboard"),
            ("dashboard JSON, district", f"{base}/dashboard"),
            ("dashboard page, street", f"{page}/dashboard?street={street}"),
            ("dashboard page, community", f"{page}/dashboard?community={community}"),
            ("cross-tab page (overall × street)", f"{page}/crosstab"),
            ("open answers' words", f"{base}/open-answers/words"),
            ("summary workbook (.xlsx)", f"{base}/summary.xlsx"),
            ("raw data CSV", f"{base}/responses.csv"),
            ("raw data XLSX", f"{base}/responses.xlsx"),
            ("raw data SPSS (.sav)", f"{base}/responses.sav"),
            ("campaign report (PDF)", f"{page}/report.pdf"),
            ("community report (PDF)", f"{page}/communities/{community}/report.pdf"),
        ]
        client.get(requests[0][1])  # warm-up: templates compiled, jieba not yet loaded
        rows = []
        for name, url in requests:
            t = time.perf_counter()
            response = client.get(url)
            seconds = time.perf_counter() - t
            rows.append((name, response.status_code, seconds, len(response.data)))
            print(f"  {name:36} {response.status_code}  {seconds:7.2f} s  {len(response.data):>10,} B", flush=True)
        print(f"  peak memory of this process: {peak_rss_mb():.0f} MB", flush=True)
        return rows
    finally:
        database.drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--responses", type=int, default=20000, help="the demo's responses (all campaigns)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    failed = False
    for kind in kinds:
        rows = run(kind, args)
        failed |= any(status != 200 for _, status, _, _ in rows)
    if failed:
        print("some request did not answer 200")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
