"""The benchmark: our sync and two peer libraries on one fake portal, one sitting, one table.

Usage: python -m benchmarks [--quick] [--sizes 20k,58k,208k] [--memory-run 1m] [...]

Per size, a fresh fake portal over HTTPS on loopback (50 ms latency per request,
0.1 ms per row served, leaky bucket 2 requests/s with burst 50, as in issue 17) and a
throw-away MariaDB/MySQL database. On it, in this order: our full sync, a no-op re-sync,
a re-sync after 1% of the records changed and a few were added and removed, a `--full`
re-read (which must find nothing to fix), then fast_bitrix24 `get_all` and b24pysdk
`as_list_fast` reading the same portal (read only). The memory run syncs one directory
of a million objects (`--sync object`) and re-reads it with `--full`. Every run is the
real `python cli.py` in a process of its own (benchmarks/probe.py), so its wall clock,
CPU and peak RSS are its own; after each of ours the database is compared with the
portal row by row. `python cli.py --help` is timed too.

The output is Markdown (Russian; English with SYNC_LANG=en) on stdout, ready for
README.md and docs/performance.md; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from benchmarks import sitting as s  # noqa: E402  (after the path)

DEFAULT_SIZES = "20k,58k,208k"
QUICK_SIZES = "20k,58k"
DEFAULT_MEMORY_ROWS = "1m"
QUICK_MEMORY_ROWS = "100k"
_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@/\s]+@")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help=f"portal sizes over the five directories, comma-"
                        f"separated: 20k, 58k (58,360 records), 208k, or any number such as "
                        f"1500 or 75k (default {DEFAULT_SIZES})")
    parser.add_argument("--memory-run", metavar="ROWS",
                        help=f"rows of the one-directory memory run, 0 to skip "
                             f"(default {DEFAULT_MEMORY_ROWS})")
    parser.add_argument("--quick", action="store_true",
                        help=f"a short sitting: --sizes {QUICK_SIZES} --memory-run "
                             f"{QUICK_MEMORY_ROWS}, no check of the fake portal's own speed")
    parser.add_argument("--help-runs", type=int, default=5,
                        help="how many times `python cli.py --help` is started (median)")
    parser.add_argument("--db-url", default="mysql+pymysql://root:@127.0.0.1:3306/?charset=utf8mb4",
                        help="server URL without a database name; a throw-away database is "
                             "created there per size and dropped after it")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--row-cost", type=float, default=0.0001,
                        help="server seconds per row returned")
    parser.add_argument("--rate", type=float, default=2.0, help="requests per second")
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--skip-peers", action="store_true",
                        help="leave out fast_bitrix24 and b24pysdk")
    parser.add_argument("--naive", action="store_true",
                        help="also run the naive reference (one request per page, row-by-row "
                             "ORM; about ten minutes at 58k)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    return parser


def plan(args: argparse.Namespace) -> list[s.Size]:
    """The sizes of the sitting, the memory run last."""
    sizes = [s.five_directories(token) for token in
             (args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)).split(",")
             if token.strip()]
    rows = s.parse_count(args.memory_run or (QUICK_MEMORY_ROWS if args.quick
                                             else DEFAULT_MEMORY_ROWS))
    if rows:
        sizes.append(s.one_directory(rows))
    return sizes


def command_line(argv: list[str]) -> str:
    """The command as typed, a password in --db-url masked (it goes into README.md)."""
    return _PASSWORD.sub(r"\1***@", shlex.join(["python", "-m", "benchmarks", *argv]))


def _language() -> None:
    from app.messages import LANGUAGES, set_language

    wanted = os.environ.get("SYNC_LANG", "").strip().lower()
    if wanted in LANGUAGES:
        set_language(wanted)


def sit(args: argparse.Namespace, argv: list[str], tell) -> s.Sitting:
    """Run every measured process of one sitting and keep what they measured."""
    from app.testing.portal import self_signed_tls

    sitting = s.Sitting(command=command_line(argv),
                        started=time.time(),
                        settings={"latency": args.latency, "row_cost": args.row_cost,
                                  "rate": args.rate, "burst": args.burst})
    sitting.machine = {**s.machine(), "database": s.server_version(args.db_url)}
    # As on a user's machine after the first run (and as the test suite does): app/ loads
    # from bytecode, not compiled again by every measured process (this workplace sets
    # PYTHONDONTWRITEBYTECODE, so no run would ever write it).
    compileall.compile_dir(PROJECT / "app", quiet=1)
    sizes = sitting.sizes = plan(args)
    if not args.quick:
        tell("checking the fake portal's own speed")
        sitting.portal_check = s.portal_self_check()
    with tempfile.TemporaryDirectory() as folder:
        # HTTPS for everyone: Bitrix24 is HTTPS-only and b24pysdk only speaks https://.
        context, cert = self_signed_tls(Path(folder))
        project = Path(folder) / "project"
        project.mkdir()
        env = s.clean_environ(project, s.trust_store(cert, Path(folder)))
        mapping = s.write_mapping(Path(folder))
        if args.help_runs > 0:
            sitting.runs.append(s.help_runs(env, args.help_runs))
        for size in sizes:
            sitting.runs += s.SizeRuns(size, args, env, context, mapping).all(tell)
    sitting.finished = time.time()
    return sitting


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    _language()
    try:
        plan(args)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2

    def tell(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    from benchmarks.report import render

    sitting = sit(args, argv, tell)
    print(render(sitting, peers_ran=not args.skip_peers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
