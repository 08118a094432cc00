"""The writer compares a batch with the rows of its btxids read back from the table: on
PyMySQL as statement text without the ORM's result processing, elsewhere through the ORM.
Both ways must see the same values, or a re-read would rewrite rows that did not change
(or miss rows that did)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

from app.db.connect import make_engine
from app.report import SyncReport
from app.sync.writer import Prepared, TableWriter

COLUMNS = ["label", "note", "big", "flag", "money", "ratio", "stamp", "day"]
EDGE_ROWS = [
    {"label": "Ж😀 'q' \"d\" \\ % %s \0 \n", "note": "x" * 5000, "big": 2**63 - 1,
     "flag": True, "money": Decimal("-9999999999.99"), "ratio": -2.5,
     "stamp": datetime(2024, 2, 29, 23, 59, 59), "day": date(1970, 1, 1)},
    {"label": None, "note": None, "big": None, "flag": None, "money": None, "ratio": None,
     "stamp": None, "day": None},
    {"label": "", "note": "", "big": -(2**63), "flag": False, "money": Decimal("0.10"),
     "ratio": 0.0, "stamp": datetime(1000, 1, 1), "day": date(9999, 12, 31)},
    {"label": "0", "note": "NULL", "big": 0, "flag": True, "money": Decimal("12.35"),
     "ratio": 1.5, "stamp": datetime(2038, 1, 19, 3, 14, 8), "day": date(2000, 2, 29)},
]


@pytest.fixture
def edge_table(mysql_url):
    """A table of every column type the writer compares, dropped afterwards."""
    metadata = MetaData()
    table = Table(
        f"edge_{uuid.uuid4().hex[:8]}", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("btxid", Integer, unique=True), Column("is_active", Boolean),
        Column("label", String(100)), Column("note", Text), Column("big", BigInteger),
        Column("flag", Boolean), Column("money", Numeric(12, 2)), Column("ratio", Float),
        Column("stamp", DateTime), Column("day", Date))
    engine = make_engine(mysql_url)
    metadata.create_all(engine)
    yield engine, table
    metadata.drop_all(engine)
    engine.dispose()


def _write(engine, table, rows, *, driver_rows: bool) -> SyncReport:
    report = SyncReport()
    with engine.connect() as conn:
        transaction = conn.begin()
        writer = TableWriter(conn, table, directory="edge", columns=COLUMNS,
                             active_column="is_active", new_row_defaults=dict, report=report)
        writer.load_existing()
        if writer.rows_before:
            assert writer._driver_rows()  # PyMySQL and these column types: statement text
        writer._plain_rows = driver_rows
        writer.write([Prepared(i, dict(row)) for i, row in enumerate(rows, 1)])
        transaction.commit()
    return report


@pytest.mark.parametrize("driver_rows", [True, False], ids=["statement text", "orm"])
def test_rows_read_back_compare_equal_to_what_was_written(edge_table, driver_rows):
    engine, table = edge_table
    _write(engine, table, EDGE_ROWS, driver_rows=driver_rows)

    again = _write(engine, table, EDGE_ROWS, driver_rows=driver_rows)
    stats = again.directory("edge")
    assert (stats.created, stats.updated, stats.unchanged) == (0, 0, len(EDGE_ROWS))
    assert again.issues == []

    changed = [dict(row) for row in EDGE_ROWS]
    changed[0]["money"] = Decimal("-9999999999.98")
    changed[1]["flag"] = False
    changed[2]["label"] = "e"
    changed[3]["stamp"] = datetime(2038, 1, 19, 3, 14, 9)
    stats = _write(engine, table, changed, driver_rows=driver_rows).directory("edge")
    assert (stats.created, stats.updated, stats.unchanged) == (0, 4, 0)
    with engine.connect() as conn:
        stored = conn.execute(table.select().order_by(table.c.btxid)).mappings().all()
    assert [row["label"] for row in stored] == [changed[0]["label"], None, "e", "0"]
    assert stored[0]["money"] == Decimal("-9999999999.98")
