"""SyncEngine: runs the directories in dependency order and fills the run's report."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from graphlib import CycleError, TopologicalSorter
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.bitrix.client import PAGE_SIZE, Bitrix24Client, usable_id
from app.bitrix.methods import Paging
from app.bitrix.paging.query import read_params
from app.bitrix.read_ahead import ReadPipeline
from app.bitrix.reconcile import reconcile, still_listed
from app.db.connect import database_errors, describe_db_error
from app.db.parent_models import ModelSet
from app.db.sync_state import PORTAL_ROW, DirectoryState, ensure_table, load_states, save_state
from app.errors import (
    DatabaseError,
    LockLostError,
    MappingError,
    PortalError,
    PortalFatalError,
    RecordError,
    StopRequested,
)
from app.logging_setup import IN_REPORT
from app.report import DirectoryStatus, SyncReport
from app.sync.incremental import FULL, INCREMENTAL, Freshness, Opener, Plan, plan_directory
from app.sync.values import ValueProblem, convert
from app.sync.writer import CHUNK, Prepared, TableWriter
from app.syncers.base_syncer import BaseSyncer

log = logging.getLogger(__name__)

_DONE, _ENDED, _AGAIN = "done", "ended", "again"  # how one attempt at a directory ended


# progress(directory, phase, rows): phase is "reading", "writing" or "done"; rows read so far.
Progress = Callable[[str, str, int], None]

# How often the run lock is checked while the writer waits for pages (it is checked before
# every write and commit regardless). The check also keeps the lock's connection from
# looking idle to a proxy or firewall.
LOCK_CHECK_SECONDS = 15.0


class PendingRow:
    """In a dry run, the local row a referenced record would have got had it been created."""

    def __init__(self, directory: str, btxid: int) -> None:
        self.directory, self.btxid = directory, btxid

    def __repr__(self) -> str:
        return f"(new {self.directory} {self.btxid})"

    __str__ = __repr__


def run_order(syncers: dict[str, BaseSyncer], selected: Iterable[str] | None = None) -> list[str]:
    """Registered order, adjusted so every directory follows the ones it depends on.

    Raises MappingError for a dependency on an unknown directory or a cycle.
    """
    names = list(syncers)
    graph: dict[str, set[str]] = {}
    for name, syncer in syncers.items():
        for dep in syncer.dependencies():
            if dep not in syncers:
                raise MappingError(f"Directory {name!r} depends on {dep!r}, which is not a "
                                   f"known directory ({', '.join(names)})")
        graph[name] = syncer.dependencies()
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise MappingError(f"Directories depend on each other in a cycle: {cycle}") from None
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
        self.reads: ReadPipeline | None = None
        self._started: list[str] = []
        self._committed: set[str] = set()
        self._unmatched: set[str] = set()  # directories whose read had a record without an id
        self.freshness = freshness or Freshness()
        self.plans: dict[str, Plan] = {}
        self.feeds: dict[str, tuple[str, dict[str, Any]]] = {}  # name -> (feed key, params)
        self.keeps_state = not dry_run  # a dry run writes nothing, state included

    def run(self, order: list[str], report: SyncReport | None = None) -> SyncReport:
        """Sync the directories of `order`, which run_order() has put in dependency order."""
        report = report or SyncReport(dry_run=self.dry_run)
        for name in order:
            report.directory(name)
        self._started, self._committed = [], set()
        try:
            # Every directory is read in the background from the start (reads do not depend
            # on each other); writes still go one directory at a time in dependency order.
            self.reads = ReadPipeline(self.client)
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
        """Plan each directory (full or incremental), start the full reads, open the others."""
        states = self._states()
        now = datetime.now(UTC)
        for name in order:
            syncer = self.syncers[name]
            table = self.models.get(syncer.mapping.model).__table__
            self.plans[name] = plan_directory(syncer, table, states.get(name), self.freshness,
                                              now)
            if self.plans[name].mode == FULL:
                self._start_full(name)
        portal = states.get(PORTAL_ROW)
        opener = Opener(self.client, portal.details if portal else {}, self.freshness,
                        self.read_params, {n: self.syncers[n].mapping.method for n in order})
        try:
            opener.open(list(self.plans.values()))
        except PortalError as exc:
            if isinstance(exc, PortalFatalError):
                report.fail(exc)  # the run ends; every directory is skipped
                log.error("%s", exc, extra=IN_REPORT)
            for plan in self.plans.values():
                if plan.mode == INCREMENTAL:
                    plan.fall_back(f"the opening batch failed ({exc})")
        if opener.learned and self.keeps_state:
            self._save(DirectoryState(PORTAL_ROW, details=opener.facts))
        for name in order:
            plan = self.plans[name]
            stats = report.directory(name)
            stats.mode, stats.mode_reason = plan.mode, plan.reason
            log.info("%s: read %s%s", name, plan.mode, f" ({plan.reason})" if plan.reason else "")
            if plan.mode == INCREMENTAL:
                self.feeds[name] = (name, plan.opening.change_params)
                self.reads.start(name, self.syncers[name].mapping.method,
                                 plan.opening.change_params, head=plan.opening.head)
            else:
                self._start_full(name)

    def read_params(self, name: str) -> dict[str, Any]:
        """The params a directory's reads send, whichever way it is read: the mapping's own,
        with a select of the mapped fields where the method honours one."""
        syncer = self.syncers[name]
        return read_params(syncer.mapping.method, syncer.mapping.params, syncer.fields_read())

    def _start_full(self, name: str, key: str | None = None) -> None:
        """Start the full read of a directory (once); `key` names a second read's feed."""
        key = key or name
        self.feeds[name] = (key, self.read_params(name))
        self.reads.start(key, self.syncers[name].mapping.method, self.feeds[name][1])

    def _states(self) -> dict[str, DirectoryState]:
        """The state rows (the table is created first unless this is a dry run)."""
        try:
            with self.db.begin() as conn:
                if self.keeps_state:
                    ensure_table(conn)
                return load_states(conn)
        except SQLAlchemyError as exc:
            self.keeps_state = False
            log.warning("cannot use the table bitrix_sync_state (%s); every directory is read "
                        "in full and no state is kept", describe_db_error(exc))
            return {}

    def _save(self, state: DirectoryState, conn=None) -> None:
        if not self.keeps_state:
            return
        if conn is not None:
            save_state(conn, state)
            return
        with database_errors("Database error while saving the sync state"), \
                self.db.begin() as own:
            save_state(own, state)

    def _run_in_order(self, order: list[str], report: SyncReport) -> None:
        for name in order:
            stats = report.directory(name)
            if report.fatal or self.stop_event.is_set():
                stats.status = DirectoryStatus.SKIPPED
                stats.message = "not run: " + ("the run stopped early" if not report.fatal
                                               else "an earlier error ended the run")
                continue
            self._started.append(name)
            try:
                self._check_lock(now=True)  # a run that lost its lock starts nothing more
                self.sync_directory(name, report)
            except (PortalFatalError, DatabaseError, LockLostError) as exc:
                stats.fail(str(exc))
                report.fail(exc)
                log.error("%s: %s", name, exc, extra=IN_REPORT)

    def _unfinished(self, order: list[str], report: SyncReport, exc: BaseException) -> None:
        """After an unexpected error (a bug, MemoryError, Ctrl+C), no directory that did not
        finish may look ok: the one in progress failed (or stopped), the rest did not run."""
        stopped = not isinstance(exc, Exception)  # KeyboardInterrupt, SystemExit
        current = self._started[-1] if self._started else None
        for name in order:
            stats = report.directory(name)
            if name in self._committed or (name != current and name in self._started):
                continue  # finished: its outcome is already in the report
            if name != current:
                stats.status = DirectoryStatus.SKIPPED
                stats.message = "not run: " + ("the run stopped early" if stopped else
                                               "an earlier error ended the run")
            elif stopped:
                stats.status = DirectoryStatus.SKIPPED
                stats.message = "stopped; changes rolled back"
            else:
                stats.fail(f"did not finish: unexpected error {type(exc).__name__}; "
                           "changes rolled back")

    def sync_directory(self, name: str, report: SyncReport) -> None:
        """Read one directory (in full, or its changes) and write it in one transaction."""
        syncer = self.syncers[name]
        stats = report.directory(name)
        started = time.monotonic()
        mapping = syncer.mapping
        table = self.models.get(mapping.model).__table__
        if mapping.deactivation_column(table.c.keys()) is None and mapping.active_column is None:
            stats.notices.append(no_active_column_notice(name, table.name))
            log.info("%s: %s", name, stats.notices[-1])
        plan = self.plans.get(name) or Plan(name, FULL)
        self.plans[name] = plan
        references = self._references_grew(syncer, plan, report)
        if references:
            self._read_again_in_full(name, plan, report, references)
        log.info("%s: reading %s", name, mapping.method)
        try:
            with database_errors(f"Database error while writing {name}"):
                outcome = self._sync_in_transaction(syncer, table, report)
                if outcome == _AGAIN:  # the changes did not add up: read it all now
                    outcome = self._sync_in_transaction(syncer, table, report)
        finally:
            if name not in self._committed:
                # Rolled back (a stop, a database error, a lost lock, a crash): the report
                # and the history count what was committed.
                stats.created = stats.updated = stats.deactivated = 0
            stats.seconds = time.monotonic() - started
            self.progress(name, "done", stats.fetched)
        if outcome != _DONE:
            return
        if stats.status not in (DirectoryStatus.FAILED, DirectoryStatus.SKIPPED) and stats.errors:
            stats.status = DirectoryStatus.WITH_ERRORS
        log.info("%s: %s read, fetched %d, created %d, updated %d, unchanged %d, deactivated %d,"
                 " errors %d", name, stats.mode, stats.fetched, stats.created, stats.updated,
                 stats.unchanged, stats.deactivated, stats.errors)

    def _read_again_in_full(self, name: str, plan: Plan, report: SyncReport,
                            reason: str) -> None:
        plan.fall_back(reason)
        report.restart_directory(name, FULL, reason)
        log.info("%s: read in full after all: %s", name, reason)
        self._start_full(name, key=f"{name}:full")

    def _references_grew(self, syncer: BaseSyncer, plan: Plan, report: SyncReport) -> str | None:
        """Rows that hold NULL for a missing referenced record could be filled now."""
        if plan.mode != INCREMENTAL or not plan.state.details.get("unresolved"):
            return None
        grown = sorted({t for t in syncer.mapping.references.values()
                        if t in report.directories and report.directories[t].created})
        if not grown:
            return None
        return (f"some rows refer to records that were missing, and {', '.join(grown)} got "
                "new rows")

    def _sync_in_transaction(self, syncer: BaseSyncer, table, report: SyncReport) -> str:
        """Read and write one directory, then deactivate: _DONE, _ENDED early, or _AGAIN.

        A stop rolls the directory back; a read error keeps what arrived and
        deactivates nothing (a fatal one is raised again, ending the run). An
        incremental read whose counts show records missing locally is rolled back
        (_AGAIN) and the directory is read in full instead.
        """
        name, mapping, stats = syncer.name, syncer.mapping, report.directory(syncer.name)
        plan = self.plans[name]
        refs = self._references(syncer, report)
        self._unmatched.discard(name)
        with self.db.connect() as conn:
            transaction = conn.begin()
            writer = TableWriter(
                conn, table, directory=name, columns=mapping.columns,
                active_column=mapping.deactivation_column(table.c.keys()),
                new_row_defaults=lambda: syncer.new_row_defaults(set(table.c.keys())),
                report=report, dry_run=self.dry_run)
            writer.load_existing()
            touched = self._touched_outside(plan, writer)
            if touched:
                transaction.rollback()
                self._read_again_in_full(name, plan, report, touched)
                return _AGAIN
            try:
                self._read_and_write(syncer, table, refs, writer, report)
                again = self._removals(name, writer, report) if plan.mode == INCREMENTAL \
                    else None
                removed = self._offset_removals(syncer, writer, report) if plan.mode == FULL \
                    else None
            except StopRequested:
                transaction.rollback()
                stats.status = DirectoryStatus.SKIPPED
                stats.message = "stopped; changes rolled back"
                return _ENDED
            except PortalError as exc:
                self._commit(name, transaction)  # keep what arrived; deactivate nothing
                stats.fail(f"read incomplete, nothing deactivated: {exc}")
                report.add_issue(name, None, None, str(exc))
                if isinstance(exc, PortalFatalError):
                    raise
                return _ENDED
            if again is not None:
                transaction.rollback()
                self._read_again_in_full(name, plan, report, again)
                return _AGAIN
            stats.complete = True
            self.progress(name, "writing", stats.fetched)
            if plan.mode == FULL:
                self._deactivate(name, writer, report, missing=removed)
            self._keep_state(conn, syncer, report, writer)
            self._commit(name, transaction)
        return _DONE

    def _removals(self, name: str, writer: TableWriter, report: SyncReport) -> str | None:
        """After the changes: deactivate what the portal no longer has under the filter.

        Returns why the directory must be read in full instead when the counts show
        the table lacks records the portal has (the changes alone cannot be trusted).
        """
        opening = self.plans[name].opening
        unstored = writer.unstored_ids()
        if writer.active_column is None:  # nothing to deactivate; still, nothing may be lacking
            present = len(writer.present_ids() | unstored)
            if opening.count_total > present:
                return (f"after the changes the portal has {opening.count_total} records and "
                        f"the table {present}")
            return None
        if self._keeps_all(name, report):
            return None
        live = writer.live_ids()
        local = sorted(live | unstored)
        gone = len(local) - opening.count_total
        if gone > 0 and self._mass(gone, len(live)):
            self._refuse_mass(name, gone, len(live), report)
            return None
        found = reconcile(self.client, opening.count_query, local, opening.count_total,
                          opening.count_page)
        if found.missing:
            return (f"after the changes the portal has {found.missing} record(s) under the "
                    "filter that the table lacks")
        removed = [b for b in found.removed if b in live]
        if removed:
            self._deactivate(name, writer, report, missing=writer.pks(removed), active=len(live))
        return None

    def _offset_removals(self, syncer: BaseSyncer, writer: TableWriter,
                         report: SyncReport) -> list[Any] | None:
        """After a full read by offset: the rows to deactivate, each confirmed gone by asking
        the portal for it by id (None: a keyset read, whose missing rows are gone).

        Pages by position can skip a live record unseen: one record leaves the filter
        before the cursor while another joins after it, and the total and the id order
        still hold. So there, not being read proves nothing. A method that cannot be asked
        by id deactivates nothing after a read of more than one page.
        """
        mapping, stats = syncer.mapping, report.directory(syncer.name)
        summary = self.reads.summary(self.feeds[syncer.name][0])
        if summary is None:
            return []  # no finished read to go by: deactivate nothing
        if summary.strategy is Paging.KEYSET:
            return None
        query = summary.query
        missing = writer.missing_active_ids()
        if not missing or self._keeps_all(syncer.name, report):
            return []  # nothing to ask the portal about
        listed = still_listed(self.client, query, missing)
        if listed is None:
            if stats.fetched <= PAGE_SIZE:  # one page: one answer, nothing skipped
                return None
            stats.notices.append(
                f"{mapping.method} is read page by page and cannot be asked for records by "
                f"id, so the {len(missing)} record(s) it did not return were not deactivated")
            log.warning("%s: %s", syncer.name, stats.notices[-1])
            return []
        if listed:
            log.info("%s: %d record(s) the pages skipped are still in Bitrix24; kept active",
                     syncer.name, len(listed))
        return writer.pks(b for b in missing if b not in listed)

    @staticmethod
    def _touched_outside(plan: Plan, writer: TableWriter) -> str | None:
        """Rows deleted or deactivated in the table by someone else since the last read: the
        counts that prove an incremental read would no longer add up."""
        if plan.mode != INCREMENTAL:
            return None
        now, then = writer.table_counts(), plan.state.details
        for key, what in (("rows", "deleted"), ("active", "deactivated")):
            if isinstance(then.get(key), int) and now[key] < then[key]:
                return (f"{then[key] - now[key]} row(s) were {what} in the table outside the "
                        "sync since the last read")
        return None

    def _keep_state(self, conn, syncer: BaseSyncer, report: SyncReport,
                    writer: TableWriter) -> None:
        """Record the read in bitrix_sync_state, in the directory's own transaction."""
        name, stats, plan = syncer.name, report.directory(syncer.name), self.plans[syncer.name]
        if not self.keeps_state or stats.status in (DirectoryStatus.FAILED,
                                                    DirectoryStatus.SKIPPED):
            return
        unresolved = stats.warnings > 0
        if plan.mode == INCREMENTAL:
            started, full_read_at = plan.opening.started, plan.state.full_read_at
            unresolved = unresolved or bool(plan.state.details.get("unresolved"))
        else:
            summary = self.reads.summary(self.feeds[name][0])
            started = summary.started if summary is not None else None
            if started is None:
                log.info("%s: the portal's answer carried no time; the next read is full", name)
                return
            full_read_at = started.at
        live = writer.live_ids()
        details = {"errors": stats.errors, "unresolved": unresolved,
                   "rows": len(writer.present_ids()),
                   "active": len(live) if writer.active_column else len(writer.present_ids())}
        self._save(DirectoryState(name, plan.fingerprint, full_read_at=full_read_at,
                                  read_at=started.at, mode=plan.mode, details=details), conn)

    def _commit(self, name: str, transaction) -> None:
        self._check_lock(now=True)  # never commit beside a run that took our lock
        transaction.commit()
        self._committed.add(name)

    def _check_lock(self, *, now: bool = False) -> None:
        """Check the run lock (at most every LOCK_CHECK_SECONDS unless `now`)."""
        if now or time.monotonic() - self._lock_checked >= LOCK_CHECK_SECONDS:
            self.lock_check()
            self._lock_checked = time.monotonic()

    def _references(self, syncer: BaseSyncer, report: SyncReport) -> dict[str, dict[int, Any]]:
        """Reference column -> {btxid: local id} of the directory it points at."""
        refs = {column: self._local_ids(target)
                for column, target in syncer.mapping.references.items()}
        if self.dry_run:  # refer to rows the dry run only pretended to create
            for column, target in syncer.mapping.references.items():
                refs[column].update({p.btxid: PendingRow(target, p.btxid)
                                     for p in report.planned
                                     if p.directory == target and p.action == "create"})
        return refs

    def _read_and_write(self, syncer: BaseSyncer, table, refs: dict, writer: TableWriter,
                        report: SyncReport) -> None:
        stats = report.directory(syncer.name)
        mapping = syncer.mapping
        checked_fields = False
        prepared: list[Prepared] = []  # written in chunks, not page by page
        try:
            for page in self._pages(syncer.name, mapping):
                if self.stop_event.is_set():
                    raise StopRequested
                if not checked_fields:
                    self._warn_absent_fields(syncer, page)
                    checked_fields = True
                self.progress(syncer.name, "reading", stats.fetched + len(page))
                for raw in page:
                    stats.fetched += 1
                    try:
                        prepared.append(self.prepare(syncer, raw, table, refs, report))
                    except RecordError as exc:
                        report.add_issue(exc.directory, exc.btxid, exc.field, str(exc),
                                         record=True)
                        log.warning("%s btxid %s: %s", exc.directory, exc.btxid, exc,
                                    extra=IN_REPORT)
                        if exc.btxid is not None:
                            writer.keep(exc.btxid)
                        else:  # its row cannot be told from a removed one: keep them all
                            self._unmatched.add(syncer.name)
                if len(prepared) >= CHUNK:
                    self._write(writer, prepared)
                    prepared = []
        except PortalError:
            self._write(writer, prepared)  # what arrived is kept; nothing is deactivated
            raise
        self._write(writer, prepared)

    def _write(self, writer: TableWriter, prepared: list[Prepared]) -> None:
        if prepared:
            self._check_lock(now=True)  # nothing is sent beside a run that took our lock
            writer.write(prepared)

    def _pages(self, name: str, mapping) -> Iterator[list[dict[str, Any]]]:
        """The directory's pages from the run's background reads (run() opens them)."""
        if self.reads is None:
            raise RuntimeError("SyncEngine reads a directory only inside run()")
        key, params = self.feeds.get(name) or (name, self.read_params(name))
        # A stop is noticed while waiting for a page too (StopRequested), not only between pages.
        return self.reads.pages(key, mapping.method, params, stop=self.stop_event,
                                waiting=self._check_lock)

    def prepare(self, syncer: BaseSyncer, raw: dict[str, Any], table, refs: dict,
                report: SyncReport) -> Prepared:
        """Convert one Bitrix24 record into column values; RecordError if it cannot be."""
        mapping = syncer.mapping
        record = syncer.transform(raw)
        id_field = mapping.id_field or ("id" if "id" in record else "ID")
        raw_id = record.get(id_field)
        btxid = usable_id(raw_id)
        if btxid is None:
            raise RecordError(f"has no usable id in field {id_field!r} ({raw_id!r}); the record "
                              "was not stored", directory=syncer.name, field=id_field)
        values: dict[str, Any] = {}
        for field_name, column in mapping.fields.items():
            is_ref = column in refs
            try:
                value = convert(record.get(field_name), table.c[column], is_reference=is_ref)
            except ValueProblem as problem:
                raise RecordError(f"{column} (from {field_name}) {problem}",
                                  directory=syncer.name, btxid=btxid, field=column) from None
            if is_ref and value is not None:
                local = refs[column].get(int(value))
                if local is None:
                    report.directory(syncer.name).warnings += 1
                    log.warning("%s btxid %s: %s refers to %s %s, which is not in the local "
                                "table; stored NULL", syncer.name, btxid, column,
                                mapping.references[column], value)
                value = local
            values[column] = value
        return Prepared(btxid, values)

    def _local_ids(self, directory: str) -> dict[int, Any]:
        table = self.models.get(self.syncers[directory].mapping.model).__table__
        pk = list(table.primary_key.columns)[0]
        with self.db.connect() as conn:
            rows = conn.execute(select(table.c.btxid, pk).where(table.c.btxid.is_not(None)))
            return {int(b): i for b, i in rows}

    def _warn_absent_fields(self, syncer: BaseSyncer, page: list[dict[str, Any]]) -> None:
        present = set().union(*(syncer.transform(dict(r)).keys() for r in page))
        for field_name, column in syncer.mapping.fields.items():
            if field_name not in present:
                log.warning("%s: field %r (mapped to %s) is not in the rows Bitrix24 returned; "
                            "check its name in the mapping (`python cli.py --check`)",
                            syncer.name, field_name, column)

    def _deactivate(self, name: str, writer: TableWriter, report: SyncReport, *,
                    missing: list[Any] | None = None, active: int | None = None) -> None:
        """Deactivate `missing` (a full read: the active rows it did not return), guarded."""
        missing = writer.missing_active() if missing is None else missing
        if not missing:
            return
        if self._keeps_all(name, report):
            return
        active = writer.active_count() if active is None else active
        if self._mass(len(missing), active):
            self._refuse_mass(name, len(missing), active, report)
            return
        writer.deactivate(missing)

    def _keeps_all(self, name: str, report: SyncReport) -> bool:
        """True (and said once) when a record without a usable id leaves every row active."""
        if name not in self._unmatched:
            return False
        report.directory(name).notices.append(UNMATCHED_NOTICE)
        log.warning("%s: %s", name, UNMATCHED_NOTICE)
        return True

    def _mass(self, gone: int, active: int) -> bool:
        return (gone * 2 > active or gone == active) and not self.allow_mass_deactivation

    def _refuse_mass(self, name: str, gone: int, active: int, report: SyncReport) -> None:
        message = (f"Bitrix24 no longer returns {gone} of {active} active records; "
                   "that looks like lost access rather than deletions, so nothing was "
                   "deactivated. If it is intended, run with --allow-mass-deactivation.")
        report.directory(name).fail(message)
        report.add_issue(name, None, None, message)
        log.error("%s: %s", name, message, extra=IN_REPORT)


UNMATCHED_NOTICE = ("a record without a usable id cannot be matched to its row, so nothing was "
                    "deactivated in this run")


def no_active_column_notice(name: str, table: str) -> str:
    """Said once per directory (report, log, --check) when nothing can be deactivated."""
    return (f"table {table} has no is_active column, so records removed in Bitrix24 are left "
            f"as they are (active_column in [{name}] of mapping.toml can name another column; "
            "\"\" turns this note off)")

