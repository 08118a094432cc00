"""Bitrix24 REST client over an incoming webhook: calls, paging, retries, error mapping."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from app.errors import (
    IncompleteReadError,
    PortalAuthError,
    PortalError,
    PortalMethodError,
    PortalOverloadError,
    PortalRetriableError,
    PortalUnreachableError,
)
from app.masking import mask

log = logging.getLogger(__name__)

PAGE_SIZE = 50
USER_AGENT = "bitrix-sync/1.0"

_AUTH_CODES = {"invalid_credentials", "no_auth_found", "expired_token", "invalid_token",
               "wrong_auth_type", "invalid_request", "authorization_error"}
_RETRY_CODES = {"query_limit_exceeded", "internal_server_error", "error_unexpected_answer",
                "operation_time_limit"}


class Bitrix24Client:
    """Talks to one portal through its webhook URL.

    Retry policy: timeouts, dropped connections, 5xx, non-JSON bodies,
    QUERY_LIMIT_EXCEEDED and OPERATION_TIME_LIMIT are retried with exponential
    backoff and jitter, at most `max_retries` times and within `retry_budget`
    seconds in all for one call. Auth errors, OVERLOAD_LIMIT (a manual block by
    Bitrix24 support) and method errors (unknown method, access denied, bad
    parameters) are never retried.
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
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = webhook_url.rstrip("/") + "/"
        self.timeout = timeout
        self.verify_ssl = verify_ssl
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.retry_budget = retry_budget
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        self.sleep = sleep
        self.request_count = 0

    def __repr__(self) -> str:
        return f"Bitrix24Client({mask(self.base_url)!r})"

    def close(self) -> None:
        self.session.close()

    # -- one call -------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call one method and return the whole envelope (result, total, next, time)."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return self._post_once(method, params or {})
            except PortalRetriableError as exc:
                attempt += 1
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                delay *= random.uniform(0.5, 1.0)
                spent = time.monotonic() - started
                if attempt > self.max_retries or spent + delay > self.retry_budget:
                    raise self._give_up(exc, attempt) from None
                log.warning("Bitrix24 %s: %s; retry %d/%d in %.1f s",
                            method, exc, attempt, self.max_retries, delay)
                self.sleep(delay)

    def _give_up(self, exc: PortalRetriableError, attempts: int) -> PortalError:
        text = f"{exc} (gave up after {attempts} attempts)"
        if exc.status is None:  # never got an HTTP answer: the portal is unreachable
            return PortalUnreachableError(
                f"{text}. Check that the portal address in BITRIX_WEBHOOK_URL is right and "
                "reachable from this machine.", method=exc.method)
        return PortalRetriableError(text, method=exc.method, status=exc.status, code=exc.code)

    def _post_once(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        url = self.base_url + method
        self.request_count += 1
        try:
            response = self.session.post(url, json=params, timeout=self.timeout,
                                         verify=self.verify_ssl, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise PortalUnreachableError(
                f"TLS check of the portal failed for {method}: {_reason(exc)}. For an on-premise "
                "portal with a self-signed certificate set BITRIX_VERIFY_SSL=false.",
                method=method) from None
        except requests.exceptions.Timeout:
            raise PortalRetriableError(
                f"Bitrix24 did not answer {method} within {self.timeout:g} s", method=method
            ) from None
        except requests.exceptions.RequestException as exc:
            raise PortalRetriableError(
                f"cannot connect to the portal for {method}: {_reason(exc)}", method=method
            ) from None
        return self._parse(method, response)

    def _parse(self, method: str, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        if 300 <= status < 400:
            raise PortalAuthError(
                f"The portal redirected {method} to {mask(response.headers.get('Location', '?'))}"
                "; the portal address has probably changed: update BITRIX_WEBHOOK_URL.",
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
                f"Bitrix24 answered {method} with HTTP {status} and no result",
                method=method, status=status)
        return body

    def _non_json(self, method: str, status: int, response: requests.Response) -> dict:
        if status in (401, 403):
            raise PortalAuthError(
                f"The portal refused the webhook (HTTP {status}) for {method}; check "
                "BITRIX_WEBHOOK_URL.", method=method, status=status)
        if status == 404:
            raise PortalAuthError(
                f"The portal answered HTTP 404 (not a Bitrix24 REST answer) for {method}; "
                "check the address in BITRIX_WEBHOOK_URL.", method=method, status=status)
        kind = response.headers.get("Content-Type", "unknown content").split(";")[0]
        raise PortalRetriableError(
            f"Bitrix24 answered {method} with HTTP {status} and a non-JSON body ({kind})",
            method=method, status=status)

    # -- lists ----------------------------------------------------------------

    def list_pages(self, method: str, params: dict[str, Any] | None = None
                   ) -> Iterator[list[dict[str, Any]]]:
        """Yield every page of a list method; raise IncompleteReadError on a short read.

        Offset paging: `start` = 0, then whatever `next` says, until no `next`.
        The rows counted must reach the first page's `total`.
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
                f"{method} returned {seen} rows but reported {total}; the read is incomplete",
                method=method)


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
    raise PortalMethodError(f"unexpected list result shape: {type(result).__name__}")


def classify_error(method: str, status: int, code: str, description: str) -> PortalError:
    """Turn a Bitrix24 error envelope into our exception, with our own sentence."""
    key = code.lower()
    said = f"(Bitrix24 said: {code}" + (f": {description})" if description else ")")
    kwargs = {"method": method, "status": status, "code": code}
    if key == "overload_limit":
        return PortalOverloadError(
            f"Bitrix24 support has blocked REST calls on this portal (OVERLOAD_LIMIT) {said}. "
            "Retrying will not help; contact Bitrix24 support.", **kwargs)
    if key in _RETRY_CODES or (status >= 500 and key not in _AUTH_CODES):
        return PortalRetriableError(f"Bitrix24 is busy or failing on {method} {said}", **kwargs)
    if key in _AUTH_CODES or status == 401 and key != "insufficient_scope":
        return PortalAuthError(
            f"The portal rejected the webhook {said}. Check BITRIX_WEBHOOK_URL: the code may be "
            "wrong, deleted or expired.", **kwargs)
    if key == "insufficient_scope":
        return PortalMethodError(
            f"The webhook has no permission for {method} {said}; tick the needed scope "
            "(crm, lists, user, department) on the webhook in Bitrix24.", **kwargs)
    if key == "error_method_not_found":
        return PortalMethodError(
            f"Bitrix24 does not know the method {method} {said}; check the method name in "
            "the mapping and the webhook's scopes.", **kwargs)
    if key == "access_denied":
        return PortalMethodError(
            f"Access denied to {method} {said}; the webhook's user needs read access to it.",
            **kwargs)
    return PortalMethodError(f"Bitrix24 rejected {method} {said}", **kwargs)


def _reason(exc: Exception) -> str:
    # requests' messages embed the full URL; name the failure, never the URL.
    text = mask(str(exc))
    for hint in ("Name or service not known", "nodename nor servname", "getaddrinfo failed",
                 "Connection refused", "Connection reset", "RemoteDisconnected",
                 "Connection aborted", "timed out", "No route to host"):
        if hint.lower() in text.lower():
            return hint
    return type(exc).__name__
