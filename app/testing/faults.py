"""Injected faults: error answers, non-JSON bodies, dropped connections and stalls."""

from dataclasses import dataclass

from app.testing.envelope import ApiError, Reply, error_reply


@dataclass(slots=True)
class Fault:
    """One queued fault for calls of ``method`` (``"*"``: any HTTP call)."""

    method: str
    kind: str  # "fail", "raw", "drop" or "stall"
    remaining: int
    status: int = 0
    error: str = ""
    description: str = ""
    body: bytes = b""
    seconds: float = 0.0
    skip: int = 0  # matching calls let through before the fault fires

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
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(fault)

    def take(self, method: str, *, inside_batch: bool) -> Fault | None:
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
