"""Command line: sync Bitrix24 directories into the local database once."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run from any folder (cron)

from app.bootstrap import require_python  # standard library only

require_python()  # before imports that an old Python cannot even parse

try:
    from app.commands import handlers
    from app.commands.progress import live_progress, progress_wanted
    from app.commands.status import gather_status, parse_age
    from app.config import console_language, load_settings
    from app.errors import INTERRUPTED, SyncError, exit_codes_help, unexpected_error
    from app.logging_setup import CLI_CONSOLE, force_utf8_console, setup_logging
    from app.masking import MaskingArgumentParser
    from app.messages import say, set_language
    from app.report import SyncReport
    from app.sync.runner import RunOptions, run_sync
    from app.syncers import SYNCERS
except ModuleNotFoundError as exc:  # a cron or Task Scheduler run outside the venv, most often
    from app.bootstrap import exit_missing_package

    exit_missing_package(exc)

log = logging.getLogger("bitrix_sync")

def build_parser() -> argparse.ArgumentParser:
    parser = MaskingArgumentParser(
        prog="python cli.py",
        description="One-way sync of Bitrix24 directories into the local database.",
        epilog=exit_codes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sync", nargs="+", metavar="NAME", choices=list(SYNCERS),
                        help=f"directories to sync (default: all): {' '.join(SYNCERS)}")
    parser.add_argument("--webhook-url", metavar="URL",
                        help="Bitrix24 webhook URL (overrides BITRIX_WEBHOOK_URL); its secret "
                             "shows in the process list and shell history, so prefer "
                             "BITRIX_WEBHOOK_URL in the environment or .env")
    parser.add_argument("--env-file", metavar="PATH", type=Path,
                        help="read settings from this .env file first")
    parser.add_argument("--json", action="store_true",
                        help="print the report as one JSON object on stdout")
    parser.add_argument("--full", action="store_true",
                        help="read every directory in full this run, not only what changed "
                             "(a full read also runs by itself every SYNC_FULL_EVERY)")
    parser.add_argument("--allow-mass-deactivation", action="store_true",
                        help="deactivate even when more than half of a directory vanished")
    parser.add_argument("--init-db", action="store_true",
                        help="create the built-in tables on an empty database, then exit")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging and full tracebacks (without HTTP traffic)")
    parser.add_argument("--debug-http", action="store_true",
                        help="--verbose plus a log line for each HTTP request and answer "
                             "(urllib3); the webhook code stays masked")
    # Getting started: a demo, discovery, checks, dry runs and progress.
    parser.add_argument("--demo", action="store_true",
                        help="sync a built-in demo portal with sample data into a SQLite file; "
                             "reads no settings and touches no real portal or database")
    parser.add_argument("--demo-db", metavar="PATH", type=Path,
                        help="the SQLite file of --demo (default: demo.db next to cli.py)")
    parser.add_argument("--discover", action="store_true",
                        help="list the smart processes, universal lists and fields the "
                             "webhook can see")
    parser.add_argument("--write", metavar="PATH", type=Path,
                        help="with --discover: write a commented mapping skeleton to PATH")
    parser.add_argument("--force", action="store_true",
                        help="with --write: overwrite an existing file")
    parser.add_argument("--entity-type-id", metavar="ID", type=int, action="append",
                        help="with --discover: also describe this smart process (for a webhook "
                             "without CRM administrator rights); repeatable")
    parser.add_argument("--check", action="store_true",
                        help="check settings, database, tables, webhook and mapping; "
                             "writes nothing (exit 0, 2 or 3)")
    parser.add_argument("--dry-run", action="store_true",
                        help="read everything, write nothing, report what would change "
                             "(--verbose lists each record)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line (stderr shows only warnings and errors anyway, "
                             "unless --verbose)")
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
    set_language(console_language(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.max_age is not None and not args.status:
            parser.error("--max-age works only with --status")
    except SystemExit as exc:
        return int(exc.code or 0)
    args.verbose = args.verbose or args.debug_http
    setup_logging("INFO", verbose=args.verbose, console_level=CLI_CONSOLE,
                  debug_http=args.debug_http)
    try:
        return _run(args)
    except SyncError as exc:
        return _fail(args, SyncReport.from_error(exc))
    except KeyboardInterrupt as exc:
        report = getattr(exc, "report", None)
        text = report.render_stop() if isinstance(report, SyncReport) else say("interrupted")
        print(text, file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:  # the boundary: one line unless --verbose
        if args.verbose:
            log.exception("Unexpected error")
        return _fail(args, SyncReport.from_error(unexpected_error(exc)))


def _run(args: argparse.Namespace) -> int:
    handlers.check_flags(args)
    if args.demo:  # before any settings are read: the demo must not see them
        return handlers.demo(args)
    overrides = {"BITRIX_WEBHOOK_URL": args.webhook_url} if args.webhook_url else None
    load = functools.partial(load_settings, env_file=args.env_file, overrides=overrides)
    if args.check:
        return handlers.check(args, load)
    settings = load(require_webhook=not (args.init_db or args.status),
                    require_database=not args.discover)
    set_language(settings.language)
    setup_logging(settings.log_level, log_file=settings.log_file, verbose=args.verbose,
                  console_level=CLI_CONSOLE, debug_http=args.debug_http)
    for warning in settings.warnings:  # a line of the console's own, not a log line
        print(say("warning", text=warning), file=sys.stderr)
        log.info("settings warning: %s", warning)
    if args.discover:
        return handlers.discover(args, settings)
    if args.init_db:
        return _init_db(settings)
    if args.status:
        return _status(args, settings)
    options = RunOptions(names=tuple(args.sync or ()),
                         allow_mass_deactivation=args.allow_mass_deactivation,
                         dry_run=args.dry_run, trigger=args.trigger, full=args.full)
    with live_progress(progress_wanted(quiet=args.quiet)) as progress:
        report = run_sync(settings, options, progress=progress)
    if report.fatal and not report.did_work:
        return _fail(args, report)  # e.g. a wrong webhook code: one line, no empty table
    _print(args, report)
    if args.dry_run and args.verbose and not args.json:
        _emit(report.render_planned())
    return report.exit_code


def _init_db(settings) -> int:
    from app.db.connect import check_connection, make_engine
    from app.db.schema import create_builtin_tables

    engine = make_engine(settings.database_url)
    check_connection(engine)
    created = create_builtin_tables(engine)
    engine.dispose()
    _emit(say("init_db.created", tables=", ".join(created)) if created
          else say("init_db.exist"))
    return 0


def _status(args: argparse.Namespace, settings) -> int:
    status = gather_status(settings, max_age=args.max_age)
    _emit(json.dumps(status.to_dict(), ensure_ascii=False) if args.json else status.render())
    return status.exit_code


def _emit(text: str) -> None:
    """Print a result; a reader that went away (`| head`) does not turn a good run into exit 1."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Point stdout at nothing so the interpreter's final flush stays quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print(args: argparse.Namespace, report: SyncReport) -> None:
    if args.json:
        _emit(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
    else:
        _emit(report.render_table(fatal=False))
        if report.fatal:  # on stderr, once: the table above does not repeat it
            print(say("error", text=report.fatal), file=sys.stderr)


def _fail(args: argparse.Namespace, report: SyncReport) -> int:
    if args.json:
        _emit(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
    else:
        print(say("error", text=report.fatal), file=sys.stderr)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
