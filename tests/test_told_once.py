"""Each warning is told once (issue 18 §1): one log call per message — the console in its
language, the log file in English — and the .env files are read once at start."""

from __future__ import annotations

import pytest

from app.config import early_environment, load_settings
from tests.test_voice import (
    CYRILLIC,
    assert_english,
    environ,
    needs_posix_signals,
    project_folder,
    run,
    service_until,
)

ENV = 'BACKUP_DIR="C:\\backup\\new"\nDATABASE_URL={url}\nLOG_FILE={log}\n'
RUSSIAN = "предупреждение: BACKUP_DIR в "
ENGLISH = "BACKUP_DIR in "


def write_env(sqlite_url: str, tmp_path, extra: str = "") -> None:
    (project_folder() / ".env").write_text(
        ENV.format(url=sqlite_url, log=tmp_path / "sync.log") + extra, encoding="utf-8")


def test_a_settings_warning_is_told_once_in_russian_and_logged_once_in_english(
        sqlite_url, tmp_path):
    write_env(sqlite_url, tmp_path)

    result = run("cli.py", "--status")

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "BACKUP_DIR" in line]
    assert len(warnings) == 1 and warnings[0].startswith(RUSSIAN), result.stderr
    assert "обратная косая черта" in warnings[0]
    logged = [line for line in (tmp_path / "sync.log").read_text(encoding="utf-8").splitlines()
              if "BACKUP_DIR" in line]
    assert len(logged) == 1 and ENGLISH in logged[0] and not CYRILLIC.search(logged[0])


def test_a_warning_read_before_the_language_is_told_in_the_language_of_the_env_file(
        sqlite_url, tmp_path):
    """SYNC_LANG=en in the same .env: the warning was said while reading it, before the
    language was known, and is still told in English."""
    write_env(sqlite_url, tmp_path, "SYNC_LANG=en\n")

    result = run("cli.py", "--status", language=None)

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "BACKUP_DIR" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: " + ENGLISH), result.stderr
    assert_english(result.stderr)


@pytest.mark.slow
@needs_posix_signals
def test_the_service_tells_a_settings_warning_once(sqlite_url, tmp_path):
    write_env(sqlite_url, tmp_path, "BITRIX_WEBHOOK_URL=http://127.0.0.1:9/rest/1/abcdef/\n"
                                    "SYNC_SCHEDULE=0 0 1 1 *\nSYNC_TIMEZONE=UTC\n")
    console = service_until("Сервис bitrix-sync запущен", cwd=project_folder(),
                            env=environ(None), console=tmp_path / "console.txt")
    assert console.count(RUSSIAN) == 1 and console.count("BACKUP_DIR в ") == 1, console
    assert console.count("Получен SIGTERM") == 1
    log = (tmp_path / "sync.log").read_text(encoding="utf-8")
    assert log.count(ENGLISH) == 1 and log.count("SIGTERM received") == 1
    assert_english(log)


def test_the_settings_are_built_from_what_was_read_at_start(sqlite_url, tmp_path):
    """load_settings(environment=...) builds on the environment early_environment() read:
    the .env files are not read a second time (here they are gone by then)."""
    write_env(sqlite_url, tmp_path, "SYNC_LANG=en\n")
    language, environment = early_environment(["--status"])
    (project_folder() / ".env").unlink()

    settings = load_settings(environment=environment, require_webhook=False)

    assert language == "en" and settings.database_url == sqlite_url
    assert [w.en.split(":")[0] for w in settings.warnings] == [
        f"BACKUP_DIR in {project_folder() / '.env'}"]
