"""Schema checks before any write (the parent-project layout: tests/test_parent_project.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from app.db.connect import make_engine
from app.sync.runner import RunOptions, run_sync
from tests.conftest import settings_for
from tests.test_parent_project import PARENT_MAPPING, STANDALONE_MODELS

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


def test_a_missing_table_of_another_project_s_model_is_not_sent_to_init_db(
        seeded, sqlite_url, tmp_path, mapping):
    """--init-db would create the unused built-in tables, not the one the parent's model needs."""
    models = tmp_path / "mini_app_models.py"
    models.write_text(STANDALONE_MODELS, encoding="utf-8")
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE town (id INTEGER PRIMARY KEY, btxid INTEGER UNIQUE, "
                          "name VARCHAR(120) NOT NULL)"))

    report = run_sync(settings_for(seeded, sqlite_url, tmp_path, MODELS_MODULE=str(models)),
                      RunOptions(names=("city", "object")), overrides=PARENT_MAPPING)

    assert report.exit_code == 2
    assert (f"table 'site' does not exist (model Site); fix: create it in the main project "
            f"from its models: Site ({models})") in report.fatal
    assert "run `python cli.py --init-db`" not in report.fatal
    assert count(engine, "town") == 0
    engine.dispose()
