"""Start-up helpers for cli.py and service.py that need nothing outside the standard library.

This module must still import on an old Python (3.6+) so it can say that it is too old.
"""

from __future__ import annotations

import sys
from typing import NoReturn


def exit_missing_package(exc: ModuleNotFoundError) -> NoReturn:
    """Name the missing package and the pip command instead of showing a traceback."""
    print(f"error: the Python package {exc.name!r} is missing; install the requirements "
          f"with: {sys.executable} -m pip install -r requirements.txt", file=sys.stderr)
    sys.exit(2)


# The import names of requirements.txt's packages that the program itself imports.
REQUIRED_MODULES = ("requests", "sqlalchemy", "pymysql", "dotenv", "croniter", "tqdm")


def require_packages(modules: tuple = REQUIRED_MODULES) -> None:
    """Exit 2 naming the first package that is not installed, without importing any.

    The commands import their packages when they run, so a missing one would otherwise
    show up only in the middle of a run; finding a package costs a path search, not an import.
    """
    import importlib.util

    for name in modules:
        if importlib.util.find_spec(name) is None:
            exit_missing_package(ModuleNotFoundError(f"No module named {name!r}", name=name))


MINIMUM = (3, 11)


def require_python(version: tuple = tuple(sys.version_info)) -> None:
    """Exit 2 with a clear message on a Python older than 3.11 (before anything else fails)."""
    if tuple(version[:2]) >= MINIMUM:
        return
    print("error: bitrix-sync needs Python {}.{} or newer; {} is Python {}.{}. Install a newer "
          "Python (python.org) and create the project's virtual environment with it, e.g. "
          "py -3.11 -m venv .venv on Windows or python3.11 -m venv .venv on Linux"
          .format(*MINIMUM, sys.executable, *version[:2]), file=sys.stderr)
    sys.exit(2)
