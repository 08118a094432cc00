"""What a run keeps for the next one in bitrix_sync_state: read at its start, written per
directory in that directory's own transaction (app/db/sync_state.py has the table)."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from app.bitrix.changes import PortalTime
from app.db.connect import database_errors, describe_db_error
from app.db.sync_state import DirectoryState, ensure_table, load_states, save_state
from app.messages import say
from app.report import DirectoryReport, DirectoryStatus
from app.sync.incremental import Plan
from app.sync.writer import TableWriter

log = logging.getLogger("app.sync.engine")  # the run's lines keep the name they always had


class StateBook:
    """The run's access to bitrix_sync_state; a dry run (or a table it cannot use) keeps none."""

    def __init__(self, db: Engine, *, keeps: bool) -> None:
        self.db = db
        self.keeps = keeps

    def load(self) -> dict[str, DirectoryState]:
        """The state rows (the table is created first unless this is a dry run)."""
        try:
            with self.db.begin() as conn:
                if self.keeps:
                    ensure_table(conn)
                return load_states(conn)
        except SQLAlchemyError as exc:
            self.keeps = False
            log.warning(say("log.no_state_table", why=describe_db_error(exc)))
            return {}

    def save(self, state: DirectoryState, conn: Connection | None = None) -> None:
        """Write one row, in `conn`'s transaction or in one of its own."""
        if not self.keeps:
            return
        if conn is not None:
            save_state(conn, state)
            return
        with database_errors(say("db.saving_state")), \
                self.db.begin() as own:
            save_state(own, state)

    def record_read(self, conn: Connection, plan: Plan, stats: DirectoryReport,
                    writer: TableWriter, started: PortalTime | None) -> None:
        """Record a directory's read (begun at `started`, portal clock) in its transaction."""
        if not self.keeps or stats.status == DirectoryStatus.FAILED:  # a refused mass removal
            return
        if started is None:
            log.info("%s: the portal's answer carried no time; the next read is full", plan.name)
            return
        unresolved = stats.warnings > 0
        if plan.incremental:
            full_read_at = plan.state.full_read_at
            unresolved = unresolved or bool(plan.state.details.get("unresolved"))
        else:
            full_read_at = started.at
        # offset: the portal's UTC offset at read_at, for the next bound (daylight saving).
        details = {"errors": stats.errors, "unresolved": unresolved, "offset": started.offset,
                   "rows": writer.present_count(), "active": writer.live_count()}
        self.save(DirectoryState(plan.name, plan.fingerprint, full_read_at=full_read_at,
                                 read_at=started.at, mode=plan.mode.value, details=details), conn)
