"""Logging: stderr (and optionally a rotating file), every handler masking secrets."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from app.masking import MaskingFilter

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


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
                  verbose: bool = False) -> None:
    """Configure the root logger once; calling again replaces the handlers."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG if verbose else level)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(
            log_file, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(MaskingFilter())
        root.addHandler(handler)
    # urllib3 logs full request paths (with the webhook code) at DEBUG.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbose else logging.WARNING)
