"""The ``batch`` method: up to 50 commands in one request, chained by ``$result[...]`` references.

As ``CRestProvider::methodsBatch`` and ``CRestUtil::processBatchElement`` do
(modules/rest/classes/general/rest_provider.php, rest_util.php in bitrix-core-business):

* ``$result[label][k]...`` (also ``$next``, ``$total``, ``$time``, ``$error``) in a command is
  substituted after the command's query string has been parsed, keys and values alike. The
  walk goes down the path while ``isset($r[$key])`` holds and stops at the first missing key;
  the deepest value reached (a page array, or the whole result map when ``label`` did not run)
  is what the command gets when the reference is the whole parameter value. Inside a longer
  string a number is inserted as text, and anything else (an array, null) leaves the
  reference there literally.
* What a method does with an array where it expects an id is not in the sources; here a
  comparison with an array matches nothing (filters.py), so a command chained past a short
  page returns an empty page.
* More than 50 commands is not a whole-request error: every command past the 50th gets
  ERROR_BATCH_LENGTH_EXCEEDED in ``result_error`` (with ``halt`` the batch stops there).
* Failed commands get no ``result_time`` entry (only successful ones carry ``time``);
  ``halt`` follows PHP truthiness, so the form value ``"false"`` means true.
* Every ``result_time`` entry reports the running batch figure as ``operating`` (the whole
  batch is billed to the method ``batch``, see limits.py).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.testing.envelope import ApiError, Reply, as_result, error_reply, time_block
from app.testing.methods import normalize_method
from app.testing.php_query import (
    items_of,
    parse_php_query,
    php_array,
    php_truthy,
    upper_keys,
)

if TYPE_CHECKING:
    from app.testing.dispatch import Dispatcher

BATCH_MAX_COMMANDS = 50
_TOO_LONG = ApiError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")

_REF_RE = re.compile(r"\$(result|next|total|time|error)(\S*)", re.IGNORECASE)
_PATH_RE = re.compile(r"\[([^\]]+)\]")
_UNSET = object()


# --- references -------------------------------------------------------------------------------


def _isset(node: Any, key: str) -> Any:
    """``$node[$key]`` when PHP's isset() holds for it, else _UNSET."""
    if isinstance(node, dict):
        value = node.get(key, _UNSET)
    elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
        value = node[int(key)]
    else:
        return _UNSET
    return _UNSET if value is None else value


def _resolve_ref(kind: str, path: str, refs: Mapping[str, Any]) -> Any:
    # $arResult[$arMatch[1]]: the map is looked up with the spelling the command used.
    node: Any = refs.get(kind)
    for key in _PATH_RE.findall(path):
        value = _isset(node, key)
        if value is _UNSET:
            break
        node = value
    return node


def _substitute_text(text: str, refs: Mapping[str, Any]) -> Any:
    value: Any = text
    for match in list(_REF_RE.finditer(text)):
        if not _PATH_RE.search(match.group(2)):
            continue
        found = _resolve_ref(match.group(1), match.group(2), refs)
        if match.group(0) == value:
            value = copy.deepcopy(found)  # PHP copies the array; later commands do not show
            continue
        if isinstance(found, bool) or not isinstance(found, int | float | str):
            continue  # not a string: the reference stays as it was
        if isinstance(value, str):
            value = value.replace(match.group(0), str(found))
    return value


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
    """(label, method, query) of each command; ApiError for a batch the portal refuses.

    A command past the 50th gets the method name ``""``: it answers LENGTH_EXCEEDED alone.
    """
    parsed: list[tuple[str, str, str]] = []
    for label, call in items_of(params.get("CMD")):
        if not isinstance(call, str):
            continue  # the portal skips commands that are not strings
        path, _, query = call.partition("?")
        name = normalize_method(path)
        if name == "batch":
            raise ApiError(
                405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage"
            )
        parsed.append((label, name if len(parsed) < BATCH_MAX_COMMANDS else "", query))
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
        if not name:
            errors[label] = _TOO_LONG.body()
            if halt:
                break
            continue
        command_params = substitute(parse_php_query(query), refs)
        fault = calls.faults.take(name, command_params, inside_batch=True)
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
        times[label] = time_block(clock, clock + cost, cost, running, reset_at,
                                  calls.options.zone)
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
    busy = calls.options.busy_row_cost * rows
    timing = (latency + delay + busy, running, reset_at)
    return Reply(status=200, payload=payload, delay=delay, timing=timing, busy=busy), rows
