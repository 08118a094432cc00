"""Command line: sync Bitrix24 directories into the local database once."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run from any folder (cron)

from app.config import load_settings  # noqa: E402
from app.errors import SyncError  # noqa: E402
from app.logging_setup import force_utf8_console, setup_logging  # noqa: E402
from app.masking import mask  # noqa: E402
from app.report import SyncReport  # noqa: E402
from app.runner import RunOptions, run_sync  # noqa: E402
from app.status import gather_status, parse_age  # noqa: E402
from app.sync_engine import fatal_report  # noqa: E402
from app.syncers import SYNCERS  # noqa: E402

log = logging.getLogger("bitrix_sync")

EXIT_CODES = """exit codes:
  0  everything synced
  1  finished, but some records or directories failed (see the report);
     with --status --max-age: no successful run within AGE
  2  usage, settings, mapping or database schema error: nothing was written
  3  cannot reach or authenticate to Bitrix24 or the database
  4  another sync is running against the same database: this one did not start"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python cli.py",
        description="One-way sync of Bitrix24 directories into the local database.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sync", nargs="+", metavar="NAME", choices=list(SYNCERS),
                        help=f"directories to sync (default: all): {' '.join(SYNCERS)}")
    parser.add_argument("--webhook-url", metavar="URL",
                        help="Bitrix24 webhook URL (overrides BITRIX_WEBHOOK_URL)")
    parser.add_argument("--env-file", metavar="PATH", type=Path,
                        help="read settings from this .env file first")
    parser.add_argument("--json", action="store_true",
                        help="print the report as one JSON object on stdout")
    parser.add_argument("--allow-mass-deactivation", action="store_true",
                        help="deactivate even when more than half of a directory vanished")
    parser.add_argument("--init-db", action="store_true",
                        help="create the built-in tables on an empty database, then exit")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging and full tracebacks")
    # Operations: run history and the health check.
    parser.add_argument("--status", action="store_true",
                        help="show the last runs, the last success and the next scheduled run, "
                             "then exit (needs only the database settings)")
    parser.add_argument("--max-age", metavar="AGE", type=parse_age,
                        help="with --status: exit 1 when the last successful run is older than "
                             "AGE (units s, m, h, d, e.g. 26h) or there is none")
    # Set by sync-cron.sh / sync-cron.ps1 so the run history tells cron runs apart.
    parser.add_argument("--trigger", choices=("cli", "cron"), default="cli",
                        help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    force_utf8_console()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.max_age is not None and not args.status:
            parser.error("--max-age works only with --status")
    except SystemExit as exc:
        return int(exc.code or 0)
    setup_logging("INFO", verbose=args.verbose)
    try:
        return _run(args)
    except SyncError as exc:
        return _fail(args, fatal_report(exc))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # the boundary: one line unless --verbose
        if args.verbose:
            log.exception("Unexpected error")
        return _fail(args, fatal_report(SyncError(
            f"Unexpected error: {type(exc).__name__}: {mask(exc)} "
            "(run with --verbose for the traceback)")))


def _run(args: argparse.Namespace) -> int:
    overrides = {"BITRIX_WEBHOOK_URL": args.webhook_url} if args.webhook_url else None
    settings = load_settings(env_file=args.env_file, overrides=overrides,
                             require_webhook=not (args.init_db or args.status))
    setup_logging(settings.log_level, log_file=settings.log_file, verbose=args.verbose)
    if args.init_db:
        return _init_db(settings)
    if args.status:
        return _status(args, settings)
    options = RunOptions(names=tuple(args.sync or ()),
                         allow_mass_deactivation=args.allow_mass_deactivation,
                         trigger=args.trigger)
    report = run_sync(settings, options)
    if report.fatal and not report.directories:
        return _fail(args, report)  # nothing ran (e.g. another sync holds the lock): one line
    _print(args, report)
    return report.exit_code


def _init_db(settings) -> int:
    from app.database import check_connection, create_builtin_tables, make_engine

    engine = make_engine(settings.database_url)
    check_connection(engine)
    created = create_builtin_tables(engine)
    engine.dispose()
    print("Created tables: " + ", ".join(created) if created else "All tables already exist.")
    return 0


def _status(args: argparse.Namespace, settings) -> int:
    status = gather_status(settings, max_age=args.max_age)
    print(json.dumps(status.to_dict(), ensure_ascii=False) if args.json else status.render())
    return status.exit_code


def _print(args: argparse.Namespace, report: SyncReport) -> None:
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
    else:
        print(report.render_table())


def _fail(args: argparse.Namespace, report: SyncReport) -> int:
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
    else:
        print(f"error: {report.fatal}", file=sys.stderr)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
