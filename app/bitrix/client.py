"""Bitrix24 REST client over an incoming webhook: calls, paging, retries, error mapping."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from app.bitrix import transport
from app.bitrix.limits import OperatingBudget, RateLimiter, limiter_for
from app.bitrix.outage import DOWN_BUDGET, Outage, Tries
from app.bitrix.php_query import BatchRef, php_query
from app.bitrix.tls import SharedContextAdapter
from app.config import MAX_RESPONSE_MB, Settings
from app.errors import (
    IncompleteReadError,
    PortalAuthError,
    PortalCutOffError,
    PortalDatabaseError,
    PortalError,
    PortalMethodError,
    PortalOverloadError,
    PortalPlanError,
    PortalRetriableError,
    PortalTransportError,
)
from app.masking import mask
from app.messages import say

__all__ = ["BatchRef", "BatchResult", "Bitrix24Client", "php_query"]

log = logging.getLogger(__name__)

PAGE_SIZE = 50
BATCH_SIZE = 50
# Batches of one batch_all() sent at the same time (the shared limiter still paces them).
BATCHES_AT_ONCE = 8
USER_AGENT = "bitrix-sync/1.0"

_AUTH_CODES = {"invalid_credentials", "no_auth_found", "expired_token", "invalid_token",
               "wrong_auth_type", "invalid_request", "authorization_error"}
_RETRY_CODES = {"query_limit_exceeded", "internal_server_error", "error_unexpected_answer",
                "operation_time_limit"}


class Bitrix24Client:
    """Talks to one portal through its webhook URL; safe to share between threads.

    Transport: `timeout` bounds the whole request, body included (see
    app.bitrix.transport); an answer larger than `max_response_bytes` is
    stopped and fails the run. Loopback is never asked through a proxy.

    Retry policy: transport failures (no connection, timeouts, bodies cut off or
    not JSON) are retried on one schedule shared by every thread of the client
    (app.bitrix.outage.Outage): one WARNING per retry round, one error when the
    portal is given up on (within `down_budget` seconds when it cannot be
    connected to at all). 5xx and QUERY_LIMIT_EXCEEDED answers are retried per
    call with exponential backoff and jitter, at most `max_retries` times and
    within `retry_budget` seconds in all for one call; each retry is a WARNING
    naming the method, never the URL. A QUERY_LIMIT_EXCEEDED also marks the
    shared rate limiter full. A 429
    OPERATION_TIME_LIMIT is not a failure but a pause: the call waits until the
    method's budget frees (`operating_reset_at`, see OperatingBudget) and goes
    on, within `operating_wait_budget` seconds. Auth errors, OVERLOAD_LIMIT (a
    manual block by Bitrix24 support) and method errors (unknown method, access
    denied, bad parameters) are never retried.

    Every request first takes a slot from `limiter` (by default the one set
    for this portal with app.bitrix.limits.use_limits, if any) and waits out a method
    whose operating time is close to its budget.
    """

    def __init__(
        self,
        webhook_url: str,
        *,
        timeout: float = 60.0,
        verify_ssl: bool = True,
        max_retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        retry_budget: float = 300.0,
        down_budget: float = DOWN_BUDGET,
        max_response_bytes: int = MAX_RESPONSE_MB * 2**20,
        operating_wait_budget: float = 660.0,
        limiter: RateLimiter | None = None,
        operating: OperatingBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        batch_commands: int = BATCH_SIZE,
    ) -> None:
        self.base_url = webhook_url.rstrip("/") + "/"
        # Commands a list read puts in one batch (at most the portal's 50); tests use fewer
        # so that request budgets show on small lists.
        self.batch_commands = max(1, min(BATCH_SIZE, batch_commands))
        self.timeout = timeout
        self.verify_ssl = verify_ssl
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.retry_budget = retry_budget
        self.max_response_bytes = max_response_bytes
        self.outage = Outage(max_retries=max_retries, delay=self.backoff_delay,
                             retry_budget=retry_budget, down_budget=down_budget)
        self.operating_wait_budget = operating_wait_budget
        self.limiter = limiter or limiter_for(self.base_url)
        self.operating = operating or OperatingBudget()
        self._sessions: list[requests.Session] = []
        self._generation = 0
        self._local = threading.local()
        self._lock = threading.Lock()
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"Bitrix24Client({mask(self.base_url)!r})"

    @property
    def session(self) -> requests.Session:
        """This thread's HTTP session (requests sessions are not thread-safe)."""
        session = getattr(self._local, "session", None)
        # A session closed by close() is not used again: its adapters would open new
        # connections that no later close() knows of.
        if session is None or getattr(self._local, "generation", None) != self._generation:
            session = requests.Session()
            session.mount("https://", SharedContextAdapter())  # one TLS context for all
            session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
            self._local.session, self._local.generation = session, self._generation
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every connection; the client stays usable and opens new ones as needed."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
            self._generation += 1
        for session in sessions:
            session.close()

    def pause(self, seconds: float, cancel: threading.Event) -> bool:
        """Wait `seconds` (through the injected `sleep`, if any); True when `cancel` was set."""
        if self.sleep is time.sleep:
            return cancel.wait(seconds)
        self.sleep(seconds)
        return cancel.is_set()

    def backoff_delay(self, attempt: int) -> float:
        """The pause before retry number `attempt` (1-based): exponential, capped, jittered."""
        delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)

    @classmethod
    def from_settings(cls, settings: Settings, *, max_retries: int | None = None
                      ) -> Bitrix24Client:
        """The client a run uses: timeout, TLS check, retries and size cap from the settings."""
        retries = settings.bitrix_max_retries
        return cls(settings.webhook_url, timeout=settings.bitrix_timeout,
                   verify_ssl=settings.bitrix_verify_ssl,
                   max_retries=retries if max_retries is None else min(max_retries, retries),
                   max_response_bytes=int(settings.bitrix_max_response_mb * 2**20))

    # -- one call -------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None, *,
             billed: tuple[str, ...] = (), retry_cut_off: bool = True) -> dict[str, Any]:
        """Call one method and return the whole envelope (result, total, next, time).

        `billed` names further methods whose operating budget the call spends
        (the commands of a batch). With `retry_cut_off` false a request the
        portal cut off (PortalCutOffError) is raised at once: the caller sends
        less instead.
        """
        started = time.monotonic()
        attempt = 0
        blocked = 0.0
        tries = Tries()
        while True:
            self._respect_budget(method, billed)
            sent = self.outage.clock()
            try:
                envelope = self._post_once(method, params or {})
            except PortalTransportError as exc:
                if isinstance(exc, PortalCutOffError) and not retry_cut_off:
                    raise
                self.sleep(self.outage.failed(exc, sent, tries))
                continue
            except PortalRetriableError as exc:
                code = (exc.code or "").lower()
                if code == "operation_time_limit":
                    wait = self.operating.blocked_wait(method)
                    blocked += wait
                    if blocked > self.operating_wait_budget:
                        raise self._give_up(exc, attempt + 1) from None
                    log.warning(say("log.time_budget_wait", method=method, wait=wait))
                    self.sleep(wait)
                    continue
                if code == "query_limit_exceeded" and self.limiter is not None:
                    self.limiter.saturate()
                attempt += 1
                delay = self.backoff_delay(attempt)
                spent = time.monotonic() - started
                if attempt > retries_for(exc, self.max_retries) or \
                        spent + delay > self.retry_budget:
                    raise self._give_up(exc, attempt) from None
                log.warning(say("log.retry", method=method, error=exc, attempt=attempt,
                                retries=self.max_retries, delay=delay))
                self.sleep(delay)
                continue
            self.outage.succeeded()
            self.operating.observe(method, envelope.get("time"))
            return envelope

    def _respect_budget(self, method: str, billed: tuple[str, ...]) -> None:
        pause = self.operating.pause_before((method, *billed))
        if pause > 0:
            log.warning(say("log.time_budget_pause", method=method, pause=pause))
            self.sleep(pause)
        if self.limiter is not None:
            self.limiter.acquire()

    def _give_up(self, exc: PortalRetriableError, attempts: int) -> PortalError:
        return PortalRetriableError(say("log.gave_up", error=exc, attempts=attempts),
                                    method=exc.method, status=exc.status, code=exc.code)

    def _post_once(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = transport.post(self.session, self.base_url + method, params, method=method,
                                timeout=self.timeout, verify=self.verify_ssl,
                                max_bytes=self.max_response_bytes)
        return self._parse(method, answer)

    def _parse(self, method: str, response: transport.Answer) -> dict[str, Any]:
        status = response.status
        if 300 <= status < 400:
            raise PortalAuthError(
                say("portal.redirected", method=method,
                    where=mask(response.headers.get("Location", "?"))),
                method=method, status=status)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._non_json(method, status, response)
        if "error" in body:
            raise classify_error(method, status, str(body.get("error")),
                                 str(body.get("error_description") or ""))
        if status >= 400 or "result" not in body:
            raise PortalRetriableError(
                say("portal.no_result", method=method, status=status),
                method=method, status=status)
        return body

    def _non_json(self, method: str, status: int, response: transport.Answer) -> dict:
        if status in (401, 403):
            raise PortalAuthError(
                say("portal.webhook_refused", status=status, method=method),
                method=method, status=status)
        if status == 404:
            raise PortalAuthError(
                say("transport.http_404", method=method), method=method, status=status)
        kind = response.headers.get("Content-Type", "unknown content").split(";")[0]
        if status == 504:
            raise PortalCutOffError(say("transport.http_504"), method=method, status=status)
        raise PortalTransportError(say("transport.not_json", status=status, kind=kind),
                                   method=method, status=status)

    # -- batch ----------------------------------------------------------------

    def batch(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], *,
              halt: bool = False, shrinkable: bool = False) -> BatchResult:
        """Run up to 50 commands (label -> (method, params)) in one HTTP request.

        Labels must not be numeric: the portal turns a map keyed "0".."49" into
        a JSON list. Values that are BatchRef (e.g. `$result[p0][49][ID]`) are
        left for the portal to substitute. A `shrinkable` batch that is cut off
        raises PortalCutOffError at once, for the caller to send fewer commands.
        """
        if len(commands) > BATCH_SIZE:
            raise ValueError(f"a batch holds at most {BATCH_SIZE} commands")
        cmd = {label: f"{method}?{php_query(params)}"
               for label, (method, params) in commands.items()}
        methods = tuple(dict.fromkeys(method for method, _ in commands.values()))
        envelope = self.call("batch", {"halt": 1 if halt else 0, "cmd": cmd}, billed=methods,
                             retry_cut_off=not shrinkable)
        body = envelope.get("result")
        if not isinstance(body, dict):
            raise PortalRetriableError(say("portal.batch_shape"), method="batch")
        parts = {key: _as_map(body.get(key)) for key in
                 ("result", "result_error", "result_total", "result_time")}
        for label, timing in parts["result_time"].items():
            if label in commands:
                self.operating.observe(commands[label][0], timing)
        timing = envelope.get("time")
        seconds = timing.get("duration") if isinstance(timing, dict) else None
        return BatchResult(results=parts["result"], errors=parts["result_error"],
                           totals=parts["result_total"],
                           seconds=seconds if isinstance(seconds, int | float) else None,
                           time=timing)

    def batch_all(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]]) -> BatchResult:
        """Any number of independent commands (halt=0), 50 to a batch, the batches sent at
        the same time (up to BATCHES_AT_ONCE; the shared limiter paces them): the answers
        of every batch in one result (`time` and `seconds` are the first batch's).

        The first batch that failed (in order) raises its error once every batch has ended.
        """
        labels = list(commands)
        groups = [{label: commands[label] for label in labels[first:first + BATCH_SIZE]}
                  for first in range(0, len(labels), BATCH_SIZE)]
        if len(groups) <= 1:
            return self.batch(groups[0], halt=False) if groups else BatchResult()
        answers: list[BatchResult | None] = [None] * len(groups)
        failures: list[BaseException | None] = [None] * len(groups)

        def send(index: int) -> None:
            try:
                answers[index] = self.batch(groups[index], halt=False)
            except BaseException as exc:  # raised on the calling thread below
                failures[index] = exc

        for first in range(0, len(groups), BATCHES_AT_ONCE):
            threads = [threading.Thread(target=send, args=(index,), daemon=True,
                                        name=f"bitrix-batch-{index}")
                       for index in range(first, min(first + BATCHES_AT_ONCE, len(groups)))]
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():  # a join with a timeout stays open to Ctrl+C
                    thread.join(0.25)
            failure = next((exc for exc in failures if exc is not None), None)
            if failure is not None:
                raise failure
        merged = answers[0]
        for part in answers[1:]:
            merged.merge(part)
        return merged

    # -- lists ----------------------------------------------------------------

    def list_pages(self, method: str, params: dict[str, Any] | None = None
                   ) -> Iterator[list[dict[str, Any]]]:
        """Yield every page of a list method; raise IncompleteReadError on a short read.

        Plain sequential offset paging (`start` = 0, then whatever `next` says),
        for small lookups. A sync reads through app.bitrix.reading, which picks the
        fast strategy per method. The rows counted must reach `total`.
        """
        params = dict(params or {})
        start = 0
        seen = 0
        total: int | None = None
        while True:
            envelope = self.call(method, {**params, "start": start})
            rows = extract_rows(envelope.get("result"))
            if total is None and isinstance(envelope.get("total"), int):
                total = envelope["total"]
            seen += len(rows)
            if rows:
                yield rows
            nxt = envelope.get("next")
            if nxt is None or not rows:
                break
            start = int(nxt)
        if total is not None and seen < total:
            raise IncompleteReadError(
                say("reading.short", method=method, read=seen, total=total),
                method=method)


@dataclass
class BatchResult:
    """What one batch returned, label by label (failed commands are in `errors`)."""

    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None  # the portal's own time for the whole batch
    time: Any = None  # the batch's own `time` block (the portal's clock)

    def merge(self, part: BatchResult) -> None:
        """Add another batch's answers; `time` and `seconds` stay the first batch's."""
        self.results.update(part.results)
        self.errors.update(part.errors)
        self.totals.update(part.totals)
        if self.time is None:
            self.time, self.seconds = part.time, part.seconds

    def error_for(self, label: str, method: str) -> PortalError | None:
        """Our exception for a failed command, or None when it succeeded."""
        error = self.errors.get(label)
        if error is None:
            return None
        if not isinstance(error, dict):
            error = {"error": str(error)}
        # A command's error carries no HTTP status; 200 lets the code alone decide.
        return classify_error(method, 200, str(error.get("error") or "UNKNOWN"),
                              str(error.get("error_description") or ""))

    def problem(self, label: str, method: str, doing: str, *,
                missing: type[PortalError] = IncompleteReadError) -> PortalError | None:
        """The command's error, or `missing` when it has no answer at all (the batch stopped
        before it); None when it answered. `doing` ends the message of `missing`."""
        error = self.error_for(label, method)
        if error is None and label not in self.results:
            error = missing(say("portal.nothing_for", method=method, doing=doing), method=method)
        return error

    def rows(self, label: str, method: str, doing: str, *,
             missing: type[PortalError] = IncompleteReadError) -> list[dict[str, Any]]:
        """The command's rows; its error (or `missing`) raised."""
        error = self.problem(label, method, doing, missing=missing)
        if error is not None:
            raise error
        return extract_rows(self.results[label])


def _as_map(value: Any) -> dict[str, Any]:
    # PHP encodes an empty map as [] (and a map keyed 0..n-1 as a list).
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def usable_id(value: Any) -> int | None:
    """A Bitrix24 id as a positive int ("42" or 42), or None for anything else."""
    kind = value.__class__
    if kind is int:  # asked for every row of every page: the common cases first
        return value if value > 0 else None
    if kind is str and value.isdigit() and value.isascii():
        number = int(value)
        return number if number > 0 else None
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def extract_rows(result: Any) -> list[dict[str, Any]]:
    """The rows of a list result, whatever its shape (a list, or {items: [...]})."""
    if isinstance(result, list):
        return result
    if isinstance(result, dict):
        lists = [v for v in result.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
        if not result:
            return []
    raise PortalMethodError(say("portal.list_shape", kind=type(result).__name__))


def retries_for(error: PortalError, most: int) -> int:
    """How many times `error` is worth retrying when the client allows `most`."""
    cap = getattr(error, "retry_at_most", None)
    return most if cap is None else min(most, cap)


def classify_error(method: str, status: int, code: str, description: str) -> PortalError:
    """Turn a Bitrix24 error envelope into our exception, with our own sentence.

    By the code, not the HTTP status: everything the portal finds while it checks
    the webhook comes with 401 (modules/rest/lib/apauth/auth.php), whatever the
    docs' table says, and a command's error inside a batch has no status at all.
    """
    key = code.lower()
    said = say("portal.said", answer=f"{code}: {description}" if description else code)
    kwargs = {"method": method, "status": status, "code": code}

    def text(name: str) -> str:
        return say(f"portal.{name}", method=method, said=said)

    lowered = description.lower()
    if key == "overload_limit":
        return PortalOverloadError(text("overload"), **kwargs)
    if key == "access_denied" and "commercial plan" in lowered:
        return PortalPlanError(text("plan_rest"), **kwargs)
    if key == "authorization_error":
        return PortalAuthError(text("owner"), **kwargs)
    if key == "invalid_request" and "https" in lowered:
        return PortalAuthError(text("https_only"), **kwargs)
    if key == "error_core":
        # restexception.php: an SQL failure is ERROR_CORE "SQL query error!" with HTTP 500;
        # any other exception without a code is ERROR_CORE with 400 and its own message.
        if status >= 500 or description.strip().lower() == "sql query error!":
            return PortalDatabaseError(text("own_database"), **kwargs)
        return PortalMethodError(text("rejected"), **kwargs)
    if key in _RETRY_CODES or (status >= 500 and key not in _AUTH_CODES):
        return PortalRetriableError(text("busy"), **kwargs)
    if key in _AUTH_CODES or status == 401 and key != "insufficient_scope":
        return PortalAuthError(text("webhook_rejected"), **kwargs)
    if key == "insufficient_scope":
        return PortalMethodError(text("no_scope"), **kwargs)
    if key == "error_method_not_found":
        return PortalMethodError(text("no_method"), **kwargs)
    if key == "access_denied" and "extended plan" in lowered:
        # The lists methods on a plan without the Lists feature (RestService, modules/lists).
        return PortalMethodError(text("plan_lists"), **kwargs)
    if key == "access_denied":
        return PortalMethodError(text("access_denied"), **kwargs)
    return PortalMethodError(text("rejected"), **kwargs)
