"""Write one directory into its table by btxid: bulk, diffed, with per-record isolation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.db.connect import describe_db_error, names_a_record
from app.db.schema import column_from_error
from app.logging_setup import IN_REPORT
from app.messages import say
from app.report import DirectoryReport, PlannedChange, SyncReport
from app.sync.values import normalize

log = logging.getLogger(__name__)

CHUNK = 1000
# Rows deactivated per statement; ids are rendered inline, so SQLite's bound-parameter
# limit does not apply and a directory is in practice deactivated in one statement.
DEACTIVATE_CHUNK = 50_000
# Room in a packet for the statement around one row's values (INSERT INTO ... VALUES).
_STATEMENT_ROOM = 64 * 1024
# Characters the driver escapes with a backslash, so each takes two bytes on the wire.
_ESCAPED = ("\\", "'", '"', "\0", "\n", "\r", "\x1a")


@dataclass
class Prepared:
    """One record converted to column values, ready to diff and write."""

    btxid: int
    values: dict[str, Any]


class TableWriter:
    """Diffs prepared records against the table and writes only what changed.

    The existing rows (btxid → primary key and mapped values) are read once;
    new rows are inserted in multi-row chunks and changed rows updated in
    executemany batches. A chunk the database rejects for a record's values
    (a duplicate, an out-of-range number, a text too long) is split in halves
    inside savepoints until the bad record(s) are found, so they fail alone and
    the rest commit with a few statements rather than one per row. Any other
    database error (a lost connection, a lock wait timeout, a deadlock, a
    read-only or full server) is raised at once: it is about no record, and
    splitting on a dead connection would only report every record as bad.

    A row too big for the server's ``max_allowed_packet`` is never sent (the
    server would drop the connection): it fails alone, naming its largest field.
    The driver sends multi-row inserts in statements of about 1 MB, so only a
    single row can exceed the limit.
    """

    def __init__(
        self,
        conn: Connection,
        table: Table,
        *,
        directory: str,
        columns: list[str],
        active_column: str | None,
        new_row_defaults: Callable[[], dict[str, Any]],
        report: SyncReport,
        dry_run: bool = False,
    ) -> None:
        self.conn = conn
        self.table = table
        self.directory = directory
        self.columns = columns
        self.active_column = active_column if active_column and active_column in table.c else None
        self.new_row_defaults = new_row_defaults
        self.report = report
        self.stats: DirectoryReport = report.directory(directory)
        self.dry_run = dry_run
        self.pk = list(table.primary_key.columns)[0]
        self.existing: dict[int, tuple[Any, dict[str, Any]]] = {}
        self.seen: set[int] = set()
        self.max_packet: int | None = None  # bytes; None where the database has no such limit
        self.stored: dict[int, bool] = {}  # btxid -> active, for each record written (or planned)

    def load_existing(self) -> None:
        if self.conn.dialect.name in ("mysql", "mariadb"):
            self.max_packet = int(self.conn.execute(text("SELECT @@max_allowed_packet")).scalar())
        compared = list(dict.fromkeys([*self.columns, *filter(None, [self.active_column])]))
        query = select(self.pk, self.table.c.btxid, *(self.table.c[c] for c in compared)).where(
            self.table.c.btxid.is_not(None))
        for row in self.conn.execute(query):
            values = {c: normalize(row[i + 2], self.table.c[c]) for i, c in enumerate(compared)}
            self.existing[int(row[1])] = (row[0], values)

    def keep(self, btxid: int) -> None:
        """The portal still has this record, though it could not be stored: never deactivate it."""
        self.seen.add(btxid)

    def write(self, records: Iterable[Prepared]) -> None:
        """Upsert a batch of records (a page or several)."""
        inserts, updates = [], []
        for record in records:
            if record.btxid in self.seen:
                log.debug("%s: btxid %s came twice in one read; keeping the first",
                          self.directory, record.btxid)
                continue
            self.seen.add(record.btxid)
            values = dict(record.values)
            if self.active_column and self.active_column not in values:
                values[self.active_column] = True  # a record that is back is active again
            current = self.existing.get(record.btxid)
            if not self._fits(record.btxid, values):
                continue
            if current is None:
                row = {**self.new_row_defaults(), **values, "btxid": record.btxid}
                inserts.append((record.btxid, row))
                self._plan("create", record.btxid, values)
            elif any(current[1].get(k) != v for k, v in values.items()):
                updates.append((record.btxid, {**values, "_pk": current[0]}))
                self._plan("update", record.btxid, {k: (current[1].get(k), v)
                                                     for k, v in values.items()
                                                     if current[1].get(k) != v})
            else:
                self.stats.unchanged += 1
        for start in range(0, len(inserts), CHUNK):
            self._run_chunk(inserts[start:start + CHUNK], self._insert, "created")
        for start in range(0, len(updates), CHUNK):
            self._run_chunk(updates[start:start + CHUNK], self._update, "updated")

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        self.conn.execute(insert(self.table), rows)

    def _update(self, rows: list[dict[str, Any]]) -> None:
        # executemany needs one column set per statement; group rows by their keys.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(k for k in row if k != "_pk")), []).append(row)
        for keys, group in groups.items():
            statement = (update(self.table).where(self.pk == bindparam("_pk"))
                         .values({k: bindparam(k) for k in keys}))
            self.conn.execute(statement, group)

    def _run_chunk(self, chunk: list[tuple[int, dict]], action: Callable, counter: str) -> None:
        if self.dry_run:
            setattr(self.stats, counter, getattr(self.stats, counter) + len(chunk))
            self._stored(chunk)
            return
        try:
            with self.conn.begin_nested():
                action([row for _, row in chunk])
        except SQLAlchemyError as exc:
            if not names_a_record(exc):
                raise
            if len(chunk) == 1:
                column = column_from_error(exc, self.table, self.conn)
                self.report.add_issue(self.directory, chunk[0][0], column,
                                      f"the database refused the record: {describe_db_error(exc)}")
                return
            middle = len(chunk) // 2  # find the bad record(s); commit the rest
            self._run_chunk(chunk[:middle], action, counter)
            self._run_chunk(chunk[middle:], action, counter)
            return
        setattr(self.stats, counter, getattr(self.stats, counter) + len(chunk))
        self._stored(chunk)

    def _stored(self, chunk: list[tuple[int, dict]]) -> None:
        for btxid, row in chunk:
            self.stored[btxid] = bool(row.get(self.active_column, True)) \
                if self.active_column else True

    def live_ids(self) -> set[int]:
        """Btxids of the rows active once this write commits (what a dry run would leave)."""
        active = {b for b, (_, values) in self.existing.items()
                  if not self.active_column or values.get(self.active_column)}
        for btxid, on in self.stored.items():
            (active.add if on else active.discard)(btxid)
        return active

    def unstored_ids(self) -> set[int]:
        """Btxids the portal returned that are not in the table (their records failed)."""
        return self.seen - set(self.existing) - set(self.stored)

    def present_ids(self) -> set[int]:
        """Btxids of every row in the table once this write commits, active or not."""
        return set(self.existing) | set(self.stored)

    def pks(self, btxids) -> list[Any]:
        return [self.existing[b][0] for b in btxids if b in self.existing]

    def _fits(self, btxid: int, values: dict[str, Any]) -> bool:
        """False (and the record reported) when its row would exceed max_allowed_packet."""
        if self.max_packet is None:
            return True
        sizes = {column: _wire_size(value) for column, value in values.items()}
        total = sum(sizes.values()) + sum(len(c) + 8 for c in sizes) + _STATEMENT_ROOM
        if total <= self.max_packet:
            return True
        column = max(sizes, key=sizes.__getitem__)
        self.report.add_issue(
            self.directory, btxid, column,
            say("sync.too_big", column=column, size=f"{sizes[column]:,}",
                most=f"{self.max_packet:,}"))
        log.warning("%s btxid %s: %s is too big for max_allowed_packet (%d bytes)",
                    self.directory, btxid, column, sizes[column], extra=IN_REPORT)
        return False

    def missing_active(self) -> list[Any]:
        """Primary keys of active synced rows that the complete read did not return."""
        return self.pks(self.missing_active_ids())

    def missing_active_ids(self) -> list[int]:
        """Btxids of active synced rows that the complete read did not return."""
        if not self.active_column:
            return []
        return [btxid for btxid, (_, values) in self.existing.items()
                if btxid not in self.seen and values.get(self.active_column)]

    def active_count(self) -> int:
        return sum(1 for _, values in self.existing.values() if values.get(self.active_column))

    def table_counts(self) -> dict[str, int]:
        """Rows with a btxid and active ones, as loaded (before this write)."""
        return {"rows": len(self.existing),
                "active": self.active_count() if self.active_column else len(self.existing)}

    def _plan(self, action: str, btxid: int, fields: dict[str, Any]) -> None:
        if self.dry_run:  # what --dry-run --verbose lists and --dry-run --json carries
            self.report.planned.append(PlannedChange(self.directory, action, btxid, fields))

    def deactivate(self, pks: list[Any]) -> None:
        btxid_of = {pk: btxid for btxid, (pk, _) in self.existing.items()}
        for pk in pks:
            self.stored[btxid_of[pk]] = False
            if self.dry_run:
                self._plan("deactivate", btxid_of[pk], {})
        if not self.dry_run:
            for start in range(0, len(pks), DEACTIVATE_CHUNK):
                ids = bindparam("pks", pks[start:start + DEACTIVATE_CHUNK], expanding=True,
                                literal_execute=True)
                self.conn.execute(update(self.table).where(self.pk.in_(ids))
                                  .values({self.active_column: False}))
        self.stats.deactivated += len(pks)


def highest_btxid(conn: Connection, table: Table) -> int | None:
    """The highest btxid the table holds, active or not (None: no row has one)."""
    value = conn.execute(select(func.max(table.c.btxid))).scalar()
    return None if value is None else int(value)


def _wire_size(value: Any) -> int:
    """The bytes a value takes in a statement the driver sends (escaped text, digits)."""
    if value is None:
        return 4
    if isinstance(value, bytes | bytearray):
        return 2 * len(value) + 3
    text_value = value if isinstance(value, str) else str(value)
    size = len(text_value.encode("utf-8", "surrogatepass"))
    return size + sum(text_value.count(c) for c in _ESCAPED) + 2
