"""Reading a whole Bitrix24 list: picks the paging strategy and says how the read went.

`ListReader(client, method, params).read(emit)` hands every page to `emit` and returns a
`ReadSummary`. The strategies live in app/bitrix/paging/ (keyset chains, offset passes),
chosen by the method's profile (app/bitrix/methods.py) and the user's filter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from app.bitrix.changes import PortalTime, portal_time
from app.bitrix.client import Bitrix24Client, extract_rows
from app.bitrix.methods import Paging
from app.bitrix.paging.keyset import KeysetRead, highest_in
from app.bitrix.paging.mixer import BatchMixer
from app.bitrix.paging.offset import OffsetRead
from app.bitrix.paging.query import ListQuery, Page
from app.bitrix.paging.scheduler import ReaderPool, Scheduler
from app.bitrix.paging.steps import BatchSize, Handover, PagingStrategy, ReadContext
from app.errors import PortalCutOffError, PortalRetriableError
from app.messages import say

__all__ = ["BatchMixer", "ListQuery", "ListReader", "Page", "ReadSummary", "ReaderPool"]

log = logging.getLogger(__name__)
Emit = Callable[[Page], None]


@dataclass(frozen=True)
class ReadSummary:
    """How a read went: its strategy, the portal's clock when it began, rows handed over,
    whether it read the whole list (False: cancelled), and the query it read with."""

    strategy: Paging
    started: PortalTime | None
    rows: int
    complete: bool
    query: ListQuery


class ListReader:
    """Reads one list completely, handing each page to `emit` as it arrives.

    Batches run on `executor` (a shared pool, or a private one); at most
    `max_in_flight` of this list's batches are pending at once, so memory stays
    bounded when `emit` blocks. Raises a PortalError when the read is
    incomplete, after emitting every page that did arrive.
    """

    def __init__(self, client: Bitrix24Client, method: str,
                 params: Mapping[str, Any] | None = None, *, executor: Executor | None = None,
                 max_in_flight: int = 8, cancel: threading.Event | None = None,
                 fields: Iterable[str] | None = None, mixer: BatchMixer | None = None,
                 tag: str = "") -> None:
        self.client = client
        self.query = ListQuery(method, params, fields)
        self.cancel = cancel or threading.Event()
        size = BatchSize(self.query.method, client.batch_commands)
        self.ctx = ReadContext(client, self.query, size, self.cancel, mixer, tag)
        self.scheduler = Scheduler(self.ctx, executor, max_in_flight)
        if mixer is not None:
            mixer.reading(+1)  # from now: its half-empty batches may be worth waiting for

    @property
    def batch_commands(self) -> int:
        """Commands per batch for this list now (smaller after a slow or cut-off batch)."""
        return self.ctx.size.value

    def read(self, emit: Emit, head: dict[str, Any] | None = None) -> ReadSummary:
        """Read the list; `head` is its first page when that came already (in a batch)."""
        try:
            return self._read(emit, head)
        finally:
            if self.ctx.mixer is not None:
                self.ctx.mixer.reading(-1)

    def _read(self, emit: Emit, head: dict[str, Any] | None) -> ReadSummary:
        query = self.query
        if query.keyset_ruled_out:
            log.info("%s: the filter bounds the id itself or uses LOGIC; reading by offset",
                     query.method)
        handover = Handover(emit)
        strategy: PagingStrategy = (KeysetRead if query.keyset else OffsetRead)(
            self.ctx, self.scheduler, handover)
        highest = None
        if head is None:
            head, highest = self._first(strategy.first_params())
        rows = extract_rows(head.get("result"))
        handover(rows)
        total = head.get("total") if isinstance(head.get("total"), int) else None
        strategy.read_rest(rows, total, more=head.get("next") is not None and bool(rows),
                           highest=highest)
        return ReadSummary(query.spec.paging, portal_time(head.get("time")), handover.rows,
                           not self.cancel.is_set(), query)

    def _first(self, params: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
        """The first page as a list call's envelope, and the highest id when it came along.

        Beside other lists (a mixer), the first page rides in one batch with theirs, and a
        keyset read asks for its highest id in the same batch (one reverse-ordered page): the
        rest can then be split into parallel chains at once. A command that failed there, or
        a batch the portal cut off, is asked again as a plain call, which raises what the
        portal says.
        """
        query, ctx = self.query, self.ctx
        if ctx.mixer is None:
            return self.client.call(query.method, params), None
        head, top = f"{ctx.tag}h", f"{ctx.tag}t"
        commands = {head: (query.method, params)}
        if query.keyset:
            commands[top] = (query.method, query.highest_params())
        try:
            result = ctx.mixer.batch(commands, halt=False, shrinkable=True,
                                     most=max(len(commands), ctx.size.value))
        except PortalCutOffError as exc:  # too heavy together: each list's page alone
            _first_batch_cut_off(exc)
            return self.client.call(query.method, params), None
        total = result.totals.get(head)
        problem = result.problem(head, query.method, "")
        if problem is not None or not isinstance(total, int):
            if isinstance(problem, PortalRetriableError):  # a retry like any other: told
                log.warning(say("log.first_page_alone", method=query.method, error=problem))
            return self.client.call(query.method, params), None
        rows = extract_rows(result.results[head])
        envelope = {"result": result.results[head], "total": total,
                    "next": len(rows) if total > len(rows) else None, "time": result.time}
        return envelope, highest_in(query, result, top) if top in commands else None


_told = threading.Lock()


def _first_batch_cut_off(exc: BaseException) -> None:
    """Told once: the first batch is shared by several lists and fails for each of them."""
    with _told:
        if getattr(exc, "told", False):
            return
        exc.told = True  # type: ignore[attr-defined]
    log.warning(say("log.first_batch_alone", error=exc))
