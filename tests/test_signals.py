"""Tests for app.service.signals: first signal stops gracefully, second exits at once."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from app.service import signals
from app.service.signals import install_stop_handlers, stop_signals

ROOT = Path(__file__).resolve().parent.parent


class Exited(Exception):
    """Raised by the fake os._exit instead of ending the test run."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@pytest.fixture
def no_real_exit(monkeypatch):
    def fake_exit(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(signals.os, "_exit", fake_exit)


@pytest.fixture
def installed(no_real_exit, caplog):
    caplog.set_level(logging.INFO, logger="app.service.signals")
    before = {signum: signal.getsignal(signum) for signum in stop_signals()}
    event = threading.Event()
    restore = install_stop_handlers(event)
    try:
        yield event, signal.getsignal(signal.SIGINT)
    finally:
        restore()
    assert {signum: signal.getsignal(signum) for signum in stop_signals()} == before


def test_handles_the_platform_stop_signals():
    wanted = {signal.SIGINT, signal.SIGTERM}
    if hasattr(signal, "SIGBREAK"):  # Windows: Ctrl+Break
        wanted.add(signal.SIGBREAK)
    if hasattr(signal, "SIGHUP"):  # POSIX: the terminal was closed
        wanted.add(signal.SIGHUP)
    assert set(stop_signals()) == wanted


def test_first_signal_sets_the_event_and_logs(installed, caplog):
    event, handler = installed
    assert all(signal.getsignal(signum) is handler for signum in stop_signals())
    handler(signal.SIGINT, None)
    assert event.wait(60)  # set by the relay thread, not inside the handler
    assert "SIGINT received: stopping after the current step…" in caplog.text


def test_second_signal_exits_at_once(installed, caplog):
    _, handler = installed
    handler(signal.SIGINT, None)
    with pytest.raises(Exited) as exited:
        handler(signal.SIGINT, None)
    assert exited.value.code == 130
    assert "SIGINT received again: exiting now" in caplog.text


def test_second_sigterm_exits_with_143(installed):
    _, handler = installed
    handler(signal.SIGINT, None)
    with pytest.raises(Exited) as exited:
        handler(signal.SIGTERM, None)
    assert exited.value.code == 143


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP is POSIX only")
def test_sighup_stops_like_sigterm_and_says_why(installed, caplog):
    event, handler = installed
    assert signal.getsignal(signal.SIGHUP) is handler
    handler(signal.SIGHUP, None)
    assert event.wait(5)
    assert ("SIGHUP received (the terminal was closed): stopping after the current step…"
            in caplog.text)
    with pytest.raises(Exited) as exited:
        handler(signal.SIGHUP, None)
    assert exited.value.code == 129


def test_real_signal_in_process(installed):
    event, _ = installed
    signal.raise_signal(signal.SIGINT)  # handled in the main thread before this returns
    assert event.wait(60)


def test_custom_logger_is_used(no_real_exit, caplog):
    logger = logging.getLogger("test.signals.custom")
    caplog.set_level(logging.INFO, logger="test.signals.custom")
    event = threading.Event()
    restore = install_stop_handlers(event, logger=logger)
    try:
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
    finally:
        restore()
    assert [r.name for r in caplog.records] == ["test.signals.custom"]


def test_only_the_main_thread_may_install():
    errors: list[Exception] = []

    def attempt() -> None:
        try:
            install_stop_handlers(threading.Event())
        except Exception as exc:  # recorded for the assertion below
            errors.append(exc)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(60)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert "main thread" in str(errors[0])


CHILD = textwrap.dedent("""
    import logging, sys, threading, time
    from app.service.signals import install_stop_handlers

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    event = threading.Event()
    install_stop_handlers(event)
    print("ready", flush=True)
    if event.wait(600):
        print("stopping", flush=True)
        time.sleep(600)  # a "current step" longer than the test waits: the signal cuts it
    print("not interrupted", flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="sending SIGINT to one child needs POSIX")
def test_two_real_sigints_in_a_subprocess():
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, encoding="utf-8", env=env)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGINT)
        assert child.stdout.readline().strip() == "stopping"  # graceful: still running
        assert child.poll() is None
        child.send_signal(signal.SIGINT)
        code = child.wait(60)  # the step it cut short would have taken ten minutes
        rest, errors = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert code == 130
    assert rest == ""  # it ended inside the step: nothing printed after "stopping"
    assert "not interrupted" not in rest
    # Told once each, by one log call: the child's language is the default, Russian.
    assert errors.count("Получен SIGINT: сервис остановится после текущего шага…") == 1
    assert errors.count("Повторный SIGINT: выход сразу") == 1
    assert "received" not in errors


def test_a_signal_while_the_main_thread_holds_the_event_lock_does_not_deadlock(no_real_exit):
    """Event.wait() holds the event's lock for a moment; a handler that called set() would
    block forever on it. The handler only pokes the relay thread."""
    event = threading.Event()
    restore = install_stop_handlers(event)
    try:
        handler = signal.getsignal(signal.SIGTERM)
        with event._cond:  # what the main thread holds inside Event.wait()
            handler(signal.SIGTERM, None)  # must return without the lock
        assert event.wait(60)
    finally:
        restore()


def test_removing_the_handlers_does_not_set_the_event(no_real_exit):
    event = threading.Event()
    before = set(threading.enumerate())
    restore = install_stop_handlers(event)
    [relay] = [t for t in set(threading.enumerate()) - before if t.name == "stop-signal-relay"]
    restore()
    relay.join(60)  # the relay thread has seen the pipe close and ended ...
    assert not relay.is_alive()
    assert not event.is_set()  # ... without setting the event
