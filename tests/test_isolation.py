"""The suite never reads or writes the admin's own files: .env beside cli.py, the parent
project's .env and models.py, mapping.toml, the log file (tests/conftest.py clean_env)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, child_environ, copy_project

pytestmark = pytest.mark.slow

# A representative subset: settings, the CLI in process and in a child, --check, the
# service's start (its [no-webhook] case once started a real service from the user's files).
SUBSET = ("tests/test_config.py", "tests/test_cli.py", "tests/test_check.py",
          "tests/test_service.py::test_bad_settings_stop_the_service_at_start_with_exit_2")


def test_the_suite_passes_inside_a_parent_project_with_files_of_its_own(tmp_path):
    parent = tmp_path / "MiniApp"
    project = copy_project(parent / "bitrix-sync", "cli.py", "service.py", "pyproject.toml",
                           ".env.example")
    shutil.copytree(ROOT / "tests", project / "tests",
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    user_files = {
        parent / ".env": "BITRIX_WEBHOOK_URL=https://parent.example.org/rest/1/parentcode/\n"
                         f"DATABASE_URL=sqlite:///{(parent / 'parent.db').as_posix()}\n"
                         f"LOG_FILE={(parent / 'parent.log').as_posix()}\n",
        parent / "models.py": "raise RuntimeError('a test imported the parent models.py')\n",
        project / ".env": "BITRIX_WEBHOOK_URL=http://127.0.0.1:9/rest/1/usercode/\n"
                          f"DATABASE_URL=sqlite:///{(project / 'user.db').as_posix()}\n"
                          "SYNC_SCHEDULE=0 0 * * *\nSYNC_ON_START=true\n",
        project / "mapping.toml": "[city\nthis is not TOML: reading it fails loudly\n",
        project / "bitrix-sync.log": "the admin's own log\n",
    }
    for path, text in user_files.items():
        path.write_text(text, encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "basetemp"), *SUBSET],
        cwd=project, env=child_environ(PYTHONIOENCODING="utf-8"), capture_output=True,
        text=True, encoding="utf-8", timeout=300)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    for path, text in user_files.items():
        assert path.read_text(encoding="utf-8") == text, path
    for written in ("parent.db", "parent.log", "bitrix-sync/user.db"):
        assert not (parent / written).exists(), written
