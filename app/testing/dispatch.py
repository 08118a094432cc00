"""One HTTP request to an answer: route, authorization, limits, faults, scope, method, billing.

Methods of the ``basic`` scope (batch, scope) are always allowed.
"""

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from app.testing.batch import run_batch
from app.testing.envelope import ApiError, Reply, as_result, error_reply, method_not_found
from app.testing.faults import FaultQueue
from app.testing.limits import LeakyBucket, OperatingTime
from app.testing.methods import Handler, MethodTable, normalize_method
from app.testing.options import PortalOptions
from app.testing.php_query import decode_body, parse_php_query


class RequestRecord(NamedTuple):
    """One HTTP request as the portal saw it; status 0 means the connection was dropped."""

    method: str
    params: dict[str, Any]
    status: int
    rows: int


def route(path: str) -> tuple[str, str | None, str | None, str | None]:
    """Classify a request path: ("ok", user, code, method), ("noauth", ...) or ("missing", ...)."""
    parts = [unquote(part) for part in path.split("/") if part]
    if not parts or parts[0].lower() != "rest":
        return "missing", None, None, None
    rest = parts[1:]
    if len(rest) == 3:
        return "ok", rest[0], rest[1], normalize_method(rest[2])
    if len(rest) == 1:
        return "noauth", None, None, normalize_method(rest[0])
    # A webhook path without the user id is mis-parsed by the portal into an unknown method.
    return "missing", None, None, None


class Dispatcher:
    """Answers requests from the method table under the portal's lock, keeping the request log."""

    def __init__(
        self,
        options: PortalOptions,
        methods: MethodTable,
        lock: threading.RLock,
        bucket_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.methods = methods
        self.lock = lock
        self.faults = FaultQueue()
        self.bucket = LeakyBucket(bucket_clock)
        self.operating = OperatingTime()
        self.log: list[RequestRecord] = []

    def respond(self, raw_path: str, body: bytes, content_type: str) -> Reply:
        arrival = time.time()
        split = urlsplit(raw_path)
        params = parse_php_query(split.query)
        if body:
            params.update(decode_body(body, content_type))
        kind, user, code, method = route(split.path)
        with self.lock:
            reply, rows = self._respond_locked(kind, user, code, method, params, arrival)
            status = 0 if reply.drop else reply.status
            self.log.append(RequestRecord(method or "", params, status, rows))
        reply.arrival = arrival
        reply.delay += self.options.latency
        return reply

    def lookup(self, method: str) -> Handler:
        return self.methods.lookup(method, self.options.scopes)

    def _respond_locked(
        self,
        kind: str,
        user: str | None,
        code: str | None,
        method: str | None,
        params: dict[str, Any],
        arrival: float,
    ) -> tuple[Reply, int]:
        if kind == "missing" or method is None:
            return error_reply(method_not_found()), 0
        stall, hold = 0.0, None
        fault = self.faults.take(method, inside_batch=False)
        if fault is not None:
            if fault.kind == "stall":
                stall = fault.seconds
            elif fault.kind == "hold":
                hold = fault.hold
            else:
                return fault.reply(), 0
        reply, rows = self._authorized_call(kind, user, code, method, params, arrival)
        reply.delay += stall
        if hold is not None:
            reply.hold = hold.keep
        return reply, rows

    def _authorized_call(
        self,
        kind: str,
        user: str | None,
        code: str | None,
        method: str,
        params: dict[str, Any],
        arrival: float,
    ) -> tuple[Reply, int]:
        options = self.options
        if kind == "noauth":
            return error_reply(ApiError(401, "NO_AUTH_FOUND", "Wrong authorization data")), 0
        if user != str(options.user_id) or code != options.code:
            return error_reply(
                ApiError(401, "INVALID_CREDENTIALS", "Invalid request credentials")
            ), 0
        if not self.bucket.admit(options.rate_limit, options.burst):
            return error_reply(ApiError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")), 0
        now = time.time()
        handler: Handler | None = None
        if method != "batch":
            try:
                handler = self.lookup(method)
            except ApiError as error:
                return error_reply(error), 0
        if options.operating_limit is not None and (
            self.operating.used(method, now) > options.operating_limit
        ):
            error = ApiError(
                429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."
            )
            return error_reply(error), 0
        if handler is None:
            return run_batch(self, params, arrival, now)
        try:
            outcome = as_result(handler(params))
        except ApiError as error:
            self.operating.bill(method, options.latency, now)
            return error_reply(error), 0
        delay = options.row_cost * outcome.rows
        cost = options.latency + delay
        self.operating.bill(method, cost, now)
        payload: dict[str, Any] = {"result": outcome.result}
        if outcome.total is not None:
            payload["total"] = outcome.total
        if outcome.next is not None:
            payload["next"] = outcome.next
        timing = (cost, self.operating.used(method, now), self.operating.reset_at(method, now))
        return Reply(status=200, payload=payload, delay=delay, timing=timing), outcome.rows
