"""Which Bitrix24 field holds another directory's ids: sample values matched against its ids.

A reference kept in a plain field (a list's string property holding "3301", a
number field) carries nothing that says what it points at; only its values do.
--discover drafts such a field as the reference and --check names it when a
reference column is left unfilled. Both read one page of rows, so the match is
a hint to confirm, not proof.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.bitrix.client import usable_id

# Fields whose values are ids of something else by design (the record itself, its list,
# its place in the list): a match there would be a coincidence.
_NOT_REFERENCES = frozenset({"ID", "id", "IBLOCK_ID", "IBLOCK_SECTION_ID", "SORT",
                             "entityTypeId", "categoryId", "stageId", "previousStageId"})
# With every row of the target read, this share of a field's values must be its ids.
_COMPLETE_SHARE = 0.8


def ids_in(value: Any) -> set[int]:
    """The ids a field's value holds: one, several (a multiple field), or none."""
    if isinstance(value, dict):  # lists.element.get: {"<value row id>": value, ...}
        value = list(value.values())
    if isinstance(value, list | tuple):
        return set().union(*(ids_in(v) for v in value)) if value else set()
    found = usable_id(value)
    return {found} if found is not None else set()


def row_ids(rows: Iterable[dict[str, Any]]) -> set[int]:
    """The ids of the records themselves (ID or id)."""
    return {i for row in rows for i in ids_in(row.get("ID", row.get("id")))}


def likely_reference(rows: list[dict[str, Any]], target_ids: set[int], *,
                     skip: Iterable[str] = (), complete: bool = True) -> str | None:
    """The field of `rows` whose values look most like `target_ids`, or None.

    `complete` says every target id is known; otherwise (a first page only) one
    value in common is enough. Fields named in `skip` are not considered.
    """
    if not rows or not target_ids:
        return None
    skipped = set(skip) | _NOT_REFERENCES
    best: tuple[int, int, str] | None = None
    for name in dict.fromkeys(k for row in rows for k in row):
        if name in skipped:
            continue
        values = set().union(*(ids_in(row.get(name)) for row in rows))
        shared = len(values & target_ids)
        if not shared or (complete and shared < _COMPLETE_SHARE * len(values)):
            continue
        if any(not ids_in(row[name]) and row[name] not in (None, "", [], {})
               for row in rows if name in row):
            continue  # some values are not ids at all: text that happens to hold a number
        candidate = (shared, len(values), name)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def unfilled_references(syncer, table, table_directory: dict[str, str]) -> dict[str, str]:
    """Reference columns of `table` that no mapping of `syncer` fills: column -> directory.

    A reference column is a foreign key to another synced directory's table
    (`table_directory`: table name -> directory) or one the syncer declares.
    """
    declared = {c: d for c, d in type(syncer).references.items() if c in table.c}
    keys = {column.name: table_directory[fk.column.table.name]
            for column in table.columns for fk in column.foreign_keys
            if fk.column.table.name in table_directory
            and table_directory[fk.column.table.name] != syncer.name}
    filled = set(syncer.mapping.fields.values())
    return {c: d for c, d in {**declared, **keys}.items() if c not in filled}
