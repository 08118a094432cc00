"""Injected faults: error answers, non-JSON bodies, dropped connections, stalls and holds."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.testing.envelope import ApiError, Reply, error_reply

# Picks the calls a fault is for, from their decoded parameters (a batch command's own).
Match = Callable[[dict[str, Any]], bool]


class Hold:
    """Answers kept back until ``release()``, or ``limit`` seconds as a safety net.

    A stall guesses how long is long enough on a loaded machine; a hold lasts exactly as
    long as the test needs. ``arrived`` is set when the first held request has come in,
    ``waiting`` counts the answers kept back right now.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.arrived = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.waiting = 0

    def keep(self) -> None:
        """Block the answering thread (outside the portal's lock) until released."""
        with self._lock:
            self.waiting += 1
        self.arrived.set()
        try:
            self._released.wait(self.limit)
        finally:
            with self._lock:
                self.waiting -= 1

    def release(self) -> None:
        self._released.set()


@dataclass(slots=True)
class Fault:
    """One queued fault for calls of ``method`` (``"*"``: any HTTP call)."""

    method: str
    kind: str  # "fail", "raw", "drop", "stall" or "hold"
    remaining: int | None  # None: every matching call, for good
    status: int = 0
    error: str = ""
    description: str = ""
    body: bytes = b""
    seconds: float = 0.0
    skip: int = 0  # matching calls let through before the fault fires
    hold: Hold | None = None
    when: Match | None = None

    def api_error(self) -> ApiError:
        return ApiError(self.status, self.error, self.description)

    def reply(self) -> Reply:
        if self.kind == "drop":
            return Reply(status=0, drop=True)
        if self.kind == "raw":
            return Reply(status=self.status, raw=self.body, content_type="text/html")
        return error_reply(self.api_error())


class FaultQueue:
    """Faults waiting for their calls, oldest first; the caller holds the portal's lock."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError("times must be at least 1 (or None for every call)")
        self._faults.append(fault)

    def take(self, method: str, params: dict[str, Any], *, inside_batch: bool) -> Fault | None:
        # "*" stands for any HTTP call; inside a batch only the command's own name matches,
        # and only HTTP answers can be held.
        for index, fault in enumerate(self._faults):
            if inside_batch and fault.kind == "hold":
                continue
            if not (fault.method == method or (fault.method == "*" and not inside_batch)):
                continue
            if fault.when is not None and not fault.when(params):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self._faults[index]
            return fault
        return None
