"""Why a directory is read in full, and the notes a read leaves, in the console's language
(issue 18 §1): --check and a run's table speak it; --json, the history and the log file keep
the English wording."""

from __future__ import annotations

import json

import pytest

from app.messages import language, set_language
from app.report import SyncReport
from app.sync.removals import no_active_column_notice
from app.testing.seed import DEMO_MAPPING
from tests.conftest import write_mapping_toml
from tests.test_first_hour import make_project, run
from tests.test_screens import check_env

pytestmark = pytest.mark.slow


def test_check_says_why_a_directory_is_read_in_full_in_the_consoles_language(
        tmp_path, seeded, sqlite_url):
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", DEMO_MAPPING)

    russian = run(project, "--check", env=check_env(seeded, sqlite_url))
    english = run(project, "--check", env=check_env(seeded, sqlite_url, SYNC_LANG="en"))
    never = run(project, "--check", env=check_env(seeded, sqlite_url, SYNC_FULL_EVERY="0"))

    assert russian.returncode == english.returncode == never.returncode == 0, russian.stdout
    assert ("city: чтение: следующий запуск: целиком: полное чтение ещё ни разу не завершилось"
            in russian.stdout)
    assert "full:" not in russian.stdout and "recorded yet" not in russian.stdout
    assert "city: read: next run reads full: no complete full read recorded yet" in english.stdout
    assert "целиком" not in english.stdout
    assert "city: чтение: следующий запуск: целиком: SYNC_FULL_EVERY равен 0" in never.stdout


def test_json_and_the_log_keep_the_english_reason_on_a_russian_console(
        tmp_path, seeded, sqlite_url):
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", DEMO_MAPPING)
    env = check_env(seeded, sqlite_url, LOG_FILE=str(tmp_path / "sync.log"))

    first = run(project, "--sync", "city", "--json", env=env)
    forced = run(project, "--sync", "city", "--json", "--full", env=env)

    assert first.returncode == forced.returncode == 0, first.stdout + first.stderr
    city = json.loads(first.stdout)["directories"]["city"]
    assert (city["mode"], city["mode_reason"]) == ("full", "no complete full read recorded yet")
    assert json.loads(forced.stdout)["directories"]["city"]["mode_reason"] == "--full"
    log = (tmp_path / "sync.log").read_text(encoding="utf-8")
    assert "city: read full (no complete full read recorded yet)" in log
    assert "city: read full (--full)" in log
    assert "целиком" not in log and "указан" not in log


def test_a_notice_is_said_in_the_consoles_language_and_kept_in_english():
    was = language()
    set_language("ru")
    try:
        report = SyncReport()
        report.directory("city").notices.append(no_active_column_notice("city", "cities"))
        table, data = report.render_table(), report.to_dict()
    finally:
        set_language(was)

    assert ("city: в таблице cities нет столбца is_active, поэтому записи, удалённые в "
            "Bitrix24, остаются как есть") in table
    assert "has no is_active column" not in table
    assert data["directories"]["city"]["notices"] == [
        "table cities has no is_active column, so records removed in Bitrix24 are left as "
        "they are (active_column in [city] of mapping.toml can name another column; \"\" "
        "turns this note off)"]
