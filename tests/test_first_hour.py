"""The first hour, as a new user meets it: real child processes, counted lines and messages.

Each test runs `python cli.py` in a copy of the project laid out like the original
design's (MiniApps/bitrix-sync inside a parent project with its root .env), so the
.env files found are the test's own and nobody else's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import write_mapping_toml
from tests.ops_helpers import scalar

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def make_project(tmp_path: Path) -> Path:
    """tmp/MiniApps/bitrix-sync: cli.py, service.py, app/ and .env.example, nothing else."""
    project = tmp_path / "MiniApps" / "bitrix-sync"
    shutil.copytree(ROOT / "app", project / "app", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("cli.py", "service.py", ".env.example"):
        shutil.copy2(ROOT / name, project / name)
    return project


def run(project: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """`python cli.py ARGS` from a folder of its own, as cron or a new user would start it."""
    elsewhere = project.parent.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(project / "cli.py"), *args], cwd=elsewhere,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
                          capture_output=True, encoding="utf-8", timeout=timeout,
                          stdin=subprocess.DEVNULL)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def mysql_variables(url: str) -> dict[str, str]:
    """The MYSQL_* variables a parent project's root .env would hold for `url`."""
    parts = urlsplit(url)
    return {"MYSQL_HOST": parts.hostname, "MYSQL_PORT": str(parts.port or 3306),
            "MYSQL_USER": parts.username, "MYSQL_PASSWORD": parts.password or "",
            "MYSQL_DATABASE": parts.path.lstrip("/")}


# --- settings ----------------------------------------------------------------------------


def test_nothing_configured_is_one_message_with_the_places_and_the_next_step(tmp_path):
    project = make_project(tmp_path)

    result = run(project)

    assert result.returncode == 2
    assert result.stdout == ""
    err = result.stderr
    assert err.count("error:") == 1 and "Traceback" not in err
    assert err.startswith("error: No settings found; nothing was written.")
    assert f"2. {project / '.env'} (not found)" in err
    assert f"3. {project.parent / '.env'} (not found)" in err
    assert err.count("«Разработчикам» → «Другое» → «Входящий вебхук»") == 1
    assert "next: 1) скопируйте .env.example в .env" in err
    assert len(lines(err)) <= 10


def test_env_example_copied_with_only_the_webhook_does_not_beat_the_parent_root_env(
        tmp_path, seeded, mysql_url, mapping):
    """The original design's layout: the parent project's root .env holds the database."""
    project = make_project(tmp_path)
    root_env = "".join(f"{k}={v}\n" for k, v in mysql_variables(mysql_url).items())
    (project.parent / ".env").write_text("# main project\n" + root_env, encoding="utf-8")
    example = (project / ".env.example").read_text(encoding="utf-8")
    filled, count = re.subn(r"(?m)^BITRIX_WEBHOOK_URL=.*$",
                            f"BITRIX_WEBHOOK_URL={seeded.webhook_url}", example)
    assert count == 1
    (project / ".env").write_text(filled, encoding="utf-8")
    write_mapping_toml(project / "mapping.toml", mapping)

    check = run(project, "--check", "--json")
    result = run(project, "--json")

    origins = {row[0]: row[2] for row in json.loads(check.stdout)["settings"]}
    parent_env = str(project.parent / ".env")
    assert {k: origins.get(k) for k in ("MYSQL_HOST", "MYSQL_USER", "MYSQL_DATABASE")} == {
        "MYSQL_HOST": parent_env, "MYSQL_USER": parent_env, "MYSQL_DATABASE": parent_env}
    assert origins["BITRIX_WEBHOOK_URL"] == str(project / ".env")
    assert result.returncode == 0, result.stderr
    assert scalar(mysql_url, "SELECT COUNT(*) FROM objects") == 40


@pytest.mark.parametrize("encoding", ["utf-16", "cp1251"],
                         ids=["ps51-redirect-utf16", "ansi-cp1251"])
def test_a_windows_saved_env_file_is_read(tmp_path, sqlite_url, encoding):
    project = make_project(tmp_path)
    text = f"# Настройки базы\r\nDATABASE_URL={sqlite_url}\r\nLOG_LEVEL=WARNING\r\n"
    (project / ".env").write_bytes(text.encode(encoding))

    result = run(project, "--status", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["last_success"] is None
    assert "Unexpected error" not in result.stderr


def test_an_env_file_that_is_not_text_is_refused_naming_it(tmp_path):
    project = make_project(tmp_path)
    (project / ".env").write_bytes(b"\x00\x98\x00\x01BITRIX\x00\xff\xfe" * 4)

    result = run(project, "--status")

    assert result.returncode == 2
    assert "Unexpected error" not in result.stderr and "Traceback" not in result.stderr
    [line] = [line for line in lines(result.stderr) if line.startswith("error:")]
    assert str(project / ".env") in line


def test_status_needs_no_webhook_even_the_placeholder_one(tmp_path, sqlite_url):
    project = make_project(tmp_path)
    example = (project / ".env.example").read_text(encoding="utf-8")
    (project / ".env").write_text(example + f"\nDATABASE_URL={sqlite_url}\n", encoding="utf-8")

    result = run(project, "--status")

    assert result.returncode == 0, result.stderr
    assert "BITRIX_WEBHOOK_URL" not in result.stderr
