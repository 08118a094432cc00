"""The shared retry schedule of one portal (app.bitrix.outage), on a clock the test moves."""

from __future__ import annotations

import logging

import pytest

from app import errors
from app.bitrix.outage import DOWN_BUDGET, Outage, Tries
from app.errors import PortalTransportError

# The pauses without jitter: the longest each round can take.
PAUSES = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def refused(method: str = "user.get") -> PortalTransportError:
    return PortalTransportError("cannot connect to the portal: Connection refused",
                                method=method, reached=False)


def too_slow(method: str = "batch") -> PortalTransportError:
    return PortalTransportError("Bitrix24 did not answer completely within 5 s (BITRIX_TIMEOUT)",
                                method=method)


def outage(clock: Clock, max_retries: int = 6, retry_budget: float = 300.0) -> Outage:
    return Outage(max_retries=max_retries, delay=lambda n: PAUSES[n - 1],
                  retry_budget=retry_budget, clock=clock)


def rounds_logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


METHODS = ("crm.item.list", "lists.element.get", "user.get", "batch", "department.get")


def test_readers_failing_together_wait_for_one_round_told_once(caplog):
    clock = Clock()
    schedule = outage(clock)
    readers = [Tries() for _ in METHODS]

    pairs = list(zip(METHODS, readers, strict=True))
    assert [schedule.failed(refused(m), 0.0, t) for m, t in pairs] == [0.5] * 5
    clock.now = 0.5
    assert [schedule.failed(refused(m), 0.5, t) for m, t in pairs] == [1.0] * 5

    assert len(rounds_logged(caplog)) == 2
    assert "retry 1/6 in 0.5 s" in rounds_logged(caplog)[0]
    assert "retry 2/6 in 1.0 s" in rounds_logged(caplog)[1]


def test_a_refused_portal_is_given_up_within_the_down_budget_with_one_error(caplog):
    clock = Clock()
    schedule = outage(clock)
    readers = [Tries() for _ in METHODS]
    given_up: list[errors.PortalError] = []
    while not given_up:
        sent = clock.now  # refused at once: failures come back at the send time
        waits = []
        for method, tries in zip(METHODS, readers, strict=True):
            try:
                waits.append(schedule.failed(refused(method), sent, tries))
            except errors.PortalUnreachableError as exc:
                given_up.append(exc)
        if waits:
            clock.now += max(waits)

    # Every reader of the round gets the same error; the last round began within the budget.
    assert len(given_up) == len(METHODS) and all(e is given_up[0] for e in given_up)
    assert clock.now <= DOWN_BUDGET
    logged = rounds_logged(caplog)
    assert len(logged) == 4  # 0.5 + 1 + 2 + 4 s; a fifth pause of 8 s would pass 15 s
    assert "gave up after 5 attempts" in str(given_up[0])
    assert given_up[0].exit_code == 3


def test_a_portal_that_does_not_accept_connections_ends_within_20_s():
    # Every attempt waits the whole connect timeout (5 s) before it fails.
    clock = Clock()
    schedule = outage(clock)
    tries = Tries()
    with pytest.raises(errors.PortalUnreachableError, match="gave up after 3 attempts"):
        while True:
            sent = clock.now
            clock.now += 5.0
            clock.now += schedule.failed(PortalTransportError(
                "cannot connect to the portal: connection timed out (5 s)", method="user.get",
                reached=False), sent, tries)
    assert clock.now <= 20.0


def test_timeouts_after_connecting_keep_max_retries_rounds():
    # BITRIX_TIMEOUT=5, BITRIX_MAX_RETRIES=1: two attempts, then the portal is given up on.
    clock = Clock()
    schedule = outage(clock, max_retries=1)
    tries = Tries()
    sent, clock.now = 0.0, 5.0
    clock.now += schedule.failed(too_slow(), sent, tries)
    sent, clock.now = clock.now, clock.now + 5.0
    with pytest.raises(errors.PortalUnreachableError, match="gave up after 2 attempts"):
        schedule.failed(too_slow(), sent, tries)


def test_an_answer_ends_the_outage_and_a_lone_failing_request_fails_alone(caplog):
    # One batch keeps timing out while other requests get answers: the portal is up, so
    # that request fails its directory after its own retries; the run is not ended.
    clock = Clock()
    schedule = outage(clock, max_retries=2)
    lone = Tries()
    for _ in range(2):
        clock.now += schedule.failed(too_slow(), clock.now, lone)
        schedule.succeeded()  # another reader got its answer meanwhile
    with pytest.raises(errors.PortalRetriableError) as caught:
        schedule.failed(too_slow(), clock.now, lone)
    assert not isinstance(caught.value, errors.PortalFatalError)
    assert "Bitrix24 batch: " in str(caught.value)
    assert "gave up after 3 attempts" in str(caught.value)
    # A request failing afterwards starts a fresh outage with its own retries.
    assert schedule.failed(too_slow("user.get"), clock.now, Tries()) == 0.5
