"""`cli.py --status`: the last runs, the last success and the next run; --max-age for health."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.cron import DURATION_UNITS, CronSchedule, format_moment, parse_duration, said_duration
from app.db.connect import check_connection, make_engine
from app.db.history import (
    PROCESS_GONE,
    STOPPED_BY_CTRL_C,
    RunRecord,
    RunStatus,
    last_success,
    recent_runs,
)
from app.db.run_lock import run_alive
from app.db.sync_state import PORTAL_ROW, DirectoryState, load_states
from app.errors import ConfigError
from app.messages import now_said, say
from app.report import Counter
from app.text import render_table, shorten

_UNITS = DURATION_UNITS
_TABLE_COUNTERS = (Counter.FETCHED, Counter.CREATED, Counter.UPDATED, Counter.DEACTIVATED,
                   Counter.ERRORS)


def parse_age(text: str) -> timedelta:
    """'26h' -> 26 hours (units s, m, h, d); for argparse, so errors are ArgumentTypeError."""
    age = parse_duration(text)
    if not age:
        raise argparse.ArgumentTypeError(say("status.bad_age", text=repr(text)))
    return age


@dataclass
class StatusReport:
    """What --status shows; text, --json and the exit code all come from it."""

    runs: list[RunRecord]
    last_success: RunRecord | None
    now: datetime
    schedule: CronSchedule | None
    schedule_problem: str | None = None
    max_age: timedelta | None = None
    # bitrix_sync_state by directory: when each was last read in full, and last read at all.
    directories: dict[str, DirectoryState] = field(default_factory=dict)

    @property
    def next_run(self) -> datetime | None:
        return self.schedule.next_after(self.now) if self.schedule else None

    @property
    def success_age(self) -> timedelta | None:
        if self.last_success is None:
            return None
        return self.now - (self.last_success.finished_at or self.last_success.started_at)

    @property
    def fresh(self) -> bool | None:
        """Whether the last success is within --max-age (None without --max-age)."""
        if self.max_age is None:
            return None
        age = self.success_age
        return age is not None and age <= self.max_age

    @property
    def exit_code(self) -> int:
        return 1 if self.fresh is False else 0

    def to_dict(self) -> dict:
        age = self.success_age
        next_run = self.next_run
        return {
            "runs": [run.to_dict() for run in self.runs],
            "last_success": self.last_success.to_dict() if self.last_success else None,
            "last_success_age_seconds": int(age.total_seconds()) if age is not None else None,
            "schedule": self.schedule.describe() if self.schedule else None,
            "next_run": next_run.isoformat(timespec="seconds") if next_run else None,
            "schedule_error": self.schedule_problem,
            "max_age_seconds": int(self.max_age.total_seconds()) if self.max_age else None,
            "fresh": self.fresh,
            "directories": {name: state.to_dict() for name, state in self.directories.items()},
        }

    def render(self) -> str:
        """Plain text for a terminal (ASCII apart from what the data holds)."""
        zone = self.schedule.zone_name if self.schedule else "UTC"
        lines: list[str] = []
        if self.runs:
            lines.append(say("status.runs", zone=zone))
            lines += ["  " + line for line in self._table()]
        else:
            lines.append(say("status.no_runs"))
        if self.last_success is None:
            lines.append(say("status.no_success"))
        else:
            run = self.last_success
            lines.append(say("status.success", id=run.id,
                             when=self._local(run.finished_at or run.started_at),
                             age=said_duration(self.success_age)))
        if self.schedule is not None:
            # SYNC_SCHEDULE is the service's timetable; cron or Task Scheduler keep their own.
            lines.append(say("status.next_run", when=format_moment(self.next_run),
                             expression=self.schedule.expression,
                             zone=self.schedule.zone_name))
        else:
            lines.append(say("status.next_run_unknown", problem=self.schedule_problem))
        if self.directories:
            lines.append(say("status.directories", zone=zone))
            lines += ["  " + line for line in self._directory_table()]
        if self.max_age is not None:
            limit = _age_text(self.max_age)
            if self.fresh:
                lines.append(say("status.fresh", limit=limit))
            elif self.last_success is None:
                lines.append(say("status.stale_none", limit=limit))
            else:
                lines.append(say("status.stale", limit=limit,
                                 age=said_duration(self.success_age)))
        return "\n".join(lines)

    def _directory_table(self) -> list[str]:
        rows = [(say("table.directory"), say("status.last_full_read"), say("status.last_read"),
                 say("status.read"))]
        never = say("status.never")
        for name, state in self.directories.items():
            full = state.full_read_at
            rows.append((name, say("status.when_ago", when=self._local(full),
                                   age=said_duration(self.now - full)) if full else never,
                         self._local(state.read_at) if state.read_at else never,
                         say(f"table.mode_{state.mode}") if state.mode else "-"))
        return render_table(rows)

    def _table(self) -> list[str]:
        head = ("id", say("status.started"), say("status.took"), say("status.trigger"),
                say("table.status"), *(say(f"table.{k}") for k in _TABLE_COUNTERS))
        rows = [head]
        for run in self.runs:
            took = said_duration(timedelta(seconds=run.seconds)) \
                if run.seconds is not None else "-"
            totals = run.totals
            status = say(f"status.run_{run.status}")
            if run.process_gone:
                status = say("status.gone", status=status)
            rows.append((str(run.id), self._local(run.started_at), took, run.triggered_by,
                         status, *(str(totals[k]) for k in _TABLE_COUNTERS)))
        lines = render_table(rows, right={0, 2, *range(5, len(head))})
        indent = " " * (max(len(row[0]) for row in rows) + 2)  # under the start time
        out = []
        for index, line in enumerate(lines):
            out.append(line)
            error = self.runs[index - 1].error if index else None
            if error:
                out.append(indent + shorten(_in_words(error), 200))
        return out

    def _local(self, moment: datetime) -> str:
        shown = self.schedule.localtime(moment) if self.schedule else moment.astimezone(UTC)
        return shown.strftime("%Y-%m-%d %H:%M:%S")


def gather_status(settings: Settings, *, max_age: timedelta | None = None, limit: int = 10,
                  now: datetime | None = None) -> StatusReport:
    """Read the run history (no webhook, no lock, no writes) and work out the next run.

    Raises DatabaseError (exit 3) when the database cannot be reached.
    """
    try:
        schedule, problem = CronSchedule(settings.sync_schedule, settings.sync_timezone), None
    except ConfigError as exc:
        schedule, problem = None, str(exc)
    engine = make_engine(settings.database_url)
    try:
        check_connection(engine)
        with engine.connect() as conn:
            runs = [_settled(conn, run) for run in recent_runs(conn, limit)]
            success = last_success(conn)
            states = {n: st for n, st in load_states(conn).items() if n != PORTAL_ROW}
    finally:
        engine.dispose()
    return StatusReport(runs=runs, last_success=success, now=now or datetime.now(UTC),
                        schedule=schedule, schedule_problem=problem, max_age=max_age,
                        directories=states)


def _settled(conn, run: RunRecord) -> RunRecord:
    """A 'running' row whose lock nobody holds: its process is gone (killed, crashed)."""
    if run.status != RunStatus.RUNNING or run_alive(conn, run.id) is not False:
        return run
    return replace(run, status=RunStatus.INTERRUPTED, process_gone=True,
                   error=run.error or PROCESS_GONE)


def _in_words(error: str) -> str:
    """A stored error the history words itself (English, stable) in the console's language;
    any other error as it was recorded."""
    known = {PROCESS_GONE: "status.process_gone", STOPPED_BY_CTRL_C: "status.ctrl_c"}
    return say(known[error]) if error in known else now_said(error)


def _age_text(age: timedelta) -> str:
    """An age the way --max-age takes it, in its largest whole unit: 26h, 90m, 2d."""
    seconds = age.total_seconds()
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"

