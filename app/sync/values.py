"""Convert Bitrix24 values to the Python value a column of a given type stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Boolean, Column, Date, DateTime, Float, Integer, Numeric, String, Text

from app.messages import Said, say

_TRUE = {"y", "yes", "true", "1", "on"}
_FALSE = {"n", "no", "false", "0", "off"}
_DATE_FORMATS = (
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y",
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d",
)


class ValueProblem(ValueError):
    """A value cannot go into its column; the message says why (`said`: a catalog text,
    in the console's language with its English `.en`)."""

    def __init__(self, said: Said) -> None:
        super().__init__(said)
        self.said = said


def unwrap(value: Any) -> Any:
    """Flatten Bitrix containers: a list property {"123": "v"} becomes "v"; empties become None."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        items = [unwrap(v) for v in value]
        items = [v for v in items if v is not None]
        if not items:
            return None
        return items[0] if len(items) == 1 else items
    if isinstance(value, str) and value == "":
        return None
    return value


def convert(value: Any, column: Column, *, is_reference: bool = False) -> Any:
    """The value for `column`, or None; raises ValueProblem with a reason."""
    return converter(column, is_reference=is_reference)(value)


def converter(column: Column, *, is_reference: bool = False) -> Callable[[Any], Any]:
    """convert() for one column, its type's checks chosen once (a directory's read builds
    one per column and runs it for every record)."""
    return _with_shortcut(column.type, is_reference,
                          full_converter(column, is_reference=is_reference))


def full_converter(column: Column, *, is_reference: bool = False) -> Callable[[Any], Any]:
    """converter() without its shortcut: every value goes through every step."""
    to_type = _typed(column.type)
    required = not column.nullable and not column.primary_key

    def convert_value(value: Any) -> Any:
        if value.__class__ is str:  # the common case, without unwrap's checks
            value = value or None
        elif value is not None:
            value = unwrap(value)
        if is_reference and value in (0, "0"):
            value = None
        if value is not None:
            return to_type(value)
        if required:
            raise ValueProblem(say("value.empty_not_null"))
        return None

    return convert_value


def _with_shortcut(kind: Any, is_reference: bool,
                   convert_value: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert_value` behind a check that answers the common case itself: a non-empty text
    that fits a text column, a whole number for an integer column. Anything else, and a
    value it would refuse, goes to `convert_value`, so the answer (or the error) is the same."""
    if isinstance(kind, String) and not is_reference:
        length = kind.length

        def convert_text(value: Any) -> Any:
            if value.__class__ is str and value and not (length and len(value) > length):
                return value
            return convert_value(value)

        return convert_text
    if isinstance(kind, Integer):
        def convert_integer(value: Any) -> Any:
            kind_of = value.__class__
            if kind_of is int and not (is_reference and value == 0):
                return value
            if kind_of is str and value.isdigit() and value.isascii() \
                    and not (is_reference and value == "0"):
                return int(value)
            return convert_value(value)

        return convert_integer
    return convert_value


def _typed(kind: Any) -> Callable[[Any], Any]:
    """The conversion of a present (unwrapped, non-empty) value into a column of type `kind`."""
    if isinstance(kind, String | Text):
        return _text_of_length(getattr(kind, "length", None))
    if isinstance(kind, Boolean):
        single = _boolean
    elif isinstance(kind, Integer):
        single = _integer
    elif isinstance(kind, Float):
        def single(value: Any) -> float:
            return float(_decimal(value, kind))
    elif isinstance(kind, Numeric):
        def single(value: Any) -> Decimal:
            return _decimal(value, kind)
    elif isinstance(kind, DateTime):
        single = _datetime
    elif isinstance(kind, Date):
        def single(value: Any) -> date:
            return _datetime(value).date()
    else:
        def single(value: Any) -> Any:
            return value

    def one_value(value: Any) -> Any:
        if isinstance(value, list):
            raise ValueProblem(say("value.several", value=value))
        return single(value)

    return one_value


def _text_of_length(length: int | None) -> Callable[[Any], str]:
    def text_value(value: Any) -> str:
        if value.__class__ is str:
            text = value
        elif isinstance(value, list):
            text = ", ".join(map(str, value))
        else:
            text = _text(value)
        if length and len(text) > length:
            raise ValueProblem(say("value.too_long", length=len(text), most=length))
        return text

    return text_value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueProblem(say("value.not_yes_no", value=value))


def _integer(value: Any) -> int:
    if value.__class__ is int:
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if value.__class__ is str and value.isascii() and value.isdigit():
        return int(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueProblem(say("value.not_whole", value=value)) from None
    if number != number.to_integral_value():
        raise ValueProblem(say("value.not_whole", value=value))
    return int(number)


def _decimal(value: Any, kind: Numeric) -> Decimal:
    text = str(value).strip().replace(" ", "").replace("\u00a0", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # Russian decimal comma
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueProblem(say("value.not_number", value=value)) from None
    if not number.is_finite():
        raise ValueProblem(say("value.not_number", value=value))
    scale = getattr(kind, "scale", None)
    if scale is not None and not isinstance(kind, Float):
        out_of_range = ValueProblem(say("value.out_of_range", precision=kind.precision,
                                           scale=scale, value=value))
        try:
            # Half up, as MySQL itself rounds a DECIMAL on insert.
            number = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
        except InvalidOperation:  # more digits than the decimal context holds
            raise out_of_range from None
        if kind.precision is not None and len(number.as_tuple().digits) > kind.precision:
            raise out_of_range
    return number


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip()
    try:
        # Keep the portal's wall-clock time; DATETIME columns carry no zone.
        return datetime.fromisoformat(text).replace(tzinfo=None, microsecond=0)
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueProblem(say("value.not_date", value=value))


def comes_back_as_converted(column: Column) -> bool:
    """Whether normalize() leaves every value of the column as it is (text, whole numbers)."""
    kind = column.type
    return isinstance(kind, String) or (isinstance(kind, Integer)
                                        and not isinstance(kind, Boolean))


def normalize(value: Any, column: Column) -> Any:
    """A value read back from the database, in the form convert() produces (for diffing)."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, Boolean):
        return bool(value)
    if isinstance(kind, Float):
        return float(value)
    if isinstance(kind, Numeric):
        number = Decimal(str(value))
        if kind.scale:
            return number.quantize(Decimal(1).scaleb(-kind.scale), rounding=ROUND_HALF_UP)
        return number
    if isinstance(kind, DateTime) and isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(kind, Date) and isinstance(value, datetime):
        return value.date()
    return value
