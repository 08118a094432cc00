"""Stateful in-memory Bitrix24 portal served over real HTTP for tests, benchmarks and demo runs.

The fake answers the REST methods a directory sync uses (crm.item.*, crm.type.*, lists.*,
user.*, department.*, batch, scope, profile) with the envelopes, paging, errors and limits
described in BITRIX24.md. Where the real portal's behaviour is undocumented it makes these
choices:

* ``$result[label][k]...`` in a batch command is substituted after the command's query string
  has been parsed (keys and values, as ``CRestUtil::processBatchStructure`` does). A path
  that does not resolve becomes an empty string. The real code keeps the deepest value it
  found instead; clients must not rely on either, so a short page must end a keyset chain.
  In an id comparison the empty string acts as 0 (MySQL casts it so), so a command chained
  to a missing row returns the first page again.
* Failed batch commands get no ``result_time`` entry (only successful ones carry ``time``);
  ``halt`` follows PHP truthiness, so the form value ``"false"`` means true.
* A batch is billed as one request to the leaky bucket and, as measured on a live portal
  (b24jssdk PR #539), its whole time is billed to the method ``batch``; every
  ``result_time`` entry reports the running batch figure as ``operating``.
* Offsets are exact (``start=10`` skips ten rows) for every method, and ``start=-1`` works
  for every list method, lists.element.get included.
* ``lists.element.get`` always returns ``ID`` and omits properties that have no value;
  its default order is ``ID`` ascending, as for every other list method here.
* ``department.get`` ignores unknown parameters, so a ``>ID`` filter returns every row.
* String comparisons in filters ignore case, like MySQL's default collation.
* Methods of the ``basic`` scope (batch, scope, profile, server.time) are always allowed.
"""

import bisect
import contextlib
import copy
import ipaddress
import itertools
import json
import re
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

PAGE_SIZE = 50
BATCH_MAX_COMMANDS = 50
OPERATING_WINDOW = 600.0
PORTAL_TZ = timezone(timedelta(hours=3), "MSK")

_SCOPE_DESCRIPTION = "The request requires higher privileges than provided by the webhook token"
_USER_SCOPES = ("user", "user_basic", "user_brief")
# user_brief hides contact details; user_basic and user show them.
_BRIEF_HIDDEN = frozenset({"EMAIL", "PERSONAL_MOBILE", "WORK_PHONE", "PERSONAL_PHONE"})

USER_FIELD_TITLES: dict[str, str] = {
    "ID": "ID",
    "XML_ID": "Внешний код",
    "ACTIVE": "Активность",
    "NAME": "Имя",
    "LAST_NAME": "Фамилия",
    "SECOND_NAME": "Отчество",
    "EMAIL": "E-Mail",
    "LAST_LOGIN": "Последняя авторизация",
    "DATE_REGISTER": "Дата регистрации",
    "IS_ONLINE": "В сети",
    "TIME_ZONE": "Часовой пояс",
    "TIMESTAMP_X": "Дата изменения",
    "PERSONAL_GENDER": "Пол",
    "PERSONAL_BIRTHDAY": "Дата рождения",
    "PERSONAL_MOBILE": "Мобильный телефон",
    "PERSONAL_CITY": "Город",
    "WORK_PHONE": "Телефон компании",
    "WORK_POSITION": "Должность",
    "UF_EMPLOYMENT_DATE": "Дата принятия на работу",
    "UF_DEPARTMENT": "Подразделения",
    "USER_TYPE": "Тип пользователя",
}
DEPARTMENT_FIELD_TITLES: dict[str, str] = {
    "ID": "ID",
    "NAME": "Название",
    "SORT": "Сортировка",
    "PARENT": "Вышестоящее подразделение",
    "UF_HEAD": "Руководитель",
}
_CRM_BASE_TITLES: dict[str, tuple[str, str]] = {
    "id": ("integer", "ID"),
    "xmlId": ("string", "Внешний код"),
    "title": ("string", "Название"),
    "createdBy": ("user", "Кем создан"),
    "updatedBy": ("user", "Кем изменён"),
    "movedBy": ("user", "Кем перемещён"),
    "createdTime": ("datetime", "Дата создания"),
    "updatedTime": ("datetime", "Дата изменения"),
    "movedTime": ("datetime", "Дата перемещения"),
    "categoryId": ("crm_category", "Воронка"),
    "stageId": ("crm_status", "Стадия"),
    "previousStageId": ("crm_status", "Предыдущая стадия"),
    "begindate": ("date", "Дата начала"),
    "closedate": ("date", "Дата завершения"),
    "opened": ("boolean", "Доступен для всех"),
    "assignedById": ("user", "Ответственный"),
    "observers": ("user", "Наблюдатели"),
    "lastActivityTime": ("datetime", "Последняя активность"),
}
# Fields every smart process has, whether or not a stored item carries them.
_CRM_ALWAYS_KNOWN = frozenset(_CRM_BASE_TITLES) | {"entityTypeId"}
_RESERVED_TOP_LEVEL = frozenset({"SORT", "ORDER", "START", "FILTER", "SELECT", "ADMIN_MODE"})


class RequestRecord(NamedTuple):
    """One HTTP request as the portal saw it; status 0 means the connection was dropped."""

    method: str
    params: dict[str, Any]
    status: int
    rows: int


class _ApiError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


def _method_not_found() -> _ApiError:
    return _ApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")


@dataclass(slots=True)
class _MethodResult:
    result: Any
    total: int | None = None
    next: int | None = None
    rows: int = 0


@dataclass(slots=True)
class _Fault:
    method: str
    kind: str  # "fail", "raw", "drop" or "stall"
    remaining: int
    status: int = 0
    error: str = ""
    description: str = ""
    body: bytes = b""
    seconds: float = 0.0
    skip: int = 0  # matching calls let through before the fault fires


@dataclass(slots=True)
class _Reply:
    status: int
    payload: dict[str, Any] | None = None
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    drop: bool = False
    delay: float = 0.0
    arrival: float = 0.0
    # (processing, operating, operating_reset_at) for the outer "time" object of a success.
    timing: tuple[float, float, int] | None = None

    def render(self) -> bytes:
        if self.raw is not None:
            return self.raw
        payload = dict(self.payload or {})
        if self.timing is not None:
            processing, operating, reset_at = self.timing
            payload["time"] = _time_block(
                self.arrival, time.time(), processing, operating, reset_at
            )
        return json.dumps(payload).encode("utf-8")


def _error_reply(error: _ApiError) -> _Reply:
    return _Reply(status=error.status, payload=error.body())


@dataclass(slots=True)
class _Collection:
    """Records of one directory kept sorted by id so id ranges are a bisect away."""

    ids: list[int] = field(default_factory=list)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    last_id: int = 0

    def insert(self, records: list[dict[str, Any]], id_key: str) -> list[int]:
        new_ids = [record[id_key] for record in records]
        if len(set(new_ids)) != len(new_ids) or any(rid in self.rows for rid in new_ids):
            raise ValueError(f"duplicate {id_key} in {new_ids!r}")
        in_order = not self.ids or not new_ids or new_ids[0] > self.ids[-1]
        for previous, current in itertools.pairwise(new_ids):
            in_order = in_order and current > previous
        for record in records:
            self.rows[record[id_key]] = record
            self.keys.update(record)
        self.ids.extend(new_ids)
        if not in_order:
            self.ids.sort()
        if new_ids:
            self.last_id = max(self.last_id, max(new_ids))
        return new_ids

    def remove(self, record_id: int) -> None:
        del self.rows[record_id]
        del self.ids[bisect.bisect_left(self.ids, record_id)]


# --- parameter decoding -------------------------------------------------------------------

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEG_RE = re.compile(r"\[([^\[\]]*)\]")


def parse_php_query(query: str) -> dict[str, Any]:
    """Decode a query string with PHP bracket keys (``filter[>id]=5``, ``select[]=id``)."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        match = _KEY_RE.match(key)
        parts = [key] if match is None else [match.group(1), *_SEG_RE.findall(match.group(2))]
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


def _php_array(mapping: dict[str, Any]) -> dict[str, Any] | list[Any]:
    """Encode a map the way PHP's json_encode does: [] when empty, a list for keys 0..n-1."""
    if not mapping:
        return []
    if all(key == str(i) for i, key in enumerate(mapping)):
        return list(mapping.values())
    return mapping


def _php_truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value not in ("", "0")
    return bool(value)


def _decode_body(body: bytes, content_type: str) -> dict[str, Any]:
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


def _upper_keys(params: Mapping[str, Any]) -> dict[str, Any]:
    # Legacy methods run array_change_key_case(CASE_UPPER) over their parameters.
    return {str(key).upper(): value for key, value in params.items()}


def _as_list(value: Any) -> list[Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


def _start_of(value: Any) -> int:
    if value is None or value == "":
        return 0
    number = _number(value)
    if number is None:
        return 0
    return -1 if number < 0 else int(number)


# --- filtering and ordering ---------------------------------------------------------------

_OPERATORS = ("!=%", "!%=", "!@", "!=", "!%", ">=", "<=", "=%", "%=", ">", "<", "=", "!", "@", "%")
_POSITIVE = {"!": "=", "!=": "=", "!@": "@", "!%": "%", "!=%": "=%", "!%=": "%="}
_RANGE_OPS = frozenset({"", "=", ">", ">=", "<", "<="})
_NUMERIC_RE = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)\s*")
_TRUE_WORDS = frozenset({"1", "y", "true", "on", "yes"})

Predicate = Callable[[Mapping[str, Any]], bool]


def _split_operator(key: str) -> tuple[str, str]:
    for operator in _OPERATORS:
        if key.startswith(operator) and len(key) > len(operator):
            return operator, key[len(operator) :]
    return "", key


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMERIC_RE.fullmatch(value):
        text = value.strip()
        return float(text) if "." in text else int(text)
    return None


def _as_bool(value: Any) -> bool:
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
        return actual == _as_bool(wanted)
    left, right = _number(actual), _number(wanted)
    if left is not None and right is not None:
        return left == right
    return _text(actual).casefold() == _text(wanted).casefold()


def _ordered(operator: str, actual: Any, wanted: Any) -> bool:
    if actual is None or isinstance(wanted, list | dict):
        return False
    left: Any = _number(actual)
    right: Any = _number(wanted)
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
        choices = wanted.split(",") if isinstance(wanted, str) else _as_list(wanted) or []

        def test(record: Mapping[str, Any]) -> bool:
            hit = any(_equal(v, c) for v in _values_of(record.get(name)) for c in choices)
            return hit != negate

        return test

    def matches(value: Any) -> bool:
        if base in ("", "="):
            return _equal(value, wanted)
        if base == "%":
            return value is not None and _text(wanted).casefold() in _text(value).casefold()
        if base in ("=%", "%="):
            return _like(value, wanted)
        return _ordered(base, value, wanted)

    def test(record: Mapping[str, Any]) -> bool:
        return any(matches(value) for value in _values_of(record.get(name))) != negate

    return test


FieldResolver = Callable[[str], str | None]


def _items_of(spec: Any) -> list[tuple[str, Any]]:
    if isinstance(spec, dict):
        return [(str(key), value) for key, value in spec.items()]
    if isinstance(spec, list):
        return [(str(index), value) for index, value in enumerate(spec)]
    return []


def _compile(spec: Any, resolve: FieldResolver) -> Predicate | None:
    """Compile a Bitrix filter (prefix operators, nested groups with LOGIC) to a predicate."""
    logic = "AND"
    tests: list[Predicate] = []
    for key, value in _items_of(spec):
        if key.upper() == "LOGIC":
            logic = str(value).upper()
            continue
        if isinstance(value, dict):
            group = _compile(value, resolve)
            if group is not None:
                tests.append(group)
            continue
        operator, name = _split_operator(key)
        resolved = resolve(name)
        if resolved is not None:
            tests.append(_condition(operator, resolved, value))
    if not tests:
        return None
    if logic == "OR":
        return lambda record: any(test(record) for test in tests)
    return lambda record: all(test(record) for test in tests)


def _plan(
    coll: _Collection, spec: Any, id_key: str, resolve: FieldResolver
) -> tuple[int, int, Predicate | None]:
    """Split a filter into an id index range (bisect) and a predicate for the rest."""
    low, high = 0, len(coll.ids)
    items = _items_of(spec)
    if any(key.upper() == "LOGIC" and str(value).upper() == "OR" for key, value in items):
        return low, high, _compile(spec, resolve)
    rest: dict[str, Any] = {}
    for key, value in items:
        operator, name = _split_operator(key)
        bound = None
        if operator in _RANGE_OPS and not isinstance(value, dict | list):
            bound = 0 if value in ("", None) else _number(value)
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
    return low, max(low, high), _compile(rest, resolve) if rest else None


def _sort_key(value: Any) -> tuple[int, float, str]:
    if isinstance(value, dict):
        value = next(iter(value.values()), None)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or value == "":
        return (0, 0.0, "")
    if isinstance(value, bool):
        return (1, float(value), "")
    number = _number(value)
    if number is not None:
        return (1, float(number), "")
    return (2, 0.0, str(value).casefold())


def _query(
    coll: _Collection,
    spec: Any,
    order: list[tuple[str, bool]],
    start: int,
    id_key: str,
    resolve: FieldResolver,
) -> tuple[list[dict[str, Any]], int, int | None]:
    """Filter, order and page one collection; returns (page rows, total, next)."""
    low, high, predicate = _plan(coll, spec, id_key, resolve)
    ids, rows = coll.ids, coll.rows
    if not order or order == [(id_key, False)] or order == [(id_key, True)]:
        positions = range(low, high)
        if order and order[0][1]:
            positions = positions[::-1]
        if predicate is None:
            total = len(positions)
            chosen = positions[:PAGE_SIZE] if start < 0 else positions[start : start + PAGE_SIZE]
            page = [rows[ids[i]] for i in chosen]
        else:
            matching = (row for row in (rows[ids[i]] for i in positions) if predicate(row))
            if start < 0:
                page = list(itertools.islice(matching, PAGE_SIZE))
                total = 0
            else:
                found = list(matching)
                total = len(found)
                page = found[start : start + PAGE_SIZE]
    else:
        found = [rows[ids[i]] for i in range(low, high)]
        if predicate is not None:
            found = [row for row in found if predicate(row)]
        for name, descending in reversed(order):
            found.sort(key=lambda row, name=name: _sort_key(row.get(name)), reverse=descending)
        total = len(found)
        page = found[:PAGE_SIZE] if start < 0 else found[start : start + PAGE_SIZE]
    if start < 0:
        return page, 0, None
    return page, total, start + PAGE_SIZE if start + PAGE_SIZE < total else None


# --- batch references -----------------------------------------------------------------------

_REF_RE = re.compile(r"\$(result|next|total|time|error)((?:\[[^\[\]]*\])+)", re.IGNORECASE)


def _resolve_ref(kind: str, path: str, refs: Mapping[str, Any]) -> Any:
    node: Any = refs[kind.lower()]
    for key in _SEG_RE.findall(path):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def _substitute_text(text: str, refs: Mapping[str, Any]) -> Any:
    whole = _REF_RE.fullmatch(text)
    if whole is not None:
        value = _resolve_ref(whole.group(1), whole.group(2), refs)
        return "" if value is None else value

    def replace(match: re.Match[str]) -> str:
        value = _resolve_ref(match.group(1), match.group(2), refs)
        if value is None or isinstance(value, dict | list):
            return ""
        if isinstance(value, bool):
            return "1" if value else ""
        return str(value)

    return _REF_RE.sub(replace, text)


def _substitute(value: Any, refs: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        return {
            (_substitute_text(k, refs) if "$" in k else k): _substitute(v, refs)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_substitute(item, refs) for item in value]
    if isinstance(value, str) and "$" in value:
        return _substitute_text(value, refs)
    return value


# --- rendering helpers ----------------------------------------------------------------------


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, PORTAL_TZ).isoformat(timespec="seconds")


def _time_block(
    start: float, finish: float, processing: float, operating: float, reset_at: int
) -> dict[str, Any]:
    return {
        "start": start,
        "finish": finish,
        "duration": finish - start,
        "processing": processing,
        "date_start": _iso(start),
        "date_finish": _iso(finish),
        "operating_reset_at": reset_at,
        "operating": operating,
    }


def _lists_scalar(value: Any) -> Any:
    # lists.element.get renders every scalar as a string.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, int | float):
        return str(value)
    return value


def _camel_to_upper(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Za-z])(?=\d)", "_", name)
    return spaced.upper()


def _infer_crm_type(name: str, sample: Any) -> dict[str, Any]:
    match = re.fullmatch(r"parentId(\d+)", name)
    if match:
        return {"type": "crm_entity", "settings": {"parentEntityTypeId": int(match.group(1))}}
    if isinstance(sample, list):
        inner = _infer_crm_type(name, sample[0] if sample else None)
        return {**inner, "isMultiple": True}
    if isinstance(sample, bool) or sample in ("Y", "N"):
        return {"type": "boolean"}
    if isinstance(sample, int):
        return {"type": "integer"}
    if isinstance(sample, float):
        return {"type": "double"}
    if isinstance(sample, str) and re.match(r"\d{4}-\d{2}-\d{2}T", sample):
        return {"type": "datetime"}
    return {"type": "string"}


def _route(path: str) -> tuple[str, str | None, str | None, str | None]:
    """Classify a request path: ("ok", user, code, method), ("noauth", ...) or ("missing", ...)."""
    parts = [unquote(part) for part in path.split("/") if part]
    if not parts or parts[0].lower() != "rest":
        return "missing", None, None, None
    rest = parts[1:]
    if len(rest) == 3:
        return "ok", rest[0], rest[1], _normalize_method(rest[2])
    if len(rest) == 1:
        return "noauth", None, None, _normalize_method(rest[0])
    # A webhook path without the user id is mis-parsed by the portal into an unknown method.
    return "missing", None, None, None


def _normalize_method(name: str) -> str:
    name = name.strip().lower()
    return name[: -len(".json")] if name.endswith(".json") else name


# --- the portal -------------------------------------------------------------------------------


class FakePortal:
    """In-memory Bitrix24 portal answering the REST API over HTTP on localhost."""

    def __init__(
        self,
        *,
        user_id: int = 1,
        code: str = "fakeSecretCode0123",
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        row_cost: float = 0.0,
        rate_limit: float | None = None,
        burst: float | None = None,
        operating_limit: float | None = None,
        scopes: Iterable[str] = ("crm", "lists", "user", "department", "basic"),
        crm_admin: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.user_id = user_id
        self.code = code
        self.host = host
        self.port = port
        self.latency = latency
        self.row_cost = row_cost
        self.rate_limit = rate_limit
        self.burst = burst
        self.operating_limit = operating_limit
        self.scopes = tuple(scopes)
        self.crm_admin = crm_admin
        # Serve HTTPS with this server-side context (clients that insist on https://).
        self.ssl_context = ssl_context

        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._log: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._bucket_level = 0.0
        self._bucket_time = time.monotonic()
        self._operating: dict[str, deque[tuple[float, float]]] = {}
        self._operating_sum: dict[str, float] = {}
        self._value_row_id = 311200

        self._crm_types: dict[int, dict[str, Any]] = {}
        self._crm_fields: dict[int, dict[str, Any] | None] = {}
        self._crm_items: dict[int, _Collection] = {}
        self._lists: dict[int, dict[str, Any]] = {}
        self._list_fields: dict[int, dict[str, Any] | None] = {}
        self._list_elements: dict[int, _Collection] = {}
        self._users = _Collection()
        self._departments = _Collection()

        self._methods: dict[str, tuple[tuple[str, ...], Callable[[dict[str, Any]], Any]]] = {
            "crm.item.list": (("crm",), self._crm_item_list),
            "crm.item.get": (("crm",), self._crm_item_get),
            "crm.item.fields": (("crm",), self._crm_item_fields),
            "crm.type.list": (("crm",), self._crm_type_list),
            "crm.type.get": (("crm",), self._crm_type_get),
            "crm.type.getbyentitytypeid": (("crm",), self._crm_type_get_by_entity_type_id),
            "lists.get": (("lists",), self._lists_get),
            "lists.field.get": (("lists",), self._lists_field_get),
            "lists.element.get": (("lists",), self._lists_element_get),
            "user.get": (_USER_SCOPES, self._user_get),
            "user.current": (_USER_SCOPES, self._user_current),
            "user.fields": (_USER_SCOPES, self._user_fields),
            "department.get": (("department",), self._department_get),
            "department.fields": (("department",), self._department_fields),
            "scope": ((), self._scope),
            "profile": ((), self._profile),
            "server.time": ((), self._server_time),
        }

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> "FakePortal":
        """Bind the socket and serve requests from a background daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakePortal is already running")
        handler = type("_BoundHandler", (_Handler,), {"portal": self})
        server = _Server((self.host, self.port), handler)
        server.ssl_context = self.ssl_context
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-portal-{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> "FakePortal":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def webhook_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakePortal is not running; call start() first")
        host, port = self._server.server_address[:2]
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{port}/rest/{self.user_id}/{self.code}/"

    # --- data -------------------------------------------------------------------------------

    def add_smart_process(
        self,
        entity_type_id: int,
        *,
        type_id: int,
        title: str,
        fields: Mapping[str, Mapping[str, Any]] | None = None,
        code: str = "",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        """Register a smart process; ``fields`` are crm.item.fields descriptors by name.

        ``options`` overrides keys of the crm.type.list row, e.g. ``{"isStagesEnabled": "Y"}``.
        """
        stamp = "2024-02-28T18:04:12+03:00"
        with self._lock:
            if entity_type_id in self._crm_types:
                raise ValueError(f"smart process {entity_type_id} already exists")
            self._crm_types[entity_type_id] = {
                "id": type_id,
                "title": title,
                "code": code,
                "createdBy": self.user_id,
                "entityTypeId": entity_type_id,
                "customSectionId": None,
                "isCategoriesEnabled": "N",
                "isStagesEnabled": "N",
                "isBeginCloseDatesEnabled": "Y",
                "isClientEnabled": "N",
                "isUseInUserfieldEnabled": "Y",
                "isLinkWithProductsEnabled": "N",
                "isMycompanyEnabled": "N",
                "isDocumentsEnabled": "N",
                "isSourceEnabled": "N",
                "isObserversEnabled": "Y",
                "isRecyclebinEnabled": "Y",
                "isAutomationEnabled": "Y",
                "isBizProcEnabled": "N",
                "isSetOpenPermissions": "Y",
                "isPaymentsEnabled": "N",
                "isCountersEnabled": "N",
                "createdTime": stamp,
                "updatedTime": stamp,
                "updatedBy": self.user_id,
                **(options or {}),
            }
            self._crm_fields[entity_type_id] = copy.deepcopy(dict(fields)) if fields else None
            self._crm_items[entity_type_id] = _Collection()

    def add_items(self, entity_type_id: int, items: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store smart-process items (camelCase), registering an unknown type; returns ids."""
        with self._lock:
            coll = self._crm_collection(entity_type_id, create=True)
            records = [{**item, "entityTypeId": entity_type_id} for item in items]
            self._assign_ids(coll, records, "id")
            return coll.insert(records, "id")

    def add_list(
        self,
        iblock_id: int,
        *,
        name: str,
        code: str | None = None,
        fields: Mapping[str, Mapping[str, Any]] | None = None,
        iblock_type_id: str = "lists",
    ) -> None:
        """Register a universal list; ``fields`` are lists.field.get descriptors by FIELD_ID."""
        with self._lock:
            if iblock_id in self._lists:
                raise ValueError(f"list {iblock_id} already exists")
            self._lists[iblock_id] = {
                "ID": str(iblock_id),
                "TIMESTAMP_X": "01.03.2024 10:00:00",
                "IBLOCK_TYPE_ID": iblock_type_id,
                "LID": "s1",
                "CODE": code or "",
                "API_CODE": None,
                "NAME": name,
                "ACTIVE": "Y",
                "SORT": "500",
                "PICTURE": None,
                "DESCRIPTION": "",
                "DESCRIPTION_TYPE": "text",
                "VERSION": "1",
                "SOCNET_GROUP_ID": None,
            }
            descriptors = None
            if fields:
                descriptors = {}
                for field_id, descriptor in fields.items():
                    descriptors[field_id] = {"FIELD_ID": field_id, **copy.deepcopy(descriptor)}
            self._list_fields[iblock_id] = descriptors
            self._list_elements[iblock_id] = _Collection()

    def add_elements(self, iblock_id: int, elements: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store list elements (UPPERCASE keys; ``PROPERTY_<n>`` as scalar, list or row map)."""
        with self._lock:
            coll = self._list_collection(iblock_id, create=True)
            records = [self._normalize_element(dict(element)) for element in elements]
            self._assign_ids(coll, records, "ID")
            return coll.insert(records, "ID")

    def add_users(self, users: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store users (``ACTIVE`` becomes a boolean, ``UF_DEPARTMENT`` a list of ints)."""
        with self._lock:
            records = [self._normalize_user(dict(user)) for user in users]
            self._assign_ids(self._users, records, "ID")
            return self._users.insert(records, "ID")

    def add_departments(self, departments: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store departments (``PARENT`` and ``UF_HEAD`` as ids, absent for none)."""
        with self._lock:
            records = [self._normalize_department(dict(dep)) for dep in departments]
            self._assign_ids(self._departments, records, "ID")
            return self._departments.insert(records, "ID")

    def update_record(self, collection: str, record_id: int, **changes: Any) -> None:
        """Change fields of one stored record (``"crm:<id>"``, ``"list:<id>"``, ``"user"``...)."""
        with self._lock:
            coll, id_key = self._resolve_collection(collection)
            record_id = int(record_id)
            if record_id not in coll.rows:
                raise KeyError(f"{collection} has no record {record_id}")
            if id_key in changes:
                raise ValueError(f"the {id_key} of a record cannot change")
            record = dict(coll.rows[record_id])
            if collection.startswith("crm:") and "updatedTime" in record:
                # Incremental syncs filter on >updatedTime, so an edit must move it forward.
                record["updatedTime"] = _iso(time.time())
            record.update(changes)
            if collection.startswith("list:"):
                record = self._normalize_element(record)
            elif collection == "user":
                record = self._normalize_user(record)
            elif collection == "department":
                record = self._normalize_department(record)
            coll.rows[record_id] = record
            coll.keys.update(record)

    def records(self, collection: str) -> list[dict[str, Any]]:
        """Copies of every record in id order, shaped as the REST API returns them."""
        with self._lock:
            coll, _ = self._resolve_collection(collection)
            stored = [coll.rows[record_id] for record_id in coll.ids]
            if collection.startswith("list:"):
                rendered = [self._render_element(record, None) for record in stored]
            elif collection == "user":
                rendered = [self._render_user(record, None) for record in stored]
            elif collection == "department":
                rendered = [self._render_department(record) for record in stored]
            else:
                rendered = stored
            return copy.deepcopy(rendered)

    def delete_record(self, collection: str, record_id: int) -> None:
        with self._lock:
            coll, _ = self._resolve_collection(collection)
            if int(record_id) not in coll.rows:
                raise KeyError(f"{collection} has no record {record_id}")
            coll.remove(int(record_id))

    # --- faults -----------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int,
        error: str,
        description: str = "",
        times: int = 1,
        skip: int = 0,
    ) -> None:
        """Answer the next ``times`` matching calls with a JSON error, after ``skip`` good ones.

        Inside a batch a failing command gets its error in ``result_error`` (``skip`` picks
        which command of a chain fails).
        """
        self._queue(
            _Fault(
                _normalize_method(method),
                "fail",
                times,
                status=status,
                error=error,
                description=description,
                skip=skip,
            )
        )

    def fail_raw(self, method: str, *, status: int, body: str | bytes, times: int = 1) -> None:
        """Answer the next ``times`` matching calls with a non-JSON body (e.g. an nginx page)."""
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self._queue(_Fault(_normalize_method(method), "raw", times, status=status, body=raw))

    def drop_connection(self, method: str, *, times: int = 1) -> None:
        """Close the socket without any HTTP answer on the next ``times`` matching calls."""
        self._queue(_Fault(_normalize_method(method), "drop", times))

    def stall(self, method: str, *, seconds: float, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` matching calls."""
        self._queue(_Fault(_normalize_method(method), "stall", times, seconds=seconds))

    def _queue(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, *, inside_batch: bool) -> _Fault | None:
        # "*" stands for any HTTP call; inside a batch only the command's own name matches.
        for index, fault in enumerate(self._faults):
            if fault.method == method or (fault.method == "*" and not inside_batch):
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self._faults[index]
                return fault
        return None

    # --- accounting -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._log)

    def reset_stats(self) -> None:
        with self._lock:
            self._log.clear()

    def reset_limits(self) -> None:
        """Empty the leaky bucket and the operating-time windows."""
        with self._lock:
            self._bucket_level = 0.0
            self._bucket_time = time.monotonic()
            self._operating.clear()
            self._operating_sum.clear()

    # --- HTTP entry point -------------------------------------------------------------------

    def _respond(self, raw_path: str, body: bytes, content_type: str) -> _Reply:
        arrival = time.time()
        split = urlsplit(raw_path)
        params = parse_php_query(split.query)
        if body:
            params.update(_decode_body(body, content_type))
        kind, user, code, method = _route(split.path)
        with self._lock:
            reply, rows = self._respond_locked(kind, user, code, method, params, arrival)
            status = 0 if reply.drop else reply.status
            self._log.append(RequestRecord(method or "", params, status, rows))
        reply.arrival = arrival
        reply.delay += self.latency
        return reply

    def _respond_locked(
        self,
        kind: str,
        user: str | None,
        code: str | None,
        method: str | None,
        params: dict[str, Any],
        arrival: float,
    ) -> tuple[_Reply, int]:
        if kind == "missing" or method is None:
            return _error_reply(_method_not_found()), 0
        stall = 0.0
        fault = self._take_fault(method, inside_batch=False)
        if fault is not None:
            if fault.kind == "stall":
                stall = fault.seconds
            else:
                return self._fault_reply(fault), 0
        reply, rows = self._authorized_call(kind, user, code, method, params, arrival)
        reply.delay += stall
        return reply, rows

    def _fault_reply(self, fault: _Fault) -> _Reply:
        if fault.kind == "drop":
            return _Reply(status=0, drop=True)
        if fault.kind == "raw":
            return _Reply(status=fault.status, raw=fault.body, content_type="text/html")
        return _error_reply(_ApiError(fault.status, fault.error, fault.description))

    def _authorized_call(
        self,
        kind: str,
        user: str | None,
        code: str | None,
        method: str,
        params: dict[str, Any],
        arrival: float,
    ) -> tuple[_Reply, int]:
        if kind == "noauth":
            return _error_reply(_ApiError(401, "NO_AUTH_FOUND", "Wrong authorization data")), 0
        if user != str(self.user_id) or code != self.code:
            return _error_reply(
                _ApiError(401, "INVALID_CREDENTIALS", "Invalid request credentials")
            ), 0
        if not self._admit():
            return _error_reply(_ApiError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")), 0
        now = time.time()
        handler: Callable[[dict[str, Any]], Any] | None = None
        if method != "batch":
            try:
                handler = self._lookup(method)
            except _ApiError as error:
                return _error_reply(error), 0
        if self.operating_limit is not None and (
            self._operating_used(method, now) > self.operating_limit
        ):
            error = _ApiError(
                429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."
            )
            return _error_reply(error), 0
        if handler is None:
            return self._batch(params, arrival, now)
        try:
            outcome = self._as_result(handler(params))
        except _ApiError as error:
            self._bill(method, self.latency, now)
            return _error_reply(error), 0
        delay = self.row_cost * outcome.rows
        cost = self.latency + delay
        self._bill(method, cost, now)
        payload: dict[str, Any] = {"result": outcome.result}
        if outcome.total is not None:
            payload["total"] = outcome.total
        if outcome.next is not None:
            payload["next"] = outcome.next
        timing = (cost, self._operating_used(method, now), self._operating_reset_at(method, now))
        return _Reply(status=200, payload=payload, delay=delay, timing=timing), outcome.rows

    def _lookup(self, method: str) -> Callable[[dict[str, Any]], Any]:
        entry = self._methods.get(method)
        if entry is None:
            raise _method_not_found()
        needed, handler = entry
        if needed and not any(scope in self.scopes for scope in needed):
            raise _ApiError(401, "insufficient_scope", _SCOPE_DESCRIPTION)
        return handler

    @staticmethod
    def _as_result(value: Any) -> _MethodResult:
        return value if isinstance(value, _MethodResult) else _MethodResult(value, rows=1)

    # --- limits -----------------------------------------------------------------------------

    def _admit(self) -> bool:
        """Leaky bucket: each request adds 1, the level drains at rate_limit per second."""
        if self.rate_limit is None:
            return True
        capacity = 50.0 if self.burst is None else float(self.burst)
        now = time.monotonic()
        drained = (now - self._bucket_time) * self.rate_limit
        self._bucket_level = max(0.0, self._bucket_level - drained)
        self._bucket_time = now
        if self._bucket_level + 1.0 > capacity:
            return False
        self._bucket_level += 1.0
        return True

    def _operating_used(self, method: str, now: float) -> float:
        window = self._operating.get(method)
        if not window:
            return 0.0
        while window and window[0][0] <= now - OPERATING_WINDOW:
            _, cost = window.popleft()
            self._operating_sum[method] -= cost
        if not window:
            self._operating_sum[method] = 0.0
        return max(0.0, self._operating_sum[method])

    def _operating_reset_at(self, method: str, now: float) -> int:
        window = self._operating.get(method)
        oldest = window[0][0] if window else now
        return int(oldest + OPERATING_WINDOW)

    def _bill(self, method: str, cost: float, now: float) -> None:
        if cost <= 0:
            return
        self._operating.setdefault(method, deque()).append((now, cost))
        self._operating_sum[method] = self._operating_sum.get(method, 0.0) + cost

    # --- batch ------------------------------------------------------------------------------

    def _batch(self, params: dict[str, Any], arrival: float, now: float) -> tuple[_Reply, int]:
        upper = _upper_keys(params)
        halt = _php_truthy(upper.get("HALT", False))
        commands = _items_of(upper.get("CMD"))
        if len(commands) > BATCH_MAX_COMMANDS:
            error = _ApiError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
            return _error_reply(error), 0
        parsed: list[tuple[str, str, str]] = []
        for label, call in commands:
            if not isinstance(call, str):
                continue  # the portal skips commands that are not strings
            path, _, query = call.partition("?")
            name = _normalize_method(path)
            if name == "batch":
                error = _ApiError(
                    405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage"
                )
                return _error_reply(error), 0
            parsed.append((label, name, query))

        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        nexts: dict[str, Any] = {}
        times: dict[str, Any] = {}
        refs = {"result": results, "error": errors, "total": totals, "next": nexts, "time": times}
        rows = 0
        delay = 0.0
        clock = arrival
        running = self._operating_used("batch", now) + self.latency
        reset_at = self._operating_reset_at("batch", now)
        for label, name, query in parsed:
            command_params = _substitute(parse_php_query(query), refs)
            fault = self._take_fault(name, inside_batch=True)
            if fault is not None and fault.kind in ("raw", "drop"):
                # A transport failure while running a command takes the whole answer down.
                return self._fault_reply(fault), 0
            if fault is not None and fault.kind == "stall":
                delay += fault.seconds
            try:
                if fault is not None and fault.kind == "fail":
                    raise _ApiError(fault.status, fault.error, fault.description)
                outcome = self._as_result(self._lookup(name)(command_params))
            except _ApiError as error:
                errors[label] = error.body()
                if halt:
                    break
                continue
            cost = self.row_cost * outcome.rows
            rows += outcome.rows
            delay += cost
            running += cost
            results[label] = outcome.result
            if outcome.total is not None:
                totals[label] = outcome.total
            if outcome.next is not None:
                nexts[label] = outcome.next
            times[label] = _time_block(clock, clock + cost, cost, running, reset_at)
            clock += cost
        self._bill("batch", self.latency + delay, now)
        payload = {
            "result": {
                "result": _php_array(results),
                "result_error": _php_array(errors),
                "result_total": _php_array(totals),
                "result_next": _php_array(nexts),
                "result_time": _php_array(times),
            }
        }
        timing = (self.latency + delay, running, reset_at)
        return _Reply(status=200, payload=payload, delay=delay, timing=timing), rows

    # --- storage helpers --------------------------------------------------------------------

    @staticmethod
    def _assign_ids(coll: _Collection, records: list[dict[str, Any]], id_key: str) -> None:
        # Missing ids continue upwards from the highest id seen so far, as autoincrement does.
        highest = coll.last_id
        for record in records:
            given = record.get(id_key)
            if given is None or given == "":
                highest += 1
                record[id_key] = highest
                continue
            number = _int_or_none(given)
            if number is None or number <= 0:
                raise ValueError(f"{id_key} must be a positive integer, got {given!r}")
            record[id_key] = number
            highest = max(highest, number)

    def _crm_collection(self, entity_type_id: int, *, create: bool = False) -> _Collection:
        entity_type_id = int(entity_type_id)
        if entity_type_id not in self._crm_items and create:
            # Tests may add items straight away; the type gets the next free smart-process id.
            type_id = max((row["id"] for row in self._crm_types.values()), default=0) + 1
            self.add_smart_process(entity_type_id, type_id=type_id, title=f"SPA {entity_type_id}")
        coll = self._crm_items.get(entity_type_id)
        if coll is None:
            raise KeyError(f"unknown smart process {entity_type_id}; call add_smart_process")
        return coll

    def _list_collection(self, iblock_id: int, *, create: bool = False) -> _Collection:
        iblock_id = int(iblock_id)
        if iblock_id not in self._list_elements and create:
            self.add_list(iblock_id, name=f"List {iblock_id}")
        coll = self._list_elements.get(iblock_id)
        if coll is None:
            raise KeyError(f"unknown list {iblock_id}; call add_list")
        return coll

    def _resolve_collection(self, collection: str) -> tuple[_Collection, str]:
        kind, _, number = collection.partition(":")
        if kind == "crm" and number:
            return self._crm_collection(int(number)), "id"
        if kind == "list" and number:
            return self._list_collection(int(number)), "ID"
        if collection == "user":
            return self._users, "ID"
        if collection == "department":
            return self._departments, "ID"
        raise KeyError(f"unknown collection {collection!r}")

    def _normalize_element(self, record: dict[str, Any]) -> dict[str, Any]:
        for key in [k for k in record if k.startswith("PROPERTY_")]:
            value = record[key]
            if value is None or value == [] or value == {}:
                del record[key]
            elif isinstance(value, dict):
                record[key] = {str(row): _lists_scalar(item) for row, item in value.items()}
            else:
                values = value if isinstance(value, list | tuple) else [value]
                record[key] = {str(self._next_value_row()): _lists_scalar(v) for v in values}
        return record

    def _next_value_row(self) -> int:
        self._value_row_id += 1
        return self._value_row_id

    @staticmethod
    def _normalize_user(record: dict[str, Any]) -> dict[str, Any]:
        active = record.get("ACTIVE", True)
        record["ACTIVE"] = active if isinstance(active, bool) else _as_bool(active)
        departments = record.get("UF_DEPARTMENT")
        if departments is None or departments == "":
            departments = []
        elif not isinstance(departments, list | tuple):
            departments = [departments]
        record["UF_DEPARTMENT"] = [int(item) for item in departments]
        return record

    @staticmethod
    def _normalize_department(record: dict[str, Any]) -> dict[str, Any]:
        record["SORT"] = int(record.get("SORT", 500))
        for key in ("PARENT", "UF_HEAD"):
            if record.get(key) in (None, "", 0, "0"):
                record.pop(key, None)
            else:
                record[key] = int(record[key])
        return record

    # --- crm --------------------------------------------------------------------------------

    def _entity_type(self, params: Mapping[str, Any]) -> int:
        raw = params.get("entityTypeId")
        if raw is None or raw == "":
            raise _ApiError(400, "100", "Could not find value for parameter {entityTypeId}")
        number = _int_or_none(raw)
        if number is None:
            raise _ApiError(
                400,
                "100",
                f"Invalid value {raw} to match with parameter {{entityTypeId}}. "
                "Should be value of type int",
            )
        if number not in self._crm_types:
            raise _ApiError(400, "NOT_FOUND", "Smart process not found")
        return number

    def _crm_descriptors(self, entity_type_id: int) -> dict[str, Any]:
        given = self._crm_fields[entity_type_id]
        if given is not None:
            return given
        coll = self._crm_items[entity_type_id]
        samples: dict[str, Any] = {}
        for record_id in coll.ids:
            for key, value in coll.rows[record_id].items():
                if samples.get(key) is None:
                    samples[key] = value
            if len(samples) == len(coll.keys) and all(v is not None for v in samples.values()):
                break
        names = [n for n in _CRM_BASE_TITLES if n in samples or n in ("id", "title")]
        names += sorted(k for k in samples if k not in _CRM_BASE_TITLES and k != "entityTypeId")
        descriptors = {}
        for name in names:
            kind, title = _CRM_BASE_TITLES.get(name, ("", name))
            inferred = _infer_crm_type(name, samples.get(name))
            descriptors[name] = {
                "type": kind or inferred["type"],
                "isRequired": False,
                "isReadOnly": name in ("id", "createdTime", "updatedTime", "createdBy"),
                "isImmutable": False,
                "isMultiple": bool(inferred.get("isMultiple", False)),
                "isDynamic": name.startswith("ufCrm"),
                "title": title,
                "upperName": _camel_to_upper(name),
                **({"settings": inferred["settings"]} if "settings" in inferred else {}),
            }
        return descriptors

    def _crm_known(self, entity_type_id: int) -> set[str]:
        given = self._crm_fields[entity_type_id] or {}
        return set(given) | self._crm_items[entity_type_id].keys | _CRM_ALWAYS_KNOWN

    def _crm_item_list(self, params: dict[str, Any]) -> _MethodResult:
        entity_type_id = self._entity_type(params)
        known = self._crm_known(entity_type_id)

        def resolve(name: str) -> str:
            if name not in known:
                raise _ApiError(
                    400,
                    "INVALID_ARG_VALUE",
                    f"Invalid filter: field '{name}' is not allowed in filter",
                )
            return name

        order = self._crm_order(params.get("order"), known)
        select = _as_list(params.get("select"))
        rows, total, nxt = _query(
            self._crm_items[entity_type_id],
            params.get("filter"),
            order,
            _start_of(params.get("start")),
            "id",
            resolve,
        )
        items = [self._crm_select(row, select, known) for row in rows]
        return _MethodResult({"items": items}, total, nxt, len(items))

    @staticmethod
    def _crm_order(order: Any, known: set[str]) -> list[tuple[str, bool]]:
        spec: list[tuple[str, bool]] = []
        for name, direction in _items_of(order):
            upper = str(direction).upper()
            if upper not in ("ASC", "DESC"):
                raise _ApiError(
                    400,
                    "INVALID_ARG_VALUE",
                    "Invalid order: allowed sort directions are ASC, DESC. "
                    f"But got '{direction}' for field '{name}'",
                )
            if name not in known:
                raise _ApiError(
                    400,
                    "INVALID_ARG_VALUE",
                    f"Invalid order: field '{name}' is not allowed in order",
                )
            spec.append((name, upper == "DESC"))
        return spec

    @staticmethod
    def _crm_select(
        record: Mapping[str, Any], select: list[Any] | None, known: set[str]
    ) -> dict[str, Any]:
        if not select or "*" in select:
            return dict(record)
        chosen: dict[str, Any] = {"id": record["id"]}
        for name in (str(item) for item in select):
            if name.endswith("*"):
                prefix = name[:-1]
                chosen.update({k: v for k, v in record.items() if k.startswith(prefix)})
            elif name in record:
                chosen[name] = record[name]
            elif name in known:
                chosen[name] = None
        return chosen

    def _crm_item_get(self, params: dict[str, Any]) -> dict[str, Any]:
        entity_type_id = self._entity_type(params)
        raw = params.get("id")
        if raw is None or raw == "":
            raise _ApiError(400, "100", "Could not find value for parameter {id}")
        record = self._crm_items[entity_type_id].rows.get(_int_or_none(raw) or 0)
        if record is None:
            raise _ApiError(400, "NOT_FOUND", "Element not found")
        return {"item": dict(record)}

    def _crm_item_fields(self, params: dict[str, Any]) -> dict[str, Any]:
        entity_type_id = self._entity_type(params)
        return {"fields": copy.deepcopy(self._crm_descriptors(entity_type_id))}

    def _crm_type_list(self, params: dict[str, Any]) -> _MethodResult:
        if not self.crm_admin:
            raise _ApiError(400, "ACCESS_DENIED", "Access denied")
        coll = _Collection()
        coll.insert([dict(row) for row in self._crm_types.values()], "id")
        known = {name for row in self._crm_types.values() for name in row} | {"id"}
        order = self._crm_order(params.get("order"), known)
        start = _start_of(params.get("start"))
        rows, total, nxt = _query(coll, params.get("filter"), order, start, "id", lambda n: n)
        return _MethodResult({"types": rows}, total, nxt, len(rows))

    def _crm_type_get(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = _int_or_none(params.get("id"))
        for row in self._crm_types.values():
            if row["id"] == wanted:
                return {"type": dict(row)}
        raise _ApiError(400, "NOT_FOUND", "Smart process not found")

    def _crm_type_get_by_entity_type_id(self, params: dict[str, Any]) -> dict[str, Any]:
        entity_type_id = self._entity_type(params)
        return {"type": dict(self._crm_types[entity_type_id])}

    # --- lists ------------------------------------------------------------------------------

    def _iblock(self, params: Mapping[str, Any]) -> int:
        type_id = params.get("IBLOCK_TYPE_ID")
        if not type_id:
            raise _ApiError(
                400,
                "ERROR_REQUIRED_PARAMETERS_MISSING",
                'Required parameter "IBLOCK_TYPE_ID" is missing',
            )
        raw_id, raw_code = params.get("IBLOCK_ID"), params.get("IBLOCK_CODE")
        if not raw_id and not raw_code:
            raise _ApiError(
                400,
                "ERROR_REQUIRED_PARAMETERS_MISSING",
                'Required parameter "IBLOCK_ID" is missing',
            )
        for iblock_id, info in self._lists.items():
            if raw_id:
                same = _int_or_none(raw_id) == iblock_id
            else:
                same = raw_code == info["CODE"]
            if same and info["IBLOCK_TYPE_ID"] == type_id:
                return iblock_id
        raise _ApiError(400, "ERROR_IBLOCK_NOT_FOUND", "Iblock not found")

    def _lists_get(self, params: dict[str, Any]) -> _MethodResult:
        upper = _upper_keys(params)
        type_id = upper.get("IBLOCK_TYPE_ID")
        if not type_id:
            raise _ApiError(
                400,
                "ERROR_REQUIRED_PARAMETERS_MISSING",
                'Required parameter "IBLOCK_TYPE_ID" is missing',
            )
        coll = _Collection()
        rows = [
            {**info, "ID": iblock_id}
            for iblock_id, info in sorted(self._lists.items())
            if info["IBLOCK_TYPE_ID"] == type_id
        ]
        coll.insert(rows, "ID")
        spec = {}
        if upper.get("IBLOCK_ID"):
            spec["ID"] = upper["IBLOCK_ID"]
        elif upper.get("IBLOCK_CODE"):
            spec["CODE"] = upper["IBLOCK_CODE"]
        page, total, nxt = _query(
            coll, spec, [], _start_of(upper.get("START")), "ID", lambda name: name
        )
        result = [{**row, "ID": str(row["ID"])} for row in page]
        return _MethodResult(result, total, nxt, len(result))

    def _lists_field_get(self, params: dict[str, Any]) -> dict[str, Any]:
        upper = _upper_keys(params)
        iblock_id = self._iblock(upper)
        descriptors = self._list_descriptors(iblock_id)
        wanted = upper.get("FIELD_ID")
        if wanted:
            descriptors = {k: v for k, v in descriptors.items() if k == wanted}
        return copy.deepcopy(descriptors)

    def _list_descriptors(self, iblock_id: int) -> dict[str, Any]:
        given = self._list_fields[iblock_id]
        if given is not None:
            return given
        coll = self._list_elements[iblock_id]
        multiple = {
            key
            for record in coll.rows.values()
            for key, value in record.items()
            if key.startswith("PROPERTY_") and isinstance(value, dict) and len(value) > 1
        }
        descriptors: dict[str, Any] = {
            "NAME": {
                "FIELD_ID": "NAME",
                "SORT": 10,
                "NAME": "Название",
                "IS_REQUIRED": "Y",
                "MULTIPLE": "N",
                "DEFAULT_VALUE": "",
                "TYPE": "NAME",
            }
        }
        properties = sorted(
            (k for k in coll.keys if k.startswith("PROPERTY_")), key=lambda k: (len(k), k)
        )
        for position, key in enumerate(properties, start=2):
            descriptors[key] = {
                "FIELD_ID": key,
                "SORT": position * 10,
                "NAME": key,
                "IS_REQUIRED": "N",
                "MULTIPLE": "Y" if key in multiple else "N",
                "DEFAULT_VALUE": "",
                "TYPE": "S",
                "PROPERTY_TYPE": "S",
                "CODE": None,
                "ID": key.removeprefix("PROPERTY_"),
                "LINK_IBLOCK_ID": None,
            }
        return descriptors

    def _lists_element_get(self, params: dict[str, Any]) -> _MethodResult:
        upper = _upper_keys(params)
        iblock_id = self._iblock(upper)
        spec: dict[str, Any] = dict(_items_of(upper.get("FILTER")))
        if upper.get("ELEMENT_ID"):
            spec["=ID"] = upper["ELEMENT_ID"]
        if upper.get("ELEMENT_CODE"):
            spec["=CODE"] = upper["ELEMENT_CODE"]
        order = [
            (str(name).upper(), str(direction).lower() == "desc")
            for name, direction in _items_of(upper.get("ELEMENT_ORDER"))
        ]
        select = _as_list(upper.get("SELECT"))
        rows, total, nxt = _query(
            self._list_elements[iblock_id],
            spec,
            order,
            _start_of(upper.get("START")),
            "ID",
            lambda name: name.upper(),
        )
        return _MethodResult([self._render_element(r, select) for r in rows], total, nxt, len(rows))

    @staticmethod
    def _render_element(record: Mapping[str, Any], select: list[Any] | None) -> dict[str, Any]:
        if select and "*" not in select:
            names = ["ID", *(str(s).upper() for s in select if str(s).upper() != "ID")]
        else:
            names = list(record)
        rendered: dict[str, Any] = {}
        for name in names:
            if name not in record:
                continue
            value = record[name]
            if isinstance(value, dict):
                rendered[name] = {row: _lists_scalar(item) for row, item in value.items()}
            else:
                rendered[name] = _lists_scalar(value)
        return rendered

    # --- users and departments --------------------------------------------------------------

    def _user_get(self, params: dict[str, Any]) -> _MethodResult:
        upper = _upper_keys(params)
        # As in the portal's userGet: FILTER when it is an array, else the top-level keys.
        raw_filter = upper.get("FILTER")
        if isinstance(raw_filter, dict | list):
            spec: Any = {str(k).upper(): v for k, v in _items_of(raw_filter)}
        else:
            spec = {k: v for k, v in upper.items() if k not in _RESERVED_TOP_LEVEL}
        allowed = set(USER_FIELD_TITLES) | self._users.keys

        def resolve(name: str) -> str | None:
            name = name.upper()
            return name if name in allowed else None  # the portal drops unknown filter keys

        sort, direction = upper.get("SORT"), upper.get("ORDER")
        order = [("ID", False)]
        if isinstance(sort, str) and sort and isinstance(direction, str) and direction:
            order = [(sort.upper(), direction.upper() == "DESC")]
        rows, total, nxt = _query(
            self._users, spec, order, _start_of(upper.get("START")), "ID", resolve
        )
        select = _as_list(upper.get("SELECT"))
        result = [self._render_user(row, select) for row in rows]
        return _MethodResult(result, total, nxt, len(result))

    def _render_user(self, record: Mapping[str, Any], select: list[Any] | None) -> dict[str, Any]:
        hidden = (
            _BRIEF_HIDDEN
            if "user_brief" in self.scopes and not {"user", "user_basic"} & set(self.scopes)
            else frozenset()
        )
        wanted = None
        if select and "*" not in select:
            wanted = {str(s).upper() for s in select}
        rendered: dict[str, Any] = {}
        for key, value in record.items():
            if key in hidden:
                continue
            if wanted is not None and key not in wanted:
                if not ("UF_*" in wanted and key.startswith("UF_")):
                    continue
            if key == "ID":
                value = str(value)
            elif key == "UF_DEPARTMENT":
                value = list(value)
            rendered[key] = value
        return rendered

    def _user_current(self, params: dict[str, Any]) -> dict[str, Any]:
        record = self._users.rows.get(self.user_id)
        if record is None:
            return {"ID": str(self.user_id), "ACTIVE": True}
        return self._render_user(record, None)

    def _user_fields(self, params: dict[str, Any]) -> dict[str, str]:
        titles = dict(USER_FIELD_TITLES)
        for key in sorted(self._users.keys - set(titles)):
            titles[key] = key
        return titles

    def _department_get(self, params: dict[str, Any]) -> _MethodResult:
        # Lower-case sort/order choose the order; upper-case keys are exact-match filters.
        sort = params.get("sort")
        direction = params.get("order") or params.get("ORDER") or "ASC"
        spec: dict[str, Any] = {}
        start = 0
        for key, value in params.items():
            upper = str(key).upper()
            if upper == "START":
                start = _start_of(value)
            elif key not in ("sort", "order") and upper in DEPARTMENT_FIELD_TITLES:
                spec[f"={upper}"] = value
        order = [("ID", False)]
        if isinstance(sort, str) and sort:
            order = [(sort.upper(), str(direction).upper() == "DESC")]
        rows, total, nxt = _query(self._departments, spec, order, start, "ID", lambda n: n)
        result = [self._render_department(row) for row in rows]
        return _MethodResult(result, total, nxt, len(result))

    @staticmethod
    def _render_department(record: Mapping[str, Any]) -> dict[str, Any]:
        rendered = {**record, "ID": str(record["ID"])}
        for key in ("PARENT", "UF_HEAD"):
            if key in record:
                rendered[key] = str(record[key])
        return rendered

    def _department_fields(self, params: dict[str, Any]) -> dict[str, str]:
        return dict(DEPARTMENT_FIELD_TITLES)

    # --- basic --------------------------------------------------------------------------------

    def _scope(self, params: dict[str, Any]) -> list[str]:
        return list(self.scopes)

    def _profile(self, params: dict[str, Any]) -> dict[str, Any]:
        record = self._users.rows.get(self.user_id, {})
        return {
            "ID": str(self.user_id),
            "ADMIN": self.crm_admin,
            "NAME": record.get("NAME", ""),
            "LAST_NAME": record.get("LAST_NAME", ""),
            "PERSONAL_GENDER": record.get("PERSONAL_GENDER", ""),
            "TIME_ZONE": record.get("TIME_ZONE", ""),
        }

    def _server_time(self, params: dict[str, Any]) -> str:
        return _iso(time.time())


def self_signed_tls(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and its PEM file.

    Clients trust it through the PEM file (REQUESTS_CA_BUNDLE, SSL_CERT_FILE or verify=...).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "fake-portal.pem", folder / "fake-portal.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Keep-alive connections park a handler thread; stop() must not wait for them.
    block_on_close = False
    ssl_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, not in the accept loop.
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        try:
            secure = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(secure, client_address)
        finally:
            with contextlib.suppress(OSError):
                secure.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer (timeouts, dropped connections) are part of the tests.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 120
    # Headers and body go out in two writes; without TCP_NODELAY each answer waits ~40 ms
    # for the client's delayed ACK, which would dominate every benchmark.
    disable_nagle_algorithm = True
    portal: FakePortal

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(self.rfile.read(length) if length > 0 else b"")

    def _serve(self, body: bytes) -> None:
        reply = self.portal._respond(self.path, body, self.headers.get("Content-Type", ""))
        if reply.delay > 0:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        data = reply.render()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        return
