"""Filter, order and page one collection the way list methods do: ``start``, ``total``, ``next``.

``start`` is a page number in disguise: ``IRestService::getNavData``
(modules/rest/classes/general/rest.php in bitrix-core-business) sends
``iNumPage = intval(start / 50) + 1`` to the old GetList methods and ``RestManager``
(modules/rest/lib/engine/restmanager.php) calls ``setCurrentPage((int)($start / 50) + 1)`` for
crm.item.list, so ``start=49`` returns rows 0-49 again and ``next`` is the next multiple of 50.
Only ORM-based user.get takes ``getNavData($nav, true)``, an exact ``offset``, and its ``next``
is that offset plus the rows returned (``setNavData``).

A negative ``start`` runs no count: the first 50 rows (``nTopCount`` / ``limit``) and no
``total`` from here; each family decides what its method then shows.

A page past the last one is empty on the ORM methods (crm.item.list, user.get), but the old
GetList methods page through ``CDBResult`` (lists.element.get, department.get), whose
``calculatePageNumber`` (modules/main/classes/general/dbresult.php) falls back to page 1
when the page number is out of range and ``checkOutOfRange`` is not asked for (getNavData
never asks): such a ``start`` returns the first page again, with its ``next`` and ``total``.
"""

import itertools
from typing import Any

from app.testing.filters import FieldResolver, plan
from app.testing.php_query import number
from app.testing.store import Collection

PAGE_SIZE = 50

Order = list[tuple[str, bool]]  # (field, descending), most significant first


def start_of(value: Any) -> int:
    """The ``start`` parameter as an offset; -1 for any negative number."""
    if value is None or value == "":
        return 0
    offset = number(value)
    if offset is None:
        return 0
    return -1 if offset < 0 else int(offset)


def _sort_key(value: Any) -> tuple[int, float, str]:
    if isinstance(value, dict):
        value = next(iter(value.values()), None)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or value == "":
        return (0, 0.0, "")
    if isinstance(value, bool):
        return (1, float(value), "")
    numeric = number(value)
    if numeric is not None:
        return (1, float(numeric), "")
    return (2, 0.0, str(value).casefold())


def query(
    coll: Collection,
    spec: Any,
    order: Order,
    start: int,
    id_key: str,
    resolve: FieldResolver,
    *,
    exact_offset: bool = False,
    past_end_is_first_page: bool = False,
) -> tuple[list[dict[str, Any]], int | None, int | None]:
    """Filter, order and page one collection; returns (page rows, total, next).

    Without ``exact_offset`` the start is rounded down to a multiple of 50. A negative start
    gives no total and no next. ``past_end_is_first_page``: a start past the last row gives
    the first page (CDBResult, see above).
    """
    if start > 0 and not exact_offset:
        start -= start % PAGE_SIZE
    page, total, nxt = _query(coll, spec, order, start, id_key, resolve)
    if past_end_is_first_page and start > 0 and not page and total:
        return _query(coll, spec, order, 0, id_key, resolve)
    return page, total, nxt


def _query(
    coll: Collection, spec: Any, order: Order, start: int, id_key: str, resolve: FieldResolver
) -> tuple[list[dict[str, Any]], int | None, int | None]:
    low, high, predicate = plan(coll, spec, id_key, resolve)
    ids, rows = coll.ids, coll.rows
    if not order or order == [(id_key, False)] or order == [(id_key, True)]:
        positions = range(low, high)
        if order and order[0][1]:
            positions = positions[::-1]
        if predicate is None:
            total = len(positions)
            chosen = positions[:PAGE_SIZE] if start < 0 else positions[start : start + PAGE_SIZE]
            page = [rows[ids[i]] for i in chosen]
        else:
            matching = (row for row in (rows[ids[i]] for i in positions) if predicate(row))
            if start < 0:
                page = list(itertools.islice(matching, PAGE_SIZE))
                total = 0
            else:
                found = list(matching)
                total = len(found)
                page = found[start : start + PAGE_SIZE]
    else:
        found = [rows[ids[i]] for i in range(low, high)]
        if predicate is not None:
            found = [row for row in found if predicate(row)]
        for name, descending in reversed(order):
            found.sort(key=lambda row, name=name: _sort_key(row.get(name)), reverse=descending)
        total = len(found)
        page = found[:PAGE_SIZE] if start < 0 else found[start : start + PAGE_SIZE]
    if start < 0:
        return page, None, None
    return page, total, start + len(page) if start + len(page) < total else None
