"""Reading a whole Bitrix24 list: the per-method strategy and the reader that carries it out."""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field, replace
from typing import Any

from app.bitrix.client import (
    BATCH_SIZE,
    PAGE_SIZE,
    BatchRef,
    BatchResult,
    Bitrix24Client,
    extract_rows,
    retries_for,
    usable_id,
)
from app.errors import (
    IncompleteReadError,
    PortalCutOffError,
    PortalError,
    PortalRetriableError,
)

log = logging.getLogger(__name__)

Page = list[dict[str, Any]]
Emit = Callable[[Page], None]
Command = tuple[str, dict[str, Any]]  # (method, params) of one batch command

# One split range is sized for this many pages, so one batch of 50 chained
# commands reads it with room to spare for uneven id density.
RANGE_PAGES = 48
# Split the id range only when more than this many pages remain after the
# first one: below it, one or two chained batches are as fast and cheaper.
SPLIT_MIN_PAGES = 2 * BATCH_SIZE
# A counted span holding more pages than this is split and counted again rather
# than read by one chain batch after batch.
REPROBE_PAGES = 2 * RANGE_PAGES
# A cloud portal cuts any HTTP request off at 60 s; a batch that took longer than this
# halves the commands of the list's later batches.
SLOW_BATCH_SECONDS = 30.0
MIN_BATCH_COMMANDS = 5
# A list read by offset that shifted while it was read is read once more before the read
# counts as incomplete.
OFFSET_PASSES = 2
# Legacy CRM list methods that take filter[>ID], order[ID] and start=-1.
_LEGACY_CRM_KEYSET = frozenset(
    f"crm.{entity}.list" for entity in
    ("deal", "lead", "contact", "company", "quote", "invoice", "activity", "product", "requisite"))
# Methods whose `select` the server honours, so a read can ask for the mapped fields only:
# crm.item.list (Item::listAction cuts every item to `select`, bitrix24-core-corp
# modules/crm/lib/controller/item.php) and the legacy crm.*.list methods
# (CCrmRestProxyBase::internalizeSelectFields, modules/crm/classes/general/restservice.php).
# Not sent elsewhere: lists.element.get ignores SELECT (RestService::getElement and
# Entity\Element::getElements build a fixed select plus every field and property,
# bitrix-core-business modules/lists), and a build that did pass it on to
# CIBlockElement::GetList would rename PROPERTY_n to PROPERTY_n_VALUE, breaking the
# mapping; user.get (User::userGet selects what the scope allows) and department.get have
# no select; crm.type.list's is undocumented.
_SELECT_HONOURED = frozenset({"crm.item.list"}) | _LEGACY_CRM_KEYSET
# user.get keys that are not filters when the filter is given at the top level.
_USER_GET_RESERVED = frozenset({"SORT", "ORDER", "START", "FILTER", "SELECT", "ADMIN_MODE",
                                "IMAGE_RESIZE"})
_ORDER_KEYS = frozenset({"order", "sort", "element_order", "start"})


@dataclass(frozen=True, kw_only=True)
class ListMethod:
    """How one list method can be paged: keyset (with its id field, filter and order) or offset."""

    name: str
    keyset: bool
    id_field: str = "ID"
    rows_key: str | None = None  # crm.item.list wraps rows in {"items": [...]}
    filter_key: str = "filter"
    # "order": order={id: ASC}; "sort": sort=ID&order=ASC; "element_order":
    # ELEMENT_ORDER={ID: ASC}; None: the method cannot be asked for an order.
    order_style: str | None = "order"
    # The filter key that takes a list of ids (None: the method cannot be asked by id).
    id_list_key: str | None = None


def list_method(method: str) -> ListMethod:
    """The one place that decides how a list method is read.

    Paging strategy:

    * Keyset (methods that honour a `>id` filter, id order and `start=-1`):
      crm.item.list and crm.type.list (`filter[>id]`, `order[id]`), user.get
      (top-level `sort`/`order`, `FILTER[>ID]`), lists.element.get
      (`ELEMENT_ORDER[ID]`, `FILTER[>ID]`) and the legacy crm.*.list methods
      (`order[ID]`, `filter[>ID]`). After a plain first page (which also gives
      `total`), the rest is read by chained commands inside `batch`: 50 pages
      (2,500 rows) per HTTP request, each command filtering on the previous
      one's last id through `$result[...]`; the chain ends at the first short
      page and later commands are ignored. More than SPLIT_MIN_PAGES pages left
      and the id range, bounded by the first page and one reverse-ordered page,
      is split into spans (`>lo`, `<hi`) that one batch counts (`start=0`);
      each span is then read by its own chain, in parallel, and a span that
      turns out crowded (uneven ids) is split and counted again.
    * Offset (department.get, any method not listed, and a keyset method whose
      own filter rules the keyset out): the first page gives `total`; the other
      pages, `start` = 50, 100, ... (the server reads `start` as the page
      `intval(start / 50) + 1`), are packed into batches, each command
      independent, so a failed one is retried alone. The pages are asked in
      descending id order where the method takes an order, and the read is
      checked for a list that shifted under it (see `_offset_problem`).
    * A list that fits one page takes one plain call either way.
    """
    name = method.strip().lower()
    if name == "crm.item.list":
        # The ORM filter's `@` (IN), BITRIX24.md crm.item.list.
        return ListMethod(name=name, keyset=True, id_field="id", rows_key="items",
                          id_list_key="@id")
    if name == "crm.type.list":
        return ListMethod(name=name, keyset=True, id_field="id", rows_key="types")
    if name == "user.get":
        # User::userGet -> prepareUserValue turns an ID array into ints, and the ORM reads
        # it as IN (bitrix-core-business modules/rest/lib/api/user.php).
        return ListMethod(name=name, keyset=True, filter_key="FILTER", order_style="sort",
                          id_list_key="ID")
    if name == "lists.element.get":
        # sanitizeFilter refuses `@` but passes the value on: CIBlockElement::GetList reads
        # an ID array as IN (bitrix-core-business modules/lists/lib/entity/element.php).
        return ListMethod(name=name, keyset=True, filter_key="FILTER",
                          order_style="element_order", id_list_key="ID")
    if name in _LEGACY_CRM_KEYSET:
        return ListMethod(name=name, keyset=True)
    if name == "department.get":
        return ListMethod(name=name, keyset=False, order_style="sort")
    return ListMethod(name=name, keyset=False, order_style=None)


class ListQuery:
    """One directory's list call (method and the user's params) shaped for each strategy.

    The user's own filter is kept and the keyset bounds are added to it; a
    filter that already bounds the id the same way, or uses LOGIC, makes the
    keyset unsafe, so such a directory is read by offset instead.
    """

    def __init__(self, method: str, params: Mapping[str, Any] | None = None,
                 fields: Iterable[str] | None = None) -> None:
        self.method = method
        self.params = dict(params or {})
        self.spec = list_method(method)
        self._select_only(fields)
        self._filter_name, self._filter = self._user_filter()
        self._filter_at_top = (self.spec.name == "user.get" and self._filter_name is None
                               and any(k.upper() not in _USER_GET_RESERVED for k in self.params))
        if self.spec.keyset and self._keyset_unsafe():
            log.info("%s: the filter bounds the id itself or uses LOGIC; reading by offset",
                     method)
            self.spec = replace(self.spec, keyset=False)

    def _select_only(self, fields: Iterable[str] | None) -> None:
        """Ask for the id and `fields` only (None: every field), where the method honours a
        select and the user's params carry none of their own.

        A real portal spends much of its time per row on fields we would throw away, and
        that time counts against the method's operating budget.
        """
        if fields is None or self.spec.name not in _SELECT_HONOURED:
            return
        if any(str(key).lower() == "select" for key in self.params):
            return
        # crm.item.list returns `id` only when it is selected (array_intersect_key).
        names = [self.spec.id_field, *fields]
        self.params["select"] = list(dict.fromkeys(n for n in names if n))

    def _user_filter(self) -> tuple[str | None, dict[str, Any]]:
        for key, value in self.params.items():
            if key.lower() == "filter" and isinstance(value, Mapping):
                return key, dict(value)
        return None, {}

    def _keyset_unsafe(self) -> bool:
        id_field = self.spec.id_field.lower()
        ours = {f">{id_field}", f"<{id_field}"}
        keys = {str(k).lower() for k in self._filter}
        if self._filter_at_top:
            keys |= {str(k).lower() for k in self.params}
        return bool(keys & ours) or "logic" in keys

    @property
    def id_field(self) -> str:
        return self.spec.id_field

    @property
    def filter_keys(self) -> set[str]:
        """The keys of the user's own filter (top-level ones too for user.get)."""
        keys = {str(k) for k in self._filter}
        if self._filter_at_top:
            keys |= {str(k) for k in self.params if k.upper() not in _USER_GET_RESERVED}
        return keys

    def with_filter(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        """The user's params with `extra` conditions added to their filter (ANDed)."""
        params = dict(self.params)
        if self._filter_at_top:
            params.update(extra)
        else:
            params[self._filter_name or self.spec.filter_key] = {**self._filter, **extra}
        return params

    def by_ids_params(self, ids: Iterable[int]) -> dict[str, Any] | None:
        """Params for the records among `ids` that the user's filter still returns (one
        page: at most PAGE_SIZE ids), or None when the method cannot be asked by id.

        A filter with LOGIC (or its own id list) is nested as a group beside the id list,
        so its OR does not take the ids in; a server that drops the group only returns
        more ids, which keeps more records active, never fewer.
        """
        key = self.spec.id_list_key
        if key is None:
            return None
        wanted = {key: [int(i) for i in ids]}
        nest = any(str(k).lower() in ("logic", key.lower()) for k in self._filter)
        if self._filter_at_top or not nest:
            params = self.with_filter(wanted)
        else:
            params = dict(self.params)
            params[self._filter_name or self.spec.filter_key] = {"0": self._filter, **wanted}
        params = {k: v for k, v in params.items() if k.lower() != "start"}
        self._ensure_id_selected(params)
        params["start"] = 0
        return params

    def first_id_ref(self, label: str) -> BatchRef:
        """`$result[label]...[0][id]`: the first row's id of command `label`."""
        wrapper = f"[{self.spec.rows_key}]" if self.spec.rows_key else ""
        return BatchRef(f"$result[{label}]{wrapper}[0][{self.spec.id_field}]")

    def keyset_params(self, *, after: Any = None, before: Any = None, descending: bool = False,
                      start: int = -1) -> dict[str, Any]:
        """Params for one keyset page: id order, `>after` and `<before` merged into the filter."""
        spec = self.spec
        params = {k: v for k, v in self.params.items()
                  if k.lower() not in _ORDER_KEYS and k != self._filter_name}
        self._order_by_id(params, descending)
        bounds = {}
        if after is not None:
            bounds[f">{spec.id_field}"] = after
        if before is not None:
            bounds[f"<{spec.id_field}"] = before
        if self._filter_at_top:
            params.update(bounds)
        elif self._filter or bounds:
            params[self._filter_name or spec.filter_key] = {**self._filter, **bounds}
        self._ensure_id_selected(params)
        params["start"] = start
        return params

    @property
    def offset_ordered(self) -> bool:
        """Whether offset pages come in descending id order (we ask for it)."""
        return self.spec.order_style is not None

    def offset_params(self, start: int) -> dict[str, Any]:
        """Params for the offset page at `start` (a multiple of 50), newest ids first.

        Descending: a row added meanwhile (ids only grow) lands before the pages
        still to read and repeats a row across a boundary, which the check sees;
        in ascending order it would go to the end, and a deletion meanwhile would
        skip a row with the count still right.
        """
        if not self.offset_ordered:
            params = {k: v for k, v in self.params.items() if k.lower() != "start"}
        else:
            params = {k: v for k, v in self.params.items() if k.lower() not in _ORDER_KEYS}
            self._order_by_id(params, descending=True)
            self._ensure_id_selected(params)
        params["start"] = start
        return params

    def _order_by_id(self, params: dict[str, Any], descending: bool) -> None:
        spec = self.spec
        direction = "DESC" if descending else "ASC"
        if spec.order_style == "sort":
            params["sort"], params["order"] = spec.id_field, direction
        elif spec.order_style == "element_order":
            params["ELEMENT_ORDER"] = {spec.id_field: direction}
        else:
            params["order"] = {spec.id_field: direction}

    def _ensure_id_selected(self, params: dict[str, Any]) -> None:
        # The chain reads the last row's id; a select without it would break the chain.
        for key, value in params.items():
            if key.lower() == "select" and isinstance(value, list | tuple):
                names = {str(v).lower() for v in value}
                if "*" not in names and self.spec.id_field.lower() not in names:
                    params[key] = [*value, self.spec.id_field]

    def last_id_ref(self, label: str) -> BatchRef:
        """`$result[label]...[49][id]`: the last row's id of a full page of command `label`."""
        wrapper = f"[{self.spec.rows_key}]" if self.spec.rows_key else ""
        return BatchRef(f"$result[{label}]{wrapper}[{PAGE_SIZE - 1}][{self.spec.id_field}]")

    def ends(self, rows: Page) -> tuple[int, int, tuple[dict[str, Any], ...]]:
        """A page's first and last usable id, and the rows after the last one (none usable).

        A row without a usable id is handed over like any other (the engine reports it
        as a record error); the read goes on from the last usable id. A page without a
        single usable id cannot be read past: IncompleteReadError.
        """
        ids = [usable_id(row.get(self.spec.id_field)) for row in rows]
        usable = [i for i in ids if i is not None]
        if not usable:
            raise IncompleteReadError(
                f"{self.method} returned a page of {len(rows)} rows without a usable "
                f"{self.spec.id_field} ({rows[0].get(self.spec.id_field)!r}, ...); the read "
                "cannot go on past it", method=self.method)
        last = max(i for i, value in enumerate(ids) if value is not None)
        return usable[0], usable[-1], tuple(rows[last + 1:])


@dataclass
class _Outcome:
    pages: list[Page] = field(default_factory=list)
    follow_ups: list[_Step] = field(default_factory=list)
    failure: PortalError | None = None
    # Keyset chains that ended on a short page: (last id read, upper bound).
    ended: list[tuple[int, int | None]] = field(default_factory=list)
    offsets: list[tuple[int, Page, int | None]] = field(default_factory=list)  # start, rows, total
    spare: list[_Span] = field(default_factory=list)  # short chains to pack with others


@dataclass(kw_only=True)
class _Step:
    """One HTTP request's worth of reading (one batch), retried by queuing a copy."""

    attempt: int = 0
    delay: float = 0.0

    def run(self, reader: ListReader) -> _Outcome:
        raise NotImplementedError

    def retry(self, reader: ListReader, error: PortalError, **changes: Any) -> _Outcome:
        """A follow-up that tries again after a pause, or the failure once retries run out."""
        if not isinstance(error, PortalRetriableError):
            return _Outcome(failure=error)
        attempt = self.attempt + 1
        if attempt > retries_for(error, reader.client.max_retries):
            return _Outcome(failure=PortalRetriableError(
                f"{error} (a batch command, gave up after {attempt} attempts)",
                method=error.method, status=error.status, code=error.code))
        if (error.code or "").lower() == "operation_time_limit":
            delay = reader.client.operating.blocked_wait(reader.query.method)
        else:
            delay = reader.client.backoff_delay(attempt)
        log.warning("Bitrix24 %s: %s inside a batch; retry %d/%d in %.1f s from where it stopped",
                    reader.query.method, error, attempt, reader.client.max_retries, delay)
        return _Outcome(follow_ups=[replace(self, attempt=attempt, delay=delay, **changes)])

    def send(self, reader: ListReader, commands: dict[str, Command], *, halt: bool
             ) -> BatchResult | _Outcome:
        """The batch's result; or, when the portal cut it off, the follow-ups that send it
        again in halves (the list keeps the smaller size), down to MIN_BATCH_COMMANDS."""
        try:
            return reader.client.batch(commands, halt=halt,
                                       shrinkable=len(commands) > MIN_BATCH_COMMANDS)
        except PortalCutOffError as exc:
            if len(commands) <= MIN_BATCH_COMMANDS:
                return self.retry(reader, exc)
            reader.shrink_batches(len(commands), exc)
            return _Outcome(follow_ups=self.halves())

    def halves(self) -> list[_Step]:
        raise NotImplementedError


@dataclass
class _Span:
    """One keyset chain: ids above `after` (and below `before`)."""

    after: int
    before: int | None
    pages_left: float | None  # expected pages still to read; None: unknown
    # The first command counts the span (`start=0` gives its total) so the span is
    # sized by what it holds, not by how wide its ids are.
    count: bool = False
    take: int | None = None  # commands in the next batch; None: as many as it needs
    # Rows without a usable id that ended the page before and were handed over already:
    # read again from `after`, they come first and are dropped.
    repeat: tuple[dict[str, Any], ...] = ()

    def commands(self, most: int) -> int:
        if self.pages_left is None:
            return most
        # +1: a chain only knows it is done when it sees a short (maybe empty) page.
        return max(1, min(most, self.take or most, math.ceil(self.pages_left) + 1))


@dataclass
class _ChainStep(_Step):
    """Chained keyset pages of one or more spans in one batch, each span its own chain."""

    spans: tuple[_Span, ...]

    def run(self, reader: ListReader) -> _Outcome:
        plan, commands = self._chain_commands(reader)
        result = self.send(reader, commands, halt=True)
        if isinstance(result, _Outcome):
            return result
        reader.note_batch_time(result.seconds, len(commands))
        outcome = _Outcome()
        going_on: list[_Span] = []
        crowded: list[_Span] = []
        for span, labels in plan:
            try:
                rest = self._take_chain(reader, result, span, labels, outcome)
            except IncompleteReadError as exc:  # the id filter was ignored: stop everything
                outcome.failure = exc
                return outcome
            if rest is None:
                continue
            if span.count and rest.pages_left is not None and rest.pages_left > REPROBE_PAGES:
                crowded.append(rest)
            else:
                going_on.append(rest)
        self._queue_the_rest(reader, going_on, crowded, outcome)
        return outcome

    def halves(self) -> list[_Step]:
        # One chain plans fewer commands by itself once the list's batch size is smaller.
        if len(self.spans) == 1:
            return [replace(self, delay=0.0)]
        middle = len(self.spans) // 2
        return [replace(self, spans=part, delay=0.0)
                for part in (self.spans[:middle], self.spans[middle:])]

    def _chain_commands(self, reader: ListReader
                        ) -> tuple[list[tuple[_Span, list[str]]], dict[str, Command]]:
        """The batch: each span's chain of labels, each command reading past the one before."""
        query, method = reader.query, reader.query.method
        plan: list[tuple[_Span, list[str]]] = []
        commands: dict[str, Command] = {}
        for span in self.spans:
            labels = [f"p{len(commands) + i}" for i in range(span.commands(reader.batch_commands))]
            for i, label in enumerate(labels):
                after = span.after if i == 0 else query.last_id_ref(labels[i - 1])
                start = 0 if span.count and i == 0 else -1
                commands[label] = (method, query.keyset_params(after=after, before=span.before,
                                                               start=start))
            plan.append((span, labels))
        return plan, commands

    def _take_chain(self, reader: ListReader, result: BatchResult, span: _Span,
                    labels: list[str], outcome: _Outcome) -> _Span | None:
        """Put one chain's pages into `outcome`; return the span left to read, if any.

        None when the chain reached its end (a short page) or stopped on an error
        (its follow-up is queued). Raises IncompleteReadError when the portal
        ignored the id filter.
        """
        query, method = reader.query, reader.query.method
        after, pages_left, pages, repeat = span.after, span.pages_left, 0, span.repeat
        for i, label in enumerate(labels):
            error = result.error_for(label, method)
            if error is None and label not in result.results:
                error = PortalRetriableError(f"Bitrix24 stopped a batch of {method} before "
                                             f"command {label}", method=method)
            if error is not None:
                rest = replace(span, after=after, pages_left=pages_left,
                               count=span.count and i == 0, take=None, repeat=repeat)
                self._resume(reader, rest, error, outcome, halted_by_another=(
                    label not in result.errors and bool(result.errors)), read_some=pages > 0)
                return None
            rows = extract_rows(result.results[label])
            full = len(rows) == PAGE_SIZE
            if rows:
                first, last, unusable = query.ends(rows)
                if first <= after:
                    # The filter was not applied: going on would loop over the same rows.
                    raise IncompleteReadError(
                        f"{method} ignored the id filter (got id {first} after {after}); "
                        "the read cannot go on", method=method)
                outcome.pages.append(_without_repeats(rows, repeat))
                after, repeat = last, unusable
                pages += 1
            if i == 0 and span.count and isinstance(result.totals.get(label), int):
                pages_left = (result.totals[label] - len(rows)) / PAGE_SIZE
            elif pages_left is not None:
                pages_left -= 1
            if not full:
                # The chain is complete; its later commands are ignored.
                outcome.ended.append((after, span.before))
                return None
            if repeat:
                # The next command read past this page's last row, which has no usable id:
                # its later commands are ignored and the chain goes on from the last id.
                break
        # A chain that outlives its estimate (rows added, or a wrong count) goes on in
        # full batches: a page or two per batch would cost a request for every 100 rows.
        # At exactly 0 it only has to see its empty last page.
        return _Span(after, span.before,
                     pages_left if pages_left is not None and pages_left >= 0 else None,
                     repeat=repeat)

    def _resume(self, reader: ListReader, rest: _Span, error: PortalError, outcome: _Outcome,
                *, halted_by_another: bool, read_some: bool) -> None:
        """Queue the rest of a chain that stopped on `error` (or record the failure)."""
        if halted_by_another:
            # halt=True: another command stopped the batch (another chain's failure, or
            # the ignored commands after another chain's end, whose references point at
            # nothing). Not this chain's fault: it goes on alone, where nothing else can
            # stop it.
            outcome.follow_ups.append(_ChainStep(spans=(rest,)))
            return
        step = replace(self, spans=(rest,), attempt=0 if read_some else self.attempt)
        retried = step.retry(reader, error)
        outcome.follow_ups.extend(retried.follow_ups)
        outcome.failure = outcome.failure or retried.failure

    @staticmethod
    def _queue_the_rest(reader: ListReader, going_on: list[_Span], crowded: list[_Span],
                        outcome: _Outcome) -> None:
        """Chains this batch did not finish: long ones alone, short ones shared, crowded split."""
        most = reader.batch_commands
        for span in going_on:
            if span.commands(most) > most // 2:
                outcome.follow_ups.append(_ChainStep(spans=(span,)))
            else:
                outcome.spare.append(span)
        outcome.follow_ups.extend(reader.probes(crowded))


def _without_repeats(rows: Page, repeat: tuple[dict[str, Any], ...]) -> Page:
    """The page without the leading rows it repeats from the page before (no usable id)."""
    skip = 0
    while skip < min(len(repeat), len(rows)) and rows[skip] == repeat[skip]:
        skip += 1
    return rows[skip:]


@dataclass
class _OffsetStep(_Step):
    """Independent offset pages in one batch; failed ones are retried alone."""

    starts: tuple[int, ...]

    def halves(self) -> list[_Step]:
        middle = len(self.starts) // 2
        return [replace(self, starts=part, delay=0.0)
                for part in (self.starts[:middle], self.starts[middle:]) if part]

    def run(self, reader: ListReader) -> _Outcome:
        query, method = reader.query, reader.query.method
        labels = {f"o{start}": start for start in self.starts}
        commands = {label: (method, query.offset_params(start)) for label, start in labels.items()}
        result = self.send(reader, commands, halt=False)
        if isinstance(result, _Outcome):
            return result
        outcome = _Outcome()
        failed: list[int] = []
        first_error: PortalError | None = None
        for label, start in labels.items():
            error = result.error_for(label, method)
            if error is None and label not in result.results:
                error = PortalRetriableError(f"Bitrix24 returned nothing for {method} "
                                             f"start={start} in a batch", method=method)
            if error is not None:
                failed.append(start)
                first_error = first_error or error
                continue
            total = result.totals.get(label)
            outcome.offsets.append((start, extract_rows(result.results[label]),
                                    total if isinstance(total, int) else None))
        if first_error is not None:
            retried = self.retry(reader, first_error, starts=tuple(failed))
            outcome.follow_ups, outcome.failure = retried.follow_ups, retried.failure
        return outcome


class ReaderPool(Executor):
    """Up to `workers` daemon threads for HTTP reads, started as work comes.

    Unlike ThreadPoolExecutor, whose workers the interpreter joins at exit, a
    request stalled on a slow portal never keeps a stopped process alive.
    """

    def __init__(self, workers: int, *, name: str = "bitrix-read") -> None:
        self._workers = workers
        self._name = name
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        self._tasks.put((future, fn, args, kwargs))
        with self._lock:  # threads start as work comes: small lists never need any
            if len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self._name}-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            future, fn, args, kwargs = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            while True:
                try:
                    task = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if task is not None:
                    task[0].cancel()
        with self._lock:
            threads, self._workers = list(self._threads), 0  # no new threads from now on
        for _ in threads:
            self._tasks.put(None)
        if wait:
            for thread in threads:
                thread.join()


class ListReader:
    """Reads one list completely, handing each page to `emit` as it arrives.

    Batches run on `executor` (a shared pool, or a private one); at most
    `max_in_flight` of this list's batches are pending at once, so memory stays
    bounded when `emit` blocks. Raises a PortalError when the read is
    incomplete, after emitting every page that did arrive.
    """

    def __init__(
        self,
        client: Bitrix24Client,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        executor: Executor | None = None,
        max_in_flight: int = 8,
        cancel: threading.Event | None = None,
        fields: Iterable[str] | None = None,
    ) -> None:
        self.client = client
        self.query = ListQuery(method, params, fields)
        self.executor = executor
        self.max_in_flight = max_in_flight
        self.cancel = cancel or threading.Event()
        self.rows_read = 0
        self._highest = 0  # the highest id when the read began (split reads)
        self._ended: list[tuple[int, int | None]] = []
        # Offset reads: the rows and total of each page by start, and the keys already
        # handed over (a second pass repeats rows).
        self._offset_pages: dict[int, tuple[Page, int | None]] = {}
        self._offset_seen: set[Any] = set()
        self.batch_commands = BATCH_SIZE  # commands per batch; shrinks if slow or cut off
        self._shrinking = threading.Lock()

    def shrink_batches(self, commands: int, error: PortalError) -> None:
        """A batch of `commands` was cut off: this list's batches take half as many from now."""
        smaller = max(MIN_BATCH_COMMANDS, commands // 2)
        with self._shrinking:
            if smaller < self.batch_commands:
                self.batch_commands = smaller
        log.warning("%s: %s; retrying it as batches of %d commands", self.query.method,
                    error, smaller)
        self.started: Any = None  # the `time` block of the read's first answer

    def note_batch_time(self, seconds: float | None, commands: int) -> None:
        """Keep batches of this list well inside the portal's 60 s per request."""
        if seconds is None or seconds <= SLOW_BATCH_SECONDS or commands <= MIN_BATCH_COMMANDS:
            return
        smaller = max(MIN_BATCH_COMMANDS, commands // 2)
        if smaller < self.batch_commands:
            self.batch_commands = smaller
            log.warning("%s: a batch of %d pages took %.0f s (the portal cuts requests at 60 s); "
                        "using %d pages per batch", self.query.method, commands, seconds, smaller)

    def read(self, emit: Emit, head: dict[str, Any] | None = None) -> None:
        """Read the list; `head` is its first page when that came already (in a batch)."""
        query = self.query
        keyset = query.spec.keyset
        if head is None:
            first = query.keyset_params(start=0) if keyset else query.offset_params(0)
            head = self.client.call(query.method, first)
        self.started = head.get("time")  # the portal's clock when the read began
        rows = extract_rows(head.get("result"))
        self._emit(emit, rows)
        total = head.get("total") if isinstance(head.get("total"), int) else None
        if head.get("next") is None or not rows:
            if not keyset:
                self._check_total(total)
            return
        if keyset:
            self._run(self._chains(rows, total), emit)
            self._confirm_chain_ends(total)
            return
        self._read_offsets(rows, total, emit)

    def _chains(self, first_page: Page, total: int | None) -> list[_Step]:
        query = self.query
        _, after, repeat = query.ends(first_page)
        pages_left = None if total is None else (total - len(first_page)) / PAGE_SIZE
        if pages_left is None or pages_left <= SPLIT_MIN_PAGES:
            return [_ChainStep(spans=(_Span(after, None, pages_left, repeat=repeat),))]
        tail = self.client.call(query.method, query.keyset_params(descending=True))
        tail_rows = extract_rows(tail.get("result"))
        self._highest = query.ends(tail_rows)[0] if tail_rows else after
        log.debug("%s: %d rows; counting id spans to read them as parallel chains",
                  query.method, total)
        return self.probes([_Span(after, None, pages_left, repeat=repeat)])

    def probes(self, spans: list[_Span]) -> list[_Step]:
        """Split each span into parts, each counted by its first command.

        Splitting an id range evenly assumes evenly spread ids; a few far-off
        ids (one item created with a huge id, an imported block) leave most
        parts empty and one holding nearly every row. So each part's first
        command counts it (`start=0`): an empty part costs one command, not a
        request, the others are then sized by what they hold, and a crowded
        one is split and counted again. The parts share batches and start
        reading right away. The last part of an open-ended span stays open, so
        rows added meanwhile are read too.
        """
        most = self.batch_commands
        parts: list[_Span] = []
        for span in spans:
            top = span.before - 1 if span.before is not None else self._highest
            pages = span.pages_left or 0.0
            count = max(1, min(most, math.ceil(pages / RANGE_PAGES), top - span.after))
            if count == 1:  # nothing to split (ids added past the highest one seen)
                parts.append(replace(span, count=True, take=None))
                continue
            bounds = [span.after + (top - span.after) * i // count for i in range(count)]
            parts += [_Span(low, bounds[i + 1] + 1 if i + 1 < count else span.before,
                            pages / count, count=True, repeat=span.repeat if i == 0 else ())
                      for i, low in enumerate(bounds)]
        steps: list[_Step] = []
        for i in range(0, len(parts), most):
            group = parts[i:i + most]
            take = max(1, most // len(group))
            steps.append(_ChainStep(spans=tuple(replace(p, take=take) for p in group)))
        return steps

    def pack(self, spans: list[_Span]) -> list[_Step]:
        """Short chains packed into as few batches as fit them (first fit, longest first)."""
        most = self.batch_commands
        steps: list[_Step] = []
        bins: list[list[_Span]] = []
        sizes: list[int] = []
        for span in sorted(spans, key=lambda s: -s.commands(most)):
            size = span.commands(most)
            if size >= most:
                steps.append(_ChainStep(spans=(span,)))
                continue
            for i, used in enumerate(sizes):
                if used + size <= most:
                    bins[i].append(span)
                    sizes[i] += size
                    break
            else:
                bins.append([span])
                sizes.append(size)
        return steps + [_ChainStep(spans=tuple(b)) for b in bins]

    def _read_offsets(self, head: Page, total: int | None, emit: Emit) -> None:
        """Every offset page, checked; read once more when the list shifted meanwhile.

        Rows emitted by a pass that turned out shifted stay emitted (they are real
        rows); the second pass hands over only rows not seen yet.
        """
        query = self.query
        self._offset_seen = {self._row_key(row) for row in head}
        problem = None
        for attempt in range(OFFSET_PASSES):
            if attempt:
                log.warning("%s changed or came back short while it was read page by page "
                            "(%s); reading it once more", query.method, problem)
                envelope = self.client.call(query.method, query.offset_params(0))
                head = extract_rows(envelope.get("result"))
                total = envelope.get("total") if isinstance(envelope.get("total"), int) else None
                self._emit_fresh(emit, head)
            self._offset_pages = {0: (head, total)}
            self._offset_pass(total, emit)
            if self.cancel.is_set():
                return
            problem = self._offset_problem()
            if problem is None:
                return
        raise IncompleteReadError(
            f"{query.method} changed or came back short while it was read page by page, twice "
            f"({problem}); a row may have been skipped, so the read is incomplete",
            method=query.method)

    def _offset_pass(self, total: int | None, emit: Emit) -> None:
        """Read the pages after the first: all at once when `total` is known, else batch by
        batch until one comes back short."""
        start = PAGE_SIZE
        while not self.cancel.is_set():
            if total is not None:
                starts = list(range(start, total, PAGE_SIZE))
            else:
                starts = [start + PAGE_SIZE * i for i in range(self.batch_commands)]
            if not starts:
                return
            self._run([_OffsetStep(starts=tuple(starts[i:i + self.batch_commands]))
                       for i in range(0, len(starts), self.batch_commands)], emit)
            last_rows, _ = self._offset_pages[max(self._offset_pages)]
            if total is not None or len(last_rows) < PAGE_SIZE:
                return
            start = max(self._offset_pages) + PAGE_SIZE

    def _offset_problem(self) -> str | None:
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
        pages = sorted(self._offset_pages.items())
        first_total = pages[0][1][1]
        for start, (rows, total) in pages:
            total = 0 if total is None and not rows else total
            if first_total is not None and total is not None and total != first_total:
                return f"the total went from {first_total} to {total} at start={start}"
        for index, (start, (rows, _)) in enumerate(pages[:-1]):
            if len(rows) != PAGE_SIZE:
                later = sum(len(r) for _, (r, _t) in pages[index + 1:])
                return f"the page at start={start} had {len(rows)} rows, and {later} followed"
        count = sum(len(rows) for _, (rows, _) in pages)
        if first_total is not None and count != first_total:
            return f"{count} rows arrived but the portal counted {first_total}"
        return self._ids_out_of_order(pages)

    def _ids_out_of_order(self, pages: list[tuple[int, tuple[Page, int | None]]]) -> str | None:
        keyed = [(start, _loose_int(row.get(self.query.id_field)))
                 for start, (rows, _) in pages for row in rows]
        if any(key is None for _, key in keyed):
            return None  # rows without ids: the counts above are all there is to check
        keys = [key for _, key in keyed]
        if self.query.offset_ordered:
            falling = True
        else:  # the method's own order: use it when the first page is in id order
            head = [_loose_int(row.get(self.query.id_field)) for row in pages[0][1][0]]
            falling = head == sorted(head, reverse=True) and len(set(head)) == len(head)
            if not falling and not (head == sorted(head) and len(set(head)) == len(head)):
                return None
        for (start, key), previous in zip(keyed[1:], keys, strict=False):
            if (key >= previous) if falling else (key <= previous):
                return f"id {key} after id {previous} on the page at start={start}"
        return None

    def _row_key(self, row: Mapping[str, Any]) -> Any:
        value = row.get(self.query.id_field)
        return str(value) if value is not None else repr(sorted(row.items(), key=str))

    def _emit_fresh(self, emit: Emit, rows: Page) -> None:
        fresh = [row for row in rows if self._row_key(row) not in self._offset_seen]
        self._offset_seen.update(self._row_key(row) for row in fresh)
        self._emit(emit, fresh)

    def _run(self, steps: list[_Step], emit: Emit) -> None:
        """Run the steps (and the follow-ups they queue) until done or a step fails for good."""
        executor = self.executor or ReaderPool(self.max_in_flight)
        pending: deque[_Step] = deque(steps)
        in_flight: dict[Future, _Step] = {}
        failure: PortalError | None = None
        spare: list[_Span] = []  # short chains waiting to share a batch
        try:
            while True:
                # Short chains are held back until they fill a batch together or
                # nothing else is left to run: each alone would cost a request.
                if spare and failure is None and (not (pending or in_flight) or sum(
                        s.commands(self.batch_commands) for s in spare) >= self.batch_commands):
                    pending.extend(self.pack(spare))
                    spare = []
                if not (pending or in_flight):
                    break
                while (pending and failure is None and not self.cancel.is_set()
                       and len(in_flight) < self.max_in_flight):
                    step = pending.popleft()
                    in_flight[executor.submit(self._run_step, step)] = step
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    in_flight.pop(future)
                    try:
                        outcome = future.result()
                    except PortalError as exc:
                        failure = failure or exc
                        continue
                    for page in outcome.pages:
                        self._emit(emit, page)
                    for start, page, total in outcome.offsets:
                        self._offset_pages[start] = (page, total)
                        self._emit_fresh(emit, page)
                    self._ended.extend(outcome.ended)
                    failure = failure or outcome.failure
                    pending.extend(outcome.follow_ups)
                    spare.extend(outcome.spare)
        finally:
            if self.executor is None:
                executor.shutdown(wait=False, cancel_futures=True)
        if failure is not None:
            raise failure

    def _run_step(self, step: _Step) -> _Outcome:
        if step.delay > 0 and self.client.pause(step.delay, self.cancel):
            return _Outcome()
        return step.run(self)

    def _emit(self, emit: Emit, rows: Page) -> None:
        if rows:
            self.rows_read += len(rows)
            emit(rows)

    def _confirm_chain_ends(self, total: int | None) -> None:
        """Fewer rows than `total`: make sure every chain really reached its end.

        A keyset chain stops at its first short page, so a page the portal cut
        short in the middle looks just like the end of the list. Rows deleted
        during the read also make fewer than `total`, so the shortfall alone
        proves nothing: ask once more above each chain's last id (one command
        per chain). Any row there means a page came back short and rows after
        it were never read.
        """
        if total is None or self.rows_read >= total or self.cancel.is_set() or not self._ended:
            return
        query, method = self.query, self.query.method
        ends = self._ended
        for first in range(0, len(ends), BATCH_SIZE):
            commands = {f"e{i}": (method, query.keyset_params(after=after, before=before))
                        for i, (after, before) in enumerate(ends[first:first + BATCH_SIZE])}
            result = self.client.batch(commands, halt=False)
            for label in commands:
                error = result.error_for(label, method)
                if error is None and label not in result.results:
                    error = IncompleteReadError(f"Bitrix24 returned nothing for {method} while "
                                                "confirming the end of the list", method=method)
                if error is not None:
                    raise error
                if extract_rows(result.results[label]):
                    raise IncompleteReadError(
                        f"{method} returned {self.rows_read} rows but reported {total}, and "
                        "rows remain after a page that came back short; the read is incomplete",
                        method=method)
        log.debug("%s: %d rows of %d; the rest was deleted during the read",
                  method, self.rows_read, total)

    def _check_total(self, total: int | None) -> None:
        if total is not None and self.rows_read < total and not self.cancel.is_set():
            raise IncompleteReadError(
                f"{self.query.method} returned {self.rows_read} rows but reported {total}; "
                "the read is incomplete", method=self.query.method)


def _loose_int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
