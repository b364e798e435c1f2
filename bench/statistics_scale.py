"""Statistics at a city's size: a campaign of 742 communities × 400 responses × 20 items.

Builds the campaign (about 5.9 M answer rows) in SQLite (a temporary file) and in PostgreSQL
(a throwaway database, dropped at the end, also on failure or Ctrl-C), fills its answer tallies
in one recount (app.evaluation.tallies.rebuild), and in the same run times

  (a) the bare GROUP BY count query over the answers (campaign, community, item, value → count,
      no exclusion filter);
  (b) the full summary: campaign_summary(campaign, "community"), which reads the answer tallies,
      plus, for every item, the community × answer chi-square test and Kruskal–Wallis;
  (c) the scores as GET /api/v1/campaigns/<id>/scores makes them, by a 100-point scheme (an
      evaluator's level for every community, and the residents' satisfaction rate over the items):
      one row per counted response of its tag sums (the database sums, the rows stream), then each
      community's total with its bootstrap interval and 1,000-replicate rank intervals;
  (d) what keeping the tallies costs a submit: responses of 20 answers stored one by one through
      app.submissions.store_response (each its own transaction and commit), with the tallies kept
      and, for comparison, with the tally statement left out (patched here, not in the app).

(a) and (b) best of 3, (c) once. (b) and (c) each run in a fresh process that starts the app and
connects to the database built here, as a server worker would; its peak resident memory (VmHWM)
is the figure held against the target. Targets (issue 5): (b) no slower than (a) on both
databases, (c) under 10 s, peak memory under 300 MB. Any FAIL exits with status 1.

    .venv/bin/python bench/statistics_scale.py                                  # full size, both databases
    .venv/bin/python bench/statistics_scale.py --communities 50 --database sqlite   # a quick one
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
import tracemalloc
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def say(*args) -> None:
    print(*args, flush=True)


def stop(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# -- memory -----------------------------------------------------------------------------------

def _status_mb(field: str) -> float:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def rss_mb() -> float:
    """Resident memory now (VmRSS), MB."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """The process's peak resident memory since it started: VmHWM, or getrusage's maxrss."""
    try:
        return _status_mb("VmHWM")
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the database ----------------------------------------------------------------------------

from throwaway_db import Database, upgrade_quietly  # noqa: E402  (bench/ is on sys.path when a script runs)


# -- the campaign ----------------------------------------------------------------------------

def survey(items: int):
    from app.definitions.loader import build_survey, load_scales
    questions = [{"key": f"q{i}", "type": "likert", "scale": "satisfaction5", "required": True, "tags": ["bench:x"],
                  "text": f"您对社区第{i}项工作的满意程度如何？"} for i in range(1, items + 1)]
    raw = {"id": "bench-scale", "title": f"{items}题满意度问卷", "intro": "您好！问卷不记名。",
           "sections": [{"title": "一、满意度", "items": questions}]}
    return build_survey(raw, "<bench>", load_scales(ROOT / "surveys" / "scales.yaml"))


def build(app, kind: str, args) -> tuple[int, dict]:
    """Regions, the survey, the campaign, then responses and answers in bulk. Returns the campaign id
    and counts."""
    from app.extensions import db
    from app.models import Channel, CommunityKind, RegionLevel, Response
    from app.models.types import utcnow
    from app.staff.operations import add_region, create_campaign, sync_survey

    rng = np.random.default_rng(args.seed)
    definition = survey(args.items)
    codes = np.array([level.code for level in definition.items[0].scale.levels])  # "5" … "1", best first
    off = definition.items[0].scale.off_scale[0].code  # 'dk'
    ascending = codes[::-1]  # "1" … "5"
    item_keys = [item.key for item in definition.items]

    # A city: districts of 8 streets, streets of 12 communities.
    communities = []
    district = street = None
    for c in range(args.communities):
        if c % 96 == 0:
            district = add_region(f"D{c // 96 + 1:02d}", f"测试区{c // 96 + 1}", RegionLevel.DISTRICT)
        if c % 12 == 0:
            street = add_region(f"S{c // 12 + 1:03d}", f"测试街道{c // 12 + 1}", RegionLevel.STREET, district)
        communities.append(add_region(f"C{c + 1:04d}", f"测试社区{c + 1}", RegionLevel.COMMUNITY, street,
                                      households=3000, kind=CommunityKind.URBAN))
    version = sync_survey(definition).version
    campaign = create_campaign("全市满意度测评（压测）", version, {c: args.target for c in communities},
                               opens_at=utcnow() - timedelta(days=30))
    db.session.commit()
    campaign_id = campaign.id
    community_ids = [c.id for c in communities]
    db.session.close()

    responses = Response.__table__
    channels = [Channel.TICKET, Channel.QR, Channel.PAPER]
    item_effect = rng.normal(0, 0.25, args.items)
    cuts = np.array([-1.6, -0.8, 0.2, 1.1])  # latent → 1 … 5
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    next_id = 1
    counts = {"responses": 0, "excluded": 0, "answers": 0, "dk": 0}
    batch = max(1, 160_000 // (args.responses * args.items))  # communities per transaction
    for first in range(0, len(community_ids), batch):
        response_rows, answer_rows = [], []
        for community_id in community_ids[first:first + batch]:
            n = args.responses
            level = rng.normal(0.9, 0.45)  # the community's latent satisfaction
            latent = (level + rng.normal(0, 0.6, n)[:, None] + item_effect[None, :]
                      + rng.normal(0, 0.8, (n, args.items)))
            values = ascending[np.searchsorted(cuts, latent)].astype(object)
            values[rng.random((n, args.items)) < rng.uniform(0.01, 0.06)] = off  # 不了解/说不清
            excluded = rng.random(n) < 0.01
            ids = range(next_id, next_id + n)
            next_id += n
            for r, rid in enumerate(ids):
                submitted = start + timedelta(seconds=int(rid * 7))
                response_rows.append({
                    "id": rid, "campaign_id": campaign_id, "community_id": community_id,
                    "channel": channels[rid % 3], "started_at": submitted - timedelta(seconds=180),
                    "submitted_at": submitted, "submission_id": str(uuid.UUID(int=rid)),
                    "quality_flags": 0, "exclusion_reason": "重复提交（压测）" if excluded[r] else None})
            answer_rows.extend((rid, key, value, campaign_id, community_id)
                               for rid, row in zip(ids, values.tolist()) for key, value in zip(item_keys, row))
            counts["responses"] += n
            counts["excluded"] += int(excluded.sum())
            counts["answers"] += n * args.items
            counts["dk"] += int((values == off).sum())
        with db.engine.begin() as conn:
            conn.execute(sa.insert(responses), response_rows)
            raw = conn.connection.driver_connection
            if kind == "sqlite":
                raw.executemany("INSERT INTO answers (response_id, item, value, campaign_id, community_id) "
                                "VALUES (?, ?, ?, ?, ?)", answer_rows)
            else:
                with raw.cursor() as cursor, cursor.copy(
                        "COPY answers (response_id, item, value, campaign_id, community_id) FROM STDIN") as copy:
                    copy.write("".join(f"{a}\t{b}\t{c}\t{d}\t{e}\n" for a, b, c, d, e in answer_rows))
        del response_rows, answer_rows
    if kind == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('responses', 'id'), {next_id})")
    return campaign_id, counts


def analyze(app, kind: str, url: str) -> None:
    from app.extensions import db
    if kind == "sqlite":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        return
    import psycopg
    with psycopg.connect(sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE answers")
        conn.execute("VACUUM ANALYZE responses")
        conn.execute("ANALYZE")


# -- the three measurements ------------------------------------------------------------------

def bare_count(campaign_id: int) -> int:
    from app.extensions import db
    rows = db.session.execute(sa.text(
        "SELECT campaign_id, community_id, item, value, count(*) FROM answers WHERE campaign_id = :c "
        "GROUP BY campaign_id, community_id, item, value"), {"c": campaign_id}).all()
    db.session.rollback()
    return len(rows)


def full_summary(campaign_id: int) -> tuple[dict, list]:
    """The summary as GET /api/v1/campaigns/<id>/summary makes it: every item × community statistic
    and, per item, chi-square and Kruskal–Wallis across the communities."""
    from app.evaluation.summary import campaign_summary
    from app.extensions import db
    from app.models import Campaign
    campaign = db.session.get(Campaign, campaign_id)
    summary = campaign_summary(campaign, "community")
    tests = [(item["key"], item["comparison"]["chi_square"]["pvalue"], item["comparison"]["kruskal_wallis"]["pvalue"])
             for item in summary["items"]]
    db.session.rollback()
    return summary, tests


def count_queries(campaign_id: int, items: list[str]) -> int:
    """The queries campaign_summary runs, alone (to tell the query from the Python part of (b))."""
    from app.evaluation import queries
    from app.extensions import db
    rows = queries.answer_count_table(campaign_id, items, ["5", "4", "3", "2", "1", "dk"], "community")
    queries.respondent_table(campaign_id, "community")
    queries.campaign_regions(campaign_id, "community")
    db.session.rollback()
    return len(rows)


#: The scheme (c) scores by: an evaluator's level for the work (60 points, 分级评分法 as in Panzhihua)
#: and the residents' satisfaction rate over all the survey's items (40 points, linear), so every
#: community's total carries the survey's uncertainty.
BENCH_SCHEME = {
    "id": "bench-scheme", "title": "测试评分方案", "questionnaire": "bench-scale", "points": 100,
    "indicators": [
        {"id": "work", "label": "工作实绩", "points": 60, "method": "分级评分法",
         "levels": [{"factor": f, "label": label} for f, label in
                    [(0, "差"), (0.3, "较差"), (0.6, "一般"), (0.8, "较好"), (1, "好")]]},
        {"id": "residents", "label": "群众满意度", "points": 40, "method": "问卷调查",
         "survey": {"tags": ["bench:x"], "measure": "rate", "linear": {"zero": 0, "full": 100}}},
    ]}


def bench_scheme():
    from app.definitions.schemes import build_scheme
    return build_scheme(BENCH_SCHEME, "<bench>")


def enter_levels(campaign_id: int, community_ids: list[int], seed: int) -> None:
    """Every community's level for the scheme's entered indicator, as evaluators would have entered it."""
    from app.extensions import db
    from app.models.scoring import IndicatorEntry
    rng = np.random.default_rng(seed)
    factors = rng.choice([0.3, 0.6, 0.8, 1.0], size=len(community_ids), p=[0.1, 0.3, 0.4, 0.2])
    db.session.execute(sa.insert(IndicatorEntry), [
        {"campaign_id": campaign_id, "scheme_id": "bench-scheme", "community_id": c, "indicator_id": "work",
         "value": float(f)} for c, f in zip(community_ids, factors)])
    db.session.commit()


def scores(campaign_id: int, replicates: int, seed: int) -> dict:
    """The scores as GET /api/v1/campaigns/<id>/scores makes them (app.evaluation.scores.campaign_scores):
    the database sums each counted response's answers per tag (one row per response, streamed), then
    every community's total with its bootstrap interval and the 1,000-replicate rank intervals."""
    from app.evaluation import scores as scoring
    from app.extensions import db
    from app.models import Campaign
    campaign = db.session.get(Campaign, campaign_id)
    scheme = bench_scheme()
    started = time.perf_counter()
    tallies = scoring.tag_tallies(campaign, tuple(sorted(scheme.survey_tags)))
    fetched = time.perf_counter()
    del tallies
    result = scoring.campaign_scores(campaign, scheme, replicates=replicates, seed=seed)
    done = time.perf_counter()
    db.session.rollback()
    ranked = [c for c in result["communities"] if c["rank_interval"] is not None]
    width = np.array([c["rank_interval"]["high"] - c["rank_interval"]["low"] for c in ranked])
    apart = sum(len(c["not_told_apart_from"]) for c in ranked) // 2
    return {"fetch": fetched - started, "scores": done - fetched, "respondents": sum(c["respondents"] for c in ranked),
            "communities": len(ranked), "median_width": float(np.median(width)), "max_width": int(width.max()),
            "pairs_apart": apart, "pairs": len(ranked) * (len(ranked) - 1) // 2}


def timed(fn, *a):
    started = time.perf_counter()
    value = fn(*a)
    return time.perf_counter() - started, value


def traced_peak(fn, *a) -> float:
    """Peak of Python-side allocations (numpy's included) while fn runs, MB."""
    tracemalloc.start()
    try:
        fn(*a)
        return tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


# -- (b) and (c) in a fresh process -----------------------------------------------------------

def phase_main(args) -> int:
    """One measured phase, (b) or (c), in this fresh process: start the app, connect to the database
    the parent built, run the phase; print its figures as one JSON line. The peak resident memory
    counts from the start of the process, as a server worker's would."""
    from app import create_app
    from app.analysis import comparisons  # noqa: F401  (imported before the baseline, as a worker has it)
    from app.evaluation import summary  # noqa: F401
    from app.extensions import db
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": args.url, "SURVEYS_DIR": str(ROOT / "surveys")})
    gc.collect()
    gc.freeze()  # as wsgi.py does once the app is made
    with app.app_context():
        db.session.execute(sa.text("SELECT 1")).all()
        db.session.rollback()
        result = {"baseline": rss_mb()}
        if args.phase == "b":
            items = [f"q{i}" for i in range(1, args.items + 1)]
            q_times = [timed(count_queries, args.campaign, items)[0] for _ in range(3)]
            b_times, tests = [], []
            for _ in range(3):
                t, (summary_, tests) = timed(full_summary, args.campaign)
                b_times.append(t)
                del summary_
            result |= {"times": b_times, "query_times": q_times, "peak": peak_rss_mb(),
                       "chi2_p": max(t[1] for t in tests), "kw_p": max(t[2] for t in tests)}
            result["traced"] = traced_peak(full_summary, args.campaign)
        else:
            c = scores(args.campaign, args.replicates, args.seed)
            result |= {"time": c["scores"], "peak": peak_rss_mb(), **c}
            result["traced"] = traced_peak(scores, args.campaign, args.replicates, args.seed)
        db.session.remove()
        db.engine.dispose()
    print(json.dumps(result), flush=True)
    return 0


def in_fresh_process(phase: str, url: str, campaign_id: int, args) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--url", url,
               "--campaign", str(campaign_id), "--items", str(args.items), "--replicates", str(args.replicates),
               "--seed", str(args.seed)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- (d) the submit path ---------------------------------------------------------------------

def submit_cost(campaign_id: int, community_ids: list[int], args) -> dict:
    """Store args.submits responses through store_response with the tallies kept and as many with
    the tally statement left out, in alternating blocks (so drift in the machine's load falls on
    both alike), into two campaigns of their own; after warm-up submits of each."""
    from app.evaluation import tallies
    from app.extensions import db
    from app.models import Campaign, Channel, Region
    from app.models.types import utcnow
    from app.staff.operations import create_campaign
    from app.submissions import NewResponse, StoreOutcome, store_response

    version = db.session.get(Campaign, campaign_id).survey_version
    members = [db.session.get(Region, c) for c in community_ids[:args.submit_communities]]
    kept, left_out = (create_campaign(f"提交开销（{name}）", version, {c: 100 for c in members},
                                      opens_at=utcnow() - timedelta(days=1)) for name in ("记数", "不记数"))
    db.session.commit()
    kept_id, left_out_id = kept.id, left_out.id
    member_ids = [c.id for c in members]
    db.session.close()
    rng = np.random.default_rng(args.seed + 1)
    codes = ["1", "2", "3", "4", "5", "dk"]

    def new(campaign: int) -> NewResponse:
        values = rng.choice(codes, size=args.items, p=[0.05, 0.1, 0.25, 0.35, 0.2, 0.05])
        return NewResponse(campaign_id=campaign, community_id=int(rng.choice(member_ids)), channel=Channel.QR,
                           submission_id=uuid.uuid4().hex, submitted_at=utcnow(),
                           answers=[(f"q{i + 1}", (str(v), None, None)) for i, v in enumerate(values)])

    real = tallies.add_responses
    spent = {"tally": 0.0}

    def kept_timed(response_ids, sign=1):
        started = time.perf_counter()
        real(response_ids, sign)
        spent["tally"] += time.perf_counter() - started

    def left_out_(response_ids, sign=1):
        pass

    ways = {"kept": (kept_id, kept_timed), "left out": (left_out_id, left_out_)}
    totals = {"kept": 0.0, "left out": 0.0}
    block = 250
    try:
        for way, (campaign, add) in ways.items():  # warm-up: statement caches, connections
            tallies.add_responses = add
            for _ in range(50):
                store_response(new(campaign))
        spent["tally"] = 0.0
        for i in range(0, args.submits, block):
            for way in (("kept", "left out") if i // block % 2 == 0 else ("left out", "kept")):
                campaign, add = ways[way]
                batch = [new(campaign) for _ in range(min(block, args.submits - i))]
                tallies.add_responses = add
                started = time.perf_counter()
                for response in batch:
                    if store_response(response) is not StoreOutcome.STORED:
                        raise RuntimeError("a bench submit was not stored")
                totals[way] += time.perf_counter() - started
    finally:
        tallies.add_responses = real
    differences = tallies.differences(kept_id)
    db.session.rollback()
    n = args.submits
    return {"kept_ms": totals["kept"] / n * 1000, "left_out_ms": totals["left out"] / n * 1000,
            "tally_ms": spent["tally"] / n * 1000, "differences": len(differences)}


# -- one database --------------------------------------------------------------------------

def run(kind: str, args) -> dict:
    from app import create_app
    from app.config import database_url
    from app.evaluation import tallies
    from app.extensions import db
    database = Database(kind, args.pg_url)
    try:
        database.create()
        say(f"\n== {database.version} ({'temporary file' if kind == 'sqlite' else 'throwaway database'}) ==")
        url = database_url(database.url, "/tmp")
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "SURVEYS_DIR": str(ROOT / "surveys")})
        with app.app_context():
            upgrade_quietly()
            started = time.perf_counter()
            campaign_id, counts = build(app, kind, args)
            loaded = time.perf_counter()
            analyze(app, kind, database.url)
            built = time.perf_counter()
            say(f"built {args.communities} communities × {args.responses} responses × {args.items} items: "
                f"{counts['responses']:,} responses ({counts['excluded']:,} excluded), {counts['answers']:,} answers "
                f"({counts['dk']:,} dk) in {loaded - started:.1f} s + {'ANALYZE' if kind == 'sqlite' else 'VACUUM ANALYZE'} "
                f"{built - loaded:.1f} s")
            rebuild_s, tally_rows = timed(tallies.rebuild, campaign_id)
            db.session.commit()
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE answer_tallies")
            check_s, drift = timed(tallies.differences, campaign_id)
            db.session.rollback()
            say(f"tallies: rebuilt from the answers in {rebuild_s:.2f} s ({tally_rows:,} rows); checked against a "
                f"fresh count of the counted answers in {check_s:.2f} s: {len(drift)} differences")
            community_ids = db.session.scalars(sa.text(
                "SELECT community_id FROM campaign_communities WHERE campaign_id = :c ORDER BY community_id"),
                {"c": campaign_id}).all()
            enter_levels(campaign_id, community_ids, args.seed)
            db.session.close()

            a_times = []
            for _ in range(3):
                t, groups = timed(bare_count, campaign_id)
                a_times.append(t)
            say(f"(a) bare GROUP BY over the answers: {groups:,} rows; runs " + ", ".join(f"{t:.2f}" for t in a_times) + " s")
            db.session.remove()
            db.engine.dispose()  # (no connection of ours open while the phases run)

            b = in_fresh_process("b", url, campaign_id, args)
            say("(b) full summary (from the tallies) + chi-square + Kruskal–Wallis per item: runs "
                + ", ".join(f"{t:.3f}" for t in b["times"])
                + f" s; of which the summary's queries alone (best of 3) {min(b['query_times']):.3f} s "
                f"(runs {', '.join(f'{t:.3f}' for t in b['query_times'])}), the rest Python "
                f"{min(b['times']) - min(b['query_times']):.3f} s; largest p-value over items: chi-square "
                f"{b['chi2_p']:.2g}, KW {b['kw_p']:.2g}")
            say(f"    peak memory (fresh process): {b['peak']:.0f} MB resident ({b['baseline']:.0f} MB after imports "
                f"and connecting), Python allocations {b['traced']:.0f} MB (tracemalloc, separate run)")

            c = in_fresh_process("c", url, campaign_id, args)
            say(f"(c) scores by a 100-point scheme (an entered level, 60; the satisfaction rate over the {args.items} "
                f"items, 40), {args.replicates}-replicate intervals and rank intervals, as the scores API makes "
                f"them: {c['time']:.2f} s, of which the per-response tag sums alone {c['fetch']:.2f} s "
                f"({c['respondents']:,} respondents, {c['communities']} communities ranked); rank interval width "
                f"median {c['median_width']:.0f}, max {c['max_width']}; {c['pairs_apart']:,} of {c['pairs']:,} "
                f"pairs not told apart")
            say(f"    peak memory (fresh process): {c['peak']:.0f} MB resident ({c['baseline']:.0f} MB after imports "
                f"and connecting), Python allocations {c['traced']:.0f} MB (tracemalloc, separate run)")

            d = submit_cost(campaign_id, community_ids, args)
            say(f"(d) submits of {args.items} answers through store_response, {args.submits:,} each way into "
                f"{args.submit_communities} communities: {d['kept_ms']:.2f} ms per submit with the tallies kept, "
                f"{d['left_out_ms']:.2f} ms with the tally statement left out (+{d['kept_ms'] - d['left_out_ms']:.2f} ms, "
                f"×{d['kept_ms'] / d['left_out_ms']:.2f}); the tally statement alone {d['tally_ms']:.2f} ms; "
                f"{d['differences']} differences from a fresh count")
            db.session.remove()
            db.engine.dispose()
        return {"database": database.version, "a": min(a_times), "b": min(b["times"]), "c": c["time"],
                "peak_b": b["peak"], "peak_c": c["peak"], "base_b": b["baseline"], "rebuild": rebuild_s,
                "drift": len(drift) + d["differences"], **d}
    finally:
        database.drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="an admin connection to the PostgreSQL server that makes (and drops) the throwaway database")
    parser.add_argument("--communities", type=int, default=742)
    parser.add_argument("--responses", type=int, default=400, help="responses per community")
    parser.add_argument("--items", type=int, default=20, help="five-level satisfaction items in the survey")
    parser.add_argument("--target", type=int, default=384, help="each community's target sample")
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--submits", type=int, default=2000, help="(d): submits with the tallies kept, and as many without")
    parser.add_argument("--submit-communities", type=int, default=20, help="(d): communities the submits go to")
    # A measured phase in a fresh process (run by the script itself).
    parser.add_argument("--phase", choices=["b", "c"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--campaign", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return phase_main(args)
    signal.signal(signal.SIGTERM, stop)

    started = time.perf_counter()
    say(f"Minyi statistics at a city's size, {date.today().isoformat()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f} before start")
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = [run(kind, args) for kind in kinds]

    say(f"\n== {args.communities} communities × {args.responses} responses × {args.items} items; "
        f"(a), (b) best of 3, (c) once; peak = resident high-water of the fresh process running (b), (c); "
        f"submit = ms per store_response with the tallies kept / left out ==")
    say(f"{'database':18} {'(a) s':>7} {'(b) s':>7} {'b/a':>6} {'(c) s':>7} {'peak MB (b)':>12} {'peak MB (c)':>12} "
        f"{'rebuild s':>10} {'submit ms':>12} {'overhead':>9}")
    failures = checks = 0
    lines = []
    for r in results:
        say(f"{r['database']:18} {r['a']:7.2f} {r['b']:7.3f} {r['b'] / r['a']:6.3f} {r['c']:7.2f} "
            f"{r['peak_b']:12.0f} {r['peak_c']:12.0f} {r['rebuild']:10.2f} "
            f"{r['kept_ms']:5.2f} / {r['left_out_ms']:4.2f} {r['kept_ms'] / r['left_out_ms']:8.2f}×")
        peak = max(r["peak_b"], r["peak_c"])
        for ok, text in [(r["b"] <= r["a"], f"(b) no slower than (a): b/a = {r['b'] / r['a']:.3f}"),
                         (r["c"] < 10, f"(c) under 10 s: {r['c']:.2f} s"),
                         (peak < 300, f"peak memory under 300 MB: {peak:.0f} MB"),
                         (r["drift"] == 0, f"tallies equal a fresh count of the counted answers: {r['drift']} differences")]:
            checks += 1
            failures += not ok
            lines.append(f"  {'PASS' if ok else 'FAIL'}  {r['database']}: {text}")
    for line in lines:
        say(line)
    say(f"{'FAIL' if failures else 'PASS'}: {failures} failed check(s) of {checks}; total "
        f"{time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.2f} at the end")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
