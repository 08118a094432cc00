"""Read several directories at once in the background while the engine writes them one by one."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from app.bitrix.client import Bitrix24Client
from app.bitrix.reading import BatchMixer, ListReader, Page, ReaderPool, ReadSummary
from app.errors import StopRequested

log = logging.getLogger(__name__)

# Pages a directory may have read ahead of the writer (50 rows each).
READ_AHEAD_PAGES = 100
# HTTP requests in flight at once over all directories; the rate limiter decides the pace.
READ_WORKERS = 24

_END = object()


class _Cancelled(Exception):
    """The consumer went away; the reader stops."""


class DirectoryFeed:
    """One directory read by a background thread into a bounded queue of pages.

    `pages()` yields the pages in arrival order and, once they are all out,
    re-raises the error that ended the read (an incomplete read still delivers
    every page that arrived, so it can be upserted).
    """

    def __init__(self, name: str, reader: ListReader, *, read_ahead: int = READ_AHEAD_PAGES,
                 head: dict[str, Any] | None = None):
        self.reader = reader
        self.head = head
        self._queue: queue.Queue = queue.Queue(maxsize=read_ahead)
        self._error: BaseException | None = None
        self.summary: ReadSummary | None = None  # set once the read has succeeded
        self._thread = threading.Thread(target=self._run, name=f"read-{name}", daemon=True)

    def start(self) -> DirectoryFeed:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self.reader.cancel.set()

    def _run(self) -> None:
        try:
            self.summary = self.reader.read(self._put, self.head)
        except _Cancelled:
            pass
        except BaseException as exc:  # handed to the consumer, which decides
            self._error = exc
        finally:
            self._put(_END, final=True)

    def _put(self, item: Any, *, final: bool = False) -> None:
        # Block while the writer is behind (bounded memory), but notice a cancel.
        while True:
            if self.reader.cancel.is_set() and not final:
                raise _Cancelled
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if final and self.reader.cancel.is_set():
                    return

    def pages(self, stop: threading.Event | None = None,
              waiting: Callable[[], None] | None = None) -> Iterator[Page]:
        """The pages as they arrive; StopRequested as soon as `stop` is set while waiting.

        `waiting()` is called every tenth of a second while no page is there (what it
        raises ends the read).
        """
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                if stop is not None and stop.is_set():
                    raise StopRequested from None
                if waiting is not None:
                    waiting()
                continue
            if item is _END:
                break
            yield item
        if self._error is not None:
            raise self._error


class ReadPipeline:
    """Background readers for a run's directories sharing one client, thread pool and limiter."""

    def __init__(self, client: Bitrix24Client, *, workers: int = READ_WORKERS,
                 read_ahead: int = READ_AHEAD_PAGES) -> None:
        self.client = client
        self.read_ahead = read_ahead
        self.workers = workers
        self._executor = ReaderPool(workers)
        # The directories' last, half-empty batches go out together.
        self._mixer = BatchMixer(client)
        self._feeds: dict[str, DirectoryFeed] = {}

    def starting(self) -> contextlib.AbstractContextManager[None]:
        """Reads started inside the block send their first pages together (one request)."""
        return self._mixer.starting()

    def start(self, name: str, method: str, params: Mapping[str, Any] | None, *,
              head: dict[str, Any] | None = None) -> DirectoryFeed:
        """Begin reading a directory now (idempotent); `head`: its first page when that
        came already."""
        feed = self._feeds.get(name)
        if feed is None:
            reader = ListReader(self.client, method, params, executor=self._executor,
                                max_in_flight=self.workers, mixer=self._mixer,
                                tag=_tag(len(self._feeds)))
            feed = self._feeds[name] = DirectoryFeed(name, reader, read_ahead=self.read_ahead,
                                                     head=head).start()
        return feed

    def summary(self, name: str) -> ReadSummary | None:
        """How the directory's read went, once all its pages are out (None before, or when
        it failed)."""
        feed = self._feeds.get(name)
        return None if feed is None else feed.summary

    def pages(self, name: str, method: str, params: Mapping[str, Any] | None, *,
              stop: threading.Event | None = None,
              waiting: Callable[[], None] | None = None) -> Iterator[Page]:
        """The directory's pages, from its background read (started now if it was not)."""
        feed = self.start(name, method, params)
        try:
            yield from feed.pages(stop, waiting)
        finally:
            feed.cancel()  # the writer stopped early (stop request, database error)

    def close(self) -> None:
        for feed in self._feeds.values():
            feed.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        # The readers' connections close now, not whenever garbage collection gets to them.
        self.client.close()


def _tag(index: int) -> str:
    """A read's label prefix: two letters (aa, ab, ...), the same length for every read so one
    read's labels never spell another's; never a number (the portal would turn a map keyed
    by numbers into a list)."""
    return chr(ord("a") + index // 26 % 26) + chr(ord("a") + index % 26)
