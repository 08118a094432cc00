"""The loop that runs the sync on a cron schedule."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from app.cron import CronSchedule, as_utc, format_moment, said_duration
from app.errors import describe_exception
from app.messages import say

log = logging.getLogger(__name__)


class Tick(StrEnum):
    """What Scheduler.tick did."""

    IDLE = "idle"
    STARTED = "started"
    SKIPPED = "skipped"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """Runs a job on a CronSchedule until told to stop.

    Policy:

    * Waiting: ``wait(timeout)`` (default ``stop_event.wait``) is called in slices
      of at most ``slice_seconds`` (1 s) and never past the next fire time, and
      the clock is read again after every slice. So a signal handler gets to run
      within a second even on Windows, and a machine sleep or wall-clock change is
      noticed at once instead of after one long wait.
    * Missed ticks: if several fire times passed while the machine slept, the job
      runs ONCE and a warning says how many were missed. A single run that is
      more than a minute late is logged as late.
    * Clock moved back by more than a minute: the next fire time is recomputed
      from the new time (warning). The sync is idempotent, so a possibly repeated
      run is cheaper than a silent gap of hours.
    * Overlap: the job runs in a worker thread. A tick that comes while the
      previous run is still going is skipped with a warning, never queued.
    * Failures: a job that raises is logged as one ERROR line (traceback at
      DEBUG) and the loop goes on; the scheduler never dies of a job's exception.
    * ``on_result(result, next_run)`` is called in the worker after each run;
      ``result`` is the job's return value, or the exception it raised;
      ``next_run`` is None when a stop was requested. Without it the scheduler
      logs the next run time itself.
    * Stop: once ``stop_event`` is set, ``run()`` starts nothing new and returns
      after the current run finishes. The job should watch the same event to stop
      promptly.

    Tests drive it without real waiting through ``clock`` and ``wait``, or step
    by step with ``tick(now)`` and ``wait_idle()``.
    """

    def __init__(
        self,
        schedule: CronSchedule,
        job: Callable[[], object],
        *,
        stop_event: threading.Event,
        clock: Callable[[], datetime] = _utc_now,
        run_on_start: bool = False,
        logger: logging.Logger | None = None,
        on_result: Callable[[object, datetime | None], None] | None = None,
        wait: Callable[[float], object] | None = None,
        slice_seconds: float = 1.0,
        late_after: timedelta = timedelta(minutes=1),
        max_counted_misses: int = 500,
    ) -> None:
        if slice_seconds <= 0:
            raise ValueError("slice_seconds must be positive")
        self.schedule = schedule
        self._job = job
        self._stop = stop_event
        self._clock = clock
        self._run_on_start = run_on_start
        self._log = logger or log
        self._on_result = on_result
        self._wait = wait or stop_event.wait
        self._slice = slice_seconds
        self._late_after = late_after
        self._max_counted = max_counted_misses
        self._lock = threading.Lock()
        self._next: datetime | None = None
        self._last_now: datetime | None = None
        self._worker: threading.Thread | None = None

    def next_run(self) -> datetime:
        """When the job runs next (in the schedule's zone)."""
        with self._lock:
            planned = self._next
        if planned is None:
            planned = self.schedule.next_after(self._now())
        return self.schedule.localtime(planned)

    def is_running(self) -> bool:
        """Whether a run is in progress right now."""
        worker = self._worker
        return worker is not None and worker.is_alive()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the current run (if any) finishes; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_running():
            left = self._slice
            if deadline is not None:
                left = min(left, deadline - time.monotonic())
            if left <= 0:
                return False
            # Sliced join: an unbounded join cannot be interrupted by Ctrl+C on Windows.
            worker = self._worker
            if worker is not None:
                worker.join(left)
        return True

    def run(self) -> None:
        """Loop until stop_event is set, then return once the current run has finished."""
        try:
            while not self._stop.is_set():
                now = self._now()
                self.tick(now)
                if self._stop.is_set():
                    break
                with self._lock:
                    planned = self._next
                remaining = (planned - now).total_seconds() if planned else 0.0
                self._wait(max(0.0, min(self._slice, remaining)))
        finally:
            if self.is_running():
                self._log.info("waiting for the current run to finish")
            self.wait_idle()

    def tick(self, now: datetime) -> Tick:
        """Do whatever is due at `now`: start the job, skip an overlapping tick, or nothing.

        The first call plans the first fire time and does the run_on_start run.
        """
        now = as_utc(now)
        with self._lock:
            previous_now, self._last_now = self._last_now, now
            if self._next is None:
                self._next = self.schedule.next_after(now)
                self._log.info("schedule %s; next run at %s", self.schedule.describe(),
                               format_moment(self.schedule.localtime(self._next)))
                if not self._run_on_start:
                    return Tick.IDLE
                starting = True
            elif previous_now is not None and now < previous_now - timedelta(minutes=1):
                self._next = self.schedule.next_after(now)
                self._log.warning(say(
                    "log.clock_back", by=said_duration(previous_now - now),
                    next=format_moment(self.schedule.localtime(self._next))))
                return Tick.IDLE
            else:
                starting = False
                due = self._next
                if now < due:
                    return Tick.IDLE
                count, self._next = self._due_count(due, now)
        if starting:
            self._log.info("running once at start")
            self._start(now)
            return Tick.STARTED
        local_due = format_moment(self.schedule.localtime(due))
        if self.is_running():
            if count > 1:
                self._log.warning(say("log.skip_ticks", count=_many(count, self._max_counted),
                                      when=local_due))
            else:
                self._log.warning(say("log.skip_tick", when=local_due))
            return Tick.SKIPPED
        if count > 1:
            self._log.warning(say("log.missed", count=_many(count, self._max_counted),
                                  when=local_due))
        elif now - due > self._late_after:
            self._log.warning(say("log.late", late=said_duration(now - due), due=local_due))
        self._start(due)
        return Tick.STARTED

    def _due_count(self, due: datetime, now: datetime) -> tuple[int, datetime]:
        """How many fire times lie in [due, now], and the first one after `now`."""
        count, moment = 0, due
        while moment <= now:
            count += 1
            if count >= self._max_counted:
                return count, self.schedule.next_after(now)
            moment = self.schedule.next_after(moment)
        return count, moment

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _start(self, slot: datetime) -> None:
        # Daemon: a second Ctrl+C must be able to end the process mid-run.
        worker = threading.Thread(target=self._run_job, args=(slot,),
                                  name="bitrix-sync-job", daemon=True)
        self._worker = worker
        worker.start()

    def _run_job(self, slot: datetime) -> None:
        started = time.monotonic()
        result: object
        try:
            result = self._job()
        except SystemExit as exc:
            # A job wrapping the CLI may call sys.exit(); only a non-zero code is a failure.
            result = exc
            if exc.code not in (None, 0):
                self._log.error(say("log.run_exit_code", code=exc.code))
        except Exception as exc:
            result = exc
            self._log.error(say("log.run_failed", what=describe_exception(exc)))
            self._log.debug("traceback of the failed run", exc_info=exc)
        next_run = None if self._stop.is_set() else self.next_run()
        self._log.debug("run scheduled for %s took %.1f s",
                        format_moment(self.schedule.localtime(slot)), time.monotonic() - started)
        if self._on_result is None:
            if next_run is not None:
                self._log.info("next run at %s", format_moment(next_run))
            return
        try:
            self._on_result(result, next_run)
        except Exception as exc:
            self._log.error(say("log.callback_failed", what=describe_exception(exc)))
            self._log.debug("traceback of the on_result failure", exc_info=exc)


def _many(count: int, cap: int) -> str:
    return say("log.at_least", count=count) if count >= cap else str(count)
