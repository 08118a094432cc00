"""SyncEngine: runs the directories in dependency order and fills the run's report.

A run plans each directory (full or incremental: incremental.py) and starts every read in
the background; then it writes the directories one by one, each in one transaction: its
records converted (records.py) and upserted (writer.py), the rows the portal no longer
has deactivated (removals.py), and what the next run needs kept (state.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from graphlib import CycleError, TopologicalSorter

from sqlalchemy import Table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.bitrix.client import Bitrix24Client
from app.db.connect import describe_db_error
from app.db.parent_models import ModelSet
from app.db.sync_state import PORTAL_ROW, DirectoryState
from app.errors import (
    DatabaseError,
    LockLostError,
    MappingError,
    PortalError,
    PortalFatalError,
)
from app.logging_setup import IN_REPORT
from app.messages import say
from app.report import SyncReport
from app.sync.directory import DirectorySync
from app.sync.feeds import Feeds
from app.sync.incremental import Freshness, Opener, Plan, plan_directory
from app.sync.state import StateBook
from app.sync.writer import highest_btxid
from app.syncers.base_syncer import BaseSyncer

log = logging.getLogger(__name__)

# progress(directory, phase, rows): phase is "reading", "writing", "done" (committed) or
# "stopped" (cut off and rolled back); rows read so far.
Progress = Callable[[str, str, int], None]

# How often the run lock is checked while the writer waits for pages (it is checked before
# every write and commit regardless). The check also keeps the lock's connection from
# looking idle to a proxy or firewall.
LOCK_CHECK_SECONDS = 15.0


def run_order(syncers: dict[str, BaseSyncer], selected: Iterable[str] | None = None) -> list[str]:
    """Registered order, adjusted so every directory follows the ones it depends on.

    Raises MappingError for a dependency on an unknown directory or a cycle.
    """
    names = list(syncers)
    graph: dict[str, set[str]] = {}
    for name, syncer in syncers.items():
        for dep in syncer.dependencies():
            if dep not in syncers:
                raise MappingError(say("order.unknown_dependency", name=name, dep=dep,
                                       names=", ".join(names)))
        graph[name] = syncer.dependencies()
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise MappingError(say("order.cycle", cycle=cycle)) from None
    # Earliest registered directory whose dependencies are done goes next: the run
    # order reads like the registry (city, category, object, violation, user).
    order: list[str] = []
    while len(order) < len(names):
        order.append(next(n for n in names if n not in order and graph[n] <= set(order)))
    wanted = set(selected) if selected else set(names)
    return [n for n in order if n in wanted]


class SyncEngine:
    """One portal, one database, the directories of one run."""

    def __init__(
        self,
        *,
        client: Bitrix24Client,
        db: Engine,
        models: ModelSet,
        syncers: dict[str, BaseSyncer],
        allow_mass_deactivation: bool = False,
        dry_run: bool = False,
        stop_event: threading.Event | None = None,
        progress: Progress | None = None,
        lock_check: Callable[[], None] | None = None,
        freshness: Freshness | None = None,
    ) -> None:
        self.client = client
        self.db = db
        self.models = models
        self.syncers = syncers
        self.allow_mass_deactivation = allow_mass_deactivation
        self.dry_run = dry_run
        self.stop_event = stop_event or threading.Event()
        self.progress = progress or (lambda directory, phase, rows: None)
        # Raises LockLostError when this run no longer holds the run lock (run_guard's).
        self.lock_check = lock_check or (lambda: None)
        self._lock_checked = time.monotonic()
        self.reads: Feeds | None = None
        self._started: list[str] = []
        self.committed: set[str] = set()
        self.freshness = freshness or Freshness()
        self.plans: dict[str, Plan] = {}
        self.state = StateBook(db, keeps=not dry_run)  # a dry run writes nothing, state included

    def run(self, order: list[str], report: SyncReport | None = None) -> SyncReport:
        """Sync the directories of `order`, which run_order() has put in dependency order."""
        report = report or SyncReport(dry_run=self.dry_run)
        for name in order:
            report.directory(name)
        self._started, self.committed = [], set()
        try:
            # Every directory is read in the background from the start (reads do not depend
            # on each other); writes still go one directory at a time in dependency order.
            self.reads = Feeds(self.client, self.syncers)
            self._start_reads(order, report)
            self._run_in_order(order, report)
        except BaseException as exc:
            self._unfinished(order, report, exc)
            raise
        finally:
            if self.reads is not None:
                self.reads.close()
            self.reads = None
        return report

    def _start_reads(self, order: list[str], report: SyncReport) -> None:
        """Plan each directory (full or incremental), start the full reads, open the others.

        A fatal error in the opening batch ends the run: no further read is started.
        """
        states = self.state.load()
        with self.reads.starting():  # the full reads' first pages go out in one request
            for name in order:
                # SYNC_FULL_EVERY is left to the opening batch, which brings the portal's
                # clock: a clock difference kept from an earlier run goes stale when this
                # host's clock is set, and deciding on it here would skip the opening that
                # measures it again.
                self.plans[name] = plan_directory(self.syncers[name], self.table(name),
                                                  states.get(name), self.freshness, None)
                if not self.plans[name].incremental:
                    self.reads.start(self.plans[name])
        self._highest_ids([p for p in self.plans.values() if p.incremental])
        self._open(states.get(PORTAL_ROW), order, report)
        for name in order:
            plan = self.plans[name]
            stats = report.directory(name)
            stats.mode, stats.mode_reason = plan.mode.value, plan.reason
            log.info("%s: read %s%s", name, plan.mode,  # the log keeps the English wording
                     f" ({getattr(plan.reason, 'en', plan.reason)})" if plan.reason else "")
            if not report.fatal:  # else every directory will be skipped
                self.reads.start(plan)

    def _highest_ids(self, plans: list[Plan]) -> None:
        """Each incremental directory's highest btxid: the opening reads every record above
        it, whatever its stamp (the portal gives every new record a higher id)."""
        if not plans:
            return
        try:
            with self.db.connect() as conn:
                for plan in plans:
                    plan.local_max = highest_btxid(conn, self.table(plan.name))
        except SQLAlchemyError as exc:
            for plan in plans:
                plan.fall_back(say("reason.highest_btxid", error=describe_db_error(exc)))

    def _open(self, portal: DirectoryState | None, order: list[str], report: SyncReport) -> None:
        """The opening batch of the incremental reads; a directory it fails is read in full."""
        opener = Opener(self.client, portal.details if portal else {}, self.freshness,
                        self.reads.read_params, {n: self.syncers[n].mapping.method for n in order})
        try:
            opener.open(list(self.plans.values()))
        except PortalError as exc:
            if isinstance(exc, PortalFatalError):
                report.fail(exc)  # the run ends; every directory is skipped
                log.error("%s", exc, extra=IN_REPORT)
            for plan in self.plans.values():
                if plan.incremental:
                    plan.fall_back(say("reason.opening_failed", error=exc))
        if opener.learned:
            self.state.save(DirectoryState(PORTAL_ROW, details=opener.facts))

    def table(self, name: str) -> Table:
        return self.models.get(self.syncers[name].mapping.model).__table__

    def _run_in_order(self, order: list[str], report: SyncReport) -> None:
        for name in order:
            stats = report.directory(name)
            if report.fatal or self.stop_event.is_set():
                stats.not_run(say("engine.stopped_early" if not report.fatal
                                  else "engine.earlier_error"))
                continue
            self._started.append(name)
            try:
                self.check_lock(now=True)  # a run that lost its lock starts nothing more
                DirectorySync(self, name, report).sync()
            except (PortalFatalError, DatabaseError, LockLostError) as exc:
                stats.fail(exc.said)
                report.fail(exc)
                log.error("%s: %s", name, exc, extra=IN_REPORT)

    def _unfinished(self, order: list[str], report: SyncReport, exc: BaseException) -> None:
        """After an unexpected error (a bug, MemoryError, Ctrl+C), no directory that did not
        finish may look ok: the one in progress failed (or stopped), the rest did not run."""
        stopped = not isinstance(exc, Exception)  # KeyboardInterrupt, SystemExit
        current = self._started[-1] if self._started else None
        for name in order:
            stats = report.directory(name)
            if name in self.committed or (name != current and name in self._started):
                continue  # finished: its outcome is already in the report
            if name != current:
                stats.not_run(say("engine.stopped_early" if stopped else "engine.earlier_error"))
            elif stopped:
                stats.roll_back()
            else:
                stats.fail(say("outcome.unexpected", kind=type(exc).__name__))

    def check_lock(self, *, now: bool = False) -> None:
        """Check the run lock (at most every LOCK_CHECK_SECONDS unless `now`)."""
        if now or time.monotonic() - self._lock_checked >= LOCK_CHECK_SECONDS:
            self.lock_check()
            self._lock_checked = time.monotonic()
