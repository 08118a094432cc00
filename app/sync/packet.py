"""The max_allowed_packet guard's arithmetic: how many bytes a row takes in a statement.

MySQL drops the connection on a statement over max_allowed_packet, so the writer
checks each row before it is sent. Exact sizes need each value encoded and its
escapes counted, so cheaper bounds settle nearly every row first: a table whose
column types cannot hold a row near the limit (row_bound), then four bytes a
character (upper_bound); only a row past both is measured (wire_size).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Column, Date, DateTime, Float, Integer, Numeric, String

# Room in a packet for the statement around one row's values (INSERT INTO ... VALUES).
STATEMENT_ROOM = 64 * 1024
# Characters the driver escapes with a backslash, so each takes two bytes on the wire.
_ESCAPED = ("\\", "'", '"', "\0", "\n", "\r", "\x1a")
# Types whose text in a statement is short and never escaped (NULL, 1, a date, a float).
_SHORT = frozenset({type(None), bool, float, date, datetime})


def row_bound(columns: list[Column]) -> int | None:
    """The most bytes a row of converted values for `columns` can take in a statement
    (values.py holds a text to its column's length and a number to its precision);
    None when a column's values have no such limit (TEXT without a length, a custom type)."""
    total = STATEMENT_ROOM
    for column in columns:
        kind = column.type
        if isinstance(kind, String) and kind.length:
            size = 4 * kind.length + 2
        elif isinstance(kind, Boolean | Float | Date | DateTime):
            size = 40
        elif isinstance(kind, Integer):
            size = 4400  # Python turns at most 4,300 digits into an int by default
        elif isinstance(kind, Numeric) and kind.precision and kind.scale is not None:
            size = kind.precision + 4
        else:
            return None
        total += size + len(column.name) + 8
    return total


def upper_bound(values: dict[str, Any]) -> int:
    """At least the bytes the row's values and column names take in a statement (wire_size
    summed as _fits does), computed without encoding: a character takes at most four bytes
    in UTF-8 and an escaped one two, so four times the length bounds any text."""
    total = STATEMENT_ROOM
    for column, value in values.items():
        kind = type(value)
        if kind is str:
            total += 4 * len(value) + len(column) + 10
        elif kind in _SHORT or (kind is int and value.bit_length() < 64):
            total += len(column) + 40
        else:
            total += wire_size(value) + len(column) + 8
    return total


def wire_size(value: Any) -> int:
    """The bytes a value takes in a statement the driver sends (escaped text, digits)."""
    if value is None:
        return 4
    if isinstance(value, bytes | bytearray):
        return 2 * len(value) + 3
    text_value = value if isinstance(value, str) else str(value)
    size = len(text_value.encode("utf-8", "surrogatepass"))
    return size + sum(text_value.count(c) for c in _ESCAPED) + 2
