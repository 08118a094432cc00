"""Records of one directory kept sorted by id, with ids assigned as autoincrement does."""

import bisect
import itertools
from dataclasses import dataclass, field
from typing import Any

from app.testing.php_query import int_or_none


@dataclass(slots=True)
class Collection:
    """Records of one directory kept sorted by id so id ranges are a bisect away."""

    ids: list[int] = field(default_factory=list)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    last_id: int = 0

    def insert(self, records: list[dict[str, Any]], id_key: str) -> list[int]:
        new_ids = [record[id_key] for record in records]
        if len(set(new_ids)) != len(new_ids) or any(rid in self.rows for rid in new_ids):
            raise ValueError(f"duplicate {id_key} in {new_ids!r}")
        in_order = not self.ids or not new_ids or new_ids[0] > self.ids[-1]
        for previous, current in itertools.pairwise(new_ids):
            in_order = in_order and current > previous
        for record in records:
            self.rows[record[id_key]] = record
            self.keys.update(record)
        self.ids.extend(new_ids)
        if not in_order:
            self.ids.sort()
        if new_ids:
            self.last_id = max(self.last_id, max(new_ids))
        return new_ids

    def add(self, records: list[dict[str, Any]], id_key: str) -> list[int]:
        """Store new records, giving those without an id the next ones; returns their ids."""
        assign_ids(self, records, id_key)
        return self.insert(records, id_key)

    def replace(self, record_id: int, record: dict[str, Any]) -> None:
        self.rows[record_id] = record
        self.keys.update(record)

    def remove(self, record_id: int) -> None:
        del self.rows[record_id]
        del self.ids[bisect.bisect_left(self.ids, record_id)]

    def in_order(self) -> list[dict[str, Any]]:
        return [self.rows[record_id] for record_id in self.ids]


def assign_ids(coll: Collection, records: list[dict[str, Any]], id_key: str) -> None:
    # Missing ids continue upwards from the highest id seen so far, as autoincrement does.
    highest = coll.last_id
    for record in records:
        given = record.get(id_key)
        if given is None or given == "":
            highest += 1
            record[id_key] = highest
            continue
        number = int_or_none(given)
        if number is None or number <= 0:
            raise ValueError(f"{id_key} must be a positive integer, got {given!r}")
        record[id_key] = number
        highest = max(highest, number)
