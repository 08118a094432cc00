"""Value conversion from Bitrix24 shapes to column types."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, Numeric, String

from app.sync.values import ValueProblem, convert, converter, full_converter, unwrap


def col(kind, nullable=True):
    return Column("c", kind, nullable=nullable)


@pytest.mark.parametrize("raw, kind, expected", [
    ({"311204": "3301"}, Integer(), 3301),
    ({"1": "a", "2": "b"}, String(50), "a, b"),
    ([1, 5], String(50), "1, 5"),
    ("Y", Boolean(), True), ("N", Boolean(), False), (True, Boolean(), True),
    ("false", Boolean(), False), ("1", Boolean(), True),
    ("42", Integer(), 42), (7, Integer(), 7), ("12.0", Integer(), 12),
    ("5000.5", Numeric(12, 2), Decimal("5000.50")),
    ("1 500,75", Numeric(12, 2), Decimal("1500.75")),
    ("12.345", Numeric(12, 2), Decimal("12.35")), ("12.125", Numeric(12, 2), Decimal("12.13")),
    ("2024-06-18T02:00:00+02:00", DateTime(), datetime(2024, 6, 18, 2, 0)),
    ("14.03.2026 11:05:00", DateTime(), datetime(2026, 3, 14, 11, 5)),
    ("12/31/2024 11:59:59 pm", DateTime(), datetime(2024, 12, 31, 23, 59, 59)),
    ("2024-06-18", Date(), date(2024, 6, 18)),
    ("", String(10), None), ({}, String(10), None), ([], Integer(), None), (None, Integer(), None),
    ("Москва «Сити» & <b>", String(50), "Москва «Сити» & <b>"),
    (12345, String(10), "12345"),
], ids=lambda v: repr(v)[:30])
def test_conversions(raw, kind, expected):
    assert convert(raw, col(kind)) == expected


def test_reference_zero_is_null():
    assert convert("0", col(Integer()), is_reference=True) is None
    assert convert(0, col(Integer()), is_reference=True) is None
    assert convert("0", col(Integer())) == 0


@pytest.mark.parametrize("raw, kind, message", [
    ("x" * 11, String(10), "is too long (11 characters; the column holds 10)"),
    ("abc", Integer(), "is not a whole number: 'abc'"),
    ("1.5", Integer(), "is not a whole number: '1.5'"),
    ("много", Numeric(12, 2), "is not a number: 'много'"),
    ("1e20", Numeric(12, 2), "is out of range for NUMERIC(12,2)"),
    ("1e26", Numeric(12, 2), "is out of range for NUMERIC(12,2)"),
    ("1e999999", Numeric(12, 2), "is out of range for NUMERIC(12,2)"),
    ("maybe", Boolean(), "is not a yes/no value"),
    ("вчера", DateTime(), "is not a date"),
    ([1, 2], Integer(), "has several values"),
])
def test_problems_say_why(raw, kind, message):
    with pytest.raises(ValueProblem, match=message.replace("(", r"\(").replace(")", r"\)")):
        convert(raw, col(kind))


def test_null_into_not_null_column():
    with pytest.raises(ValueProblem, match="does not allow NULL"):
        convert("", col(String(10), nullable=False))


def test_unwrap_nested_empties():
    assert unwrap({"1": "", "2": None}) is None
    assert unwrap([{"a": "x"}]) == "x"


_EDGE_VALUES = ["", "0", "00", "7", "007", " 7", "-7", "12.0", "abc", "x" * 10, "x" * 11,
                "Ж😀", "١٢٣", "²", "9" * 40, 0, 7, -7, 10**30, True, False, None, 1.5,
                {"1": "5"}, {}, ["3"], [1, 2], "Y"]


def _outcome(convert_value, value):
    try:
        result = convert_value(value)
    except ValueProblem as problem:
        return "refused", str(problem)
    return type(result), result


@pytest.mark.parametrize("kind", [String(10), String(), Integer(), BigInteger(), Boolean(),
                                  Numeric(12, 2)], ids=repr)
@pytest.mark.parametrize("is_reference", [False, True])
@pytest.mark.parametrize("nullable", [True, False])
def test_the_shortcut_answers_as_the_full_conversion(kind, is_reference, nullable):
    # A directory's converters answer the common values (a text that fits, a whole
    # number) before the full steps; every value, accepted or refused, comes out the same.
    column = col(kind, nullable=nullable)
    quick, full = converter(column, is_reference=is_reference), \
        full_converter(column, is_reference=is_reference)
    for value in _EDGE_VALUES:
        assert _outcome(quick, value) == _outcome(full, value), value
