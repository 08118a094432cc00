"""One retry schedule per portal: requests that fail at the same time wait and retry together."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.errors import (
    PortalError,
    PortalRetriableError,
    PortalTransportError,
    PortalUnreachableError,
)
from app.messages import say

log = logging.getLogger(__name__)

# A portal that cannot be connected to at all is given up on this many seconds after the
# first failed request was sent (the last retry starts within it and takes at most the
# connect timeout, so the run ends within about 20 s).
DOWN_BUDGET = 15.0


@dataclass
class Tries:
    """One call's transport failures so far, as the outage counts them."""

    count: int = 0
    outage: int = 0  # the outage its latest failure was part of (0: none yet)
    round: int = 0  # the round it last waited for in that outage
    alone: bool = False  # it also failed in an earlier outage: the portal was up in between


class Outage:
    """The retry rounds of one portal, shared by every thread of a client.

    Policy: a transport failure (no connection, a timeout, an answer that is not
    Bitrix24 JSON) opens an outage, or joins the one that is open. Every request
    that fails while a round is pending waits for that round's moment and is sent
    again then, whichever reader sent it: five readers of a portal that refuses
    connections make one round, and only the request that opens a round logs it
    (one WARNING per round). A retry that fails opens the next round, or joins
    it if another retry already did. Any complete answer ends the outage (the
    portal is up; what failed was one request). After `max_retries` rounds, or
    when the next round would begin more than the budget after the first
    failed request was sent (`down_budget` while no connection could be made at
    all, else `retry_budget`), the outage gives up: one PortalUnreachableError,
    the same for every request that fails in it from then on. A request that
    keeps failing while others succeed gives up alone after its own
    `max_retries` retries, as a PortalRetriableError (that directory fails, the
    run goes on).
    """

    def __init__(
        self,
        *,
        max_retries: int,
        delay: Callable[[int], float],
        retry_budget: float,
        down_budget: float = DOWN_BUDGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_retries = max_retries
        self.delay = delay
        self.retry_budget = retry_budget
        self.down_budget = down_budget
        self.clock = clock
        self._lock = threading.Lock()
        self._outage = 0  # number of the current (or last) outage
        self._began: float | None = None  # send time of its first failed request; None: up
        self._round = 0
        self._due = 0.0  # when the current round's requests are sent again
        self._final: PortalError | None = None

    def failed(self, error: PortalTransportError, sent: float, tries: Tries) -> float:
        """Seconds to wait before sending the request again; raises when the call is over.

        `sent` is when the failed request was sent (this clock).
        """
        with self._lock:
            now = self.clock()
            tries.count += 1
            if self._final is not None:
                raise self._final
            if self._began is None:
                self._outage, self._began, self._round = self._outage + 1, sent, 0
            if tries.outage != self._outage:
                tries.alone = tries.outage != 0
                tries.outage, tries.round = self._outage, 0
            if tries.round:  # a retry: join the next round if another retry opened it
                joins = self._round > tries.round
            else:  # a first failure in this outage: join the round that is pending
                joins = self._round > 0 and sent < self._due
            if joins and tries.count <= self.max_retries:
                tries.round = self._round
                return max(0.0, self._due - now)
            wait = self.delay(self._round + 1)
            over = (self._round >= self.max_retries
                    or now - self._began + wait > self._budget(error))
            if over and not tries.alone:
                self._final = _down(error, self._round + 1)
                raise self._final
            if over or tries.count > self.max_retries:
                raise PortalRetriableError(
                    say("log.method_gave_up", method=error.method, error=error,
                        attempts=tries.count),
                    method=error.method, status=error.status)
            self._round += 1
            self._due = now + wait
            tries.round = self._round
            log.warning(say("log.retry", method=error.method, error=error,
                            attempt=max(self._round, tries.count), retries=self.max_retries,
                            delay=wait))
            return wait

    def succeeded(self) -> None:
        """A complete answer came: the portal is up."""
        with self._lock:
            self._began, self._round, self._due, self._final = None, 0, 0.0, None

    def _budget(self, error: PortalTransportError) -> float:
        return self.retry_budget if error.reached else min(self.down_budget, self.retry_budget)


def _down(error: PortalTransportError, attempts: int) -> PortalUnreachableError:
    what = say("log.portal_down_reached" if error.reached else "log.portal_down_unreached")
    return PortalUnreachableError(
        say("log.portal_down", error=error, attempts=attempts, what=what),
        method=error.method, status=error.status)
