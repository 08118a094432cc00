"""Record conversion: one Bitrix24 record into its row's column values, references resolved.

A `RecordConverter` is built once per directory read, when its table and the local ids of
the directories it refers to are known; `prepare()` then runs once per record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.engine import Engine

from app.bitrix.client import usable_id
from app.bitrix.methods import known_profiles
from app.errors import RecordError
from app.logging_setup import IN_REPORT
from app.messages import say
from app.report import DirectoryReport, SyncReport
from app.sync.values import ValueProblem, converter
from app.sync.writer import Prepared, TableWriter
from app.syncers.base_syncer import BaseSyncer

log = logging.getLogger("app.sync.engine")  # the run's lines keep the name they always had

# Reference column -> {btxid: local primary key} of the directory it points at.
References = dict[str, "LocalIds"]


def id_field_problem(syncer: BaseSyncer) -> str | None:
    """Why the mapping's id_field cannot be used, or None.

    A row's btxid is read from id_field, while paging, the by-id checks and the removal
    counts use the method's own id: two different fields would compare two id spaces
    (a removal seen where there is none). So id_field may only name the method's id.
    """
    mapping = syncer.mapping
    known = {p.name: p.id_field for p in known_profiles()}
    own = known.get(mapping.method.strip().lower())
    if not mapping.id_field or own is None or mapping.id_field == own:
        return None
    return say("mapping_id_field", name=syncer.name, given=mapping.id_field,
               method=mapping.method, own=own, where=mapping.source("id_field"))


class PendingRow:
    """In a dry run, the local row a referenced record would have got had it been created."""

    def __init__(self, directory: str, btxid: int) -> None:
        self.directory, self.btxid = directory, btxid

    def __repr__(self) -> str:
        return f"(new {self.directory} {self.btxid})"

    __str__ = __repr__


def references(db: Engine, syncer: BaseSyncer, table_of: Callable[[str], Table],
               report: SyncReport, *, dry_run: bool) -> References:
    """Reference column -> {btxid: local id} of the directory it points at (`table_of`
    gives a directory's table); a dry run also refers to rows it only pretended to create."""
    refs = {column: LocalIds(db, table_of(target))
            for column, target in syncer.mapping.references.items()}
    if dry_run:
        for column, target in syncer.mapping.references.items():
            refs[column].update({p.btxid: PendingRow(target, p.btxid)
                                 for p in report.planned
                                 if p.directory == target and p.action == "create"})
    return refs


class LocalIds:
    """{btxid: local id} of a referenced directory's table, read when first asked: a read
    that brings no record (a no-op re-sync) reads no referenced table."""

    def __init__(self, db: Engine, table: Table) -> None:
        self.db, self.table = db, table
        self._ids: dict[int, Any] | None = None

    def update(self, more: dict[int, Any]) -> None:
        self.all().update(more)

    def all(self) -> dict[int, Any]:
        if self._ids is None:
            self._ids = local_ids(self.db, self.table)
        return self._ids


def local_ids(db: Engine, table: Table) -> dict[int, Any]:
    """{btxid: primary key} of the table's synced rows."""
    pk = list(table.primary_key.columns)[0]
    with db.connect() as conn:
        rows = conn.execute(select(table.c.btxid, pk).where(table.c.btxid.is_not(None)))
        return {int(b): i for b, i in rows}


class RecordConverter:
    """Converts the records of one directory read; RecordError names a record that cannot be."""

    def __init__(self, syncer: BaseSyncer, table: Table, refs: References,
                 report: SyncReport) -> None:
        self.syncer, self.refs, self.report = syncer, refs, report
        self.name = syncer.name
        self.stats: DirectoryReport = report.directory(syncer.name)
        self.unmatched = False  # a record without a usable id came: no row may be deactivated
        # The mapped fields no record has carried yet; empty (and free) once each has come.
        self.unseen: set[str] = set(syncer.mapping.fields)
        # (Bitrix24 field, column, its value's conversion, whether it refers to another
        # directory): settled once per read, used for every record.
        self.fields = [(field_name, column,
                        converter(table.c[column], is_reference=column in refs), column in refs)
                       for field_name, column in syncer.mapping.fields.items()]
        self.reference_columns = [column for _, column, _, is_ref in self.fields if is_ref]
        # Two fields into one column: the slow way keeps each one's reference warning.
        self.one_field_a_column = len({column for _, column, _, _ in self.fields}) \
            == len(self.fields)
        self.id_field = syncer.mapping.id_field
        # A syncer without its own transform() passes the record as it came.
        self.transform = syncer.transform if syncer.has_own("transform") else None

    def page(self, page: list[dict[str, Any]], writer: TableWriter) -> list[Prepared]:
        """A page's records as column values (each counted as fetched); a record that cannot
        be converted fails alone, reported, and its row is never deactivated."""
        prepared: list[Prepared] = []
        for raw in page:
            self.stats.fetched += 1
            try:
                prepared.append(self.prepare(raw))
            except RecordError as exc:
                self.report.add_issue(exc.directory, exc.btxid, exc.field, exc.said, record=True)
                log.warning("%s btxid %s: %s", exc.directory, exc.btxid, exc.en,  # log: English
                            extra=IN_REPORT)
                if exc.btxid is not None:
                    writer.keep(exc.btxid)
                else:  # its row cannot be told from a removed one: keep them all
                    self.unmatched = True
        return prepared

    def prepare(self, raw: dict[str, Any]) -> Prepared:
        """Convert one Bitrix24 record into column values; RecordError if it cannot be."""
        record = raw if self.transform is None else self.transform(raw)
        if self.unseen:
            self.unseen.difference_update(record)
        id_field = self.id_field or ("id" if "id" in record else "ID")
        raw_id = record.get(id_field)
        btxid = usable_id(raw_id)
        if btxid is None:
            raise RecordError(say("record.no_id", field=id_field, value=raw_id),
                              directory=self.name, field=id_field)
        if not self.one_field_a_column:
            return Prepared(btxid, self._values_one_by_one(record, btxid))
        get = record.get
        try:
            values = {column: convert_value(get(field_name))
                      for field_name, column, convert_value, _ in self.fields}
        except ValueProblem:
            return Prepared(btxid, self._values_one_by_one(record, btxid))  # names the field
        for column in self.reference_columns:
            value = values[column]
            if value is not None:
                values[column] = self._local(btxid, column, value)
        return Prepared(btxid, values)

    def _values_one_by_one(self, record: dict[str, Any], btxid: int) -> dict[str, Any]:
        """prepare()'s values field by field, references resolved as they come: the
        RecordError names the first field that cannot be converted."""
        values: dict[str, Any] = {}
        get = record.get
        for field_name, column, convert_value, is_ref in self.fields:
            try:
                value = convert_value(get(field_name))
            except ValueProblem as problem:
                raise RecordError(say("record.value", column=column, field=field_name,
                                      problem=problem.said),
                                  directory=self.name, btxid=btxid, field=column) from None
            if is_ref and value is not None:
                value = self._local(btxid, column, value)
            values[column] = value
        return values

    def _local(self, btxid: int, column: str, value: Any) -> Any:
        """The local id a reference points at; NULL (and a warning) when it is not there."""
        local = self.refs[column].all().get(int(value))  # read at a directory's first reference
        if local is None:
            self.stats.warnings += 1
            log.warning(say("log.missing_reference", name=self.name, btxid=btxid,
                            column=column, target=self.syncer.mapping.references[column],
                            value=value))
        return local

    def note_absent_fields(self) -> None:
        """Note the mapped fields no record read carried (a misspelt field name, most often):
        the report shows them under the table and the directory is "ok, with warnings"."""
        if not self.stats.fetched:
            return  # nothing came, so nothing can be said about the fields
        for field_name, column, _, _ in self.fields:
            if field_name in self.unseen:
                self.stats.absent_fields[field_name] = column
                log.warning("%s: field %r (mapped to %s) is not in the rows Bitrix24 returned; "
                            "check its name in the mapping (`python cli.py --check`)",
                            self.name, field_name, column, extra=IN_REPORT)
