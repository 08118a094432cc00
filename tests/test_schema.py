"""Schema checks before any write (the parent-project layout: tests/test_parent_project.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from app.db.connect import make_engine
from app.sync.runner import RunOptions, run_sync
from tests.conftest import settings_for

ROOT = Path(__file__).resolve().parent.parent


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()


def test_missing_btxid_column_stops_before_any_write(seeded, mysql_url, tmp_path, mapping):
    engine = make_engine(mysql_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE cities DROP COLUMN btxid"))
        conn.execute(text("ALTER TABLE objects DROP COLUMN address"))

    report = run_sync(settings_for(seeded, mysql_url, tmp_path), RunOptions(),
                      overrides=mapping)

    assert report.exit_code == 2
    assert "table 'cities' has no column 'btxid'; add it with: ALTER TABLE cities ADD COLUMN " \
           "btxid INTEGER NULL UNIQUE;" in report.fatal
    assert "table 'objects' has no column 'address'; add it with: ALTER TABLE objects ADD " \
           "COLUMN address VARCHAR(512) NULL;" in report.fatal
    assert count(engine, "users") == 0 and count(engine, "violation_categories") == 0
    engine.dispose()


def test_missing_table_is_named(seeded, sqlite_url, tmp_path, mapping):
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE violations"))

    report = run_sync(settings_for(seeded, sqlite_url, tmp_path), RunOptions(),
                      overrides=mapping)

    assert report.exit_code == 2
    assert "table 'violations' does not exist (model Violation)" in report.fatal
    assert "--init-db" in report.fatal
    assert count(engine, "cities") == 0
    engine.dispose()


def test_column_unknown_to_the_model_is_named(seeded, sqlite_url, tmp_path, mapping):
    mapping["city"]["fields"]["ufCrm3_1709124411"] = "region"
    report = run_sync(settings_for(seeded, sqlite_url, tmp_path), RunOptions(names=("city",)),
                      overrides=mapping)
    assert report.exit_code == 2
    assert "model City (table 'cities', built-in app/db/models.py) has no column 'region'" \
        in report.fatal
