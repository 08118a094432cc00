"""Logging: stderr (and optionally a rotating file), every handler masking secrets."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import time
import warnings
from pathlib import Path

from app.masking import EnglishFormatter, MaskingFilter, mask
from app.messages import now_said, say

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# cli.py's console: progress and the result, warnings and errors; INFO lines go to the
# log file (LOG_FILE) and to the console only with --verbose.
CLI_CONSOLE = "WARNING"
# extra= of a log line whose message cli.py prints itself (a run's fatal error, a problem
# in the result table): the log file keeps it, cli.py's console does not show it twice.
IN_REPORT = {"in_report": True}


class _NotInReport(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "in_report", False)


class _PoolResetFailure(logging.Filter):
    """SQLAlchemy's pool logs "Exception during reset or similar" at ERROR with a traceback
    when it cannot roll back a connection the server already closed (a KILL, a restart).
    The statement that met the closed connection has already failed and the run reports
    that one database error; this is its echo: one line, shown only with --verbose."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.name.startswith("sqlalchemy.pool")
                and str(record.msg).startswith("Exception during reset")):
            return True
        if record.exc_info:
            error = record.exc_info[1]
            record.msg = ("a pooled database connection could not be reset and was dropped: "
                          f"{type(error).__name__}: {error}")
            record.args, record.exc_info, record.exc_text = None, None, None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self.verbose


# Loggers of the libraries: their warnings are English and about their own working (urllib3's
# "Connection pool is full", SQLAlchemy's SAWarning, urllib3's InsecureRequestWarning on every
# request with BITRIX_VERIFY_SSL=false): the log file keeps them, the console shows them only
# with --verbose. What they mean for a run reaches the console as our own error or warning.
_LIBRARIES = ("urllib3", "requests", "sqlalchemy", "pymysql", "py.warnings")
_WARNING_PLACE = re.compile(r"^.*?:\d+: (?P<text>\w+: [^\n]*)")


class _LibraryLine(logging.Filter):
    """The console: a library's record only with --verbose. Every handler: a Python warning
    (logging.captureWarnings) as one line "Category: text", without its file, line number
    and source line."""

    def __init__(self, console: bool, verbose: bool) -> None:
        super().__init__()
        self.console, self.verbose = console, verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "py.warnings" and not getattr(record, "one_line", False):
            found = _WARNING_PLACE.match(record.getMessage())
            if found:
                record.msg, record.args = found["text"], None
            record.one_line = True
        if self.console and not self.verbose:
            return record.name.partition(".")[0] not in _LIBRARIES \
                and not record.name.startswith("py.warnings")
        return True


def _library_warnings() -> None:
    """Python warnings go to the log (one line each, see _LibraryLine), each once per place
    and text: urllib3 itself asks to repeat InsecureRequestWarning on every request."""
    if warnings.showwarning is not getattr(logging, "_showwarning", None):
        logging.captureWarnings(False)  # someone put showwarning back since: install anew
    logging.captureWarnings(True)
    warnings.filterwarnings("default", module=r"(urllib3|requests|sqlalchemy)(\.|$)")


class ConsoleFormatter(EnglishFormatter):
    """The console's formatter. A record logged with a catalog text (`log.warning(say(...))`)
    is a line of the console in its language, "предупреждение: …" / "warning: …"; the log
    file (EnglishFormatter) keeps its English wording. Any other record (another library's,
    an INFO line of --verbose) is an English log line throughout: no console line is half
    one language and half the other."""

    def format(self, record: logging.LogRecord) -> str:
        if not getattr(record, "said", False):
            return super().format(record)
        # A text said before the console's language was known (the settings' warnings) is
        # told in the language now.
        text = now_said(record.msg) if hasattr(record.msg, "words") \
            else record.getMessage()
        if record.levelno >= logging.ERROR:
            text = say("error", text=text)
        elif record.levelno >= logging.WARNING:
            text = say("warning", text=text)
        if record.exc_text:  # --verbose: the traceback, masked already
            text = f"{text}\n{record.exc_text}"
        return mask(text)


def force_utf8_console() -> None:
    """Make Cyrillic survive a Windows console or a redirected stream."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(encoding="utf-8", errors="replace")
            except (ValueError, OSError):
                pass


def setup_logging(level: str | int = "INFO", *, log_file: Path | None = None,
                  verbose: bool = False, console_level: str | int | None = None,
                  debug_http: bool = False) -> None:
    """Configure the root logger once; calling again replaces the handlers.

    `level` is the log file's level and the console's; `console_level` (cli.py:
    CLI_CONSOLE) raises the console's above it and keeps IN_REPORT lines off it.
    --verbose makes both DEBUG; urllib3's lines of each HTTP request only come with
    `debug_http` too (cli.py --debug-http), so a verbose dry run lists records, not traffic.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    file_level = logging.DEBUG if verbose else _number(level)
    shown = logging.DEBUG if verbose else max(file_level, _number(console_level or level))
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(shown)
    if console_level is not None:  # cli.py: it prints the report's problems itself
        console.addFilter(_NotInReport())
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file = SharedRotatingFileHandler(log_file, maxBytes=5 * 1024 * 1024, backupCount=5,
                                         encoding="utf-8")
        file.setLevel(file_level)
        handlers.append(file)
    root.setLevel(min(h.level for h in handlers))
    console.setFormatter(ConsoleFormatter(FORMAT))
    _library_warnings()
    for handler in handlers:
        if handler is not console:
            handler.setFormatter(EnglishFormatter(FORMAT))
        handler.addFilter(_LibraryLine(handler is console, verbose))
        handler.addFilter(_PoolResetFailure(verbose))
        handler.addFilter(MaskingFilter())
        root.addHandler(handler)
    # urllib3 logs full request paths (with the webhook code, masked by every handler) at DEBUG.
    logging.getLogger("urllib3").setLevel(
        logging.DEBUG if verbose and debug_http else logging.WARNING)


def _number(level: str | int) -> int:
    return level if isinstance(level, int) else logging.getLevelName(str(level).upper())


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file that another process may hold open at the same time.

    Windows refuses to rename a file another process has open (PermissionError,
    WinError 32): the service and a manual run sharing bitrix-sync.log would make
    every rollover fail with a "--- Logging error ---" traceback on stderr. Here a
    failed rollover keeps writing to the same file, notes it there once, and tries
    again `retry_seconds` later; the rotation happens once the other process lets go.
    """

    retry_seconds = 60.0

    def __init__(self, *args, clock=time.monotonic, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock
        self._retry_at = 0.0

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self._clock() < self._retry_at:
            return False
        return bool(super().shouldRollover(record))

    def doRollover(self) -> None:
        try:
            super().doRollover()
        except OSError as exc:
            self._retry_at = self._clock() + self.retry_seconds
            if self.stream is None:
                self.stream = self._open()
            self.stream.write(
                f"{time.strftime('%Y-%m-%d %H:%M:%S')} WARNING bitrix_sync.logging: log "
                f"rotation postponed by {self.retry_seconds:.0f} s, the file is in use by "
                f"another process ({type(exc).__name__}: {exc})\n")
            self.stream.flush()
