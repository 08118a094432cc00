"""One directory of a run, in one transaction: its pages read and converted, its rows
written, the rows the portal no longer has deactivated (under the two guards), and what
the next run needs kept."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from app.db.connect import database_errors
from app.errors import PortalError, PortalFatalError, StopRequested
from app.logging_setup import IN_REPORT
from app.messages import Said, say
from app.report import DirectoryStatus, SyncReport
from app.sync.incremental import FULL, references_grew
from app.sync.records import RecordConverter, references
from app.sync.removals import (
    CountedRemovals,
    FullReadRemovals,
    RemovalCheck,
    Removals,
    no_active_column_notice,
    unmatched_notice,
)
from app.sync.writer import CHUNK, Prepared, TableWriter

if TYPE_CHECKING:
    from app.sync.engine import SyncEngine

log = logging.getLogger("app.sync.engine")  # the run's lines keep the name they always had

# Records converted before they are written. Every write checks the run lock first (four
# round trips to the database), so a write carries several of the writer's chunks.
WRITE_BATCH = 5 * CHUNK

_DONE, _ENDED, _AGAIN = "done", "ended", "again"  # how one attempt at a directory ended


class DirectorySync:
    """One directory of the engine's run (as a Singer stream is one of its tap's)."""

    def __init__(self, engine: SyncEngine, name: str, report: SyncReport) -> None:
        self.engine, self.name, self.report = engine, name, report
        self.syncer, self.plan = engine.syncers[name], engine.plans[name]
        self.stats = report.directory(name)
        self.table = engine.table(name)

    def sync(self) -> None:
        """Read the directory (in full, or its changes) and write it in one transaction."""
        name, stats, mapping, table = self.name, self.stats, self.syncer.mapping, self.table
        started = time.monotonic()
        if mapping.deactivation_column(table.c.keys()) is None and mapping.active_column is None:
            stats.notices.append(no_active_column_notice(name, table.name))
            log.info("%s: %s", name, stats.notices[-1])
        grown = references_grew(self.syncer, self.plan, self.report)
        if grown:
            self._read_again_in_full(grown)
        log.info("%s: reading %s", name, mapping.method)
        try:
            with database_errors(say("db.while_writing", name=name)):
                outcome = self._attempt()
                if outcome == _AGAIN:  # the changes did not add up: read it all now
                    outcome = self._attempt()
        finally:
            if name not in self.engine.committed:
                # Rolled back (a stop, a database error, a lost lock, a crash): the report
                # and the history count what was committed.
                stats.created = stats.updated = stats.deactivated = 0
            stats.seconds = time.monotonic() - started
            # A directory cut off (a stop, Ctrl+C, a database error) is not "done".
            self.engine.progress(name, "done" if name in self.engine.committed else "stopped",
                                 stats.fetched)
        if outcome != _DONE:
            return
        if stats.status != DirectoryStatus.FAILED and stats.errors:
            stats.status = DirectoryStatus.WITH_ERRORS
        elif stats.status == DirectoryStatus.OK and stats.absent_fields:
            stats.status = DirectoryStatus.WITH_WARNINGS
        log.info("%s: %s read, fetched %d, created %d, updated %d, unchanged %d, deactivated %d,"
                 " errors %d", name, stats.mode, stats.fetched, stats.created, stats.updated,
                 stats.unchanged, stats.deactivated, stats.errors)

    def _read_again_in_full(self, reason: Said) -> None:
        self.plan.fall_back(reason)
        self.report.restart_directory(self.name, FULL.value, reason)
        log.info("%s: read in full after all: %s", self.name, reason)
        self.engine.reads.start(self.plan, key=f"{self.name}:full")

    def _attempt(self) -> str:
        """Read and write the directory, then deactivate: _DONE, _ENDED early, or _AGAIN.

        A stop rolls the directory back; a read error keeps what arrived and
        deactivates nothing (a fatal one is raised again, ending the run). An
        incremental read whose counts show records missing locally is rolled back
        (_AGAIN) and the directory is read in full instead.
        """
        engine, syncer, table, stats, plan = (self.engine, self.syncer, self.table, self.stats,
                                              self.plan)
        refs = references(engine.db, syncer, engine.table, self.report, dry_run=engine.dry_run)
        columns = set(table.c.keys())
        with engine.db.connect() as conn:
            transaction = conn.begin()
            writer = TableWriter(
                conn, table, directory=self.name, columns=syncer.mapping.columns,
                active_column=syncer.mapping.deactivation_column(table.c.keys()),
                new_row_defaults=syncer.row_defaults(columns),
                report=self.report, dry_run=engine.dry_run)
            writer.load_existing()
            check = (CountedRemovals(writer, engine.client, plan) if plan.incremental else
                     FullReadRemovals(writer, engine.client,
                                      lambda: engine.reads.summary(self.name), stats))
            stale = check.stale_table()
            if stale is not None:
                return self._again_in_full(transaction, stale)
            try:
                converter = RecordConverter(syncer, table, refs, self.report)
                self._read_and_write(converter, writer)
                found = self._removals(check, converter.unmatched)
            except StopRequested:
                transaction.rollback()
                stats.roll_back()
                return _ENDED
            except PortalError as exc:
                self._commit(transaction)  # keep what arrived; deactivate nothing
                stats.fail(say("outcome.read_incomplete", error=exc))
                self.report.add_issue(self.name, None, None, exc.said)
                if isinstance(exc, PortalFatalError):
                    raise
                return _ENDED
            if found.read_in_full is not None:
                return self._again_in_full(transaction, found.read_in_full)
            stats.complete = True
            engine.progress(self.name, "writing", stats.fetched)
            if found.pks:
                writer.deactivate(found.pks)
            engine.state.record_read(conn, plan, stats, writer, engine.reads.started(plan))
            self._commit(transaction)
        return _DONE

    def _again_in_full(self, transaction, reason: Said) -> str:
        """The table or the counts show an incremental read cannot be trusted: roll back."""
        transaction.rollback()
        self._read_again_in_full(reason)
        return _AGAIN

    def _removals(self, check: RemovalCheck, unmatched: bool) -> Removals:
        """Run the removal check under the two guards, the same for every way of reading: a
        record without a usable id (`unmatched`) keeps every row active, and a mass removal
        is refused (before the portal is asked when the counts already show it)."""
        if check.may_deactivate() and unmatched:
            self._notice(unmatched_notice())
            return Removals()
        ahead = check.ahead()
        if ahead is not None and self._refused(*ahead):
            return Removals()
        found = check.find()
        for notice in found.notices:
            self._notice(notice)
        if found.pks and self._refused(len(found.pks), found.active):
            return Removals()
        return found

    def _notice(self, notice: Said) -> None:
        self.stats.notices.append(notice)
        log.warning(say("log.notice", name=self.name, notice=notice))

    def _refused(self, gone: int, active: int) -> bool:
        """True (and the directory failed) when `gone` of `active` rows looks like lost access."""
        if gone <= 0 or not (gone * 2 > active or gone == active) \
                or self.engine.allow_mass_deactivation:
            return False
        message = say("sync.mass_deactivation", gone=gone, active=active)
        self.stats.fail(message)
        self.report.add_issue(self.name, None, None, message)
        log.error("%s: %s", self.name, message, extra=IN_REPORT)
        return True

    def _read_and_write(self, converter: RecordConverter, writer: TableWriter) -> None:
        """Convert the pages as they arrive and write them in chunks."""
        engine, stop = self.engine, self.engine.stop_event
        prepared: list[Prepared] = []  # written in chunks, not page by page
        try:
            # A stop is noticed while waiting for a page too (StopRequested), not only
            # between pages.
            pages = engine.reads.pages(self.name, stop=stop, waiting=engine.check_lock)
            for page in pages:
                if stop.is_set():
                    raise StopRequested
                engine.progress(self.name, "reading", self.stats.fetched + len(page))
                prepared += converter.page(page, writer)
                if len(prepared) >= WRITE_BATCH:
                    self._write(writer, prepared)
                    prepared = []
        except PortalError:
            self._write(writer, prepared)  # what arrived is kept; nothing is deactivated
            raise
        self._write(writer, prepared)
        converter.note_absent_fields()

    def _write(self, writer: TableWriter, prepared: list[Prepared]) -> None:
        if prepared:
            self.engine.check_lock(now=True)  # nothing is sent beside a run that took our lock
            writer.write(prepared)

    def _commit(self, transaction) -> None:
        self.engine.check_lock(now=True)  # never commit beside a run that took our lock
        transaction.commit()
        self.engine.committed.add(self.name)
