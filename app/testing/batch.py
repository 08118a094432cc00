"""The ``batch`` method: up to 50 commands in one request, chained by ``$result[...]`` references.

* ``$result[label][k]...`` in a command is substituted after the command's query string has
  been parsed (keys and values, as ``CRestUtil::processBatchStructure`` does). A path that
  does not resolve becomes an empty string. The real code keeps the deepest value it found
  instead; clients must not rely on either, so a short page must end a keyset chain. In an id
  comparison the empty string acts as 0 (MySQL casts it so), so a command chained to a
  missing row returns the first page again.
* Failed commands get no ``result_time`` entry (only successful ones carry ``time``);
  ``halt`` follows PHP truthiness, so the form value ``"false"`` means true.
* Every ``result_time`` entry reports the running batch figure as ``operating`` (the whole
  batch is billed to the method ``batch``, see limits.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.testing.envelope import ApiError, Reply, as_result, error_reply, time_block
from app.testing.methods import normalize_method
from app.testing.php_query import (
    SEGMENT_RE,
    items_of,
    parse_php_query,
    php_array,
    php_truthy,
    upper_keys,
)

if TYPE_CHECKING:
    from app.testing.dispatch import Dispatcher

BATCH_MAX_COMMANDS = 50

_REF_RE = re.compile(r"\$(result|next|total|time|error)((?:\[[^\[\]]*\])+)", re.IGNORECASE)


# --- references -------------------------------------------------------------------------------


def _resolve_ref(kind: str, path: str, refs: Mapping[str, Any]) -> Any:
    node: Any = refs[kind.lower()]
    for key in SEGMENT_RE.findall(path):
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


def substitute(value: Any, refs: Mapping[str, Any]) -> Any:
    """Replace ``$result[...]``-style references in parsed parameters, keys included."""
    if isinstance(value, dict):
        return {
            (_substitute_text(k, refs) if "$" in k else k): substitute(v, refs)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [substitute(item, refs) for item in value]
    if isinstance(value, str) and "$" in value:
        return _substitute_text(value, refs)
    return value


# --- the method -------------------------------------------------------------------------------


def _commands(params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, method, query) of each command; ApiError for a batch the portal refuses."""
    commands = items_of(params.get("CMD"))
    if len(commands) > BATCH_MAX_COMMANDS:
        raise ApiError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
    parsed: list[tuple[str, str, str]] = []
    for label, call in commands:
        if not isinstance(call, str):
            continue  # the portal skips commands that are not strings
        path, _, query = call.partition("?")
        name = normalize_method(path)
        if name == "batch":
            raise ApiError(
                405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage"
            )
        parsed.append((label, name, query))
    return parsed


def run_batch(
    calls: Dispatcher, params: dict[str, Any], arrival: float, now: float
) -> tuple[Reply, int]:
    """Run the commands in order; the reply and the rows they returned."""
    upper = upper_keys(params)
    halt = php_truthy(upper.get("HALT", False))
    try:
        parsed = _commands(upper)
    except ApiError as error:
        return error_reply(error), 0

    latency, row_cost = calls.options.latency, calls.options.row_cost
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}
    refs = {"result": results, "error": errors, "total": totals, "next": nexts, "time": times}
    rows = 0
    delay = 0.0
    clock = arrival
    running = calls.operating.used("batch", now) + latency
    reset_at = calls.operating.reset_at("batch", now)
    for label, name, query in parsed:
        command_params = substitute(parse_php_query(query), refs)
        fault = calls.faults.take(name, inside_batch=True)
        if fault is not None and fault.kind in ("raw", "drop"):
            # A transport failure while running a command takes the whole answer down.
            return fault.reply(), 0
        if fault is not None and fault.kind == "stall":
            delay += fault.seconds
        try:
            if fault is not None and fault.kind == "fail":
                raise fault.api_error()
            outcome = as_result(calls.lookup(name)(command_params))
        except ApiError as error:
            errors[label] = error.body()
            if halt:
                break
            continue
        cost = row_cost * outcome.rows
        rows += outcome.rows
        delay += cost
        running += cost
        results[label] = outcome.result
        if outcome.total is not None:
            totals[label] = outcome.total
        if outcome.next is not None:
            nexts[label] = outcome.next
        times[label] = time_block(clock, clock + cost, cost, running, reset_at)
        clock += cost
    calls.operating.bill("batch", latency + delay, now)
    payload = {
        "result": {
            "result": php_array(results),
            "result_error": php_array(errors),
            "result_total": php_array(totals),
            "result_next": php_array(nexts),
            "result_time": php_array(times),
        }
    }
    timing = (latency + delay, running, reset_at)
    return Reply(status=200, payload=payload, delay=delay, timing=timing), rows
