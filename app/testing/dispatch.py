"""One HTTP request to an answer: route, authorization, limits, faults, scope, method, billing.

Methods of the ``basic`` scope (batch, scope) are always allowed.

The webhook check follows ``Auth::onRestCheckAuth`` (modules/rest/lib/apauth/auth.php in
bitrix-core-business): plain http first (INVALID_REQUEST "Https required."), then the code
(INVALID_CREDENTIALS), then a webhook blocked by support (OVERLOAD_LIMIT), then a plan without
REST (ACCESS_DENIED "REST is available only on commercial plans."), then the webhook's owner
(authorization_error "Unable to authorize user": ``CRestUtil::makeAuth`` fails for a
deactivated user). Every one of them comes as an ``OAuthException``, so always with HTTP 401,
whatever the docs' error table says.

A cloud portal cuts any request at 60 s (docs: settings/performance/limits.md). What the client
then sees is not documented; here, the front end answers 504 with an nginx page after
``request_cut`` seconds (or drops the connection when ``cut_answer`` is "drop"), while the
method's time is billed in full.
"""

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from app.testing.batch import run_batch
from app.testing.envelope import (
    GATEWAY_TIMEOUT_PAGE,
    ApiError,
    Reply,
    as_result,
    error_reply,
    method_not_found,
)
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
    at: float = 0.0  # time.time() on arrival, this machine's clock (the benchmark's start-up)


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
        received = time.time()
        arrival = received + self.options.clock_offset  # the portal's clock (clock.py)
        split = urlsplit(raw_path)
        params = parse_php_query(split.query)
        if body:
            params.update(decode_body(body, content_type))
        kind, user, code, method = route(split.path)
        with self.lock:
            reply, rows = self._respond_locked(kind, user, code, method, params, arrival)
            status = 0 if reply.drop else reply.status
            self.log.append(RequestRecord(method or "", params, status, rows, received))
        reply.arrival = arrival
        reply.clock_offset = self.options.clock_offset
        reply.zone = self.options.zone
        reply.delay += self.options.latency
        return self._cut(reply)

    def _cut(self, reply: Reply) -> Reply:
        cut = self.options.request_cut
        if cut is None or reply.delay <= cut:
            return reply
        if self.options.cut_answer == "drop":
            return Reply(status=0, drop=True, delay=cut, arrival=reply.arrival)
        return Reply(status=504, raw=GATEWAY_TIMEOUT_PAGE, content_type="text/html",
                     delay=cut, arrival=reply.arrival)

    def _webhook_refusal(self, user: str | None, code: str | None) -> ApiError | None:
        options = self.options
        if options.https_required and not options.serves_https:
            return ApiError(401, "INVALID_REQUEST", "Https required.")
        if user != str(options.user_id) or code != options.code:
            return ApiError(401, "INVALID_CREDENTIALS", "Invalid request credentials")
        if options.overloaded:
            return ApiError(401, "OVERLOAD_LIMIT", "REST API is blocked due to overload.")
        if not options.rest_on_plan:
            return ApiError(401, "ACCESS_DENIED", "REST is available only on commercial plans.")
        if not options.owner_active:
            return ApiError(401, "authorization_error", "Unable to authorize user")
        return None

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
        fault = self.faults.take(method, params, inside_batch=False)
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
        refused = self._webhook_refusal(user, code)
        if refused is not None:
            return error_reply(refused), 0
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
