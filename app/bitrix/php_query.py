"""Batch commands as PHP query strings (the portal parses each with parse_str)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote


class BatchRef(str):
    """A `$result[...]` reference inside a batch command; sent unencoded for the portal."""


def php_query(params: Mapping[str, Any]) -> str:
    """Encode params the way PHP reads a query string: filter[>ID]=5&select[0]=ID.

    Booleans become 1/0 (never Python's True/False), None an empty value.
    """
    pairs: list[str] = []

    def walk(key: str, value: Any) -> None:
        kind = value.__class__
        if kind is str or kind is int:  # most values: no abstract-class checks for them
            pairs.append(_quoted_key(key) + "=" + _query_value(value))
        elif kind is dict or isinstance(value, Mapping):
            for sub, item in value.items():
                walk(f"{key}[{sub}]", item)
        elif kind is list or isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(f"{key}[{index}]", item)
        else:
            pairs.append(_quoted_key(key) + "=" + _query_value(value))

    for key, value in params.items():
        walk(str(key), value)
    return "&".join(pairs)


# A read sends the same keys and most of the same values in every command of every batch.
@functools.lru_cache(maxsize=4096)
def _quoted_key(key: str) -> str:
    return quote(key, safe="[]")


@functools.lru_cache(maxsize=4096)
def _quoted_text(value: str) -> str:
    return quote(value, safe="")


def _query_value(value: Any) -> str:
    kind = value.__class__
    if kind is int:
        return str(value)  # digits and a minus sign: nothing to quote
    if kind is str:  # not a BatchRef, which is a str too but quoted otherwise
        return _quoted_text(value)
    if isinstance(value, BatchRef):
        return quote(value, safe="$[]")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return quote(str(value), safe="")
