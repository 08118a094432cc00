"""PHP's view of request parameters: bracket keys, arrays, truthiness and numeric strings."""

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
SEGMENT_RE = re.compile(r"\[([^\[\]]*)\]")
_NUMERIC_RE = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)\s*")


def parse_php_query(query: str) -> dict[str, Any]:
    """Decode a query string with PHP bracket keys (``filter[>id]=5``, ``select[]=id``)."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        match = _KEY_RE.match(key)
        parts = [key] if match is None else [match.group(1), *SEGMENT_RE.findall(match.group(2))]
        node = root
        for position, part in enumerate(parts):
            if part == "":
                numeric = [int(k) for k in node if k.isdigit()]
                part = str(max(numeric) + 1 if numeric else 0)
            if position == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return {key: _php_arrays(value) for key, value in root.items()}


def _php_arrays(value: Any) -> Any:
    """Turn dicts keyed "0".."n-1" into lists, as PHP arrays with those keys are lists."""
    if not isinstance(value, dict):
        return value
    converted = {key: _php_arrays(item) for key, item in value.items()}
    if converted and all(key == str(i) for i, key in enumerate(converted)):
        return list(converted.values())
    return converted


def decode_body(body: bytes, content_type: str) -> dict[str, Any]:
    kind = content_type.split(";", 1)[0].strip().lower()
    text = body.decode("utf-8", errors="replace")
    if kind == "application/json":
        # The portal silently ignores a body that is not a JSON object.
        try:
            decoded = json.loads(text)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    if kind.startswith("multipart/"):
        return {}
    return parse_php_query(text)


def php_array(mapping: dict[str, Any]) -> dict[str, Any] | list[Any]:
    """Encode a map the way PHP's json_encode does: [] when empty, a list for keys 0..n-1."""
    if not mapping:
        return []
    if all(key == str(i) for i, key in enumerate(mapping)):
        return list(mapping.values())
    return mapping


def php_truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value not in ("", "0")
    return bool(value)


def upper_keys(params: Mapping[str, Any]) -> dict[str, Any]:
    # Legacy methods run array_change_key_case(CASE_UPPER) over their parameters.
    return {str(key).upper(): value for key, value in params.items()}


def items_of(spec: Any) -> list[tuple[str, Any]]:
    """The (key, value) pairs of a PHP array, whether it arrived as a map or a list."""
    if isinstance(spec, dict):
        return [(str(key), value) for key, value in spec.items()]
    if isinstance(spec, list):
        return [(str(index), value) for index, value in enumerate(spec)]
    return []


def as_list(value: Any) -> list[Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def number(value: Any) -> int | float | None:
    """The value as a number when PHP would see a numeric string (or a number), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMERIC_RE.fullmatch(value):
        text = value.strip()
        return float(text) if "." in text else int(text)
    return None


def int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None
