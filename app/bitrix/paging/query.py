"""One directory's list call shaped for each paging strategy, from the method's profile."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from app.bitrix.client import PAGE_SIZE, BatchRef, usable_id
from app.bitrix.methods import Order, Paging, profile
from app.errors import IncompleteReadError
from app.messages import say

Page = list[dict[str, Any]]
_ORDER_KEYS = frozenset({"order", "sort", "element_order", "start"})


def read_params(method: str, params: Mapping[str, Any] | None,
                fields: Iterable[str] | None) -> dict[str, Any]:
    """The params a directory's reads send: its own, with a select of `fields` (plus the id)
    where the method honours one."""
    return ListQuery(method, params, fields).params


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
        self.spec = profile(method)
        self._select_only(fields)
        self._filter_name, self._filter = self._user_filter()
        reserved = self.spec.reserved_params
        self._filter_at_top = (self.spec.top_level_filter and self._filter_name is None
                               and any(k.upper() not in reserved for k in self.params))
        # The user's filter rules the keyset out: the reader says so once, when it reads.
        self.keyset_ruled_out = self.spec.keyset and self._keyset_unsafe()
        if self.keyset_ruled_out:
            self.spec = replace(self.spec, paging=Paging.OFFSET)

    @property
    def keyset(self) -> bool:
        return self.spec.keyset

    def _select_only(self, fields: Iterable[str] | None) -> None:
        """Ask for the id and `fields` only (None: every field), where the method honours a
        select and the user's params carry none of their own.

        A real portal spends much of its time per row on fields we would throw away, and
        that time counts against the method's operating budget.
        """
        if fields is None or not self.spec.honours_select:
            return
        if any(str(key).lower() == "select" for key in self.params):
            return
        # crm.item.list returns `id` only when it is selected (array_intersect_key).
        names = [self.spec.id_field, *fields]
        self.params[self.spec.select_key] = list(dict.fromkeys(n for n in names if n))

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
            keys |= {str(k) for k in self.params if k.upper() not in self.spec.reserved_params}
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

    def highest_params(self) -> dict[str, Any]:
        """Params for the list's highest id: one reverse-ordered page, of ids only where the
        method honours a select (whole rows would make it as large as a first page)."""
        params = self.keyset_params(descending=True)
        if self.spec.honours_select:
            for key in [k for k in params if str(k).lower() == "select"]:
                del params[key]
            params[self.spec.select_key] = [self.spec.id_field]
        return params

    @property
    def offset_ordered(self) -> bool:
        """Whether offset pages come in descending id order (we ask for it)."""
        return self.spec.order is not Order.NONE

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
        if spec.order is Order.SORT:
            params["sort"], params["order"] = spec.id_field, direction
        elif spec.order is Order.ELEMENT_ORDER:
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
        field = self.spec.id_field
        # Only the first usable id from the front and the last from the back are needed:
        # nearly always the first and the last row.
        first = next((i for i in map(usable_id, (row.get(field) for row in rows))
                      if i is not None), None)
        if first is None:
            raise IncompleteReadError(
                say("reading.no_usable_id", method=self.method, count=len(rows),
                    field=field, value=repr(rows[0].get(field))),
                method=self.method)
        last = next(index for index in range(len(rows) - 1, -1, -1)
                    if usable_id(rows[index].get(field)) is not None)
        return first, usable_id(rows[last].get(field)), tuple(rows[last + 1:])
