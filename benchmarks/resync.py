"""The incremental re-syncs of the benchmark: what changes on the portal, and the check that
the database holds exactly what the portal has afterwards."""

from __future__ import annotations

import random
from typing import Any

# Per portal collection: the mapped field the 1% run edits, the id key, the table, the column.
_DIRECTORIES = {
    "crm:1036": ("title", "id", "cities", "name"),
    "crm:1040": ("title", "id", "objects", "name"),
    "list:48": ("NAME", "ID", "violation_categories", "name"),
    "list:52": ("NAME", "ID", "violations", "name"),
    "user": ("NAME", "ID", "users", "first_name"),
}
ADDED = {"crm:1040": 5, "list:52": 3, "user": 2}  # a few new records
REMOVED = {"crm:1040": 5, "list:52": 3, "user": 2}  # and a few deleted ones


def change_portal(portal) -> dict[str, int]:
    """1% of every directory edited (every 100th record), a few records added and removed."""
    done = {"changed": 0, "added": 0, "removed": 0}
    for collection, (field_name, key, _, _) in _DIRECTORIES.items():
        records = portal.records(collection)
        for record in records[::100]:
            portal.update_record(collection, int(record[key]),
                                 **{field_name: f"{record[field_name]} (изм.)"})
            done["changed"] += 1
        # Removed at random places (the same ones every time), none of them an edited one.
        others = [r for i, r in enumerate(records) if i % 100]
        for record in random.Random(collection).sample(others, REMOVED.get(collection, 0)):
            portal.delete_record(collection, int(record[key]))
            done["removed"] += 1
    count = ADDED["crm:1040"]
    portal.add_items(1040, [{"title": f"Новый объект {i}", "parentId1036": None}
                            for i in range(count)])
    portal.add_elements(52, [{"NAME": f"Новое нарушение {i}"} for i in range(ADDED["list:52"])])
    portal.add_users([{"NAME": f"Новый{i}", "LAST_NAME": "Сотрудник"}
                      for i in range(ADDED["user"])])
    done["added"] = sum(ADDED.values())
    return done


def mismatches(portal, db_url: str) -> int:
    """Rows that differ between the portal and the database (0: correct to the last row).

    Every portal record must be a row with its name and active flag; every other row of
    the table must be inactive.
    """
    from sqlalchemy import text

    from app.db.connect import make_engine

    engine = make_engine(db_url)
    wrong = 0
    try:
        with engine.connect() as conn:
            for collection, (field_name, key, table, column) in _DIRECTORIES.items():
                expected: dict[int, tuple[Any, bool]] = {
                    int(r[key]): (r[field_name] or None, bool(r.get("ACTIVE", True)))
                    for r in portal.records(collection)}
                local = {int(b): (n, bool(a)) for b, n, a in conn.execute(text(
                    f"SELECT btxid, {column}, is_active FROM {table}"))}
                wrong += sum(1 for i, v in expected.items() if local.get(i) != v)
                wrong += sum(1 for i, (_, active) in local.items()
                             if i not in expected and active)
    finally:
        engine.dispose()
    return wrong
