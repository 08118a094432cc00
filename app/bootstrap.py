"""Start-up helpers for cli.py and service.py that need nothing outside the standard library.

This module must still import on an old Python (3.7+: `from __future__ import annotations`) so
it can say that it is too old.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn


def exit_missing_package(exc: ModuleNotFoundError, script: str | None = None) -> NoReturn:
    """Name the missing package and what to run instead of showing a traceback.

    With a .venv beside the script (and this not being its Python) the advice is to run
    that venv's Python, never to install into the system Python.
    """
    from app.messages import say, set_language  # standard library only

    script_path = Path(script or sys.argv[0]).resolve()
    set_language(_language(script_path.parent))
    venv_python = project_venv_python(script_path.parent)
    if venv_python is not None and not _same_file(venv_python, sys.executable):
        text = say("missing_package_venv", name=exc.name, python=sys.executable,
                   venv_python=venv_python, script=script_path)
    else:
        text = say("missing_package", name=exc.name, python=sys.executable)
    print(text, file=sys.stderr)
    sys.exit(2)


# Objects allocated between two collections of the youngest generation during a run (the
# interpreter's default is 700): a run allocates a few dicts per record, nearly all of which
# die young, and the modules it loads stay, so counting them 700 at a time only repeats the
# same scans.
RUN_GC_THRESHOLD = 100_000


def collect_less() -> None:
    """Collect the youngest generation every RUN_GC_THRESHOLD allocations, not more often."""
    import gc

    first, *older = gc.get_threshold()
    gc.set_threshold(max(first, RUN_GC_THRESHOLD), *older)


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


def project_venv_python(project: Path, *, windows: bool | None = None) -> str | None:
    """The Python of the .venv in `project` as a Windows or POSIX path, or None without one."""
    windows = os.name == "nt" if windows is None else windows
    if not (project / ".venv").is_dir():
        return None
    if windows:
        return str(project / ".venv") + "\\Scripts\\python.exe"
    return str(project / ".venv" / "bin" / "python")


def _same_file(one: str, other: str) -> bool:
    try:
        return Path(one).exists() and Path(one).samefile(other)
    except OSError:
        return False


def _language(project: Path) -> str:
    """SYNC_LANG from the environment or a plain KEY=value line of the project's .env files;
    the settings reader cannot be imported here (its packages are the ones missing)."""
    from app.messages import normal_language

    raw = os.environ.get("SYNC_LANG")
    for env in (project / ".env", project.parent / ".env"):
        if raw:
            break
        try:
            lines = env.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            key, sep, value = line.strip().partition("=")
            if sep and key.strip().removeprefix("export ").strip() == "SYNC_LANG":
                raw = value.strip().strip("'\"")
    return normal_language(raw) or "ru"


MINIMUM = (3, 11)


def require_python(version: tuple = tuple(sys.version_info)) -> None:
    """Exit 2 with a clear message on a Python older than 3.11 (before anything else fails)."""
    if tuple(version[:2]) >= MINIMUM:
        return
    text = OLD_PYTHON
    try:  # the catalog needs Python 3.7+; older ones get the English text
        from app.messages import CATALOG

        project = Path(sys.argv[0]).resolve().parent
        text = "error: " + CATALOG["old_python"][_language(project)]
    except Exception:  # noqa: BLE001 - any failure here must still end in the message
        pass
    print(text.format(major=MINIMUM[0], minor=MINIMUM[1], python=sys.executable,
                      old_major=version[0], old_minor=version[1]), file=sys.stderr)
    sys.exit(2)


OLD_PYTHON = ("error: bitrix-sync needs Python {major}.{minor} or newer; {python} is Python "
              "{old_major}.{old_minor}. Install a newer Python (python.org) and create the "
              "project's virtual environment with it, e.g. py -3.11 -m venv .venv on Windows or "
              "python3.11 -m venv .venv on Linux")
