"""The strategy protocol: a step is one batch of one list's read, run on a pool thread.

A step only reads the shared state of its read (`ReadContext`) and returns an `Outcome`;
the strategy takes outcomes on the reading thread, so nothing a step does races another.
The one value steps change, the list's batch size, is behind a lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from app.bitrix.client import BATCH_SIZE, BatchResult, Bitrix24Client, retries_for
from app.bitrix.paging.query import ListQuery, Page
from app.errors import PortalCutOffError, PortalError, PortalRetriableError
from app.messages import say

if TYPE_CHECKING:
    from app.bitrix.paging.mixer import BatchMixer

log = logging.getLogger(__name__)

Command = tuple[str, dict[str, Any]]  # (method, params) of one batch command
# A cloud portal cuts any HTTP request off at 60 s; a batch that took longer than this
# halves the commands of the list's later batches.
SLOW_BATCH_SECONDS = 30.0
MIN_BATCH_COMMANDS = 5


class BatchSize:
    """Commands per batch for one list: 50 (or the client's `batch_commands`) until a batch
    is cut off or slow, then fewer."""

    def __init__(self, method: str, most: int = BATCH_SIZE) -> None:
        self.method = method
        self._value = most
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._value

    def _at_most(self, smaller: int) -> bool:
        with self._lock:
            if smaller < self._value:
                self._value = smaller
                return True
            return False

    def cut_off(self, commands: int, error: PortalError) -> None:
        """A batch of `commands` was cut off: this list's batches take half as many from now."""
        smaller = max(MIN_BATCH_COMMANDS, commands // 2)
        self._at_most(smaller)
        log.warning(say("log.batch_smaller", method=self.method, error=error, size=smaller))

    def took(self, seconds: float | None, commands: int) -> None:
        """Keep batches of this list well inside the portal's 60 s per request."""
        if seconds is None or seconds <= SLOW_BATCH_SECONDS or commands <= MIN_BATCH_COMMANDS:
            return
        smaller = max(MIN_BATCH_COMMANDS, commands // 2)
        if self._at_most(smaller):
            log.warning(say("log.batch_slow", method=self.method, pages=commands,
                            seconds=seconds, smaller=smaller))


@dataclass
class ReadContext:
    """What the steps of one list's read share (read-only but for the batch size)."""

    client: Bitrix24Client
    query: ListQuery
    size: BatchSize
    cancel: threading.Event
    # Half-empty batches go out with other lists' (None: alone); `tag` starts this read's
    # labels, so they stay apart from the other lists' in a shared batch.
    mixer: BatchMixer | None = None
    tag: str = ""

    @property
    def method(self) -> str:
        return self.query.method


@dataclass
class Outcome:
    """What one step brought: pages to hand over, steps to run next, a failure, and the
    strategy's own news (chain ends, offset pages, ...)."""

    pages: list[Page] = field(default_factory=list)
    follow_ups: list[Step] = field(default_factory=list)
    failure: PortalError | None = None
    news: Any = None


@dataclass(kw_only=True)
class Step:
    """One HTTP request's worth of reading (one batch), retried by queuing a copy."""

    attempt: int = 0
    delay: float = 0.0
    alone: bool = False  # never shares its batch with another list's (BatchMixer)

    def run(self, ctx: ReadContext) -> Outcome:
        raise NotImplementedError

    def halves(self) -> list[Step]:
        raise NotImplementedError

    def retry(self, ctx: ReadContext, error: PortalError, **changes: Any) -> Outcome:
        """A follow-up that tries again after a pause, or the failure once retries run out."""
        if not isinstance(error, PortalRetriableError):
            return Outcome(failure=error)
        attempt = self.attempt + 1
        if attempt > retries_for(error, ctx.client.max_retries):
            return Outcome(failure=PortalRetriableError(
                say("log.batch_gave_up", error=error, attempts=attempt),
                method=error.method, status=error.status, code=error.code))
        if (error.code or "").lower() == "operation_time_limit":
            delay = ctx.client.operating.blocked_wait(ctx.method)
        else:
            delay = ctx.client.backoff_delay(attempt)
        log.warning(say("log.batch_retry", method=ctx.method, error=error, attempt=attempt,
                        retries=ctx.client.max_retries, delay=delay))
        return Outcome(follow_ups=[replace(self, attempt=attempt, delay=delay, **changes)])

    def send(self, ctx: ReadContext, commands: dict[str, Command], *, halt: bool
             ) -> BatchResult | Outcome:
        """The batch's result; or, when the portal cut it off, the follow-ups that send it
        again in halves (the list keeps the smaller size), down to MIN_BATCH_COMMANDS."""
        shrinkable = len(commands) > MIN_BATCH_COMMANDS
        try:
            if ctx.mixer is not None and not self.alone:
                return ctx.mixer.batch(commands, halt=halt, shrinkable=shrinkable,
                                       most=ctx.size.value)
            return ctx.client.batch(commands, halt=halt, shrinkable=shrinkable)
        except PortalCutOffError as exc:
            if len(commands) <= MIN_BATCH_COMMANDS:
                return self.retry(ctx, exc)
            ctx.size.cut_off(len(commands), exc)
            return Outcome(follow_ups=self.halves())


class Handover:
    """Hands pages to the consumer (on the reading thread) and counts the rows."""

    def __init__(self, emit: Callable[[Page], None]) -> None:
        self._emit = emit
        self.rows = 0

    def __call__(self, rows: Page) -> None:
        if rows:
            self.rows += len(rows)
            self._emit(rows)


class PagingStrategy(Protocol):
    """Reads the rest of a list after its first page (one module per strategy)."""

    def first_params(self) -> dict[str, Any]:
        """The params of the plain first page."""

    def read_rest(self, first: Page, total: int | None, more: bool, *,
                  highest: int | None = None) -> None:
        """Read what follows `first` (`more`: the portal said there is a next page; `highest`:
        the list's highest id, when it came with the first page); raise a PortalError when
        the read is incomplete."""
