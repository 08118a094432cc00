"""Run history: every run leaves one row in bitrix_sync_runs with its outcome."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading

import pytest
from sqlalchemy import inspect, text

from app.db.connect import make_engine
from app.db.history import error_summary
from app.db.schema import create_builtin_tables
from app.report import SyncReport
from app.sync.engine import SyncEngine
from app.sync.runner import RunOptions, run_sync
from app.testing.seed import seed_portal
from app.text import shorten
from tests.conftest import settings_for, sync
from tests.ops_helpers import execute, query, scalar
from tests.test_sync import id_abc


def runs(url: str) -> list[dict]:
    return query(url, "SELECT * FROM bitrix_sync_runs ORDER BY id")


def count(url: str, table: str) -> int:
    return scalar(url, f"SELECT COUNT(*) FROM {table}")


def test_a_successful_run_is_recorded(seeded, db_url, tmp_path, mapping):
    report = sync(seeded, db_url, tmp_path, mapping, trigger="cron")

    [row] = runs(db_url)
    assert row["triggered_by"] == "cron"
    assert row["status"] == "ok" and row["exit_code"] == 0
    assert row["error"] is None
    assert row["host"] == socket.gethostname() and row["pid"] == os.getpid()
    assert row["started_at"] <= row["finished_at"]
    counts = json.loads(row["counts"])
    assert list(counts) == ["city", "category", "object", "violation", "user"]
    assert counts == json.loads(json.dumps(report.to_dict()["directories"]))
    assert counts["object"]["created"] == count(db_url, "objects")


def test_record_errors_are_status_errors_with_a_summary(seeded, db_url, tmp_path, mapping):
    seeded.add_items(1036, [{"id": 777001, "title": "Ж" * 256}])

    sync(seeded, db_url, tmp_path, mapping, "city")

    [row] = runs(db_url)
    assert (row["status"], row["exit_code"]) == ("errors", 1)
    assert row["error"] == ("1 record error(s), the first: city btxid 777001: name (from "
                            "title) is too long (256 characters; the column holds 255)")
    assert list(json.loads(row["counts"])) == ["city"]


def test_a_record_without_a_usable_id_is_in_the_summary(seeded, db_url, tmp_path, mapping):
    broken = seeded.records("crm:1036")[1]["title"]
    id_abc(seeded, lambda item: item["title"] == broken)

    sync(seeded, db_url, tmp_path, mapping, "city")

    [row] = runs(db_url)
    assert (row["status"], row["exit_code"]) == ("errors", 1)
    assert row["error"] == ("1 record error(s), the first: city: has no usable id in field "
                            "'id' ('abc'); the record was not stored")


def test_a_fatal_error_is_recorded_without_the_webhook_code(seeded, db_url, tmp_path,
                                                            mapping):
    bad_url = seeded.webhook_url.replace(seeded.code, "Wr0ngSecretCode77")
    settings = settings_for(seeded, db_url, tmp_path, BITRIX_WEBHOOK_URL=bad_url)

    run_sync(settings, RunOptions(), overrides=mapping)

    [row] = runs(db_url)
    assert (row["status"], row["exit_code"]) == ("failed", 3)
    assert row["error"].startswith("The portal rejected the webhook")
    assert "Wr0ngSecretCode77" not in json.dumps([str(v) for v in row.values()])


def test_a_schema_error_writes_no_history(seeded, db_url, tmp_path, mapping):
    """Exit 2 means nothing was written: not even the history table is created."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        conn.execute(text("DROP TABLE users"))

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.exit_code == 2 and "table 'users' does not exist" in report.fatal
    assert not inspect(engine).has_table("bitrix_sync_runs")
    engine.dispose()


@pytest.mark.slow
def test_a_dry_run_writes_no_history(seeded, db_url, tmp_path, mapping):
    report = sync(seeded, db_url, tmp_path, mapping, dry_run=True)

    assert report.exit_code == 0 and report.directory("city").created == 8
    assert count(db_url, "cities") == 0
    engine = make_engine(db_url)
    assert not inspect(engine).has_table("bitrix_sync_runs")  # not even created
    engine.dispose()

    sync(seeded, db_url, tmp_path, mapping)
    sync(seeded, db_url, tmp_path, mapping, dry_run=True)
    assert [row["status"] for row in runs(db_url)] == ["ok"]


def test_stop_mid_directory_rolls_it_back_and_is_recorded(portal, db_url, tmp_path, mapping):
    seed_portal(portal, objects=120)  # three pages of objects
    stop = threading.Event()

    def progress(directory: str, phase: str, rows: int) -> None:
        if directory == "object" and phase == "reading":
            stop.set()  # as a signal handler would, after the first page

    report = run_sync(settings_for(portal, db_url, tmp_path), RunOptions(trigger="service"),
                      overrides=mapping, stop_event=stop, progress=progress)

    assert report.exit_code == 0
    statuses = {name: d.status for name, d in report.directories.items()}
    assert statuses == {"city": "ok", "category": "ok", "object": "skipped",
                        "violation": "skipped", "user": "skipped"}
    # Each directory is there completely or not at all.
    assert count(db_url, "cities") == 8 and count(db_url, "violation_categories") == 6
    assert count(db_url, "objects") == 0
    assert count(db_url, "violations") == 0 and count(db_url, "users") == 0
    [row] = runs(db_url)
    assert (row["triggered_by"], row["status"], row["exit_code"]) == ("service", "stopped", 0)
    assert row["error"] == "stopped before finishing object, violation, user"


def test_an_unexpected_exception_is_recorded_and_reported(seeded, db_url, tmp_path, mapping,
                                                          monkeypatch):
    def broken(self, names=None, report=None):
        raise RuntimeError(f"bug near {seeded.webhook_url}")

    monkeypatch.setattr(SyncEngine, "run", broken)
    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.exit_code == 1
    assert report.fatal.startswith("Unexpected error: RuntimeError: bug near http://")
    assert seeded.code not in report.fatal

    [row] = runs(db_url)
    assert (row["status"], row["exit_code"]) == ("failed", 1)
    assert row["error"].startswith("Unexpected error: RuntimeError: bug near http://")
    assert seeded.code not in row["error"]


def test_a_long_error_is_shortened_like_every_other_text(seeded, db_url, tmp_path, mapping,
                                                         monkeypatch):
    def broken(self, names=None, report=None):
        raise RuntimeError("x" * 3000)

    monkeypatch.setattr(SyncEngine, "run", broken)
    sync(seeded, db_url, tmp_path, mapping)

    [row] = runs(db_url)
    assert row["error"] == shorten(f"Unexpected error: RuntimeError: {'x' * 3000}", 2000)
    assert len(row["error"]) == 2000 and row["error"].endswith("x...")


def test_a_long_summary_is_shortened_like_every_other_text():
    report = SyncReport()
    report.add_issue("city", 5, "name", "y" * 3000)
    assert error_summary(report) == shorten(
        "1 record error(s), the first: city btxid 5: " + "y" * 3000, 2000)


def test_ctrl_c_in_the_cli_is_recorded_as_stopped(seeded, db_url, tmp_path, mapping,
                                                  monkeypatch):
    def interrupted(self, names=None, report=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(SyncEngine, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sync(seeded, db_url, tmp_path, mapping)

    [row] = runs(db_url)
    assert (row["status"], row["exit_code"], row["error"]) == (
        "stopped", 130, "stopped by Ctrl+C; the directory in progress was rolled back")


def test_an_unwritable_history_never_costs_the_sync(seeded, db_url, tmp_path, mapping, caplog):
    execute(db_url, "CREATE TABLE bitrix_sync_runs (something INTEGER)")  # not ours
    caplog.set_level(logging.WARNING, logger="app.db.history")

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.exit_code == 0
    assert count(db_url, "users") == len(seeded.records("user"))
    [warning] = [r.getMessage() for r in caplog.records if r.name == "app.db.history"]
    assert warning.startswith("cannot record this run in the table bitrix_sync_runs: ")
    assert warning.endswith("the sync goes on without history")


def test_the_history_table_is_not_a_built_in_table(tmp_path):
    engine = make_engine(f"sqlite:///{(tmp_path / 'new.db').as_posix()}")
    assert "bitrix_sync_runs" not in create_builtin_tables(engine)
    assert not inspect(engine).has_table("bitrix_sync_runs")
    engine.dispose()


def test_mysql_history_table_is_utf8mb4(seeded, mysql_url, tmp_path, mapping):
    sync(seeded, mysql_url, tmp_path, mapping)
    engine = make_engine(mysql_url)
    with engine.connect() as conn:
        collation = conn.execute(text(
            "SELECT TABLE_COLLATION FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'bitrix_sync_runs'")).scalar()
    engine.dispose()
    assert collation.startswith("utf8mb4")
