"""One table of exit codes: both --help texts show it, and the README's table equals it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import cli
import service
from app.errors import (
    EXIT_CODES,
    INTERRUPTED,
    ConfigError,
    DatabaseError,
    LockHeldError,
    PortalFatalError,
    SyncError,
    exit_codes_help,
)
from app.service import signals

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def readme_exit_codes() -> list[tuple[int, str]]:
    """The rows of the README's "Коды завершения" table: (code, meaning)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Коды завершения\n", 1)[1].split("\n#", 1)[0]
    return [(int(code), meaning) for code, meaning in
            re.findall(r"^\| (\d+) \| (.+) \|$", section, flags=re.MULTILINE)]


def test_the_readme_table_is_the_exit_code_table():
    assert readme_exit_codes() == [(row.code, row.meaning_ru) for row in EXIT_CODES]


@pytest.mark.parametrize("program", [cli, service], ids=["cli.py", "service.py"])
def test_help_shows_the_exit_code_table(program, capsys):
    assert program.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(exit_codes_help())


def test_every_code_the_programs_return_is_in_the_table():
    codes = [row.code for row in EXIT_CODES]
    assert codes == sorted(set(codes))  # one row per code, in order
    errors = {cls.exit_code for cls in (SyncError, ConfigError, PortalFatalError, DatabaseError,
                                        LockHeldError)}
    second_signal = {signals._exit_code(signum) for signum in signals.stop_signals()}
    scripts = {int(code) for name in ("sync-cron.sh", "sync-cron.ps1")
               for code in re.findall(r"(?:\bexit|\$code =) (\d+)",
                                      (ROOT / name).read_text(encoding="utf-8"))}
    assert errors | second_signal | scripts | {0, INTERRUPTED} <= set(codes)


@pytest.mark.parametrize("program", [cli, service], ids=["cli.py", "service.py"])
def test_the_programs_return_named_exit_codes(program):
    """A literal code beside the table drifts from it: only 0 may be spelled as a number."""
    tree = ast.parse(Path(program.__file__).read_text(encoding="utf-8"))
    literals = [(node.lineno, node.value.value) for node in ast.walk(tree)
                if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, int) and node.value.value != 0]
    assert literals == []
