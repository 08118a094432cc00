"""The portal's two limits: the leaky bucket of requests and per-method operating time.

A batch is billed as one request to the leaky bucket and, as measured on a live portal
(b24jssdk PR #539), its whole time is billed to the method ``batch``.
"""

import time
from collections import deque
from collections.abc import Callable

OPERATING_WINDOW = 600.0
DEFAULT_BURST = 50.0


class LeakyBucket:
    """Each request adds 1, the level drains at ``rate`` per second; full means refused."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # seconds; tests pass their own to pace requests without sleeping
        self.level = 0.0
        self.checked = clock()

    def admit(self, rate: float | None, burst: float | None) -> bool:
        if rate is None:
            return True
        capacity = DEFAULT_BURST if burst is None else float(burst)
        now = self.clock()
        drained = (now - self.checked) * rate
        self.level = max(0.0, self.level - drained)
        self.checked = now
        if self.level + 1.0 > capacity:
            return False
        self.level += 1.0
        return True

    def reset(self) -> None:
        self.level = 0.0
        self.checked = self.clock()


class OperatingTime:
    """Seconds of server time each method used in the last ``OPERATING_WINDOW`` seconds."""

    def __init__(self) -> None:
        self._windows: dict[str, deque[tuple[float, float]]] = {}
        self._sums: dict[str, float] = {}

    def used(self, method: str, now: float) -> float:
        window = self._windows.get(method)
        if not window:
            return 0.0
        while window and window[0][0] <= now - OPERATING_WINDOW:
            _, cost = window.popleft()
            self._sums[method] -= cost
        if not window:
            self._sums[method] = 0.0
        return max(0.0, self._sums[method])

    def reset_at(self, method: str, now: float) -> int:
        window = self._windows.get(method)
        oldest = window[0][0] if window else now
        return int(oldest + OPERATING_WINDOW)

    def bill(self, method: str, cost: float, now: float) -> None:
        if cost <= 0:
            return
        self._windows.setdefault(method, deque()).append((now, cost))
        self._sums[method] = self._sums.get(method, 0.0) + cost

    def reset(self) -> None:
        self._windows.clear()
        self._sums.clear()
