"""Write one directory into its table by btxid: bulk, diffed, with per-record isolation."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    Table,
    and_,
    bindparam,
    false,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.db.connect import names_a_record
from app.db.schema import column_from_error
from app.logging_setup import IN_REPORT
from app.messages import say
from app.report import DirectoryReport, PlannedChange, SyncReport
from app.sync.packet import STATEMENT_ROOM, row_bound, upper_bound, wire_size
from app.sync.refusals import refusal
from app.sync.values import comes_back_as_converted, normalize

log = logging.getLogger(__name__)

CHUNK = 1000
# Rows deactivated per statement; ids are rendered inline, so SQLite's bound-parameter
# limit does not apply and a directory is in practice deactivated in one statement.
DEACTIVATE_CHUNK = 50_000
# Synced rows read at a time when the table is scanned (the rows a full read did not return).
READ_PART = 50_000
# Bytes of values per multi-row INSERT (what PyMySQL's executemany sends at most).
_STATEMENT_SIZE = 1_024_000


# A row to write: its btxid, its column values, and whether its row was active (None: new).
_Row = tuple[int, dict[str, Any], bool | None]


@dataclass(slots=True)
class Prepared:
    """One record converted to column values, ready to diff and write. TableWriter.write()
    takes the values over: a created row is the same dict, filled in (active flag, btxid)."""

    btxid: int
    values: dict[str, Any]


class TableWriter:
    """Diffs prepared records against the table and writes only what changed.

    The table is never read whole: its counts come from SQL, and each batch of
    records is compared with the rows of just those btxids (so a re-sync costs by
    its changes and a full read holds a batch, not the table). New rows are
    inserted in multi-row chunks and changed rows updated in executemany batches.
    A chunk the database rejects for a record's values (a duplicate, an
    out-of-range number, a text too long) is split in halves inside savepoints
    until the bad record(s) are found, so they fail alone and the rest commit with
    a few statements rather than one per row. Any other database error (a lost
    connection, a lock wait timeout, a deadlock, a read-only or full server) is
    raised at once: it is about no record, and splitting on a dead connection
    would only report every record as bad.

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
        new_row_defaults: Callable[[], dict[str, Any]] | None,
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
        self.compared = list(dict.fromkeys([*columns, *filter(None, [self.active_column])]))
        self._compared_set = frozenset(self.compared)
        self._row_bound = row_bound([table.c[c] for c in self.compared]) \
            if self._compared_set <= set(table.c.keys()) else None
        self.seen: set[int] = set()
        self.max_packet: int | None = None  # bytes; None where the database has no such limit
        self.rows_before = self.active_before = 0  # synced rows (and active ones) at the start
        # How the table's counts moved with what was written (or planned) and deactivated;
        # a dry run, which writes nothing, also keeps btxid -> active for each such row
        # (a real run's table already shows them, and a full read's would be all of them).
        self.stored: dict[int, bool] = {}
        self.created = self.active_change = 0
        self.returned_active = 0  # rows active before this write that the read returned
        self._quote: Callable[[Any], str] | bool | None = None  # see _literal()
        self._pk_of: dict[int, Any] = {}  # btxid -> primary key, for rows looked up by btxid
        self._plain_rows: bool | None = None  # see _driver_rows()

    def load_existing(self) -> None:
        """What the write needs to know of the table before it starts: its counts."""
        if self.conn.dialect.name in ("mysql", "mariadb"):
            self.max_packet = int(self.conn.execute(text("SELECT @@max_allowed_packet")).scalar())
        synced = self.table.c.btxid.is_not(None)
        self.rows_before = self.conn.execute(select(func.count()).where(synced)).scalar() or 0
        self.active_before = self.rows_before if not self.active_column else \
            self.conn.execute(select(func.count()).where(synced, self._active())).scalar() or 0

    def _active(self):
        """The SQL condition of an active row (NULL and false are not)."""
        column = self.table.c[self.active_column]
        return and_(column.is_not(None), column != false())

    def keep(self, btxid: int) -> None:
        """The portal still has this record, though it could not be stored: never deactivate it."""
        self.seen.add(btxid)

    def write(self, records: Iterable[Prepared]) -> None:
        """Upsert a batch of records (a page or several)."""
        fresh = []
        for record in records:
            if record.btxid in self.seen:
                log.debug("%s: btxid %s came twice in one read; keeping the first",
                          self.directory, record.btxid)
                continue
            self.seen.add(record.btxid)
            fresh.append(record)
        existing = self._rows_of([r.btxid for r in fresh])
        inserts, updates = [], []
        active_column, dry_run = self.active_column, self.dry_run
        # The packet guard's table-wide bound settles every row with no column of its own.
        all_fit = self.max_packet is None or (self._row_bound is not None
                                              and self._row_bound <= self.max_packet)
        compared = self._compared_set
        defaults = self.new_row_defaults
        for record in fresh:
            # The record's values are its own (made for it by the converter): filled in place.
            btxid, values = record.btxid, record.values
            if active_column and active_column not in values:
                values[active_column] = True  # a record that is back is active again
            current = existing.get(btxid)
            if current is not None and self._was_active(current[1]):
                self.returned_active += 1
            if not (all_fit and values.keys() <= compared) and not self._fits(btxid, values):
                continue
            if current is None:
                if dry_run:
                    self._plan("create", btxid, dict(values))  # before btxid joins them
                if defaults is None:
                    values["btxid"] = btxid
                    inserts.append((btxid, values, None))
                else:
                    inserts.append((btxid, {**defaults(), **values, "btxid": btxid}, None))
            elif current[1] != values and any(current[1].get(k) != v
                                              for k, v in values.items()):
                updates.append((btxid, {**values, "_pk": current[0]},
                                self._was_active(current[1])))
                if dry_run:
                    self._plan("update", btxid, {k: (current[1].get(k), v)
                                                 for k, v in values.items()
                                                 if current[1].get(k) != v})
            else:
                self.stats.unchanged += 1
        for start in range(0, len(inserts), CHUNK):
            self._run_chunk(inserts[start:start + CHUNK], self._insert, "created")
        for start in range(0, len(updates), CHUNK):
            self._run_chunk(updates[start:start + CHUNK], self._update, "updated")

    def _was_active(self, values: dict[str, Any]) -> bool:
        return bool(values.get(self.active_column)) if self.active_column else True

    def _rows_of(self, btxids: list[int]) -> dict[int, tuple[Any, dict[str, Any]]]:
        """btxid -> (primary key, compared values) of those of `btxids` the table holds."""
        if not btxids or not self.rows_before:
            return {}  # the table had no synced rows: only this read's, which are not fresh
        found = {}
        compared = self.compared
        normalized = [(c, column) for c, column in
                      zip(compared, [self.table.c[c] for c in compared], strict=True)
                      if not comes_back_as_converted(column)]
        pk_of = self._pk_of
        for part in _parts(btxids):
            for row in self._select_by_btxid(part):
                values = dict(zip(compared, row[2:], strict=True))
                for c, column in normalized:
                    if values[c] is not None:
                        values[c] = normalize(values[c], column)
                btxid = int(row[1])
                found[btxid] = (row[0], values)
                pk_of[btxid] = row[0]  # unstored_ids()/pks() need not ask again
        return found

    def _select_by_btxid(self, btxids: list[int]) -> Iterable[Any]:
        """(primary key, btxid, *compared values) of the rows of `btxids`: on PyMySQL as
        statement text whose rows need no processing (normalize() does what the column
        types' result processors would: see _driver_rows()), else through SQLAlchemy."""
        columns = [self.table.c[c] for c in self.compared]
        if not self._driver_rows():
            return self.conn.execute(select(self.pk, self.table.c.btxid, *columns).where(
                self.table.c.btxid.in_(_inline(btxids))))
        names = ", ".join(self._quoted(c.name) for c in [self.pk, self.table.c.btxid, *columns])
        btxid = self._quoted(self.table.c.btxid.name)
        statement = (f"SELECT {names} FROM {self._table_name()} "
                     f"WHERE {btxid} IN ({','.join([str(int(b)) for b in btxids])})")
        return self.conn.exec_driver_sql(statement.replace("%", "%%")).fetchall()

    def _driver_rows(self) -> bool:
        """Whether a row read as statement text (no result processors) is what the ORM
        would read once normalize() has run: PyMySQL, and every column read either has no
        result processor or is one whose processing normalize() repeats (bool, float)."""
        if self._plain_rows is None:
            dialect = self.conn.dialect
            columns = [self.pk, *(self.table.c[c] for c in self.compared)]
            self._plain_rows = dialect.driver == "pymysql" and all(
                isinstance(c.type, Boolean)
                or (isinstance(c.type, Float) and not c.type.asdecimal)
                or c.type._cached_result_processor(dialect, None) is None for c in columns)
        return self._plain_rows

    def _table_name(self) -> str:
        return self.conn.dialect.identifier_preparer.format_table(self.table)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        literal = self._literal()
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(row)
        for keys, group in groups.items():
            if literal is None:
                self.conn.execute(insert(self.table), group)
                continue
            # What the driver's executemany would send (one multi-row INSERT per MB), its
            # values quoted by the driver's own function, without building a parameter set
            # per row on the way. `%` is doubled: the driver formats the statement once.
            head = (f"INSERT INTO {self._table_name()} "
                    f"({', '.join(self._quoted(k) for k in keys)}) VALUES ")
            columns = [_column_text(list(map(itemgetter(k), group)), literal) for k in keys]
            for values in _statements(list(map(",".join, zip(*columns, strict=True)))):
                self.conn.exec_driver_sql((head + values).replace("%", "%%"))

    def _literal(self) -> Callable[[Any], str] | None:
        """PyMySQL's own quoting of a value for a statement, where our values need nothing
        else: every column of the table takes them as they are (no bind processor of a
        custom type, a JSON column or the like); None elsewhere."""
        if self._quote is None:
            dialect = self.conn.dialect
            plain = dialect.driver == "pymysql" and all(
                isinstance(c.type, Boolean) or c.type._cached_bind_processor(dialect) is None
                for c in self.table.c)
            # Connection.escape is what PyMySQL's cursor quotes each parameter with.
            quote = getattr(self.conn.connection.dbapi_connection, "escape", None)
            self._quote = quote if plain and callable(quote) else False
        if self._quote is False:
            return None
        from pymysql.constants.SERVER_STATUS import SERVER_STATUS_NO_BACKSLASH_ESCAPES
        from pymysql.converters import escape_string

        quote = self._quote
        needs_escape = _needs_escape()
        if self.conn.connection.dbapi_connection.server_status \
                & SERVER_STATUS_NO_BACKSLASH_ESCAPES:
            return quote  # quotes are doubled, not escaped: PyMySQL's way for that mode

        def literal(value: Any) -> str:
            # Connection.escape's own steps for the common types, without its dispatch.
            kind = value.__class__
            if kind is str:
                if needs_escape(value) is None:  # most text: one scan instead of translate
                    return "'" + value + "'"
                return "'" + escape_string(value) + "'"
            if kind is int:
                return str(value)
            if value is None:
                return "NULL"
            if kind is bool:
                return "1" if value else "0"
            return quote(value)

        return literal

    def _quoted(self, name: str) -> str:
        return self.conn.dialect.identifier_preparer.quote(name)

    def _update(self, rows: list[dict[str, Any]]) -> None:
        # executemany needs one column set per statement; group rows by their keys.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(k for k in row if k != "_pk")), []).append(row)
        for keys, group in groups.items():
            statement = (update(self.table).where(self.pk == bindparam("_pk"))
                         .values({k: bindparam(k) for k in keys}))
            self.conn.execute(statement, group)

    def _run_chunk(self, chunk: list[_Row], action: Callable, counter: str) -> None:
        if self.dry_run:
            setattr(self.stats, counter, getattr(self.stats, counter) + len(chunk))
            self._stored(chunk)
            return
        try:
            with self.conn.begin_nested():
                action([row for _, row, _ in chunk])
        except SQLAlchemyError as exc:
            if not names_a_record(exc):
                raise
            if len(chunk) == 1:
                column = column_from_error(exc, self.table, self.conn)
                self.report.add_issue(self.directory, chunk[0][0], column, refusal(exc))
                return
            middle = len(chunk) // 2  # find the bad record(s); commit the rest
            self._run_chunk(chunk[:middle], action, counter)
            self._run_chunk(chunk[middle:], action, counter)
            return
        setattr(self.stats, counter, getattr(self.stats, counter) + len(chunk))
        self._stored(chunk)

    def _stored(self, chunk: list[_Row]) -> None:
        column = self.active_column
        if self.dry_run:  # the only run that keeps `stored`
            for btxid, row, was_active in chunk:
                self._mark(btxid, bool(row.get(column, True)) if column else True, was_active)
            return
        # _mark() for a real run, whose rows are never in `stored`: the same sums at once.
        self.created += sum(1 for _, _, was_active in chunk if was_active is None)
        self.active_change += sum(int(bool(row.get(column, True)) if column else 1)
                                  - int(bool(was_active)) for _, row, was_active in chunk)

    def _mark(self, btxid: int, active: bool, was_active: bool | None) -> None:
        """Note a row written (or planned): `was_active` is None for a row that was not there."""
        before = self.stored.get(btxid, was_active)
        if before is None:
            self.created += 1
        self.active_change += int(active) - int(bool(before))
        if self.dry_run:
            self.stored[btxid] = active

    def live_count(self) -> int:
        """Rows active once this write commits (what a dry run would leave)."""
        if not self.active_column:
            return self.present_count()
        return self.active_before + self.active_change

    def present_count(self) -> int:
        """Rows with a btxid once this write commits, active or not."""
        return self.rows_before + self.created

    def live_ids(self) -> set[int]:
        """Btxids of the rows active once this write commits (what a dry run would leave)."""
        condition = [self._active()] if self.active_column else []
        active = set(self._synced_ids(*condition))
        for btxid, on in self.stored.items():
            (active.add if on else active.discard)(btxid)
        return active

    def unstored_ids(self) -> set[int]:
        """Btxids the portal returned that are not in the table (their records failed)."""
        candidates = [b for b in self.seen if b not in self.stored]
        return set(candidates) - set(self._pks_of(candidates))

    def pks(self, btxids) -> list[Any]:
        """Primary keys of the rows of `btxids` the table holds."""
        found = self._pks_of(list(btxids))
        return list(found.values())

    def _pks_of(self, btxids: list[int]) -> dict[int, Any]:
        """btxid -> primary key, for those of `btxids` the table holds (remembered)."""
        wanted = [b for b in btxids if b not in self._pk_of]
        for part in _parts(wanted):
            query = select(self.table.c.btxid, self.pk).where(
                self.table.c.btxid.in_(_inline(part)))
            self._pk_of.update((int(b), pk) for b, pk in self.conn.execute(query))
        return {b: self._pk_of[b] for b in btxids if b in self._pk_of}

    def _synced_ids(self, *conditions) -> Iterator[int]:
        """The btxids of the table's synced rows meeting `conditions`, read a part at a time."""
        for part in self._synced_rows(*conditions):
            for btxid, _ in part:
                yield btxid

    def _synced_rows(self, *conditions) -> Iterator[list[tuple[int, Any]]]:
        """(btxid, primary key) of the synced rows meeting `conditions`, in btxid order, a
        part at a time: memory holds one part, not the table."""
        btxid, after = self.table.c.btxid, None
        while True:
            query = select(btxid, self.pk).where(btxid.is_not(None), *conditions)
            if after is not None:
                query = query.where(btxid > after)
            part = [(int(b), pk) for b, pk in
                    self.conn.execute(query.order_by(btxid).limit(READ_PART))]
            if part:
                yield part
            if len(part) < READ_PART:
                return
            after = part[-1][0]

    def _fits(self, btxid: int, values: dict[str, Any]) -> bool:
        """False (and the record reported) when its row would exceed max_allowed_packet.

        An upper bound settles nearly every row at once; only a row whose bound passes
        the limit is measured exactly (encoded, escapes counted).
        """
        if self.max_packet is None:
            return True
        # (write() has already let through every row the table-wide bound settles.)
        if upper_bound(values) <= self.max_packet:
            return True
        sizes = {column: wire_size(value) for column, value in values.items()}
        total = sum(sizes.values()) + sum(len(c) + 8 for c in sizes) + STATEMENT_ROOM
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
        """Btxids of active synced rows that the complete read did not return.

        Rows this read wrote are among those it returned, so the table as it is now
        answers for the table as it was.
        """
        if not self.active_column or self.returned_active == self.active_before:
            return []  # every row that was active came in the read
        missing = []
        for part in self._synced_rows(self._active()):
            for btxid, pk in part:
                if btxid not in self.seen:
                    missing.append(btxid)
                    self._pk_of[btxid] = pk
        return missing

    def active_count(self) -> int:
        """Active synced rows before this write."""
        return self.active_before

    def table_counts(self) -> dict[str, int]:
        """Rows with a btxid and active ones, before this write."""
        return {"rows": self.rows_before, "active": self.active_before}

    def _plan(self, action: str, btxid: int, fields: dict[str, Any]) -> None:
        if self.dry_run:  # what --dry-run --verbose lists and --dry-run --json carries
            self.report.planned.append(PlannedChange(self.directory, action, btxid, fields))

    def deactivate(self, pks: list[Any]) -> None:
        """Mark these rows (found by missing_active() or pks(), so active) inactive."""
        btxid_of = {pk: btxid for btxid, pk in self._pk_of.items()}
        for pk in pks:
            self._mark(btxid_of[pk], False, True)
            if self.dry_run:
                self._plan("deactivate", btxid_of[pk], {})
        if not self.dry_run:
            for start in range(0, len(pks), DEACTIVATE_CHUNK):
                ids = _inline(pks[start:start + DEACTIVATE_CHUNK])
                self.conn.execute(update(self.table).where(self.pk.in_(ids))
                                  .values({self.active_column: False}))
        self.stats.deactivated += len(pks)


def highest_btxid(conn: Connection, table: Table) -> int | None:
    """The highest btxid the table holds, active or not (None: no row has one)."""
    value = conn.execute(select(func.max(table.c.btxid))).scalar()
    return None if value is None else int(value)


def _parts(items: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def _inline(ids: list[int]):
    """An IN list of ints rendered into the statement (no bound-parameter limit applies)."""
    return bindparam("ids", ids, expanding=True, literal_execute=True)


def _column_text(values: list[Any], literal: Callable[[Any], str]) -> list[str]:
    """`literal` of each value of one column, the same text made without a call per value
    where the column allows: text with nothing to escape (NULLs among it), whole numbers,
    flags. A chunk's column is nearly always one of these."""
    kinds = set(map(type, values))
    if kinds <= _TEXT:
        if _needs_escape()("".join(filter(None, values))) is None:
            return ["NULL" if v is None else "'" + v + "'" for v in values]
    elif kinds == _INT:
        return list(map(str, values))
    elif kinds == _BOOL:
        return ["1" if v else "0" for v in values]
    return list(map(literal, values))


_TEXT, _INT, _BOOL = frozenset({str, type(None)}), frozenset({int}), frozenset({bool})


def _statements(rows: list[str]) -> Iterator[str]:
    """The VALUES lists of the INSERTs for these rows ("v1,v2" each), about _STATEMENT_SIZE
    bytes at most apiece (what PyMySQL's executemany would send)."""
    start = size = 0
    for end, row in enumerate(rows, 1):
        size += len(row) + 3
        if size >= _STATEMENT_SIZE:
            yield "(" + "),(".join(rows[start:end]) + ")"
            start, size = end, 0
    if start < len(rows):
        yield "(" + "),(".join(rows[start:]) + ")"


@functools.cache
def _needs_escape() -> Callable[[str], Any]:
    """A search for the characters PyMySQL's escape_string changes (asked of it: only ASCII
    ones, NUL, newline, quotes, backslash and the like); a string without any is sent as it
    is, and the search costs a fifth of the translate it saves."""
    from pymysql.converters import escape_string

    changed = [chr(code) for code in range(128) if escape_string(chr(code)) != chr(code)]
    return re.compile("[" + re.escape("".join(changed)) + "]").search

