"""The first hour, as a new user meets it: real child processes, counted lines and messages.

Each test runs `python cli.py` in a copy of the project laid out like the original
design's (MiniApps/bitrix-sync inside a parent project with its root .env), so the
.env files found are the test's own and nobody else's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import child_environ, copy_project, write_mapping_toml
from tests.ops_helpers import scalar

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def make_project(tmp_path: Path) -> Path:
    """tmp/MiniApps/bitrix-sync: cli.py, service.py, app/ and .env.example, nothing else."""
    return copy_project(tmp_path / "MiniApps" / "bitrix-sync", "cli.py", "service.py",
                        ".env.example")


def run(project: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """`python cli.py ARGS` from a folder of its own, as cron or a new user would start it."""
    elsewhere = project.parent.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(project / "cli.py"), *args], cwd=elsewhere,
                          env=child_environ(PYTHONIOENCODING="utf-8", **(env or {})),
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
    assert err.count("Developer resources → Other → Inbound webhook") == 1
    assert "next: 1) copy .env.example to .env" in err
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


# --- one problem, one message --------------------------------------------------------------


@pytest.fixture
def synced_project(tmp_path, mysql_url, mapping) -> tuple[Path, dict[str, str]]:
    """A project with a mapping and the real test database; the webhook is up to the test."""
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", mapping)
    return project, {"DATABASE_URL": mysql_url, "BITRIX_MAX_RETRIES": "1"}


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_told_once(result: subprocess.CompletedProcess, text: str) -> None:
    """`text` (the fatal error) is printed once, on stderr, as the one error: line."""
    assert "Traceback" not in result.stderr
    assert (result.stdout + result.stderr).count(text) == 1, result.stdout + result.stderr
    assert [line for line in lines(result.stderr) if line.startswith("error:")] == [
        next(line for line in lines(result.stderr) if text in line)]


def test_a_wrong_webhook_code_is_one_line_and_no_empty_table(synced_project, seeded):
    project, env = synced_project
    wrong = seeded.webhook_url.replace(seeded.code, "WrongCode123")

    result = run(project, env={**env, "BITRIX_WEBHOOK_URL": wrong})

    assert result.returncode == 3
    assert result.stdout == ""  # no directory did any work: no table of zeros
    assert_told_once(result, "The portal rejected the webhook")
    assert lines(result.stderr) == [next(line for line in lines(result.stderr)
                                         if line.startswith("error:"))]
    assert "WrongCode123" not in result.stderr


def test_a_portal_that_is_down_is_one_error_line(synced_project):
    project, env = synced_project
    down = f"http://127.0.0.1:{closed_port()}/rest/1/SecretCode123/"

    result = run(project, env={**env, "BITRIX_WEBHOOK_URL": down})

    assert result.returncode == 3
    assert result.stdout == ""
    # The retry lines before it are the client's (one per retry round); the error is told once.
    assert_told_once(result, "gave up after")
    [error] = [line for line in lines(result.stderr) if line.startswith("error:")]
    assert error.startswith("error: cannot connect to the portal")
    assert "not run" not in result.stderr
    assert "SecretCode123" not in result.stderr


def test_a_fatal_error_after_some_work_shows_the_table_once_and_the_error_once(
        synced_project, seeded):
    project, env = synced_project
    seeded.fail("user.get", status=401, error="expired_token",
                description="The access token provided has expired.", times=None)

    result = run(project, env={**env, "BITRIX_WEBHOOK_URL": seeded.webhook_url})

    assert result.returncode == 3
    table = result.stdout.splitlines()
    assert [row.split()[0] for row in table[2:7]] == ["city", "category", "object",
                                                      "violation", "user"]
    assert [row.split()[-1] for row in table[2:7]] == ["ok"] * 4 + ["failed"]
    [error] = [line for line in lines(result.stderr) if line.startswith("error:")]
    message = error.removeprefix("error: ")
    assert_told_once(result, message)


def test_directories_not_run_share_one_line(synced_project, seeded):
    project, env = synced_project
    seeded.fail("crm.item.list", status=401, error="expired_token",
                description="The access token provided has expired.", times=None,
                when=lambda params: str(params.get("entityTypeId")) == "1040")

    result = run(project, env={**env, "BITRIX_WEBHOOK_URL": seeded.webhook_url})

    assert result.returncode == 3
    not_run = [line for line in lines(result.stdout) if "not run" in line]
    assert not_run == ["violation, user: not run: an earlier error ended the run"]


def test_missing_tables_are_one_problem_for_all_of_them(tmp_path, seeded, mapping,
                                                        mysql_database):
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", mapping)
    env = {"BITRIX_WEBHOOK_URL": seeded.webhook_url,
           "DATABASE_URL": empty_database(mysql_database)}

    result = run(project, env=env)
    check = run(project, "--check", env=env)

    assert result.returncode == 2 and check.returncode == 2
    assert result.stderr.count("not exist") == 1
    assert result.stderr.count("--init-db") == 1
    for table in ("cities", "violation_categories", "objects", "violations", "users"):
        assert result.stderr.count(f"'{table}'") == 1
    assert check.stdout.count("not exist") == 1
    assert check.stdout.count("--init-db") == 1
    assert "[FAIL] tables: tables 'cities' (model City)" in check.stdout


def empty_database(admin_url: str) -> str:
    """A second database on the test server with no tables at all."""
    from sqlalchemy import create_engine, text

    name = urlsplit(admin_url).path.lstrip("/") + "_empty"
    engine = create_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    engine.dispose()
    return admin_url.replace(f"/{urlsplit(admin_url).path.lstrip('/')}?", f"/{name}?")


def test_check_prints_one_fix_for_directories_that_share_it(tmp_path, sqlite_url):
    project = make_project(tmp_path)
    env = {"BITRIX_WEBHOOK_URL": f"http://127.0.0.1:{closed_port()}/rest/1/abc123/",
           "DATABASE_URL": sqlite_url, "BITRIX_MAX_RETRIES": "0"}

    result = run(project, "--check", env=env)

    assert result.returncode == 2
    unconfigured = [line for line in lines(result.stdout) if "is not configured" in line]
    assert len(unconfigured) == 4  # city, category, object, violation: no mapping.toml
    fixes = [line for line in lines(result.stdout) if line.strip().startswith("fix:")]
    assert len(fixes) == len(set(fixes))
    assert sum("mapping.toml next to cli.py" in line for line in fixes) == 1
    assert sum("not probed" in line for line in lines(result.stdout)) == 1


# --- a successful run is quiet ---------------------------------------------------------------


def test_demo_is_quiet_and_short(tmp_path):
    project = make_project(tmp_path)

    result = run(project, "--demo", "--demo-db", str(tmp_path / "demo.db"))

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no INFO lines
    assert len(result.stdout.splitlines()) <= 20
    assert "INFO" not in result.stdout


def test_a_successful_sync_prints_the_table_and_nothing_else(synced_project, seeded, tmp_path):
    project, env = synced_project
    log_file = tmp_path / "sync.log"

    result = run(project, env={**env, "BITRIX_WEBHOOK_URL": seeded.webhook_url,
                               "LOG_FILE": str(log_file)})

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(lines(result.stdout)) == 7  # head, rule, five directories
    assert "INFO" in log_file.read_text(encoding="utf-8")  # the log file keeps them
