"""Stop signals (Ctrl+C, SIGTERM, SIGHUP): the first asks for a graceful stop, the second exits."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from app.errors import INTERRUPTED
from app.messages import say

log = logging.getLogger(__name__)

# Signals that mean "stop", by name: SIGHUP (the terminal was closed) is POSIX only,
# SIGBREAK (Ctrl+Break) exists on Windows only.
_STOP_NAMES = ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")


def stop_signals() -> list[signal.Signals]:
    """The signals that mean "stop" on this platform."""
    return [getattr(signal, name) for name in _STOP_NAMES if hasattr(signal, name)]


def _exit_code(signum: int) -> int:
    # 128 + signal number is what shells report for a process killed by that signal.
    return 128 + signum if signum != getattr(signal, "SIGBREAK", None) else INTERRUPTED


class _StopHandler:
    """The installed handler: counts signals, sets the event, exits on the second."""

    def __init__(self, stop_event: threading.Event, logger: logging.Logger) -> None:
        self.stop_event = stop_event
        self.logger = logger
        self.received = 0
        # The handler must not call Event.set(): it runs in the main thread, which may be
        # inside Event.wait() holding the event's (non-reentrant) lock when the signal comes
        # — a deadlock that leaves the process deaf to the next signal too. The handler only
        # writes a byte to a pipe; a thread of ours reads it and sets the event.
        self._read_fd, self._write_fd = os.pipe()
        threading.Thread(target=self._relay, name="stop-signal-relay", daemon=True).start()

    def _relay(self) -> None:
        try:
            data = os.read(self._read_fd, 1)
        except OSError:
            data = b""
        finally:
            with contextlib.suppress(OSError):
                os.close(self._read_fd)
        if data:  # b"" means close(): the handlers were removed, no signal came
            self.stop_event.set()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._write_fd)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        name = _signal_name(signum)
        # One line each: the console in its language, the log file in English.
        if self.received == 1:
            # Best effort inside a signal handler: the stop must happen even if stderr is gone.
            with contextlib.suppress(Exception):
                self.logger.warning(say("service.stopping", signal=name,
                                        reason=say("service.hup") if name == "SIGHUP" else ""))
            os.write(self._write_fd, b"1")  # lock-free; the relay thread sets the event
            return
        with contextlib.suppress(Exception):
            self.logger.warning(say("service.stop_now", signal=name))
        _flush_logs(self.logger)
        # os._exit, not sys.exit: SystemExit would only be raised in the main thread, which
        # is usually waiting for the worker thread, and interpreter shutdown would then wait
        # for non-daemon threads and atexit hooks — exactly what the user wants to skip. The
        # database rolls back the open transaction when the connection drops.
        os._exit(_exit_code(signum))


def install_stop_handlers(
    stop_event: threading.Event, *, logger: logging.Logger | None = None
) -> Callable[[], None]:
    """Install the stop handlers for SIGINT, SIGTERM, SIGHUP (POSIX) and SIGBREAK (Windows).

    The first signal logs "stopping after the current step…" and sets
    `stop_event`; the second one ends the process at once (exit code 128 +
    the signal number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP). Python
    only lets the main thread install signal handlers, so call this from the
    main thread; elsewhere it raises RuntimeError.
    Returns a function that puts the previous handlers back.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("install_stop_handlers() must be called from the main thread")
    handler = _StopHandler(stop_event, logger or log)
    previous: dict[signal.Signals, object] = {}
    for signum in stop_signals():
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handler)

    def restore() -> None:
        handler.close()
        for signum, old in previous.items():
            # None means the old handler was not installed from Python; default is closest.
            signal.signal(signum, old if old is not None else signal.SIG_DFL)

    return restore


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _flush_logs(logger: logging.Logger) -> None:
    """Flush every handler the record may have gone to, then stdout/stderr."""
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            # Best effort right before exiting: a broken handler must not block the exit.
            with contextlib.suppress(Exception):
                handler.flush()
        current = current.parent if current.propagate else None
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
