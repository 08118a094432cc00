"""The service: run_sync on the cron schedule until a stop signal, one run at a time."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from app.config import Settings
from app.cron import CronSchedule, format_moment
from app.db.history import RunStatus, run_status
from app.errors import LockHeldError
from app.messages import say
from app.report import SyncReport
from app.service.scheduler import Scheduler
from app.sync.runner import RunOptions, run_sync

log = logging.getLogger("bitrix_sync.service")

DEFAULT_LOG_FILE = "bitrix-sync.log"
# The level of the service's own short lines (start, each run, stop): above INFO, so the
# console (service.py shows NOTICE and up) gets them, below WARNING, so they carry no
# "warning:"; the log file keeps them in English like every other line.
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")


def run_service(
    settings: Settings,
    schedule: CronSchedule,
    *,
    stop_event: threading.Event,
    overrides: dict | None = None,
    clock: Callable[[], datetime] | None = None,
    wait: Callable[[float], object] | None = None,
) -> None:
    """Sync on `schedule` until `stop_event` is set; return once the current run is over.

    Every run goes through run_sync (lock, history row with trigger "service"), so
    a run that finds another sync holding the lock is a skipped tick, and a run
    that fails is logged while the service waits for the next tick. `clock` and
    `wait` are for tests (see Scheduler).
    """
    log.info("bitrix-sync service starting (pid %s); settings in effect:", os.getpid())
    for line in settings.describe():
        log.info("  %s", line)
    if settings.sources:
        log.info("  settings files: %s", ", ".join(settings.sources))
    # The console gets one short summary; the details above are in the log file.
    first = say("service.first_now") if settings.sync_on_start else say(
        "service.first_at", when=format_moment(schedule.next_after((clock or _now)())))
    log.log(NOTICE, say("service.started", pid=os.getpid(), expression=schedule.expression,
             zone=schedule.zone_name, first=first, log_file=settings.log_file))

    def job() -> SyncReport:
        return run_sync(settings, RunOptions(trigger="service"), stop_event=stop_event,
                        overrides=overrides)

    extra = {"clock": clock} if clock is not None else {}
    scheduler = Scheduler(schedule, job, stop_event=stop_event, logger=log, wait=wait,
                          run_on_start=settings.sync_on_start, on_result=_after_run, **extra)
    scheduler.run()
    log.log(NOTICE, say("service.stopped"))


def _now() -> datetime:
    return datetime.now(UTC)


def _after_run(result: object, next_run: datetime | None) -> None:
    """One line after each run: how a stop or a held lock ended it, and the next run time."""
    report = result if isinstance(result, SyncReport) else None
    if report is not None and run_status(report) == RunStatus.STOPPED:
        log.warning(say("service.run_stopped", names=", ".join(report.unfinished)))
    if next_run is None:  # stopping: there is no next run
        return
    when = format_moment(next_run)
    # A held lock turns a run away before it starts a directory; a lost one (exit 4 too)
    # ends a run that did start, and its error is logged already.
    if report is not None and report.fatal_exit_code == LockHeldError.exit_code \
            and not report.directories:
        log.warning(say("service.skipped", next=when))
        return
    if report is None:
        log.log(NOTICE, say("service.run_crashed", next=when))
    elif report.fatal:
        log.log(NOTICE, say("service.run_failed", error=report.fatal, next=when))
    else:
        log.log(NOTICE, say("service.run_done", state=say(
            "service.state_ok" if report.ok else "service.state_errors"),
            summary=report.counts_line(), next=when))
