"""One HTTP request to the portal: a deadline for the whole answer, a size cap, loopback direct.

requests' `timeout` bounds each socket read, not the answer: a server that sends its
headers and then a byte every few seconds never trips it. So the body is read here in
pieces of one socket read each, with the socket's timeout set to what is left of the
request's deadline before every read, and the bytes are counted against a cap.
"""

from __future__ import annotations

import http.client
import json
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import urllib3

from app.errors import (
    PortalAnswerTooLargeError,
    PortalCutOffError,
    PortalTransportError,
    PortalUnreachableError,
)
from app.masking import mask
from app.messages import say

# Connecting is quick when the portal is up; a host that does not accept a connection in
# this time is down, and waiting the whole BITRIX_TIMEOUT for it would only delay saying so.
CONNECT_TIMEOUT = 5.0
READ_CHUNK = 64 * 1024
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# A proxy cannot reach this machine's loopback: the demo's fake portal is always asked
# directly, whatever HTTP(S)_PROXY, ALL_PROXY or the Windows Internet Options say. Any
# other host keeps requests' usual proxy lookup (a corporate proxy must keep working).
_NO_PROXY = {"http": None, "https": None, "all": None}

_CLOSED = "the portal closed the connection without answering"
# What requests, urllib3 and the OS say (Linux, macOS, Windows) -> one label and whether
# any connection to the portal was made. Windows words its socket errors differently:
# 10061 refused, 10060 timed out, 11001/11002 getaddrinfo failed, 10054/10053 reset/aborted,
# 10065/10051 no route / network unreachable.
_REASONS = (
    (("ProxyError", "Unable to connect to proxy", "Tunnel connection failed"),
     "the proxy failed (HTTPS_PROXY, or the system proxy settings)", False),
    (("Name or service not known", "nodename nor servname", "getaddrinfo failed",
      "Temporary failure in name resolution", "No address associated with hostname",
      "Failed to resolve", "NameResolutionError", "[Errno 11001]", "[Errno 11002]"),
     "host name not found (DNS)", False),
    (("Connection refused", "WinError 10061", "actively refused"), "Connection refused", False),
    (("ConnectTimeout", "connect timeout", "Connection timed out", "[Errno 110]",
      "WinError 10060", "did not properly respond"),
     "connection timed out", False),
    (("No route to host", "Network is unreachable", "WinError 10065", "WinError 10051"),
     "No route to host", False),
    (("Connection reset", "WinError 10054", "forcibly closed", "WinError 10053"),
     "Connection reset", True),
    # The request went out and the line closed with no answer: what a front end does when
    # it gives up on a request that runs too long.
    ((_CLOSED, "RemoteDisconnected", "closed connection without response", "Connection aborted"),
     _CLOSED, True),
    (("timed out",), "timed out", True),
)


@dataclass(frozen=True)
class Answer:
    """A complete HTTP answer: status, headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON (an HTML page, a cut-off body).

        orjson parses a page of rows in about half the time of the json module. What it
        refuses (a UTF-8 byte order mark, a lone surrogate escape, NaN, an HTML page) goes
        to the json module, so what is accepted and the error raised stay the json
        module's. One difference is left: an integer past 64 bits becomes a float, and
        PHP's json_encode never writes one (its integers are 64-bit; larger numbers are
        already floats in PHP).
        """
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return json.loads(self.body)


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in _LOOPBACK


def proxies_for(url: str) -> dict[str, None] | None:
    """The `proxies` argument for a request to `url`: none at all for loopback."""
    return dict(_NO_PROXY) if is_loopback(url) else None


def post(session: requests.Session, url: str, params: dict[str, Any], *, method: str,
         timeout: float, verify: bool | str, max_bytes: int) -> Answer:
    """POST params as JSON and read the whole answer within `timeout` seconds.

    Raises PortalTransportError when no usable answer came (no connection; a
    PortalCutOffError for a timeout or an answer cut off; the message names no method,
    the retry log line does),
    PortalUnreachableError for a failed TLS check and PortalAnswerTooLargeError past
    `max_bytes`; messages never carry the URL.
    """
    deadline = time.monotonic() + timeout
    try:
        response = session.post(url, json=params, timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
                                verify=verify, allow_redirects=False, stream=True,
                                proxies=proxies_for(url))
    except requests.exceptions.RequestException as exc:
        release(exc)
        raise _failed(exc, method, timeout) from None
    try:
        body = _read_body(response, method, deadline, timeout, max_bytes)
    finally:
        response.close()
    return Answer(response.status_code, response.headers, body)


def release(exc: BaseException) -> None:
    """Let go of the sockets a failed request's traceback still holds.

    A connection the portal reset is closed by urllib3, but http.client's response
    object keeps a file over its socket, so the descriptor stays open for as long as
    the traceback's frames live, and those sit in reference cycles that only a later
    garbage collection breaks (descriptors grew run after run in the service).
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def _failed(exc: requests.exceptions.RequestException, method: str,
            timeout: float) -> PortalTransportError | PortalUnreachableError:
    """Our error for a request that got no answer; messages never carry the URL."""
    if isinstance(exc, requests.exceptions.SSLError):
        reason, fix = tls_failure(exc)
        return PortalUnreachableError(say("transport.tls", method=method, reason=reason,
                                          fix=fix), method=method)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return PortalTransportError(
            say("transport.cannot_connect", reason=worded("connection timed out"))
            + f" ({min(CONNECT_TIMEOUT, timeout):g} s)", method=method, reached=False)
    if isinstance(exc, requests.exceptions.Timeout):
        return _too_slow(method, timeout)
    reason, reached = reason_of(exc)
    if reason == _CLOSED:
        return PortalCutOffError(worded(reason), method=method)
    return PortalTransportError(say("transport.cannot_connect", reason=worded(reason)),
                                method=method, reached=reached)


# What OpenSSL says of a certificate it refused -> the reason and what to do, in the
# console's words (catalog keys).
_TLS_REASONS = (
    (("self-signed certificate", "self signed certificate", "unable to get local issuer",
      "unable to get issuer"), "transport.tls_untrusted", "transport.tls_fix_trust"),
    (("hostname mismatch", "ip address mismatch", "doesn't match"),
     "transport.tls_host", "transport.tls_fix_host"),
    (("certificate has expired",), "transport.tls_expired", "transport.tls_fix_renew"),
    (("certificate is not yet valid",), "transport.tls_not_yet", "transport.tls_fix_clock"),
    (("no certificate or crl found",), "transport.tls_empty_bundle",
     "transport.tls_fix_bundle"),
)


def tls_failure(exc: BaseException) -> tuple[str, str]:
    """Why the portal's certificate was refused and what to do, in the console's words
    where OpenSSL's words are known; else the error's class name and the on-premise hint
    (requests' own message carries the URL, so it is never shown)."""
    lowered = str(exc).lower()
    for phrases, reason, fix in _TLS_REASONS:
        if any(phrase in lowered for phrase in phrases):
            return say(reason), say(fix)
    return worded(reason_of(exc)[0]), say("transport.tls_fix_trust")


def _read_body(response: requests.Response, method: str, deadline: float, timeout: float,
               max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(method, max_bytes, f"it announced {int(declared):,} bytes")
    raw = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    read1 = getattr(raw, "read1", None)  # urllib3 2.x: at most one socket read per call
    body = bytearray()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _too_slow(method, timeout)
            if sock is not None:
                sock.settimeout(left)
            chunk = (read1(READ_CHUNK, decode_content=True) if read1 is not None
                     else raw.read(READ_CHUNK, decode_content=True))
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > max_bytes:
                raise _too_large(method, max_bytes, "it went on past that")
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        raise _too_slow(method, timeout) from None
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError) as exc:
        if time.monotonic() >= deadline:
            raise _too_slow(method, timeout) from None
        raise PortalCutOffError(
            say("transport.broke_off", size=f"{len(body):,}", reason=worded(reason_of(exc)[0])),
            method=method, status=response.status_code) from None


def _too_slow(method: str, timeout: float) -> PortalCutOffError:
    return PortalCutOffError(say("transport.too_slow", timeout=f"{timeout:g}"), method=method)


def _too_large(method: str, max_bytes: int, detail: str) -> PortalAnswerTooLargeError:
    return PortalAnswerTooLargeError(
        say("transport.too_large", method=method, size=f"{max_bytes / 2**20:g}", detail=detail),
        method=method)


# The labels of _REASONS in the console's words (catalog keys).
_WORDS = {
    "the proxy failed (HTTPS_PROXY, or the system proxy settings)": "transport.proxy",
    "host name not found (DNS)": "transport.dns",
    "Connection refused": "transport.refused",
    "connection timed out": "transport.connect_timeout",
    "No route to host": "transport.no_route",
    "Connection reset": "transport.reset",
    _CLOSED: "transport.closed",
    "timed out": "transport.timed_out",
}


def worded(label: str) -> str:
    """A reason_of() label as the console says it (other labels, class names, as they are)."""
    return say(_WORDS[label]) if label in _WORDS else label


def reason_of(exc: BaseException) -> tuple[str, bool]:
    """A short label for a connection failure (never the URL) and whether the portal was reached.

    requests' messages embed the full URL, so only known phrases are kept.
    """
    text = mask(f"{type(exc).__name__}: {exc}")
    lowered = text.lower()
    for phrases, label, reached in _REASONS:
        if any(phrase.lower() in lowered for phrase in phrases):
            return label, reached
    return type(exc).__name__, True
