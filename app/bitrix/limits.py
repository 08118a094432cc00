"""Client-side limits: the shared leaky bucket and the per-method operating-time budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

# Bitrix24 cloud: 480 s of a method's execution time per rolling 10 minutes.
OPERATING_LIMIT = 480.0
# Slow down once this share of the budget is spent, so the portal never has to block us.
OPERATING_SLOW_SHARE = 0.8
# Waits for a budget to free are taken in slices of at most this many seconds.
OPERATING_MAX_PAUSE = 60.0


class RateLimiter:
    """A leaky bucket matching the portal's: `rate` requests per second, bursts up to `burst`.

    Policy: every HTTP request (a batch included) takes one slot before it is
    sent. The bucket is modelled as GCRA (a theoretical arrival time), so the
    lock is held only to reserve a slot and callers sleep outside it. One slot
    of the burst is kept back as headroom: requests sent in order can arrive
    slightly bunched, and the portal counts arrivals, not sends. When the
    portal still answers QUERY_LIMIT_EXCEEDED (another tool on the same IP is
    using the bucket), `saturate()` marks the bucket full so every thread backs
    off together.
    """

    def __init__(
        self,
        rate: float = 2.0,
        burst: float = 50,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self._interval = 1.0 / self.rate
        headroom = 1.0 if self.burst >= 2 else 0.0
        self._tolerance = (self.burst - 1.0 - headroom) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = clock()  # theoretical arrival time of the next request

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate:g}/s, burst={self.burst:g})"

    def reserve(self) -> float:
        """Take a slot now; return how long to wait before sending."""
        with self._lock:
            now = self._clock()
            tat = max(self._tat, now)
            wait = max(0.0, tat - self._tolerance - now)
            self._tat = tat + self._interval
            return wait

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def saturate(self) -> None:
        """The portal said the bucket is full: make every caller wait for it to drain."""
        with self._lock:
            now = self._clock()
            self._tat = max(self._tat, now + self._tolerance + self._interval)


_shared: dict[str, RateLimiter] = {}
_shared_lock = threading.Lock()


def use_limits(portal_url: str, rate: float, burst: float) -> RateLimiter:
    """Set the one limiter of this process for a portal (the bucket is per portal and IP).

    Every Bitrix24Client made for that portal afterwards shares it, whichever
    run, thread or command made the client.
    """
    key = _portal_key(portal_url)
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None or (limiter.rate, limiter.burst) != (float(rate), float(burst)):
            limiter = _shared[key] = RateLimiter(rate, burst)
        return limiter


def limiter_for(portal_url: str) -> RateLimiter | None:
    """The limiter set for a portal with use_limits(), if any."""
    with _shared_lock:
        return _shared.get(_portal_key(portal_url))


def _portal_key(url: str) -> str:
    return urlsplit(url).netloc.lower()  # never the path: it holds the webhook code


class OperatingBudget:
    """Tracks `time.operating` per method and says how long to pause before the next call.

    Policy: every answer's `time` block (the outer one and each batch
    command's `result_time` entry) updates the figure of its method. A method
    that has used OPERATING_SLOW_SHARE of its budget is paused until its
    `operating_reset_at` (when the oldest minute drops out of the window), at
    most OPERATING_MAX_PAUSE at a time; after a pause the figure is forgotten
    until the next answer reports it again. A 429 OPERATION_TIME_LIMIT waits
    for the same moment, or `blocked_default` seconds when no answer told it.
    """

    def __init__(
        self,
        limit: float = OPERATING_LIMIT,
        *,
        slow_share: float = OPERATING_SLOW_SHARE,
        blocked_default: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.slow_share = slow_share
        self.blocked_default = blocked_default
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, float | None]] = {}

    def observe(self, method: str, timing: Any) -> None:
        """Record a `time` block returned for `method` (absent fields are fine)."""
        if not isinstance(timing, Mapping):
            return
        operating = _number(timing.get("operating"))
        if operating is None:
            return
        reset_at = _number(timing.get("operating_reset_at"))
        with self._lock:
            self._seen[method] = (operating, reset_at)

    def pause_before(self, methods: tuple[str, ...]) -> float:
        """Seconds to wait before calling these methods (a batch bills `batch` and its commands)."""
        pause = 0.0
        with self._lock:
            for method in methods:
                operating, reset_at = self._seen.get(method, (0.0, None))
                if operating < self.limit * self.slow_share:
                    continue
                pause = max(pause, self._until(reset_at, OPERATING_MAX_PAUSE))
                self._seen[method] = (0.0, None)  # re-learn from the next answer
        return pause

    def blocked_wait(self, method: str) -> float:
        """Seconds to wait after a 429 OPERATION_TIME_LIMIT for `method`."""
        with self._lock:
            _, reset_at = self._seen.pop(method, (0.0, None))
        if reset_at is None:
            return self.blocked_default
        return self._until(reset_at, 600.0)

    def _until(self, reset_at: float | None, cap: float) -> float:
        if reset_at is None:
            return min(cap, self.blocked_default)
        # At least a second (clocks differ); never longer than the 10-minute window.
        return min(cap, max(1.0, reset_at - self._clock()))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
