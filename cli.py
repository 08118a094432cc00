"""Command line: sync Bitrix24 directories into the local database once."""

from __future__ import annotations

import argparse
import functools
import gc
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run from any folder (cron)
from app.bootstrap import collect_less, require_packages, require_python  # standard library only

if __name__ == "__main__":
    # One short run: the modules load once and stay, so the collector's default (a young
    # collection every 700 allocations) only rescans them, about a hundred times before the
    # first request. A sync raises it as much itself (app/sync/runner.py).
    collect_less()

require_python()  # before imports that an old Python cannot even parse
# Only what every command needs is imported here: --help and a plain sync start fast, and the
# modules of --check, --discover, --demo and --status (and the database layer) load when used.
# So a package missing from the environment is caught by name here, not at first use.
require_packages()

try:
    from app.commands import handlers
    from app.config import early_environment, load_settings
    from app.errors import INTERRUPTED, SyncError, exit_codes_help, unexpected_error
    from app.logging_setup import CLI_CONSOLE, force_utf8_console, setup_logging
    from app.messages import say, set_language
    from app.report import SyncReport
    from app.syncers import SYNCERS
    from app.text import ConsoleArgumentParser
except ModuleNotFoundError as exc:  # a cron or Task Scheduler run outside the venv, most often
    from app.bootstrap import exit_missing_package

    exit_missing_package(exc)

log = logging.getLogger("bitrix_sync")


def run_sync(settings, options, **kwargs):
    """app.sync.runner.run_sync, imported when a sync runs (it brings SQLAlchemy)."""
    from app.sync.runner import run_sync as run

    return run(settings, options, **kwargs)


def parse_age(text: str):
    """--max-age's type (app.commands.status.parse_age, imported when the flag is given)."""
    from app.commands.status import parse_age as parse

    return parse(text)

def build_parser() -> argparse.ArgumentParser:
    parser = ConsoleArgumentParser(prog="python cli.py", description=say("help.cli"),
                                   epilog=exit_codes_help())
    option = parser.add_argument
    option("--sync", nargs="+", metavar="NAME", choices=list(SYNCERS),
           help=say("help.sync", names=" ".join(SYNCERS)))
    option("--webhook-url", metavar="URL", help=say("help.webhook_url"))
    option("--env-file", metavar="PATH", type=Path, help=say("help.env_file"))
    option("--json", action="store_true", help=say("help.json"))
    option("--full", action="store_true", help=say("help.full"))
    option("--allow-mass-deactivation", action="store_true", help=say("help.allow_mass"))
    option("--init-db", action="store_true", help=say("help.init_db"))
    option("-v", "--verbose", action="store_true", help=say("help.verbose"))
    option("--debug-http", action="store_true", help=say("help.debug_http"))
    # Getting started: a demo, discovery, checks, dry runs and progress.
    option("--demo", action="store_true", help=say("help.demo"))
    option("--demo-db", metavar="PATH", type=Path, help=say("help.demo_db"))
    option("--discover", action="store_true", help=say("help.discover"))
    option("--write", metavar="PATH", type=Path, help=say("help.write"))
    option("--force", action="store_true", help=say("help.force"))
    option("--entity-type-id", metavar="ID", type=int, action="append",
           help=say("help.entity_type_id"))
    option("--check", action="store_true", help=say("help.check"))
    option("--dry-run", action="store_true", help=say("help.dry_run"))
    option("-q", "--quiet", action="store_true", help=say("help.quiet"))
    # Operations: run history and the health check.
    option("--status", action="store_true", help=say("help.status"))
    option("--max-age", metavar="AGE", type=parse_age, help=say("help.max_age"))
    # Set by sync-cron.sh / sync-cron.ps1 so the run history tells cron runs apart.
    option("--trigger", choices=("cli", "cron"), default="cli", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    force_utf8_console()
    language, environment = early_environment(sys.argv[1:] if argv is None else argv)
    set_language(language)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.max_age is not None and not args.status:
            parser.error(say("help.max_age_alone"))
    except SystemExit as exc:
        return int(exc.code or 0)
    args.verbose = args.verbose or args.debug_http
    setup_logging("INFO", verbose=args.verbose, console_level=CLI_CONSOLE,
                  debug_http=args.debug_http)
    try:
        return _run(args, environment)
    except SyncError as exc:
        return _fail(args, SyncReport.from_error(exc))
    except KeyboardInterrupt as exc:
        report = getattr(exc, "report", None)
        text = report.render_stop() if isinstance(report, SyncReport) else say("interrupted")
        print(text, file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:  # the boundary: one line unless --verbose
        if args.verbose:
            log.exception(say("log.unexpected"))
        return _fail(args, SyncReport.from_error(unexpected_error(exc)))


def _run(args: argparse.Namespace, environment=None) -> int:
    handlers.check_flags(args)
    if args.demo:  # before any settings are read: the demo must not see them
        return handlers.demo(args)
    overrides = {"BITRIX_WEBHOOK_URL": args.webhook_url} if args.webhook_url else None
    load = functools.partial(load_settings, env_file=args.env_file, overrides=overrides,
                             environment=environment)
    if args.check:
        return handlers.check(args, load)
    settings = load(require_webhook=not (args.init_db or args.status),
                    require_database=not args.discover)
    set_language(settings.language)
    setup_logging(settings.log_level, log_file=settings.log_file, verbose=args.verbose,
                  console_level=CLI_CONSOLE, debug_http=args.debug_http)
    for warning in settings.warnings:  # the console in its language, the log file English
        log.warning(warning)
    if args.discover:
        return handlers.discover(args, settings)
    if args.init_db:
        return _init_db(settings)
    if args.status:
        return _status(args, settings)
    from app.commands.progress import live_progress, progress_wanted
    from app.sync.runner import RunOptions

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
    from app.commands.status import gather_status

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
    code = main()
    # The process ends here: the collector need not scan what is left (the interpreter's
    # teardown would otherwise spend about 0.2 s on it, after any run, a no-op too).
    gc.freeze()
    sys.exit(code)
