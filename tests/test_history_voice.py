"""--status says a stored run error in the reader's console language (issue 18 §1): the
history keeps it in English (`error`, for --json and searching) and in the other languages
(`error_words`); a row of an older version, without them, shows its English text."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from app.testing.seed import DEMO_MAPPING
from tests.conftest import write_mapping_toml
from tests.test_first_hour import make_project, run
from tests.test_record_errors_voice import broken_portal
from tests.test_screens import check_env

pytestmark = pytest.mark.slow


def status_env(db_url: str, language: str) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "SYNC_LANG": language, "SYNC_TIMEZONE": "UTC"}


def test_status_says_a_stored_error_in_the_readers_language(tmp_path, seeded, sqlite_url):
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", DEMO_MAPPING)
    broken_portal(seeded, sqlite_url)
    synced = run(project, env=check_env(seeded, sqlite_url, SYNC_LANG="en"))  # an English run
    assert synced.returncode == 1, synced.stderr

    russian = run(project, "--status", env=status_env(sqlite_url, "ru"))
    english = run(project, "--status", env=status_env(sqlite_url, "en"))
    as_json = run(project, "--status", "--json", env=status_env(sqlite_url, "ru"))

    assert russian.returncode == english.returncode == as_json.returncode == 0, russian.stderr
    assert "ошибок в записях: 3, первая — city btxid 777001: name (из title): значение " \
           "слишком длинное" in russian.stdout
    assert "record error" not in russian.stdout and "too long" not in russian.stdout
    assert "3 record error(s), the first: city btxid 777001: name (from title) is too long" \
        in english.stdout
    [row] = json.loads(as_json.stdout)["runs"]
    assert row["error"].startswith("3 record error(s), the first: city btxid 777001: ")


def test_a_row_of_an_older_version_shows_its_english_and_a_run_adds_the_column(
        tmp_path, seeded, db_url):
    """A runs table made before error_words: --status reads it; the next run adds it."""
    engine = create_engine(db_url)
    serial = " AUTO_INCREMENT" if engine.dialect.name == "mysql" else ""
    with engine.begin() as conn:
        conn.execute(text(
            f"CREATE TABLE bitrix_sync_runs (id INTEGER PRIMARY KEY{serial}, "
            "started_at DATETIME NOT NULL, finished_at DATETIME, "
            "triggered_by VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL, "
            "exit_code SMALLINT, counts TEXT, error TEXT, host VARCHAR(255), pid INTEGER)"))
        conn.execute(text(
            "INSERT INTO bitrix_sync_runs (started_at, finished_at, triggered_by, status, "
            "exit_code, error) VALUES ('2026-01-02 03:04:05', '2026-01-02 03:05:05', 'cron', "
            "'failed', 3, 'database refused the connection (old wording)')"))
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", DEMO_MAPPING)

    old = run(project, "--status", env=status_env(db_url, "ru"))
    assert old.returncode == 0, old.stderr
    assert "database refused the connection (old wording)" in old.stdout

    broken_portal(seeded, db_url)
    synced = run(project, env=check_env(seeded, db_url))
    assert synced.returncode == 1, synced.stderr
    with engine.connect() as conn:
        words = conn.execute(text("SELECT error_words FROM bitrix_sync_runs ORDER BY id DESC")
                             ).scalars().first()
    engine.dispose()
    assert json.loads(words)["ru"].startswith("ошибок в записях: 3, первая — ")
    both = run(project, "--status", env=status_env(db_url, "ru")).stdout
    assert "ошибок в записях: 3" in both and "(old wording)" in both


def test_a_session_reading_an_older_history_table_does_not_hold_the_run(
        tmp_path, seeded, mysql_url, mapping, monkeypatch, caplog):
    """The ALTER that adds error_words waits for the table's metadata lock, which any open
    transaction that read the table holds (a reporting tool, an admin's mysql session):
    MariaDB would wait a day. It gives up after ALTER_WAIT; the run goes on in English."""
    from app.db import history
    from tests.conftest import sync

    monkeypatch.setattr(history, "ALTER_WAIT", 1)
    caplog.set_level("INFO", logger="app.db.history")
    engine = create_engine(mysql_url)
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE bitrix_sync_runs (id INTEGER PRIMARY KEY AUTO_INCREMENT, "
            "started_at DATETIME NOT NULL, finished_at DATETIME, "
            "triggered_by VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL, "
            "exit_code SMALLINT, counts TEXT, error TEXT, host VARCHAR(255), pid INTEGER)"))
    reader = engine.connect()
    try:
        reader.execute(text("SELECT COUNT(*) FROM bitrix_sync_runs"))  # its transaction stays
        report = sync(seeded, mysql_url, tmp_path, mapping)
    finally:
        reader.close()

    assert report.ok, report.render_table()
    assert any("stays English only" in r.getMessage() for r in caplog.records)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM bitrix_sync_runs WHERE status = 'ok'")
                            ).scalar() == 1
        columns = {row[0] for row in conn.execute(text("SHOW COLUMNS FROM bitrix_sync_runs"))}
    engine.dispose()
    assert "error_words" not in columns
