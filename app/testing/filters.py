"""Bitrix list filters (prefix operators, nested LOGIC groups) compiled to predicates.

String comparisons ignore case, like MySQL's default collation. A nested group is an array
under a numeric key (``$filter[] = [...]``, as the server code builds them); an array under a
field key is a value. A comparison (``>``, ``<``...) with an array matches nothing: what the
server does then is not in the sources, and a batch reference walked past a short page hands a
command exactly that (batch.py). ``><`` takes ``[low, high]``; ``*`` is a substring match.
A date field's value is turned into a ``Moment`` by its family (how the server parses it is
in clock.py): the comparison is then between instants, and a value the server could not
parse matches no rows.
"""

import bisect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.testing.php_query import as_list, items_of, number
from app.testing.store import Collection

_OPERATORS = ("!><", "!=%", "!%=", "!@", "!=", "!%", "><", ">=", "<=", "=%", "%=", ">", "<", "=",
              "!", "@", "%", "*")
_POSITIVE = {"!": "=", "!=": "=", "!@": "@", "!%": "%", "!=%": "=%", "!%=": "%=", "!><": "><"}
_RANGE_OPS = frozenset({"", "=", ">", ">=", "<", "<="})
_TRUE_WORDS = frozenset({"1", "y", "true", "on", "yes"})

Predicate = Callable[[Mapping[str, Any]], bool]
# Maps a filter key's field name to the stored field, None to drop it, or raises ApiError.
FieldResolver = Callable[[str], str | None]


@dataclass(frozen=True)
class Moment:
    """A date filter value as the server read it: an instant, or None when it did not parse.

    ``stored`` turns a record's stored value of the field into an instant.
    """

    at: float | None
    stored: Callable[[Any], float | None]


def with_moments(spec: Any, moment: Callable[[str, Any], Moment | None]) -> Any:
    """The filter with date values replaced: ``moment(field, value)`` gives a Moment for a
    date field and None for any other (nested LOGIC groups included)."""
    converted: dict[str, Any] = {}
    for key, value in items_of(spec):
        if isinstance(value, dict) and key.isdigit():
            converted[key] = with_moments(value, moment)
            continue
        _, name = split_operator(key)
        found = None if isinstance(value, list | dict) else moment(name, value)
        converted[key] = value if found is None else found
    return converted if isinstance(spec, dict | list) else spec


def _moment_test(base: str, actual: Any, wanted: Moment) -> bool:
    if wanted.at is None:
        return False
    at = wanted.stored(actual)
    if at is None:
        return False
    if base in ("", "="):
        return at == wanted.at
    if base in (">", ">=", "<", "<="):
        return _ordered(base, at, wanted.at)
    return False


def split_operator(key: str) -> tuple[str, str]:
    for operator in _OPERATORS:
        if key.startswith(operator) and len(key) > len(operator):
            return operator, key[len(operator) :]
    return "", key


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return bool(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def _equal(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, list | tuple):
        return any(_equal(actual, item) for item in wanted)
    if actual is None or actual == "":
        return wanted is None or wanted == ""
    if isinstance(actual, bool):
        return actual == as_bool(wanted)
    left, right = number(actual), number(wanted)
    if left is not None and right is not None:
        return left == right
    return _text(actual).casefold() == _text(wanted).casefold()


def _ordered(operator: str, actual: Any, wanted: Any) -> bool:
    if actual is None or isinstance(wanted, list | dict):
        return False
    left: Any = number(actual)
    right: Any = number(wanted)
    if left is not None and (right is not None or wanted in ("", None)):
        right = 0 if right is None else right
    else:
        left, right = _text(actual).casefold(), _text(wanted).casefold()
    if operator == ">":
        return left > right
    if operator == ">=":
        return left >= right
    if operator == "<":
        return left < right
    return left <= right


def _like(actual: Any, pattern: Any) -> bool:
    regex = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char)
        for char in _text(pattern).casefold()
    )
    return re.fullmatch(regex, _text(actual).casefold(), re.DOTALL) is not None


def _values_of(raw: Any) -> list[Any]:
    # Multiple values (lists, list-property row maps) match when any one of them does.
    if isinstance(raw, dict):
        return list(raw.values()) or [None]
    if isinstance(raw, list):
        return raw or [None]
    return [raw]


def _condition(operator: str, name: str, wanted: Any) -> Predicate:
    negate = operator in _POSITIVE
    base = _POSITIVE.get(operator, operator)
    if base == "@":
        choices = wanted.split(",") if isinstance(wanted, str) else as_list(wanted) or []

        def test(record: Mapping[str, Any]) -> bool:
            hit = any(_equal(v, c) for v in _values_of(record.get(name)) for c in choices)
            return hit != negate

        return test

    def matches(value: Any) -> bool:
        if isinstance(wanted, Moment):
            return _moment_test(base, value, wanted)
        if base in ("", "="):
            return _equal(value, wanted)
        if base == "><":
            bounds = as_list(wanted) or []
            return len(bounds) == 2 and (
                _ordered(">=", value, bounds[0]) and _ordered("<=", value, bounds[1])
            )
        if base in ("%", "*"):
            return value is not None and _text(wanted).casefold() in _text(value).casefold()
        if base in ("=%", "%="):
            return _like(value, wanted)
        return _ordered(base, value, wanted)

    def test(record: Mapping[str, Any]) -> bool:
        return any(matches(value) for value in _values_of(record.get(name))) != negate

    return test


def compile_filter(spec: Any, resolve: FieldResolver) -> Predicate | None:
    """Compile a Bitrix filter (prefix operators, nested groups with LOGIC) to a predicate."""
    logic = "AND"
    tests: list[Predicate] = []
    for key, value in items_of(spec):
        if key.upper() == "LOGIC":
            logic = str(value).upper()
            continue
        if isinstance(value, dict) and key.isdigit():
            group = compile_filter(value, resolve)
            if group is not None:
                tests.append(group)
            continue
        operator, name = split_operator(key)
        resolved = resolve(name)
        if resolved is not None:
            tests.append(_condition(operator, resolved, value))
    if not tests:
        return None
    if logic == "OR":
        return lambda record: any(test(record) for test in tests)
    return lambda record: all(test(record) for test in tests)


def plan(
    coll: Collection, spec: Any, id_key: str, resolve: FieldResolver
) -> tuple[int, int, Predicate | None]:
    """Split a filter into an id index range (bisect) and a predicate for the rest."""
    low, high = 0, len(coll.ids)
    items = items_of(spec)
    if any(key.upper() == "LOGIC" and str(value).upper() == "OR" for key, value in items):
        return low, high, compile_filter(spec, resolve)
    rest: dict[str, Any] = {}
    for key, value in items:
        operator, name = split_operator(key)
        bound = None
        if operator in _RANGE_OPS and not isinstance(value, dict | list):
            bound = 0 if value in ("", None) else number(value)
        if bound is None or isinstance(value, dict) or resolve(name) != id_key:
            rest[key] = value
            continue
        if operator in ("", "="):
            low = max(low, bisect.bisect_left(coll.ids, bound))
            high = min(high, bisect.bisect_right(coll.ids, bound))
        elif operator == ">":
            low = max(low, bisect.bisect_right(coll.ids, bound))
        elif operator == ">=":
            low = max(low, bisect.bisect_left(coll.ids, bound))
        elif operator == "<":
            high = min(high, bisect.bisect_left(coll.ids, bound))
        else:
            high = min(high, bisect.bisect_right(coll.ids, bound))
    return low, max(low, high), compile_filter(rest, resolve) if rest else None
