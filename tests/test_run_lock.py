"""One run at a time: the MySQL named lock, the SQLite lock file, and exit code 4."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

import cli
from app.db.connect import make_engine
from app.db.run_lock import lock_file_for, mysql_lock_name, run_lock
from app.errors import LockHeldError
from app.sync.runner import RunOptions, run_sync
from app.testing.portal import FakePortal
from app.testing.seed import CITY_ENTITY_TYPE_ID, seed_portal
from tests.conftest import settings_for, write_mapping_toml
from tests.ops_helpers import execute, held_lock, history, scalar

ROOT = Path(__file__).resolve().parent.parent


def test_lock_name_is_keyed_by_database_and_fits_mysql():
    assert mysql_lock_name("telegram_miniapp") == "bitrix_sync:telegram_miniapp"
    long_name = mysql_lock_name("d" * 64)
    assert len(long_name) <= 64 and long_name.startswith("bitrix_sync:")
    assert long_name != mysql_lock_name("d" * 63 + "e")


def test_lock_file_sits_next_to_the_database(tmp_path):
    assert lock_file_for(tmp_path / "sync.db") == tmp_path / "sync.db.lock"


def test_held_lock_gives_exit_4_and_nothing_is_written(seeded, db_url, tmp_path, mapping):
    settings = settings_for(seeded, db_url, tmp_path)
    with held_lock(db_url):
        report = run_sync(settings, RunOptions(), overrides=mapping)
        assert report.exit_code == 4
        assert report.fatal.startswith("Another sync is already running against the database")
        assert report.fatal.endswith("this run did not start. Try again when that run has "
                                     "finished.")
        assert report.directories == {}
        assert seeded.request_count == 0
    assert scalar(db_url, "SELECT COUNT(*) FROM cities") == 0
    # Released: the next run goes ahead.
    assert run_sync(settings, RunOptions(), overrides=mapping).exit_code == 0
    assert scalar(db_url, "SELECT COUNT(*) FROM cities") == len(seeded.records(
        f"crm:{CITY_ENTITY_TYPE_ID}"))
    assert history(db_url) == [("cli", "ok", 0)]  # the refused run left no row


def test_lock_message_names_the_run_that_holds_it(seeded, mysql_url, tmp_path, mapping):
    engine = make_engine(mysql_url)
    database = engine.url.database
    with engine.connect() as other:
        assert other.execute(text("SELECT GET_LOCK(:n, 0)"),
                             {"n": f"bitrix_sync:{database}"}).scalar() == 1
        other.execute(text(
            "CREATE TABLE bitrix_sync_runs (id INTEGER PRIMARY KEY AUTO_INCREMENT, "
            "started_at DATETIME NOT NULL, finished_at DATETIME NULL, triggered_by "
            "VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL, exit_code SMALLINT NULL, "
            "counts TEXT NULL, error TEXT NULL, host VARCHAR(255) NULL, pid INTEGER NULL)"))
        other.execute(text(
            "INSERT INTO bitrix_sync_runs (started_at, triggered_by, status, host, pid) "
            "VALUES ('2024-06-01 00:00:03', 'service', 'running', 'web1', 4242)"))
        other.commit()
        report = run_sync(settings_for(seeded, mysql_url, tmp_path), RunOptions(),
                          overrides=mapping)
    engine.dispose()
    assert report.exit_code == 4
    assert report.fatal == (
        f"Another sync is already running against the database '{database}' (the MySQL lock "
        f"'bitrix_sync:{database}' is taken) (run 1, started 2024-06-01 00:00:03 UTC by "
        "service on web1, pid 4242); this run did not start. Try again when that run has "
        "finished.")


def test_cli_prints_one_line_and_exits_4(capsys, seeded, sqlite_url, tmp_path, mapping,
                                         monkeypatch):
    monkeypatch.setenv("BITRIX_WEBHOOK_URL", seeded.webhook_url)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SYNC_MAPPING_FILE",
                       str(write_mapping_toml(tmp_path / "mapping.toml", mapping)))
    with held_lock(sqlite_url):
        code = cli.main([])
    out, err = capsys.readouterr()
    assert code == 4
    assert out == ""
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert line.startswith("error: Another sync is already running against the database 'sync.db'")
    assert "sync.db.lock is locked" in line


def test_stale_running_row_is_marked_interrupted(seeded, db_url, tmp_path, mapping):
    settings = settings_for(seeded, db_url, tmp_path)
    assert run_sync(settings, RunOptions(), overrides=mapping).exit_code == 0
    # As if a run had been killed with SIGKILL:
    execute(db_url, "UPDATE bitrix_sync_runs SET status = 'running', finished_at = NULL")
    assert run_sync(settings, RunOptions(), overrides=mapping).exit_code == 0
    assert history(db_url) == [("cli", "interrupted", 0), ("cli", "ok", 0)]


HOLDER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from app.db.connect import make_engine
from app.db.run_lock import run_lock
engine = make_engine(sys.argv[2])
with engine.connect() as conn, run_lock(conn):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_sqlite_lock_is_held_across_processes_and_dies_with_them(seeded, sqlite_url, tmp_path,
                                                                 mapping):
    settings = settings_for(seeded, sqlite_url, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(ROOT), sqlite_url],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert run_sync(settings, RunOptions(), overrides=mapping).exit_code == 4
    finally:
        holder.kill()  # no cleanup code runs: the OS must drop the lock
        holder.wait(10)
        holder.stdout.close()
    assert run_sync(settings, RunOptions(), overrides=mapping).exit_code == 0
    assert Path(sqlite_url.removeprefix("sqlite:///") + ".lock").is_file()


def test_in_memory_sqlite_needs_no_lock():
    engine = make_engine("sqlite://")
    with engine.connect() as conn, run_lock(conn) as held:
        assert held.exclusive is False
    engine.dispose()


def test_unusable_lock_file_is_a_database_error(tmp_path):
    from app.errors import DatabaseError

    engine = make_engine(f"sqlite:///{(tmp_path / 'sync.db').as_posix()}")
    with engine.connect() as conn:
        (tmp_path / "sync.db.lock").mkdir()  # cannot be opened as a file
        with pytest.raises(DatabaseError, match="Cannot create the lock file"), run_lock(conn):
            pass
    engine.dispose()


def test_held_lock_raises_lock_held_error_directly(sqlite_url):
    with held_lock(sqlite_url):
        engine = make_engine(sqlite_url)
        with engine.connect() as conn, pytest.raises(LockHeldError) as caught, run_lock(conn):
            pass
        engine.dispose()
    assert caught.value.exit_code == 4


@pytest.mark.slow
def test_two_concurrent_cli_runs_on_mariadb_one_gets_exit_4(mysql_url, tmp_path, mapping):
    with FakePortal() as portal:
        seed_portal(portal, objects=200)
        # The first run's first call is held (it takes the lock before it calls the portal),
        # so it holds the lock while the second process starts, connects and is turned away.
        held = portal.hold("*")
        env = {**os.environ, "BITRIX_WEBHOOK_URL": portal.webhook_url,
               "DATABASE_URL": mysql_url, "PYTHONIOENCODING": "utf-8",
               "SYNC_MAPPING_FILE": str(write_mapping_toml(tmp_path / "mapping.toml", mapping))}
        command = [sys.executable, str(ROOT / "cli.py"), "--json"]
        first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, encoding="utf-8")
        try:
            assert held.arrived.wait(60), "the first run never called the portal"
            name = f"bitrix_sync:{make_engine(mysql_url).url.database}"
            assert scalar(mysql_url, f"SELECT IS_USED_LOCK('{name}')")
            second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True,
                                    text=True, encoding="utf-8", timeout=60)
            assert first.poll() is None  # still held at its first call
            held.release()
            out, err = first.communicate(timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(10)
    assert first.returncode == 0, err
    assert json.loads(out)["ok"] is True
    assert second.returncode == 4, second.stderr
    assert json.loads(second.stdout)["fatal"].startswith("Another sync is already running")
    assert "(run 1, started " in json.loads(second.stdout)["fatal"]
    assert scalar(mysql_url, "SELECT COUNT(*) FROM objects") == 200
    assert history(mysql_url) == [("cli", "ok", 0)]
