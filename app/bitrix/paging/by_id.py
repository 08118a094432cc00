"""Reads by id: which of some ids the portal still lists under a directory's filter."""

from __future__ import annotations

from typing import Any

from app.bitrix.client import PAGE_SIZE, Bitrix24Client, usable_id
from app.bitrix.paging.query import ListQuery
from app.messages import say


def ids_of(query: ListQuery, rows: list[dict[str, Any]]) -> list[int]:
    """The usable ids of a page (a row without one is a record error, never deactivated)."""
    ids = (usable_id(row.get(query.id_field)) for row in rows)
    return [i for i in ids if i is not None]


def still_listed(client: Bitrix24Client, query: ListQuery, ids: list[int]) -> set[int] | None:
    """Which of `ids` the portal still returns under `query`'s filter, asked by id (a page
    of ids per command, a batch of commands per request).

    None when the method cannot be asked by id, or answered with ids it was not asked for
    (it ignored the id list): then nothing can be confirmed either way.
    """
    chunks = [ids[i:i + PAGE_SIZE] for i in range(0, len(ids), PAGE_SIZE)]
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    for i, chunk in enumerate(chunks):
        params = query.by_ids_params(chunk)
        if params is None:
            return None
        commands[f"i{i}"] = (query.method, params)
    listed: set[int] = set()
    result = client.batch_all(commands)
    for i, label in enumerate(commands):
        found = set(ids_of(query, result.rows(label, query.method,
                                              say("reading.confirming_removed"))))
        if not found <= set(chunks[i]):
            return None
        listed |= found
    return listed
