"""What a REST call answers: its result, errors, the ``time`` block and the HTTP reply."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from app.testing.clock import PORTAL_TZ, iso

__all__ = [
    "PORTAL_TZ", "ApiError", "MethodResult", "Reply", "as_result", "error_reply", "iso",
    "method_not_found", "time_block",
]


class ApiError(Exception):
    """A Bitrix error answer: HTTP status, ``error`` code and ``error_description``."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


def method_not_found() -> ApiError:
    return ApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")


def sql_error() -> ApiError:
    """The portal's own database failed: ``RestException::initFromException`` turns a
    ``Main\\DB\\SqlException`` into ERROR_CORE "SQL query error!" with ``STATUS_INTERNAL``
    (modules/rest/lib/restexception.php in bitrix-core-business), so HTTP 500."""
    return ApiError(500, "ERROR_CORE", "SQL query error!")


# Legacy CDatabase::Query on an SQL error sets "500 Internal Server Error" and dies with this
# text (modules/main/classes/general/database.php): no JSON at all, the whole request lost.
LEGACY_QUERY_ERROR = b"Query Error!"

# What our fake front end sends when it cuts a request (the real one is not documented).
GATEWAY_TIMEOUT_PAGE = (
    b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass(slots=True)
class MethodResult:
    """A method's answer before it is wrapped: result, total, next and rows billed."""

    result: Any
    total: int | None = None
    next: int | None = None
    rows: int = 0


def as_result(value: Any) -> MethodResult:
    """A handler may return a bare result; it then counts as one row."""
    return value if isinstance(value, MethodResult) else MethodResult(value, rows=1)


def time_block(
    start: float, finish: float, processing: float, operating: float, reset_at: int,
    zone: tzinfo = PORTAL_TZ,
) -> dict[str, Any]:
    """The ``time`` of a successful answer, on the portal's clock (``CRestServer::appendDebugInfo``
    in modules/rest/classes/general/rest.php: ``date_start`` is ``date('c', start)``); errors
    carry none. ``operating`` and ``operating_reset_at`` are the cloud's additions (docs)."""
    return {
        "start": start,
        "finish": finish,
        "duration": finish - start,
        "processing": processing,
        "date_start": iso(start, zone),
        "date_finish": iso(finish, zone),
        "operating_reset_at": reset_at,
        "operating": operating,
    }


@dataclass(slots=True)
class Reply:
    """The HTTP answer to send, or a dropped connection, after an optional delay."""

    status: int
    payload: dict[str, Any] | None = None
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    drop: bool = False
    delay: float = 0.0
    hold: Callable[[], None] | None = None  # blocks until the answer may go out
    arrival: float = 0.0
    # (processing, operating, operating_reset_at) for the outer "time" object of a success.
    timing: tuple[float, float, int] | None = None
    clock_offset: float = 0.0  # the portal's clock minus ours (see clock.py)
    busy: float = 0.0  # seconds the portal's clock counts beyond the real wait (busy_row_cost)
    zone: tzinfo = PORTAL_TZ  # the portal's time zone (clock.py)

    def render(self) -> bytes:
        if self.raw is not None:
            return self.raw
        payload = dict(self.payload or {})
        if self.timing is not None:
            processing, operating, reset_at = self.timing
            payload["time"] = time_block(
                self.arrival, time.time() + self.clock_offset + self.busy, processing,
                operating, reset_at, self.zone
            )
        return json.dumps(payload).encode("utf-8")


def error_reply(error: ApiError) -> Reply:
    return Reply(status=error.status, payload=error.body())
