"""Around every run: take the run lock, then keep the run's row in bitrix_sync_runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from app.db.connect import check_connection, make_engine
from app.db.history import RunHistory
from app.db.run_lock import HeldLock, run_lock
from app.errors import LockHeldError
from app.messages import say
from app.report import SyncReport


@contextlib.contextmanager
def guarded_run(database_url: str, trigger: str, report: SyncReport) -> Iterator[HeldLock]:
    """Run the block as the only sync on this database, recorded in the run history.

    Yields the held lock: the block calls its `check()` before each commit, so a
    run whose lock went away stops (LockLostError, exit 4) instead of writing
    beside the run that took it.

    Raises DatabaseError (exit 3) when the database cannot be reached and
    LockHeldError (exit 4, naming the run that holds the lock when the history
    knows it) when another run is in progress; in both cases nothing is recorded.
    The block puts its own errors in `report` (run_sync does), so the row tells
    them; an exception that still leaves the block is recorded as a crash.

    A dry run takes the lock (it reads the tables a real run rewrites and spends the
    same portal quota) but is not recorded: it promises to write nothing at all.
    """
    # A separate engine: its one connection carries the MySQL lock for the whole run and
    # is closed, not pooled, when the run ends.
    engine = make_engine(database_url)
    try:
        check_connection(engine)
        with engine.connect() as conn, contextlib.ExitStack() as stack:
            history = RunHistory(conn)
            try:
                held = stack.enter_context(run_lock(conn))
            except LockHeldError as exc:
                raise LockHeldError(say("lock.did_not_start", held=exc,
                                        holder=history.holder())) from None
            run_id = None if report.dry_run else history.begin(trigger, report,
                                                               alive=held.run_alive)
            if run_id is not None:
                held.claim(run_id)
            crash: BaseException | None = None
            try:
                yield held
            except BaseException as exc:
                crash = exc
                raise
            finally:
                history.finish(run_id, report, crash)
    finally:
        engine.dispose()
