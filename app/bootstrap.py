"""Start-up helpers for cli.py and service.py that need nothing outside the standard library."""

from __future__ import annotations

import sys
from typing import NoReturn


def exit_missing_package(exc: ModuleNotFoundError) -> NoReturn:
    """Name the missing package and the pip command instead of showing a traceback."""
    print(f"error: the Python package {exc.name!r} is missing; install the requirements "
          f"with: {sys.executable} -m pip install -r requirements.txt", file=sys.stderr)
    sys.exit(2)
