"""Removal detection: after a read, which active rows the portal no longer has.

One class per way a directory is read. Each only finds: the rows to deactivate, notices
for the report, or why the directory must be read in full instead. The engine applies
the two guards (a record without a usable id keeps every row; a mass removal is refused)
and deactivates. The checks learn about the table through the TableWriter, which holds
its rows as loaded before the read plus what the read wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.bitrix.client import PAGE_SIZE, Bitrix24Client
from app.bitrix.methods import Paging
from app.bitrix.reading import ListQuery, ReadSummary
from app.bitrix.reconcile import reconcile, still_listed
from app.messages import Said, say
from app.report import DirectoryReport
from app.sync.incremental import Plan
from app.sync.writer import TableWriter

log = logging.getLogger("app.sync.engine")  # the run's lines keep the name they always had

def unmatched_notice() -> Said:
    """Said when a record without a usable id keeps every row active."""
    return say("notice.unmatched")


def no_active_column_notice(name: str, table: str) -> Said:
    """Said once per directory (report, log, --check) when nothing can be deactivated."""
    return say("log.no_active_column", table=table, name=name)


@dataclass
class Removals:
    """What a removal check found."""

    pks: list[Any] = field(default_factory=list)  # primary keys of the rows to deactivate
    active: int = 0  # the active rows they are counted against (the mass guard)
    notices: list[Said] = field(default_factory=list)
    read_in_full: Said | None = None  # the table lacks records: why it must be read in full


class RemovalCheck:
    """The steps the engine runs, in order; a subclass fills the ones its read needs."""

    def __init__(self, writer: TableWriter) -> None:
        self.writer = writer

    def stale_table(self) -> Said | None:
        """Before the read: why the table can no longer be trusted as the read's base."""
        return None

    def may_deactivate(self) -> bool:
        """After the read: whether any row could be deactivated (the id-less guard's cue)."""
        return bool(self.writer.missing_active_ids())

    def ahead(self) -> tuple[int, int] | None:
        """(rows gone, active rows) known before the portal is asked, for the mass guard."""
        return None

    def find(self) -> Removals:
        raise NotImplementedError


class KeysetRemovals(RemovalCheck):
    """A complete full read in id order: an active row it did not return is gone."""

    def find(self) -> Removals:
        missing = self.writer.missing_active()
        return Removals(missing, self.writer.active_count() if missing else 0)


class OffsetRemovals(RemovalCheck):
    """A complete full read by offset: each row it did not return is confirmed gone by
    asking the portal for it by id.

    Pages by position can skip a live record unseen: one record leaves the filter
    before the cursor while another joins after it, and the total and the id order
    still hold. So there, not being read proves nothing. A method that cannot be asked
    by id deactivates nothing after a read of more than one page.
    """

    def __init__(self, writer: TableWriter, client: Bitrix24Client, query: ListQuery,
                 stats: DirectoryReport) -> None:
        super().__init__(writer)
        self.client, self.query, self.stats = client, query, stats

    def find(self) -> Removals:
        missing = self.writer.missing_active_ids()
        if not missing:
            return Removals()  # nothing to ask the portal about
        listed = still_listed(self.client, self.query, missing)
        if listed is None:
            if self.stats.fetched <= PAGE_SIZE:  # one page: one answer, nothing skipped
                return KeysetRemovals(self.writer).find()
            return Removals(notices=[
                say("log.removed_unchecked", method=self.query.method, count=len(missing))])
        if listed:
            log.info("%s: %d record(s) the pages skipped are still in Bitrix24; kept active",
                     self.writer.directory, len(listed))
        gone = self.writer.pks(b for b in missing if b not in listed)
        return Removals(gone, self.writer.active_count() if gone else 0)


class CountedRemovals(RemovalCheck):
    """An incremental read: the portal's count under the directory's filter against the
    table's, then id ranges counted until the removed ids are known (reconcile)."""

    def __init__(self, writer: TableWriter, client: Bitrix24Client, plan: Plan) -> None:
        super().__init__(writer)
        self.client, self.plan = client, plan

    def stale_table(self) -> Said | None:
        """Rows deleted or deactivated in the table by someone else since the last read: the
        counts that prove an incremental read would no longer add up."""
        now, then = self.writer.table_counts(), self.plan.state.details
        for key, what in (("rows", "deleted"), ("active", "deactivated")):
            if isinstance(then.get(key), int) and now[key] < then[key]:
                return say(f"reason.rows_{what}", count=then[key] - now[key])
        return None

    def may_deactivate(self) -> bool:
        return self.writer.active_column is not None

    def ahead(self) -> tuple[int, int] | None:
        """The count alone tells how many rows are gone, before any range is counted."""
        if self.writer.active_column is None:
            return None
        live = self.writer.live_count()  # the unstored are not in the table: no overlap
        return live + len(self.writer.unstored_ids()) - self.plan.opening.count_total, live

    def find(self) -> Removals:
        opening, writer = self.plan.opening, self.writer
        unstored = writer.unstored_ids()
        if writer.active_column is None:  # nothing to deactivate; still, nothing may be lacking
            present = writer.present_count() + len(unstored)
            if opening.count_total > present:
                return Removals(read_in_full=say("reason.count_above_table",
                                                 portal=opening.count_total, table=present))
            return Removals()
        if writer.live_count() + len(unstored) == opening.count_total:
            # As many as the portal counts, and a superset of its ids (reconcile.py): the same
            # records; the table's ids are not read.
            return Removals()
        live = writer.live_ids()
        found = reconcile(self.client, opening.count_query, sorted(live | unstored),
                          opening.count_total, opening.count_page)
        if found.missing:
            return Removals(read_in_full=say("reason.table_lacks", count=found.missing))
        return Removals(writer.pks(b for b in found.removed if b in live), len(live))


class FullReadRemovals(RemovalCheck):
    """A complete full read: by id order or by offset, as the read's summary says.

    The strategy is known only once the read has ended (a user's filter can rule the
    id order out), so the check asks for the summary when it runs; a read without a
    summary (it never finished) deactivates nothing.
    """

    def __init__(self, writer: TableWriter, client: Bitrix24Client,
                 summary: Callable[[], ReadSummary | None], stats: DirectoryReport) -> None:
        super().__init__(writer)
        self.client, self.summary, self.stats = client, summary, stats

    def find(self) -> Removals:
        summary = self.summary()
        if summary is None:
            return Removals()
        if summary.strategy is Paging.KEYSET:
            return KeysetRemovals(self.writer).find()
        return OffsetRemovals(self.writer, self.client, summary.query, self.stats).find()
