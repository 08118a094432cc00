"""What only Windows runs, checked here: PowerShell parsed, Windows code paths with the platform
faked.

No PowerShell runs on this Linux CI (it is not on PyPI, npm or Debian; the npm `pwsh`
package downloads it at install). sync-cron.ps1 and the README's PowerShell are parsed
with tree-sitter-powershell instead: a syntax error, an operator Windows PowerShell 5.1
does not have (`&&`, `||`, `??`, `?:`) or a `-f` that binds before `+` fails the test.
tests/test_cron_scripts.py runs the script for real where pwsh is installed.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import signal
import sys
import types
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

from app import bootstrap
from app.service import signals

ROOT = Path(__file__).resolve().parent.parent
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def powershell_problems(source: str) -> list[str]:
    """Syntax errors and what Windows PowerShell 5.1 cannot run, as 'line N: ...'."""
    tree = PARSER.parse(source.encode("utf-8"))
    found: list[str] = []

    def walk(node: tree_sitter.Node) -> None:
        line = f"line {node.start_point[0] + 1}"
        if node.is_error or node.is_missing:
            found.append(f"{line}: syntax error near {node.text[:40]!r}")
        elif node.type == "pipeline_chain_tail":
            found.append(f"{line}: && / || need PowerShell 7; use if ($LASTEXITCODE ...)")
        elif node.type == "format_operator":
            # "a" + "b {0}" -f $x formats only "b {0}": -f binds tighter than +.
            format_expression = node.parent
            outer = format_expression.parent and format_expression.parent.parent
            if (outer is not None and outer.type == "additive_expression"
                    and outer.children[0] != format_expression.parent):
                found.append(f"{line}: -f after + formats only the last piece; "
                             "put the joined string in parentheses")
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return found


def test_sync_cron_ps1_parses_for_windows_powershell_5_1():
    source = (ROOT / "sync-cron.ps1").read_text(encoding="utf-8")
    assert powershell_problems(source) == []


@pytest.mark.parametrize("broken, problem", [
    ("if ($x) { y", "syntax error"),
    ("python cli.py && python -m pytest", "need PowerShell 7"),
    ("$a = $b ?? 1", "syntax error"),
    ('Write-Log ("[{0}] start " + "of {1}" -f $a, $b)', "-f after +"),
], ids=["unclosed-brace", "and-and", "null-coalescing", "format-after-plus"])
def test_the_powershell_check_catches_what_5_1_cannot_run(broken, problem):
    found = powershell_problems(broken)
    assert found and any(problem in line for line in found), found
    assert powershell_problems('Write-Log (("[{0}] start " + "of {1}") -f $a, $b)') == []


def test_the_scripts_start_on_an_old_python_far_enough_to_say_it_is_too_old():
    """An old Python (3.7 and newer: `from __future__ import annotations` is older Pythons'
    SyntaxError) must reach require_python() instead of a SyntaxError."""
    for name in ("cli.py", "service.py", "app/bootstrap.py"):
        ast.parse((ROOT / name).read_text(encoding="utf-8"), feature_version=(3, 7))


@pytest.mark.parametrize("version", [(3, 8, 10), (3, 10, 11)])
def test_a_python_older_than_3_11_is_named_with_what_to_do(version, capsys):
    with pytest.raises(SystemExit) as exited:
        bootstrap.require_python(version)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert f"needs Python 3.11 or newer; {sys.executable} is Python {version[0]}.{version[1]}" \
        in err
    assert "py -3.11 -m venv .venv" in err
    bootstrap.require_python((3, 11, 0))  # and nothing happens on 3.11


# --- Windows code paths with the platform faked ---------------------------------------------


def test_ctrl_break_stops_the_service_like_ctrl_c(monkeypatch):
    """Windows has SIGBREAK (Ctrl+Break; also what a closing console sends first)."""
    monkeypatch.setattr(signal, "SIGBREAK", 21, raising=False)
    assert 21 in signals.stop_signals()
    assert signals._exit_code(21) == 130  # like Ctrl+C, not 128 + 21


class FakeMsvcrt(types.ModuleType):
    """msvcrt.locking over a shared table: byte 0 of a file locked by one handle at a time."""

    LK_NBLCK, LK_UNLCK = 2, 0

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.holders: dict[str, int] = {}

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        import os

        assert nbytes == 1 and os.lseek(fd, 0, os.SEEK_CUR) == 0, "locks byte 0 only"
        path = os.path.realpath(f"/proc/self/fd/{fd}") if sys.platform != "win32" else str(fd)
        if mode == self.LK_NBLCK:
            if path in self.holders and self.holders[path] != fd:
                raise OSError(36, "Resource deadlock avoided")  # what Windows raises
            self.holders[path] = fd
        elif self.holders.get(path) == fd:
            del self.holders[path]


@pytest.mark.skipif(sys.platform == "win32", reason="the real msvcrt path runs there")
def test_the_sqlite_run_lock_uses_msvcrt_on_windows(monkeypatch, tmp_path):
    fake = FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setattr("os.name", "nt")
    spec = importlib.util.spec_from_file_location("run_lock_on_windows",
                                                  ROOT / "app" / "db" / "run_lock.py")
    windows = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(windows)
    monkeypatch.setattr("os.name", "posix")

    path = tmp_path / "sync.db.lock"
    with windows._file_lock(path):
        assert fake.holders  # byte 0 is locked
        with pytest.raises(windows.LockHeldError, match="Another sync is already running"):
            with windows._file_lock(path):
                pass
    assert fake.holders == {}
    with windows._file_lock(path):  # free again after the first run let go
        pass


# --- the README's commands ---------------------------------------------------------------------


def readme_blocks(language: str) -> list[tuple[str, str]]:
    """(where, code) of every ```<language> block in the README and docs/."""
    blocks = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(rf"```{language}\n(.*?)```", text, re.DOTALL):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((f"{path.name}:{line}", match.group(1)))
    return blocks


def test_the_readme_powershell_commands_parse_for_windows_powershell_5_1():
    blocks = readme_blocks("powershell")
    assert len(blocks) >= 2, "the first two commands and the NSSM lines"
    problems = {where: powershell_problems(code) for where, code in blocks}
    assert {where: found for where, found in problems.items() if found} == {}


def test_the_readme_opens_with_the_demo_and_the_ci_test_command_for_both_shells():
    """The first two commands: install + demo, install + the test command .ci/run runs."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m ruff check . && python -m pytest" in ci
    [(_, powershell), *_] = readme_blocks("powershell")
    [(_, bash), *_] = readme_blocks("bash")
    ps_demo, ps_tests = powershell.strip().splitlines()
    sh_demo, sh_tests = bash.strip().splitlines()
    assert ps_demo.endswith(r".\.venv\Scripts\python.exe cli.py --demo")
    assert sh_demo.endswith(".venv/bin/python cli.py --demo")
    assert "-r requirements.txt" in ps_demo and "-r requirements.txt" in sh_demo
    assert sh_tests == (".venv/bin/python -m pip install -r requirements-dev.txt && "
                        ".venv/bin/python -m ruff check . && .venv/bin/python -m pytest")
    assert ps_tests == (r".\.venv\Scripts\python.exe -m pip install -r requirements-dev.txt; "
                        r"if ($?) { .\.venv\Scripts\python.exe -m ruff check . }; "
                        r"if ($?) { .\.venv\Scripts\python.exe -m pytest }")
    assert "&&" not in powershell
