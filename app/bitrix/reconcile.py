"""Which local records the portal no longer has, found by counting id ranges.

After an incremental read every record the portal has under the directory's filter is
present locally: it was either unchanged since the last read (and present then) or it
came in this read. So the local ids are a superset of the portal's, and a range of ids
holds as many records on both sides exactly when nothing in it was removed. The portal
counts a range with one command (``start=0`` gives ``total`` and the first 50 ids), so
the ranges whose counts differ are split by the local ids and counted again, 50
commands to a batch, until each holds at most one page: that page lists the portal's
ids and the difference is exact. Every count's page also settles its range up to the
page's last id, so only the part past it is counted again. A range where the portal
has more than we do breaks the superset: the local table lacks records, and only a full
read can say which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.bitrix.client import BATCH_SIZE, PAGE_SIZE, Bitrix24Client
from app.bitrix.paging.by_id import ids_of, still_listed
from app.bitrix.paging.query import ListQuery
from app.errors import IncompleteReadError
from app.messages import say

__all__ = ["Reconciled", "page_total", "reconcile", "still_listed"]


@dataclass
class Reconciled:
    """What counting found: ids to deactivate, and whether the portal has ids we lack."""

    removed: list[int] = field(default_factory=list)
    missing: int = 0  # records the portal has and the local table lacks (0: none)
    commands: int = 0


@dataclass(frozen=True)
class _Range:
    after: int | None  # ids above this (None: no lower bound)
    before: int | None  # and below this (None: no upper bound)
    local: tuple[int, ...]  # our ids in the range, ascending


def reconcile(client: Bitrix24Client, query: ListQuery, local: list[int], total: int,
              first_page: list[dict[str, Any]]) -> Reconciled:
    """Compare `local` (sorted ids we hold) with the portal under `query`'s filter.

    `total` and `first_page` are the answer to the whole filter's count (its first page).
    """
    found = Reconciled()
    whole = _Range(None, None, tuple(local))
    pending = [(whole, total, first_page)]
    while pending:
        counted: list[_Range] = []
        for part, count, page in pending:
            if len(page) < min(count, PAGE_SIZE):
                raise IncompleteReadError(
                    say("reading.range_short", method=query.method, count=count,
                        read=len(page)), method=query.method)
            ids = ids_of(query, page)
            if len(ids) < len(page):  # a record without a usable id: it cannot be placed
                found.missing += len(page) - len(ids)
                return found
            rest = _settle(found, part, count, ids, len(page))
            if found.missing:
                return found
            if rest is not None:
                counted += _split(rest)
        # A level's counts are independent: batch_all sends their batches at the same time.
        pending = _count(client, query, counted) if counted else []
        found.commands += len(counted)
    found.removed.sort()
    return found


def _settle(found: Reconciled, part: _Range, count: int, ids: list[int], rows: int
            ) -> _Range | None:
    """Take what one count tells about a range; the part still unsettled, if any.

    The page is the range's first records in id order, so up to its last id the
    difference is exact; past it the counts are compared again.
    """
    if count == len(part.local):
        return None  # same size and a superset: the same records
    if count > len(part.local):
        found.missing += count - len(part.local)
        return None
    last = ids[-1] if ids and count > rows else None  # None: the page holds the whole range
    seen = [i for i in part.local if last is None or i <= last]
    portal = set(ids)
    found.removed += [i for i in seen if i not in portal]
    found.missing += len(portal - set(seen))
    if last is None or found.missing:
        return None
    rest = _Range(last, part.before, tuple(i for i in part.local if i > last))
    left = count - rows  # the portal's records past the page
    if left > len(rest.local):
        found.missing += left - len(rest.local)
    elif left < len(rest.local):
        return rest
    return None


def _split(part: _Range) -> list[_Range]:
    """The range cut at local ids into parts of about a page each (at most a batch of them)."""
    pieces = min(BATCH_SIZE, max(1, math.ceil(len(part.local) / PAGE_SIZE)))
    step = math.ceil(len(part.local) / pieces)
    parts, low = [], part.after
    for first in range(0, len(part.local), step):
        chunk = part.local[first:first + step]
        last = first + step >= len(part.local)
        high = part.before if last else chunk[-1] + 1
        parts.append(_Range(low, high, chunk))
        low = chunk[-1]
    return parts


def _count(client: Bitrix24Client, query: ListQuery, parts: list[_Range]
           ) -> list[tuple[_Range, int, list[dict[str, Any]]]]:
    method = query.method
    commands = {f"r{i}": (method, query.keyset_params(after=p.after, before=p.before, start=0))
                for i, p in enumerate(parts)}
    result = client.batch_all(commands)
    counted = []
    for label, part in zip(commands, parts, strict=True):
        rows = result.rows(label, method, say("reading.counting_removed"))
        counted.append((part, page_total(result.totals.get(label), rows, method), rows))
    return counted


def page_total(total: Any, rows: list, method: str) -> int:
    """`total` of a start=0 page; an empty page without one is 0 (user.get, lists.element.get)."""
    if isinstance(total, int) and not isinstance(total, bool):
        return total
    if not rows:
        return 0
    raise IncompleteReadError(say("reading.no_total", method=method, count=len(rows)),
                              method=method)
