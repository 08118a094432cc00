"""A run that loses its lock mid-run (its connection killed, the lock file replaced) stops
with exit 4 before writing more, and never beside the run that took the lock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.db.connect import make_engine
from app.db.run_lock import lock_file_for, mysql_lock_name, run_lock_name
from app.report import SyncReport
from app.sync import engine as engine_module
from app.sync.runner import RunOptions, run_sync
from app.testing.portal import FakePortal
from app.testing.seed import seed_portal
from tests.conftest import run_cli, settings_for
from tests.ops_helpers import execute, history, query, scalar

TABLES = {"cities": 8, "violation_categories": 6, "objects": 300, "violations": 30, "users": 15}


def counts(url: str) -> dict[str, int]:
    return {table: scalar(url, f"SELECT COUNT(*) FROM {table}") for table in TABLES}


class Background:
    """run_sync in a thread; `in_objects` is set once the objects' first page is in."""

    def __init__(self, portal: FakePortal, url: str, tmp_path: Path, mapping: dict) -> None:
        self.in_objects = threading.Event()
        self.report: SyncReport | None = None

        def progress(directory: str, phase: str, rows: int) -> None:
            if directory == "object" and phase == "reading":
                self.in_objects.set()

        def run() -> None:
            self.report = run_sync(settings_for(portal, url, tmp_path), RunOptions(),
                                   overrides=mapping, progress=progress)

        self.thread = threading.Thread(target=run, name="first-run", daemon=True)
        self.thread.start()

    def finished(self, timeout: float = 60) -> SyncReport:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the first run never ended"
        assert self.report is not None
        return self.report


@contextmanager
def first_run_waiting_for_objects(url: str, tmp_path: Path, mapping: dict
                                  ) -> Iterator[tuple[FakePortal, Background, object]]:
    """A run whose objects' read hangs (the batch is held) after the first page.

    The first batch carries every directory's first page (the other lists fit in theirs);
    the second, the objects' chain for the rest, is held."""
    with FakePortal() as portal:
        seed_portal(portal, objects=TABLES["objects"])
        held = portal.hold("batch", skip=1)
        first = Background(portal, url, tmp_path, mapping)
        try:
            assert first.in_objects.wait(60), "the first run never got to the objects"
            assert held.arrived.wait(60), "the objects' batch never came"
            yield portal, first, held
        finally:
            held.release()
            first.thread.join(60)


def kill_lock_connection(url: str) -> int:
    """KILL the session that holds the run lock of `url`'s database; its connection id."""
    name = mysql_lock_name(make_engine(url).url.database)
    holder = scalar(url, f"SELECT IS_USED_LOCK('{name}')")
    assert holder is not None, "nobody holds the run lock"
    execute(url, f"KILL {int(holder)}")
    return holder


def assert_stopped_for_the_lost_lock(report: SyncReport) -> None:
    assert report.exit_code == 4
    assert report.fatal.startswith("This run lost its lock on the database ")
    assert "another sync may be running now, so this run stopped before writing more" \
        in report.fatal
    assert len(report.to_dict()["errors"]) == 1  # told once, no record errors
    objects = report.directories["object"]
    assert (objects.status, objects.created, objects.updated) == ("failed", 0, 0)
    assert [report.directories[n].status for n in ("city", "category", "violation", "user")] \
        == ["ok", "ok", "skipped", "skipped"]


@pytest.fixture
def no_check_while_waiting(monkeypatch):
    """The first run notices the lost lock at its next write, not on its own clock."""
    monkeypatch.setattr(engine_module, "LOCK_CHECK_SECONDS", float("inf"))


def test_a_run_whose_lock_connection_is_killed_never_writes_beside_the_next(
        mysql_url, tmp_path, mapping, no_check_while_waiting):
    with first_run_waiting_for_objects(mysql_url, tmp_path, mapping) as (portal, first, held):
        kill_lock_connection(mysql_url)
        # The lock is free: a second run takes it and syncs everything while the first
        # still waits for its objects.
        second = run_sync(settings_for(portal, mysql_url, tmp_path), RunOptions(),
                          overrides=mapping)
        assert second.exit_code == 0, second.to_dict()
        # The first run's process is alive: its row is not the second run's to relabel.
        assert history(mysql_url) == [("cli", "running", None), ("cli", "ok", 0)]
        held.release()
        report = first.finished()
        assert_stopped_for_the_lost_lock(report)
        assert "its connection failed: the connection to the database was lost" in report.fatal
        assert counts(mysql_url) == TABLES  # the second run's work, nothing twice
        assert history(mysql_url) == [("cli", "failed", 4), ("cli", "ok", 0)]

        third = run_sync(settings_for(portal, mysql_url, tmp_path), RunOptions(),
                         overrides=mapping)
    assert third.exit_code == 0
    assert third.totals["created"] == third.totals["updated"] == 0
    assert counts(mysql_url) == TABLES


def test_a_lost_lock_is_noticed_while_waiting_for_a_long_read(mysql_url, tmp_path, mapping,
                                                             monkeypatch):
    monkeypatch.setattr(engine_module, "LOCK_CHECK_SECONDS", 0.0)  # check on every wait
    with first_run_waiting_for_objects(mysql_url, tmp_path, mapping) as (_, first, held):
        kill_lock_connection(mysql_url)
        report = first.finished()  # while the objects' batch is still held
        still_held = held.waiting
    assert still_held == 1
    assert_stopped_for_the_lost_lock(report)
    assert counts(mysql_url) == {**TABLES, "objects": 0, "violations": 0, "users": 0}
    assert history(mysql_url) == [("cli", "failed", 4)]


def test_a_replaced_sqlite_lock_file_stops_the_run(sqlite_url, tmp_path, mapping):
    lock_file = lock_file_for(Path(sqlite_url.removeprefix("sqlite:///")))
    with first_run_waiting_for_objects(sqlite_url, tmp_path, mapping) as (_, first, held):
        lock_file.unlink()  # a second run would now create and lock a new file
        lock_file.touch()
        held.release()
        report = first.finished()
    assert_stopped_for_the_lost_lock(report)
    assert "was deleted or replaced" in report.fatal
    assert counts(sqlite_url) == {**TABLES, "objects": 0, "violations": 0, "users": 0}


@pytest.mark.parametrize("kill_run_lock", [False, True], ids=["lock-held", "process-gone"])
def test_a_running_row_is_interrupted_only_when_nobody_holds_its_lock(
        mysql_url, tmp_path, mapping, kill_run_lock, no_check_while_waiting):
    with first_run_waiting_for_objects(mysql_url, tmp_path, mapping) as (portal, first, held):
        [row] = query(mysql_url, "SELECT id FROM bitrix_sync_runs")
        run_name = run_lock_name(make_engine(mysql_url).url.database, row["id"])
        owner = scalar(mysql_url, f"SELECT IS_USED_LOCK('{run_name}')")
        assert owner is not None
        kill_lock_connection(mysql_url)
        if kill_run_lock:  # as if the process were gone: every connection of it closed
            execute(mysql_url, f"KILL {int(owner)}")
        second = run_sync(settings_for(portal, mysql_url, tmp_path), RunOptions(),
                          overrides=mapping)
        assert second.exit_code == 0
        statuses = [status for _, status, _ in history(mysql_url)]
        held.release()
        first.finished()
    assert statuses == ["interrupted" if kill_run_lock else "running", "ok"]


def status_rows(capsys, url: str, monkeypatch) -> tuple[list[str], list[dict]]:
    """`--status` lines of the run table and `--status --json` runs, against `url`."""
    monkeypatch.setenv("DATABASE_URL", url)
    code, out, _ = run_cli(capsys, "--status")
    assert code == 0
    code, out_json, _ = run_cli(capsys, "--status", "--json")
    assert code == 0
    return out.splitlines(), json.loads(out_json)["runs"]


def test_status_shows_a_running_row_whose_process_is_gone_as_interrupted(
        capsys, seeded, db_url, tmp_path, mapping, monkeypatch):
    assert run_sync(settings_for(seeded, db_url, tmp_path), RunOptions(),
                    overrides=mapping).exit_code == 0
    # As if the run had been killed with SIGKILL: its row says running, nobody holds its lock.
    execute(db_url, "UPDATE bitrix_sync_runs SET status = 'running', finished_at = NULL, "
                    "exit_code = NULL")
    lines, runs = status_rows(capsys, db_url, monkeypatch)
    [row] = [line for line in lines if line.lstrip().startswith("1 ")]
    assert "interrupted (the process is gone)" in row
    assert (runs[0]["status"], runs[0]["process_gone"]) == ("interrupted", True)
    assert runs[0]["error"].startswith("the process ended before the run finished")
    assert history(db_url) == [("cli", "running", None)]  # --status writes nothing


@pytest.mark.parametrize("url_fixture", ["mysql_url", "sqlite_url"])
def test_status_shows_a_live_run_as_running(capsys, request, tmp_path, mapping, monkeypatch,
                                            url_fixture):
    url = request.getfixturevalue(url_fixture)
    with first_run_waiting_for_objects(url, tmp_path, mapping) as (_, first, held):
        lines, runs = status_rows(capsys, url, monkeypatch)
        held.release()
        assert first.finished().exit_code == 0
    [row] = [line for line in lines if line.lstrip().startswith("1 ")]
    assert " running " in row and "gone" not in row
    assert (runs[0]["status"], runs[0]["process_gone"]) == ("running", False)
