"""Offset paging: pages by `start` in batches of independent commands, checked for a shift.

The first page gives `total`; the other pages, `start` = 50, 100, ... (the server reads
`start` as the page `intval(start / 50) + 1`), are packed into batches, each command
independent, so a failed one is retried alone. The pages are asked in descending id order
where the method takes an order, and the read is checked for a list that shifted under it
(see `OffsetRead._problem`); a shifted list is read once more before the read counts as
incomplete. Pages are handed over as they arrive; the check keeps only a summary of each
page (its count, total and first and last id), so memory follows the pages in flight, not
the size of the list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from app.bitrix.client import PAGE_SIZE, extract_rows
from app.bitrix.paging.query import Page
from app.bitrix.paging.scheduler import Scheduler
from app.bitrix.paging.steps import Handover, Outcome, ReadContext, Step
from app.errors import IncompleteReadError, PortalError, PortalRetriableError
from app.messages import say

log = logging.getLogger(__name__)

# A list read by offset that shifted while it was read is read once more before the read
# counts as incomplete.
OFFSET_PASSES = 2


class PageSummary(NamedTuple):
    """What the shift check needs of one offset page, once its rows are handed over."""

    rows: int
    total: int | None
    first: int | None  # first and last id (None: the page is empty or an id is no number)
    last: int | None
    numbered: bool  # every row has a numeric id
    disorder: str | None  # ids not running the list's way inside the page


Pages = dict[int, PageSummary]  # start -> summary


@dataclass
class OffsetStep(Step):
    """Independent offset pages in one batch; failed ones are retried alone."""

    starts: tuple[int, ...]

    def halves(self) -> list[Step]:
        middle = len(self.starts) // 2
        return [replace(self, starts=part, delay=0.0)
                for part in (self.starts[:middle], self.starts[middle:]) if part]

    def run(self, ctx: ReadContext) -> Outcome:
        query, method = ctx.query, ctx.method
        labels = {f"{ctx.tag}o{start}": start for start in self.starts}
        commands = {label: (method, query.offset_params(start)) for label, start in labels.items()}
        result = self.send(ctx, commands, halt=False)
        if isinstance(result, Outcome):
            return result
        outcome = Outcome(news=[])
        failed: list[int] = []
        first_error: PortalError | None = None
        for label, start in labels.items():
            error = result.problem(label, method, say("reading.start_in_batch", start=start),
                                   missing=PortalRetriableError)
            if error is not None:
                failed.append(start)
                first_error = first_error or error
                continue
            total = result.totals.get(label)
            outcome.news.append((start, extract_rows(result.results[label]),
                                 total if isinstance(total, int) else None))
        if first_error is not None:
            retried = self.retry(ctx, first_error, starts=tuple(failed))
            outcome.follow_ups, outcome.failure = retried.follow_ups, retried.failure
        return outcome


class OffsetRead:
    """The offset strategy for one list: passes of offset pages, each checked for a shift."""

    def __init__(self, ctx: ReadContext, scheduler: Scheduler, handover: Handover) -> None:
        self.ctx = ctx
        self.scheduler = scheduler
        self.handover = handover
        self._pages: Pages = {}
        # The ids of rows already handed over (a second pass repeats rows); no rows kept.
        self._seen: set[Any] = set()
        self._falling: bool | None = None  # the ids' direction; None: not checked

    def first_params(self) -> dict[str, Any]:
        return self.ctx.query.offset_params(0)

    def read_rest(self, first: Page, total: int | None, more: bool, *,
                  highest: int | None = None) -> None:
        """Every offset page, checked; read once more when the list shifted meanwhile.

        Rows emitted by a pass that turned out shifted stay emitted (they are real
        rows); the second pass hands over only rows not seen yet.
        """
        if not more:
            self._check_total(total)
            return
        ctx, query = self.ctx, self.ctx.query
        self._seen = {self._row_key(row) for row in first}
        problem = None
        for attempt in range(OFFSET_PASSES):
            if attempt:
                log.warning(say("log.offset_reread", method=query.method, problem=problem))
                envelope = ctx.client.call(query.method, query.offset_params(0))
                first = extract_rows(envelope.get("result"))
                total = envelope.get("total") if isinstance(envelope.get("total"), int) else None
                self._hand_over_fresh(first)
            self._falling = self._direction(first)
            self._pages = {0: self._summary(0, first, total)}
            self._pass(total)
            if ctx.cancel.is_set():
                return
            problem = self._problem()
            if problem is None:
                return
        raise IncompleteReadError(
            say("paging.changed_twice", method=query.method, problem=problem),
            method=query.method)

    def _pass(self, total: int | None) -> None:
        """Read the pages after the first: all at once when `total` is known, else batch by
        batch until one comes back short."""
        start = PAGE_SIZE
        while not self.ctx.cancel.is_set():
            most = self.ctx.size.value
            if total is not None:
                starts = list(range(start, total, PAGE_SIZE))
            else:
                starts = [start + PAGE_SIZE * i for i in range(most)]
            if not starts:
                return
            self.scheduler.run([OffsetStep(starts=tuple(starts[i:i + most]))
                                for i in range(0, len(starts), most)], self._take)
            if total is not None or self._pages[max(self._pages)].rows < PAGE_SIZE:
                return
            start = max(self._pages) + PAGE_SIZE

    def _take(self, outcome: Outcome) -> None:
        for start, page, total in outcome.news or ():
            self._pages[start] = self._summary(start, page, total)
            self._hand_over_fresh(page)

    def _problem(self) -> str | None:
        """Why the pages read may have skipped a row, or None when they cannot have.

        The server pages by position, so a row deleted before the cursor moves a row
        across a page boundary unseen, and a row added there repeats one. Every
        page must report the total of the first (an empty answer carries none: 0),
        the pages must hold exactly that many rows, every page but the last full,
        and the ids must run strictly in one direction across every boundary
        (descending when we asked for it; otherwise the direction the first page
        shows, if it shows one). Rows added meanwhile then show up as a repeat,
        rows deleted as a different total, both together as a repeat.
        """
        pages = sorted(self._pages.items())
        first_total = pages[0][1].total
        for start, page in pages:
            total = 0 if page.total is None and not page.rows else page.total
            if first_total is not None and total is not None and total != first_total:
                return say("log.offset_total", before=first_total, after=total, start=start)
        for index, (start, page) in enumerate(pages[:-1]):
            if page.rows != PAGE_SIZE:
                later = sum(p.rows for _, p in pages[index + 1:])
                return say("log.offset_short_page", start=start, rows=page.rows, later=later)
        count = sum(page.rows for _, page in pages)
        if first_total is not None and count != first_total:
            return say("log.offset_count", count=count, total=first_total)
        return self._ids_out_of_order(pages)

    def _ids_out_of_order(self, pages: list[tuple[int, PageSummary]]) -> str | None:
        if self._falling is None or not all(page.numbered for _, page in pages):
            return None  # rows without ids: the counts above are all there is to check
        previous: int | None = None
        for start, page in pages:
            if page.disorder is not None:
                return page.disorder
            if page.first is None:
                continue
            if previous is not None and ((page.first >= previous) if self._falling
                                         else (page.first <= previous)):
                return say("log.offset_order", key=page.first, previous=previous, start=start)
            previous = page.last
        return None

    def _direction(self, first: Page) -> bool | None:
        """True: ids fall (we asked for it, or the first page shows it); False: they rise;
        None: the method's own order is not by id, so the ids cannot be checked."""
        if self.ctx.query.offset_ordered:
            return True
        id_field = self.ctx.query.id_field
        head = [_loose_int(row.get(id_field)) for row in first]
        if None in head or len(set(head)) != len(head):
            return None
        if head == sorted(head, reverse=True):
            return True
        return False if head == sorted(head) else None

    def _summary(self, start: int, rows: Page, total: int | None) -> PageSummary:
        keys = [_loose_int(row.get(self.ctx.query.id_field)) for row in rows]
        if None in keys or not keys:
            return PageSummary(len(rows), total, None, None, not keys, None)
        disorder = None
        for key, previous in zip(keys[1:], keys, strict=False):
            if (key >= previous) if self._falling else (key <= previous):
                disorder = say("log.offset_order", key=key, previous=previous, start=start)
                break
        return PageSummary(len(rows), total, keys[0], keys[-1], True, disorder)

    def _row_key(self, row: Mapping[str, Any]) -> Any:
        value = row.get(self.ctx.query.id_field)
        number = _loose_int(value)
        if number is not None and str(number) == str(value):
            return number  # an int is a fraction of a string's size
        return str(value) if value is not None else repr(sorted(row.items(), key=str))

    def _hand_over_fresh(self, rows: Page) -> None:
        fresh = [row for row in rows if self._row_key(row) not in self._seen]
        self._seen.update(self._row_key(row) for row in fresh)
        self.handover(fresh)

    def _check_total(self, total: int | None) -> None:
        read = self.handover.rows
        if total is not None and read < total and not self.ctx.cancel.is_set():
            raise IncompleteReadError(
                say("reading.short", method=self.ctx.method, read=read, total=total),
                method=self.ctx.method)


def _loose_int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        return None
