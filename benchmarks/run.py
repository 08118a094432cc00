"""The benchmark: a fake portal over HTTPS on loopback, each contender in its own process.

Usage: python -m benchmarks [--objects 50000 ...] [--db-url mysql+pymysql://root:@127.0.0.1:3306/]

The parent process seeds the fake portal (50 ms latency per request, a per-row
server cost, leaky bucket 2/s burst 50) and creates a throw-away MariaDB/MySQL
database; every measured run is a child process (`--child KIND`), so its wall
time and peak RSS are its own and the portal does not share its interpreter.
The portal's bucket and operating windows are emptied before each run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from benchmarks.resync import change_portal, mismatches  # noqa: E402  (after the path)

FULL_RUN = "bitrix-sync: first full sync"
NOOP_RUN = "bitrix-sync: no-op re-sync"
CHANGED_RUN = "bitrix-sync: 1% changed, some added/removed"
AGAIN_RUN = "bitrix-sync: full re-read after them"



def peak_rss_mb() -> float | None:
    """Peak resident memory of this process in MB.

    Linux: VmHWM of /proc/self/status (getrusage's ru_maxrss would carry the
    parent's size over fork and exec); Windows: psutil's peak working set;
    elsewhere: resource's ru_maxrss; last resort: psutil's current RSS.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        peak = getattr(psutil.Process().memory_info(), "peak_wset", None)
        if peak:
            return peak / 2**20
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    except ImportError:
        pass
    return psutil.Process().memory_info().rss / 2**20 if psutil is not None else None


# --- children ---------------------------------------------------------------------------------


def _child(kind: str, webhook: str, db_url: str, rate: float, burst: int) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any] = {}
    if kind in ("ours", "ours-full"):
        from app.config import load_settings
        from app.sync.runner import RunOptions, run_sync
        from app.testing.seed import DEMO_MAPPING

        with tempfile.TemporaryDirectory() as empty:
            settings = load_settings(environ={
                "BITRIX_WEBHOOK_URL": webhook, "DATABASE_URL": db_url,
                "BITRIX_RATE_LIMIT": str(rate), "BITRIX_RATE_BURST": str(burst)},
                project_dir=Path(empty))
            started = time.perf_counter()
            report = run_sync(settings, RunOptions(trigger="benchmark", full=kind == "ours-full"),
                              overrides=DEMO_MAPPING)
        totals = report.totals
        result = {"records": totals["fetched"], "ok": report.ok,
                  "written": totals["created"] + totals["updated"] + totals["deactivated"],
                  "modes": sorted({d.mode for d in report.directories.values()})}
    elif kind == "naive":
        from benchmarks.naive import naive_sync

        started = time.perf_counter()
        result = {"records": naive_sync(webhook, db_url), "ok": True}
    elif kind in ("fast_bitrix24", "b24pysdk"):
        import warnings

        from benchmarks import peers

        reader = peers.read_fast_bitrix24 if kind == "fast_bitrix24" else peers.read_b24pysdk
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            result = {"records": reader(webhook), "ok": True}
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = peak_rss_mb()
    return result


# --- parent -----------------------------------------------------------------------------------


def _database(admin_url: str, name: str, *, create: bool) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        if create:
            conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 "
                              "COLLATE utf8mb4_unicode_ci"))
    admin.dispose()
    base, _, query = admin_url.partition("?")
    url = base.rstrip("/") + f"/{name}" + (f"?{query}" if query else "")
    if create:
        from app.db.connect import make_engine
        from app.db.schema import create_builtin_tables

        engine = make_engine(url)
        create_builtin_tables(engine)
        engine.dispose()
    return url


def _run_child(kind: str, portal, db_url: str, args, env: dict[str, str]) -> dict[str, Any]:
    portal.reset_limits()
    portal.reset_stats()
    command = [sys.executable, "-m", "benchmarks.run", "--child", kind, "--webhook",
               portal.webhook_url, "--db-url", db_url, "--rate", str(args.rate),
               "--burst", str(args.burst)]
    done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True,
                          timeout=args.timeout)
    requests = portal.requests
    if done.returncode != 0 or not done.stdout.strip():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit code {done.returncode}"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["requests"] = len(requests)
    result["served"] = sum(r.rows for r in requests)
    result["limited"] = sum(1 for r in requests if r.status == 503)
    if kind.startswith("ours"):
        result["mismatches"] = mismatches(portal, db_url)
    return result


def _fake_portal_costs(objects: int = 50_000) -> dict[str, float]:
    """The fake portal's own cost, without latency or row cost: seeding `objects` objects and
    answering one filtered page near their end (tests/test_fake_portal.py pages the same
    50,000 and counts on both being cheap)."""
    import requests

    from app.testing.portal import FakePortal
    from app.testing.seed import OBJECT_ENTITY_TYPE_ID, seed_portal

    portal = FakePortal()
    began = time.perf_counter()
    info = seed_portal(portal, objects=objects)
    seeded = time.perf_counter() - began
    with portal:
        params = {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "start": 0,
                  "filter": {">id": info.object_ids[-120]}}
        began = time.perf_counter()
        requests.post(portal.webhook_url + "crm.item.list", json=params,
                      timeout=60).raise_for_status()
        page = time.perf_counter() - began
    return {"objects": objects, "seed_seconds": seeded, "page_seconds": page}


def _row(label: str, result: dict[str, Any]) -> list[str]:
    if "error" in result:
        return [label, "-", "-", "-", "-", "-", "-", "-", "failed: " + result["error"][:100]]
    seconds = result["seconds"]
    rss = result.get("peak_rss_mb")
    written = result.get("written")
    notes = []
    if "mismatches" in result:
        notes.append("DB = portal" if not result["mismatches"]
                     else f"{result['mismatches']} rows differ")
    if result.get("limited"):
        notes.append(f"{result['limited']} x 503")
    return [label, f"{result['records']:,}", str(result["requests"]), f"{result['served']:,}",
            f"{seconds:.2f}", f"{rss:.0f}" if rss else "n/a",
            "-" if written is None else f"{written:,}", "/".join(result.get("modes", [])) or "-",
            ", ".join(notes)]


def _table(rows: list[list[str]]) -> str:
    from app.text import render_table

    head = ["run", "records read", "HTTP requests", "rows served", "wall s", "peak RSS MB",
            "rows written", "mode", "note"]
    return "\n".join(render_table([head, *rows], right=range(1, len(head) - 2), rule=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cities", type=int, default=300)
    parser.add_argument("--objects", type=int, default=50_000)
    parser.add_argument("--categories", type=int, default=60)
    parser.add_argument("--violations", type=int, default=3_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--db-url", default="mysql+pymysql://root:@127.0.0.1:3306/?charset=utf8mb4",
                        help="server URL without a database name; a throw-away database is "
                             "created there and dropped at the end")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--row-cost", type=float, default=0.0002,
                        help="server seconds per row returned")
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--skip-naive", action="store_true",
                        help="skip the naive reference (it takes about ten minutes at 2 req/s)")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--webhook", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        result = _child(args.child, args.webhook, args.db_url, args.rate, args.burst)
        print(json.dumps(result))
        return 0

    from app.testing.portal import FakePortal, self_signed_tls
    from app.testing.seed import seed_portal

    fake_costs = _fake_portal_costs()
    run_id = uuid.uuid4().hex[:8]
    ours_db = naive_db = None
    with tempfile.TemporaryDirectory() as folder:
        # HTTPS for everyone: Bitrix24 is HTTPS-only and b24pysdk only speaks https://.
        context, cert = self_signed_tls(Path(folder))
        env = {**os.environ, "REQUESTS_CA_BUNDLE": str(cert), "SSL_CERT_FILE": str(cert),
               "PYTHONPATH": str(PROJECT)}
        portal = FakePortal(latency=args.latency, row_cost=args.row_cost, rate_limit=args.rate,
                            burst=args.burst, ssl_context=context).start()
        try:
            seed_portal(portal, cities=args.cities, objects=args.objects,
                        categories=args.categories, violations=args.violations,
                        users=args.users)
            total = args.cities + args.objects + args.categories + args.violations + args.users
            print(f"Fake portal: {total:,} records, latency {args.latency * 1000:g} ms, row cost "
                  f"{args.row_cost * 1000:g} ms, limit {args.rate:g}/s burst {args.burst}; "
                  f"database: MariaDB/MySQL at {args.db_url.split('@')[-1].split('/')[0]}",
                  file=sys.stderr)
            ours_db = _database(args.db_url, f"bench_{run_id}", create=True)
            rows, results = [], {}
            for label, kind in ((FULL_RUN, "ours"), (NOOP_RUN, "ours"), (CHANGED_RUN, "ours"),
                                (AGAIN_RUN, "ours-full")):
                if label == CHANGED_RUN:
                    print(f"  portal changes: {change_portal(portal)}", file=sys.stderr)
                results[label] = _run_child(kind, portal, ours_db, args, env)
                rows.append(_row(label, results[label]))
                print("  " + " | ".join(rows[-1]), file=sys.stderr)
            contenders = []
            if not args.skip_peers:
                contenders += [("fast_bitrix24 get_all (read only)", "fast_bitrix24"),
                               ("b24pysdk as_list_fast (read only)", "b24pysdk")]
            if not args.skip_naive:
                naive_db = _database(args.db_url, f"bench_{run_id}_naive", create=True)
                contenders.append(("naive reference: full sync", "naive"))
            for label, kind in contenders:
                results[label] = _run_child(kind, portal, naive_db or ours_db, args, env)
                rows.append(_row(label, results[label]))
                print("  " + " | ".join(rows[-1]), file=sys.stderr)
        finally:
            portal.stop()
            for name in filter(None, (ours_db, naive_db)):
                _database(args.db_url, name.rsplit("/", 1)[-1].split("?")[0], create=False)
    print(_table(rows))
    print()
    print(_verdict(results, total, fake_costs))
    if not args.skip_peers:
        from benchmarks.peers import NOTES

        print("\nHow the peers ran (the portal is HTTPS with a self-signed certificate):")
        for peer, note in NOTES.items():
            print(f"  {peer}: {note}")
    return 0


def _verdict(results: dict[str, dict[str, Any]], total: int,
             fake_costs: dict[str, float]) -> str:
    full = results.get(FULL_RUN, {})
    noop = results.get(NOOP_RUN, {})
    changed = results.get(CHANGED_RUN, {})
    again = results.get(AGAIN_RUN, {})
    fake = (f"The fake portal alone: seeding {fake_costs['objects']:,} objects took "
            f"{fake_costs['seed_seconds']:.2f} s (target < 2 s), a filtered page near their "
            f"end {fake_costs['page_seconds']:.3f} s (target < 0.5 s)")
    lines = []
    if "error" in full or not full:
        return "Our first full sync failed; no comparison.\n" + fake
    budget = math.ceil(total / 2500) + 10
    lines.append(f"HTTP requests of the full sync: {full['requests']} (target <= {budget})")
    if "written" in noop:
        lines.append(f"Rows written by the no-op re-sync: {noop['written']} (target 0)")
        lines.append(f"No-op re-sync: {noop['requests']} HTTP requests (target <= 2), "
                     f"{noop['served']:,} rows served = {noop['served'] / full['served']:.2%} of "
                     "the full read's (target <= 1%)")
    if "requests" in changed:
        lines.append(f"1% re-sync: {changed['requests']} HTTP requests (target <= 10), "
                     f"{changed['served']:,} rows served")
    for label in (NOOP_RUN, CHANGED_RUN, AGAIN_RUN):
        if "mismatches" in results.get(label, {}):
            lines.append(f"{label}: {results[label]['mismatches']} rows differ from the portal "
                         "(target 0)")
    if "written" in again:
        lines.append(f"Rows the full re-read found to fix after the incremental runs: "
                     f"{again['written']} (target 0)")
    rss = max((r.get("peak_rss_mb") or 0) for k, r in results.items() if k.startswith("bitrix"))
    lines.append(f"Peak RSS of our runs: {rss:.0f} MB (target < 300 MB)")
    peers = {k: r for k, r in results.items() if "read only" in k and "error" not in r}
    for label, result in peers.items():
        lines.append(f"Our full sync / {label.split(' (')[0]} read: "
                     f"{full['seconds'] / result['seconds']:.2f} (target < 1 for the faster peer)")
    naive = results.get("naive reference: full sync")
    if naive and "error" not in naive:
        lines.append(f"Speed-up over the naive reference: {naive['seconds'] / full['seconds']:.0f}x"
                     " (target >= 20x)")
    for label, result in results.items():
        if "error" in result:
            lines.append(f"{label}: could not run: {result['error']}")
    lines.append(fake)
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
