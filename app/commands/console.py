"""Console helpers shared by --demo, --discover and --check: short values, JSON."""

from __future__ import annotations

import json
from typing import Any

from app.masking import mask
from app.text import shorten


def short(value: Any, width: int = 40) -> str:
    """One line for a sample value: list-property row maps unwrapped, long text cut."""
    if isinstance(value, dict):  # lists.element.get: {"<value row id>": value, ...}
        values = list(value.values())
        value = values[0] if len(values) == 1 else values
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "[" + ", ".join(short(v, width) for v in value) + "]"
    elif value is None:
        text = ""
    else:
        text = str(value)
    return shorten(text, width)


def is_empty(value: Any) -> bool:
    """True for values Bitrix24 uses to mean "nothing here"."""
    return value is None or value == "" or value == [] or value == {}


def print_json(data: dict[str, Any]) -> None:
    """The one JSON object a --json run prints on stdout, secrets masked."""
    print(mask(json.dumps(data, ensure_ascii=False, default=str)))
