"""Run history: the bitrix_sync_runs table, written by every run and read by --status."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.db.connect import describe_db_error
from app.errors import INTERRUPTED, unexpected_error
from app.masking import mask
from app.messages import Said, english, language, say
from app.report import Counter, DirectoryStatus, SyncReport
from app.text import shorten

log = logging.getLogger(__name__)

TABLE_NAME = "bitrix_sync_runs"



class RunStatus(StrEnum):
    """The status of a run's row. Only OK counts as a success for --status / --max-age."""

    RUNNING = "running"
    OK = "ok"
    ERRORS = "errors"            # finished; some records or directories failed (exit 1)
    FAILED = "failed"            # could not start or go on (exit 2/3)
    STOPPED = "stopped"          # stop requested; unfinished directories rolled back
    INTERRUPTED = "interrupted"  # the process died mid-run (killed, crashed, connection lost)
PROCESS_GONE = ("the process ended before the run finished (killed, crashed or lost its "
                "database connection)")
# The error of a run Ctrl+C ended in the CLI (no stop handlers there): in words, not the
# exception's class name; --status shows it in the console's language.
STOPPED_BY_CTRL_C = "stopped by Ctrl+C; the directory in progress was rolled back"


_ERROR_LIMIT = 2000

# Its own metadata: --init-db and the parent project's models never see this table.
# The column is triggered_by, not trigger: TRIGGER is a reserved word in MySQL, and
# admins query this table by hand.
RUNS = Table(
    TABLE_NAME,
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime, nullable=False, comment="UTC"),
    Column("finished_at", DateTime, nullable=True, comment="UTC"),
    Column("triggered_by", String(16), nullable=False, comment="cli, service or cron"),
    Column("status", String(16), nullable=False),
    Column("exit_code", SmallInteger, nullable=True),
    Column("counts", Text, nullable=True, comment="JSON: directory -> counters"),
    Column("error", Text, nullable=True, comment="English"),
    # The error in the other console languages, so --status says it in the reader's:
    # JSON {"ru": "..."}; NULL in rows of older versions (they show `error` as it is).
    Column("error_words", Text, nullable=True, comment="JSON: language -> error"),
    Column("host", String(255), nullable=True),
    Column("pid", Integer, nullable=True),
    mysql_charset="utf8mb4",
    mysql_engine="InnoDB",
)


@dataclass(frozen=True)
class RunRecord:
    """One row of bitrix_sync_runs, times in UTC."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    triggered_by: str
    status: str
    exit_code: int | None
    counts: dict = field(default_factory=dict)
    error: str | None = None
    host: str | None = None
    pid: int | None = None
    process_gone: bool = False  # a 'running' row whose lock nobody holds (see --status)

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def totals(self) -> dict[str, int]:
        """Counters summed over the directories of the run."""
        return {k: sum(int(d.get(k) or 0) for d in self.counts.values()) for k in Counter}

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "seconds": self.seconds,
            "trigger": self.triggered_by,
            "status": self.status,
            "exit_code": self.exit_code,
            "directories": self.counts,
            "error": self.error,
            "host": self.host,
            "pid": self.pid,
            "process_gone": self.process_gone,
        }


def run_status(report: SyncReport) -> str:
    """The history status of a finished run (see RunStatus)."""
    if report.fatal:
        return RunStatus.FAILED
    if report.unfinished:
        return RunStatus.STOPPED
    return RunStatus.OK if report.ok else RunStatus.ERRORS


def error_summary(report: SyncReport) -> str | None:
    """What went wrong in a run, in one masked English line of bounded length (None if
    nothing): the history's `error`, searchable and stable."""
    said = _summary(report)
    return None if said is None else said.en


def _summary(report: SyncReport) -> Said | None:
    """The run's error summary with its wording in every language (masked, bounded)."""
    parts: list[str] = [report.fatal] if report.fatal else []
    for d in report.directories.values():
        if d.status == DirectoryStatus.FAILED and d.message and d.message != report.fatal:
            parts.append(Said(f"{d.name}: ") + d.message)
    if report.unfinished and not report.fatal:
        parts.append(say("history.unfinished", names=", ".join(report.unfinished)))
    records = [i for i in report.issues if i.record]
    if records:
        first = records[0]
        where = first.directory if first.btxid is None else f"{first.directory} btxid {first.btxid}"
        parts.append(say("history.record_errors", count=len(records), where=where,
                         message=first.message))
    return _kept(Said("; ").join(parts)) if parts else None


def _kept(text: str) -> Said:
    """`text` as the history keeps it in each language: masked, one line, bounded."""
    said = text if isinstance(text, Said) else Said(text)
    words = {code: shorten(mask(wording), _ERROR_LIMIT) for code, wording in said.words.items()}
    return Said(words[language()], words["en"], words)


def error_words(error: Said | None) -> str | None:
    """The history's `error_words`: the error in each console language but English (JSON)."""
    if error is None:
        return None
    return json.dumps({code: text for code, text in error.words.items() if code != "en"},
                      ensure_ascii=False)


# Seconds the ALTER that adds error_words to an older table may wait for the table's
# metadata lock (MySQL waits a year by default, MariaDB a day).
ALTER_WAIT = 5


class RunHistory:
    """Writes the row of the current run, best effort, over the run's lock connection.

    The history must never cost a sync: when the table cannot be created or
    written (e.g. the database user may not CREATE TABLE), one warning is logged
    and the run goes on unrecorded.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._broken = False
        self._words = True  # the table has error_words (added to an older one in begin())

    def begin(self, trigger: str, report: SyncReport, *,
              alive: Callable[[int], bool]) -> int | None:
        """Create the table if needed and insert the run's 'running' row; its id or None.

        Older 'running' rows are marked interrupted, but only those whose process
        is gone (`alive(id)` is False): a run that lost the lock and has yet to
        notice it finishes its own row.
        """

        def write() -> int:
            RUNS.create(self.conn, checkfirst=True)
            self._words = self._add_error_words()
            running = self.conn.execute(
                select(RUNS.c.id).where(RUNS.c.status == RunStatus.RUNNING))
            dead = [run_id for run_id in running.scalars().all() if not alive(run_id)]
            if dead:
                self.conn.execute(update(RUNS).where(RUNS.c.id.in_(dead)).values(
                    status=RunStatus.INTERRUPTED, error=PROCESS_GONE,
                    **self._with_words(say("status.process_gone"))))
            result = self.conn.execute(insert(RUNS).values(
                started_at=_naive_utc(report.started_at), triggered_by=trigger,
                status=RunStatus.RUNNING, host=socket.gethostname()[:255], pid=os.getpid()))
            return int(result.inserted_primary_key[0])

        return self._write(write)

    def finish(self, run_id: int | None, report: SyncReport,
               crash: BaseException | None = None) -> None:
        """Store the outcome of the run: status, exit code, counts and error summary."""
        if run_id is None:
            return
        report.finished_at = report.finished_at or datetime.now(UTC)
        status, error, code = run_status(report), _summary(report), report.exit_code
        if isinstance(crash, Exception):
            status, code = RunStatus.FAILED, 1
            error = _kept(unexpected_error(crash).said)
        elif crash is not None:  # Ctrl+C without stop handlers (the CLI): the run was abandoned
            status, code = RunStatus.STOPPED, INTERRUPTED
            error = say("status.ctrl_c") if isinstance(crash, KeyboardInterrupt) \
                else say("history.told_to_exit", what=type(crash).__name__)
        counts = {name: d.as_dict() for name, d in report.directories.items()}
        values = dict(finished_at=_naive_utc(report.finished_at), status=status,
                      exit_code=code, error=english(error), **self._with_words(error),
                      counts=json.dumps(counts, ensure_ascii=False, default=str))
        self._write(lambda: self.conn.execute(
            update(RUNS).where(RUNS.c.id == run_id).values(**values)))

    def _add_error_words(self) -> bool:
        """Add error_words to a table an older version created; False when it cannot be
        added (e.g. no ALTER privilege): the history is then kept in English only."""
        if "error_words" in _columns(self.conn):
            return True
        column = RUNS.c.error_words
        mysql = self.conn.dialect.name in ("mysql", "mariadb")
        try:
            if mysql:  # another session reading the table must not hold the run for a day
                saved = self.conn.exec_driver_sql("SELECT @@SESSION.lock_wait_timeout").scalar()
                self.conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {ALTER_WAIT}")
            try:
                self.conn.exec_driver_sql(f"ALTER TABLE {TABLE_NAME} ADD COLUMN {column.name} "
                                          f"{column.type.compile(self.conn.dialect)} NULL")
            finally:
                if mysql:
                    self.conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {int(saved)}")
        except SQLAlchemyError as exc:
            log.info("run history stays English only, cannot add %s: %s", column.name,
                     describe_db_error(exc))
            return False
        return True

    def _with_words(self, error: Said | None) -> dict:
        return {"error_words": error_words(error)} if self._words else {}

    def holder(self) -> str:
        """Who holds the lock, from the newest 'running' row: ' (started ... by ...)' or ''."""
        try:
            if not inspect(self.conn).has_table(TABLE_NAME):
                return ""
            row = self.conn.execute(_select(self.conn).where(RUNS.c.status == RunStatus.RUNNING)
                                    .order_by(RUNS.c.id.desc()).limit(1)).first()
            self.conn.rollback()
        except SQLAlchemyError:
            return ""
        if row is None:
            return ""
        run = _record(row)
        return say("lock.holder", id=run.id, when=f"{run.started_at:%Y-%m-%d %H:%M:%S}",
                   trigger=run.triggered_by, host=run.host, pid=run.pid)

    def _write(self, action):
        if self._broken:
            return None
        try:
            with self.conn.begin():
                return action()
        except SQLAlchemyError as exc:
            self._broken = True
            log.warning(say("log.no_history", table=TABLE_NAME, why=describe_db_error(exc)))
            return None


def recent_runs(conn: Connection, limit: int = 10) -> list[RunRecord]:
    """The newest runs first; an empty list when nothing was recorded yet."""
    if not inspect(conn).has_table(TABLE_NAME):
        return []
    rows = conn.execute(_select(conn).order_by(RUNS.c.id.desc()).limit(limit))
    return [_record(row) for row in rows]


def last_success(conn: Connection) -> RunRecord | None:
    """The newest run with status ok, or None."""
    if not inspect(conn).has_table(TABLE_NAME):
        return None
    row = conn.execute(_select(conn).where(RUNS.c.status == RunStatus.OK)
                       .order_by(RUNS.c.id.desc()).limit(1)).first()
    return _record(row) if row is not None else None


def _columns(conn: Connection) -> set[str]:
    return {column["name"] for column in inspect(conn).get_columns(TABLE_NAME)}


def _select(conn: Connection):
    """SELECT of the columns the table has: one of an older version lacks error_words."""
    have = _columns(conn)
    return select(*[column for column in RUNS.c if column.name in have])


def _record(row) -> RunRecord:
    data = row._mapping
    try:
        counts = json.loads(data["counts"]) if data["counts"] else {}
    except ValueError:
        counts = {}
    return RunRecord(
        id=data["id"], started_at=_aware_utc(data["started_at"]),
        finished_at=_aware_utc(data["finished_at"]), triggered_by=data["triggered_by"],
        status=data["status"], exit_code=data["exit_code"], counts=counts,
        error=_said_error(data["error"], data.get("error_words")), host=data["host"],
        pid=data["pid"])


def _said_error(error: str | None, words: str | None) -> str | None:
    """The stored error: English (`str` and `.en`, for --json) that knows its wording in
    the other languages when the row keeps them; a row of an older version has only English."""
    if error is None:
        return None
    try:
        kept = json.loads(words) if words else {}
    except ValueError:
        kept = {}
    if not isinstance(kept, dict):
        kept = {}
    return Said(error, error, {code: str(text) for code, text in kept.items()} | {"en": error})


def _naive_utc(moment: datetime) -> datetime:
    # DATETIME columns carry no zone; the table stores UTC.
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")
