"""Service mode: sync the Bitrix24 directories on SYNC_SCHEDULE until stopped."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run from any folder

from app.bootstrap import require_python  # standard library only

require_python()  # before imports that an old Python cannot even parse

try:
    from app.config import early_environment, load_settings
    from app.cron import CronSchedule
    from app.errors import ConfigError, SyncError, describe_exception, exit_codes_help
    from app.logging_setup import force_utf8_console, setup_logging
    from app.messages import say, set_language
    from app.service.loop import DEFAULT_LOG_FILE, NOTICE, run_service
    from app.service.signals import install_stop_handlers
    from app.text import ConsoleArgumentParser
except ModuleNotFoundError as exc:  # a cron or Task Scheduler run outside the venv, most often
    from app.bootstrap import exit_missing_package

    exit_missing_package(exc)

log = logging.getLogger("bitrix_sync.service")


def build_parser() -> argparse.ArgumentParser:
    parser = ConsoleArgumentParser(prog="python service.py", description=say("help.service"),
                                   epilog=exit_codes_help())
    parser.add_argument("--env-file", metavar="PATH", type=Path, help=say("help.env_file"))
    parser.add_argument("-v", "--verbose", action="store_true", help=say("help.verbose"))
    return parser


def main(argv: list[str] | None = None) -> int:
    force_utf8_console()
    language, environment = early_environment(sys.argv[1:] if argv is None else argv)
    set_language(language)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        settings = load_settings(env_file=args.env_file, environment=environment)
        schedule = CronSchedule(settings.sync_schedule, settings.sync_timezone)
    except ConfigError as exc:
        print(say("error", text=exc), file=sys.stderr)
        return ConfigError.exit_code
    set_language(settings.language)
    # The service always keeps a log file; the CLI only when LOG_FILE is set.
    settings = dataclasses.replace(
        settings, log_file=settings.log_file or settings.project_dir / DEFAULT_LOG_FILE)
    try:
        # The console: warnings, errors and the service's own short lines (NOTICE, from
        # app.service.loop); the settings in effect and each run's details: the log file.
        setup_logging(settings.log_level, log_file=settings.log_file, verbose=args.verbose,
                      console_level=NOTICE)
    except OSError as exc:
        print(say("error", text=say("service.log_unwritable", path=settings.log_file,
                                    why=exc.strerror or exc)), file=sys.stderr)
        return ConfigError.exit_code
    for warning in settings.warnings:  # the console in its language, the log file English
        log.warning(warning)
    stop_event = threading.Event()
    restore = install_stop_handlers(stop_event, logger=log)
    try:
        run_service(settings, schedule, stop_event=stop_event)
    except Exception as exc:  # the boundary: the loop itself failed, not a run
        log.error(say("log.service_failed", what=describe_exception(exc)))
        log.debug("traceback of the service failure", exc_info=exc)
        return SyncError.exit_code
    finally:
        restore()
    return 0


if __name__ == "__main__":
    sys.exit(main())
