"""Progress lines: drawn on a terminal only, never with --quiet or into a pipe."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.commands.progress import TerminalProgress, live_progress, progress_wanted
from app.logging_setup import setup_logging
from app.masking import register_secret

ROOT = Path(__file__).resolve().parent.parent
DIRECTORIES = ("city", "category", "object", "violation", "user")


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_wanted_only_on_a_terminal_without_quiet():
    assert progress_wanted(quiet=False, stream=FakeTty()) is True
    assert progress_wanted(quiet=True, stream=FakeTty()) is False
    assert progress_wanted(quiet=False, stream=io.StringIO()) is False


def test_line_shows_phase_rows_and_rate():
    ticks = iter([0.0, 1.0, 2.0, 4.0, 5.0])
    stream = FakeTty()
    progress = TerminalProgress(stream, clock=lambda: next(ticks))

    progress("city", "reading", 50)
    progress("city", "writing", 100)
    progress("city", "done", 100)
    progress("object", "reading", 30)  # its clock starts when city finished, at 4.0

    shown = stream.getvalue()
    assert "city       reading        50 rows read        50 rows/s  00:01" in shown
    assert "city       done          100 rows read        25 rows/s  00:04" in shown
    assert "object     reading        30 rows read        30 rows/s  00:01" in shown
    progress.close()


def test_logs_keep_their_masking_while_progress_is_drawn(capsys):
    register_secret("TopSecretCode42")
    setup_logging("INFO")
    with live_progress(True, FakeTty()) as progress:
        progress("city", "reading", 1)
        logging.getLogger("test").warning("calling /rest/1/TopSecretCode42/crm.item.list")
    err = capsys.readouterr().err
    assert "calling /rest/1/***/crm.item.list" in err and "TopSecretCode42" not in err


def run_demo_with_stderr(tmp_path: Path, stderr, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "--demo", "--demo-db", str(tmp_path / "d.db"),
         *args], stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, cwd=tmp_path,
        env={k: os.environ[k] for k in ("SYSTEMROOT",) if k in os.environ})


def read_pty(master: int, seconds: float = 60.0) -> str:
    import select

    chunks = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # never hang the suite on a stuck child
        if not select.select([master], [], [], 1.0)[0]:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="pty is POSIX-only")
@pytest.mark.parametrize("quiet", [False, True], ids=["terminal", "terminal-quiet"])
def test_progress_on_a_real_terminal(tmp_path, quiet):
    import pty

    master, slave = pty.openpty()
    child = run_demo_with_stderr(tmp_path, slave, *(["--quiet"] if quiet else []))
    os.close(slave)
    stderr = read_pty(master)
    stdout = child.communicate(timeout=120)[0].decode("utf-8")
    os.close(master)

    assert child.returncode == 0, stderr
    # No SYNC_LANG in the child's environment: the screen is Russian, the default.
    assert "строк прочитано" not in stdout and stdout.startswith("справочник")
    if quiet:
        assert "строк прочитано" not in stderr and "INFO" not in stderr
    else:
        for name in DIRECTORIES:
            assert f"{name:<10} готово" in stderr
        assert "строк/с" in stderr and "INFO" not in stderr  # progress, not log lines
    # What the screen keeps: one line per directory (redrawn in place) and the result.
    assert len(stderr.replace("\r\n", "\n").split("\n")) - 1 + len(stdout.splitlines()) <= 20


@pytest.mark.slow
def test_no_progress_into_a_pipe(tmp_path):
    child = run_demo_with_stderr(tmp_path, subprocess.PIPE)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0
    assert "строк прочитано".encode() not in stdout + stderr and stderr == b""
