"""Live progress on a terminal: one line per directory with rows read, rows/s and phase."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from app.messages import say
from app.sync.engine import Progress

if TYPE_CHECKING:  # tqdm (and the asyncio its logging helper loads) only for a terminal
    from tqdm import tqdm


def progress_wanted(*, quiet: bool, stream: TextIO | None = None) -> bool:
    """Progress only for a person watching: stderr is a terminal and --quiet is off."""
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    return not quiet and bool(isatty and isatty())


class TerminalProgress:
    """The engine's progress callback drawn with tqdm; a finished directory keeps its line.

    The rate is rows over the time since the previous directory finished: the
    engine first reports after the first page arrived, so tqdm's own clock
    (started at that report) would show absurd rates for small directories.
    """

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        from tqdm import tqdm

        self.tqdm = tqdm
        self.stream = stream
        self.clock = clock
        self.bars: dict[str, tqdm] = {}
        self.started: dict[str, float] = {}
        self.free_since = clock()

    def __call__(self, directory: str, phase: str, rows: int) -> None:
        now = self.clock()
        started = self.started.setdefault(directory, self.free_since)
        seconds = max(now - started, 1e-3)
        line = say("progress.line", directory=f"{directory:<10}",
                   phase=f"{say('progress.' + phase):<8}", rows=f"{rows:>8}",
                   rate=f"{rows / seconds:>8.0f}", took=self.tqdm.format_interval(seconds))
        bar = self.bars.get(directory)
        if bar is None:
            bar = self.bars[directory] = self.tqdm(
                desc=line, file=self.stream, bar_format="{desc}", leave=True, mininterval=0.2,
                **_screen_size(self.stream))
        else:
            bar.set_description_str(line, refresh=phase != "reading")
            bar.update(0)  # while reading, redraws at most every mininterval
        if phase in ("done", "stopped"):
            bar.close()
            self.free_since = now

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@contextmanager
def live_progress(enabled: bool, stream: TextIO | None = None) -> Iterator[Progress | None]:
    """Yield a progress callback (None when disabled); logs print above the live lines."""
    if not enabled:
        yield None
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    progress = TerminalProgress(stream or sys.stderr)
    try:
        with logging_redirect_tqdm():
            yield progress
    finally:
        progress.close()


def _screen_size(stream: TextIO) -> dict[str, int]:
    # A terminal that reports no size (some ptys) would make tqdm hide the line.
    try:
        columns, lines = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        columns = lines = 0
    return {"ncols": columns or 100, "nrows": lines or 24}
