"""The run's background reads: what each directory's read sends and where its pages come from.

The one place the engine meets the Bitrix24 reading layer (app/bitrix/read_ahead.py,
app/bitrix/reading.py): a directory's full read, its change query, its pages, and when
the portal says the read began. An incremental read is two reads, one after the other
in `pages()`: the changes below the table's highest id, then every record above it
(incremental.py's opening batch brought the first page of each).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from app.bitrix.changes import PortalTime
from app.bitrix.client import Bitrix24Client, usable_id
from app.bitrix.methods import profile
from app.bitrix.paging.query import read_params
from app.bitrix.read_ahead import ReadPipeline
from app.bitrix.reading import ReadSummary
from app.sync.incremental import Plan
from app.syncers.base_syncer import BaseSyncer


class Feeds:
    """Every directory of a run read in the background through one pipeline."""

    def __init__(self, client: Bitrix24Client, syncers: dict[str, BaseSyncer]) -> None:
        self.pipeline = ReadPipeline(client)
        self.syncers = syncers
        self._feeds: dict[str, tuple[str, dict[str, Any]]] = {}  # name -> (feed key, params)
        # name -> (feed key, params, the id above which the first feed's rows are dropped)
        self._fresh: dict[str, tuple[str, dict[str, Any], int | None]] = {}

    def read_params(self, name: str) -> dict[str, Any]:
        """The params a directory's reads send, whichever way it is read: the mapping's own,
        with a select of the mapped fields where the method honours one."""
        syncer = self.syncers[name]
        return read_params(syncer.mapping.method, syncer.mapping.params, syncer.fields_read())

    def starting(self) -> contextlib.AbstractContextManager[None]:
        """Reads started inside the block send their first pages together."""
        return self.pipeline.starting()

    def start(self, plan: Plan, key: str | None = None) -> None:
        """Start the directory's read as planned (once); `key` names a second read's feed."""
        name = plan.name
        key = key or name
        self._fresh.pop(name, None)
        if plan.incremental:
            opening = plan.opening
            self._feeds[name] = (key, opening.change_params)
            self.pipeline.start(key, self._method(name), opening.change_params,
                                head=opening.head)
            fresh = (f"{key}:fresh", self.read_params(name), opening.fresh_after)
            self._fresh[name] = fresh
            self.pipeline.start(fresh[0], self._method(name), fresh[1], head=opening.fresh_head)
        else:
            self._feeds[name] = (key, self.read_params(name))
            self.pipeline.start(key, self._method(name), self._feeds[name][1])

    def pages(self, name: str, *, stop: threading.Event,
              waiting: Callable[[], None]) -> Iterator[list[dict[str, Any]]]:
        """The directory's pages from its background read; StopRequested once `stop` is set."""
        key, params = self._feeds[name]
        method = self._method(name)
        pages = self.pipeline.pages(key, method, params, stop=stop, waiting=waiting)
        if name not in self._fresh:
            return pages
        fresh_key, fresh_params, above = self._fresh[name]
        fresh = self.pipeline.pages(fresh_key, method, fresh_params, stop=stop, waiting=waiting)
        return _chained(pages, fresh, profile(method).id_field, above)

    def summary(self, name: str) -> ReadSummary | None:
        """How the directory's read went, once it has ended (None: it never finished)."""
        return self.pipeline.summary(self._feeds[name][0])

    def started(self, plan: Plan) -> PortalTime | None:
        """When the directory's read began on the portal's clock (None: the portal never said)."""
        if plan.incremental:
            return plan.opening.started
        summary = self.summary(plan.name)
        return summary.started if summary is not None else None

    def close(self) -> None:
        self.pipeline.close()

    def _method(self, name: str) -> str:
        return self.syncers[name].mapping.method


def _chained(changes: Iterator[list[dict[str, Any]]], fresh: Iterator[list[dict[str, Any]]],
             id_field: str, above: int | None) -> Iterator[list[dict[str, Any]]]:
    """The changed records up to id `above`, then every record above it: each once."""
    for page in changes:
        kept = [row for row in page if not _above(row.get(id_field), above)]
        if kept:
            yield kept
    yield from fresh


def _above(value: Any, above: int | None) -> bool:
    number = usable_id(value)
    return number is not None and (above is None or number > above)
