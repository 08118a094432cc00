"""service.py: start-up checks, the loop on fake time, and a real process stopped by SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import service
from app.cron import CronSchedule
from app.db.run_lock import lock_file_for
from app.service import loop as service_loop
from app.sync.runner import RunOptions, run_sync
from app.testing.portal import FakePortal
from app.testing.seed import seed_portal
from tests.conftest import hook_method, settings_for, write_mapping_toml
from tests.ops_helpers import held_lock, history, query, scalar

ROOT = Path(__file__).resolve().parent.parent
TABLES = {"cities": 8, "violation_categories": 6, "objects": 300, "violations": 30, "users": 15}


def counts(url: str) -> dict[str, int]:
    return {table: scalar(url, f"SELECT COUNT(*) FROM {table}") for table in TABLES}


# --- start-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "expected"), [
    ({"SYNC_SCHEDULE": "every night"},
     "  - SYNC_SCHEDULE = 'every night' is not a valid cron expression"),
    ({"SYNC_TIMEZONE": "Europe/Moskow"},
     "  - SYNC_TIMEZONE = 'Europe/Moskow' is not a known time zone (did you mean "
     "Europe/Moscow?)"),
    ({"BITRIX_WEBHOOK_URL": ""}, "  - BITRIX_WEBHOOK_URL: is not set"),
], ids=["bad-schedule", "bad-zone", "no-webhook"])
def test_bad_settings_stop_the_service_at_start_with_exit_2(capsys, monkeypatch, env, expected):
    monkeypatch.setenv("BITRIX_WEBHOOK_URL", "https://example.bitrix24.ru/rest/1/abcdef123/")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert service.main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert expected in err
    assert "Traceback" not in err


# --- the loop on fake time --------------------------------------------------------------------


class Harness:
    """run_service on a fake clock: waits advance the clock, but only between runs."""

    def __init__(self, monkeypatch, start: datetime, *, stop_after: int,
                 before_run=None) -> None:
        self.now = start
        self.stop = threading.Event()
        self.results: list[object] = []
        self.before_run = before_run or (lambda number: None)
        self.stop_after = stop_after
        real = service_loop.run_sync

        def tracked(*args, **kwargs):
            try:
                self.before_run(len(self.results) + 1)
                result = real(*args, **kwargs)
            except Exception as exc:
                self.results.append(exc)
                raise
            self.results.append(result)
            return result

        monkeypatch.setattr(service_loop, "run_sync", tracked)

    def clock(self) -> datetime:
        return self.now

    def wait(self, timeout: float) -> bool:
        # The scheduler started its job thread before this wait: time moves on only once
        # that thread has run the sync and reported the result.
        for job in [t for t in threading.enumerate() if t.name == "bitrix-sync-job"]:
            job.join(60)
            assert not job.is_alive(), "a run did not finish"
        if len(self.results) >= self.stop_after:
            self.stop.set()
        self.now += timedelta(seconds=timeout)
        return self.stop.is_set()

    def run(self, settings, mapping, schedule: str = "*/10 * * * *") -> None:
        service_loop.run_service(settings, CronSchedule(schedule, "UTC"), stop_event=self.stop,
                                 overrides=mapping, clock=self.clock, wait=self.wait)


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def lines(caplog, logger: str = "bitrix_sync.service") -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == logger]


def test_runs_on_start_then_on_schedule_and_logs_it(monkeypatch, logs, seeded, sqlite_url,
                                                    tmp_path, mapping):
    settings = settings_for(seeded, sqlite_url, tmp_path, SYNC_ON_START="true")
    harness = Harness(monkeypatch, datetime(2024, 1, 1, 0, 3, tzinfo=UTC), stop_after=2)

    harness.run(settings, mapping)

    assert [r.exit_code for r in harness.results] == [0, 0]
    assert history(sqlite_url) == [("service", "ok", 0), ("service", "ok", 0)]
    assert counts(sqlite_url) == {**TABLES, "objects": 40}
    said = [message for _, message in lines(logs)]
    assert said[0].startswith("bitrix-sync service starting (pid ")
    assert "  webhook=" + seeded.webhook_url.replace(seeded.code, "***") in said
    assert f"  database={sqlite_url}" in said
    assert said[-5:-3] == [
        "schedule */10 * * * * (UTC); next run at 2024-01-01 00:10:00+00:00",
        "running once at start",
    ]
    for line, when in zip(said[-3:-1], ("00:10", "00:20"), strict=True):
        assert line.startswith("Run finished (ok): fetched ")
        assert line.endswith(f"Next run at 2024-01-01 {when}:00+00:00.")
    assert said[-1] == "bitrix-sync service stopped."
    # the schedule once (and in the start's summary), not again at each tick
    assert sum(message.startswith("schedule ") for message in said) == 1
    assert seeded.code not in logs.text


def test_a_held_lock_skips_the_tick_and_the_service_goes_on(monkeypatch, logs, seeded,
                                                            sqlite_url, tmp_path, mapping):
    settings = settings_for(seeded, sqlite_url, tmp_path, SYNC_ON_START="true")
    with contextlib.ExitStack() as other_run:
        other_run.enter_context(held_lock(sqlite_url))  # running when the service starts
        harness = Harness(monkeypatch, datetime(2024, 1, 1, 0, 3, tzinfo=UTC), stop_after=2,
                          before_run=lambda number: number == 2 and other_run.close())
        harness.run(settings, mapping)

    assert [r.exit_code for r in harness.results] == [4, 0]
    assert (logging.WARNING, "Skipped this run: another sync holds the lock. Next run at "
                             "2024-01-01 00:10:00+00:00.") in lines(logs)
    assert history(sqlite_url) == [("service", "ok", 0)]


def test_failed_runs_never_stop_the_service(monkeypatch, logs, seeded, tmp_path, mapping):
    settings = settings_for(seeded, "mysql+pymysql://root:pw@127.0.0.1:9/none", tmp_path)
    harness = Harness(monkeypatch, datetime(2024, 1, 1, 0, 3, tzinfo=UTC), stop_after=2)

    harness.run(settings, mapping)

    assert [r.exit_code for r in harness.results] == [3, 3]
    errors = [m for level, m in lines(logs, "app.sync.runner") if level == logging.ERROR]
    assert len(errors) == 2 and errors[0].startswith("Cannot connect to the database")
    assert any(m.startswith("Run failed: Cannot connect to the database") and
               m.endswith("Next run at 2024-01-01 00:20:00+00:00.") for _, m in lines(logs))


def test_an_exception_in_a_run_never_stops_the_service(monkeypatch, logs, seeded, sqlite_url,
                                                       tmp_path, mapping):
    settings = settings_for(seeded, sqlite_url, tmp_path)

    def explode_first(number: int) -> None:
        if number == 1:
            raise RuntimeError("disk on fire")

    harness = Harness(monkeypatch, datetime(2024, 1, 1, 0, 3, tzinfo=UTC), stop_after=2,
                      before_run=explode_first)

    harness.run(settings, mapping)

    assert isinstance(harness.results[0], RuntimeError)
    assert harness.results[1].exit_code == 0
    assert (logging.ERROR, "scheduled run failed: RuntimeError: disk on fire") in lines(logs)
    assert history(sqlite_url) == [("service", "ok", 0)]


# --- a real process ---------------------------------------------------------------------------


@contextlib.contextmanager
def service_process(portal: FakePortal, db_url: str, tmp_path: Path, mapping: dict, *,
                    on_start: str = "true") -> Iterator[subprocess.Popen]:
    """service.py in a child process; its console goes to console.txt. Killed if left running."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8",
           "BITRIX_WEBHOOK_URL": portal.webhook_url, "DATABASE_URL": db_url,
           "SYNC_MAPPING_FILE": str(write_mapping_toml(tmp_path / "mapping.toml", mapping)),
           "SYNC_ON_START": on_start, "SYNC_SCHEDULE": "0 0 1 1 *", "SYNC_TIMEZONE": "UTC",
           "LOG_FILE": str(tmp_path / "service.log")}
    with open(tmp_path / "console.txt", "wb") as console:
        child = subprocess.Popen([sys.executable, str(ROOT / "service.py")], cwd=tmp_path,
                                 env=env, stdin=subprocess.DEVNULL, stdout=console,
                                 stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(10)


def console(tmp_path: Path) -> str:
    return (tmp_path / "console.txt").read_text(encoding="utf-8")


def signal_and_wait(child: subprocess.Popen, signum: int = signal.SIGTERM) -> int:
    """Send SIGTERM (or `signum`); the exit code (the timeout only keeps a hanging child from
    hanging us)."""
    child.send_signal(signum)
    return child.wait(60)


def wait_until(child: subprocess.Popen, condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert child.poll() is None, f"the service ended before {what}"
        assert time.monotonic() < deadline, f"the service never got to {what}"
        time.sleep(0.01)


def logged(tmp_path: Path, needle: str):
    log = tmp_path / "service.log"
    return lambda: log.is_file() and needle in log.read_text(encoding="utf-8")


@contextlib.contextmanager
def blocked_table(db_url: str, table: str) -> Iterator[None]:
    """Another session write-locks `table`, so every statement on it waits until the end."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        conn.execute(text(f"LOCK TABLES {table} WRITE"))
        try:
            yield
        finally:
            conn.execute(text("UNLOCK TABLES"))
    engine.dispose()


needs_posix_signals = pytest.mark.skipif(
    sys.platform == "win32", reason="sending SIGTERM to one child process needs POSIX")


@pytest.mark.slow
@needs_posix_signals
def test_sigterm_mid_run_stops_cleanly_and_exits_0(mysql_url, tmp_path, mapping):
    with FakePortal(latency=0.15) as portal:
        seed_portal(portal, objects=TABLES["objects"])
        # The first batch (every list's first page) is answered; only the objects need
        # another: their rest hangs.
        held = portal.hold("batch", skip=1)
        with service_process(portal, mysql_url, tmp_path, mapping) as child:
            # Page 1 of the objects is in, the rest is on its way, when the signal comes.
            wait_until(child, logged(tmp_path, "object: reading"), "the objects")
            assert held.arrived.wait(60), "the objects' batch never came"
            code = signal_and_wait(child)
        still_held = held.waiting
        held.release()
    assert code == 0, console(tmp_path)
    assert still_held == 1  # the service ended without waiting for the held page
    # Each directory is all there or not there at all: the one in progress was rolled back.
    assert counts(mysql_url) == {"cities": 8, "violation_categories": 6, "objects": 0,
                                 "violations": 0, "users": 0}
    assert history(mysql_url) == [("service", "stopped", 0)]
    log = (tmp_path / "service.log").read_text(encoding="utf-8")
    assert "SIGTERM received: stopping after the current step" in log
    assert "Run stopped before finishing object, violation, user" in log
    assert log.rstrip().endswith("bitrix-sync service stopped.")
    assert "/rest/1/***/" in log and portal.code not in log + console(tmp_path)
    assert "bitrix-sync service stopped" in console(tmp_path)  # the console gets the log too
    # one log call each: told once on the console (in its language) and once in the log file
    for told in ("SIGTERM received: stopping", "Run stopped before finishing"):
        assert console(tmp_path).count(told) == log.count(told) == 1


@pytest.mark.slow
@needs_posix_signals
def test_sighup_mid_run_stops_like_sigterm_and_finishes_the_history_row(mysql_url, tmp_path,
                                                                        mapping):
    with FakePortal() as portal:
        seed_portal(portal, objects=TABLES["objects"])
        # The first batch (every list's first page) is answered; only the objects need
        # another: their rest hangs.
        held = portal.hold("batch", skip=1)
        with service_process(portal, mysql_url, tmp_path, mapping) as child:
            wait_until(child, logged(tmp_path, "object: reading"), "the objects")
            assert held.arrived.wait(60), "the objects' batch never came"
            code = signal_and_wait(child, signal.SIGHUP)
        held.release()
    assert code == 0, console(tmp_path)
    assert history(mysql_url) == [("service", "stopped", 0)]
    assert query(mysql_url, "SELECT finished_at IS NOT NULL AS done FROM bitrix_sync_runs") \
        == [{"done": 1}]
    assert counts(mysql_url) == {"cities": 8, "violation_categories": 6, "objects": 0,
                                 "violations": 0, "users": 0}
    log = (tmp_path / "service.log").read_text(encoding="utf-8")
    assert "SIGHUP received (the terminal was closed): stopping after the current step" in log
    assert log.rstrip().endswith("bitrix-sync service stopped.")

    # The next run converges.
    with FakePortal() as portal:
        seed_portal(portal, objects=TABLES["objects"])
        report = run_sync(settings_for(portal, mysql_url, tmp_path), RunOptions(),
                          overrides=mapping)
    assert report.exit_code == 0
    assert counts(mysql_url) == TABLES


@pytest.mark.slow
@needs_posix_signals
def test_second_sigterm_exits_at_once_and_the_next_run_notices(mysql_url, tmp_path, mapping):
    # A write that never finishes: another session holds a write lock on cities.
    with FakePortal() as portal, blocked_table(mysql_url, "cities"):
        seed_portal(portal, objects=TABLES["objects"])
        with service_process(portal, mysql_url, tmp_path, mapping) as child:
            wait_until(child, logged(tmp_path, "city: reading"), "the first directory")
            child.send_signal(signal.SIGTERM)
            wait_until(child, logged(tmp_path, "SIGTERM received: stopping after the current "
                                               "step"), "the first signal")
            assert child.poll() is None  # the first signal waits for the current step
            code = signal_and_wait(child)
    assert code == 143
    # At once: nothing ran after the second signal, not even the service's goodbye.
    log = (tmp_path / "service.log").read_text(encoding="utf-8").rstrip()
    assert log.endswith("SIGTERM received again: exiting now without finishing the current step "
                        "(the database rolls the open transaction back).")
    assert history(mysql_url) == [("service", "running", None)]
    assert counts(mysql_url)["cities"] == 0

    # The lock died with the process; the next run goes ahead and marks the dead run.
    with FakePortal() as portal:
        seed_portal(portal, objects=TABLES["objects"])
        report = run_sync(settings_for(portal, mysql_url, tmp_path), RunOptions(),
                          overrides=mapping)
    assert report.exit_code == 0
    assert history(mysql_url) == [("service", "interrupted", None), ("cli", "ok", 0)]
    assert counts(mysql_url) == TABLES


@pytest.mark.slow
@needs_posix_signals
def test_sigterm_between_runs_exits_0_at_once(sqlite_url, tmp_path, mapping):
    with FakePortal() as portal:
        with service_process(portal, sqlite_url, tmp_path, mapping, on_start="false") as child:
            wait_until(child, logged(tmp_path, "schedule 0 0 1 1 * (UTC); next run at"),
                       "waiting for the first run")
            code = signal_and_wait(child)  # ends now, not at the next run on January 1
    assert code == 0
    log = (tmp_path / "service.log").read_text(encoding="utf-8")
    assert "SIGTERM received: stopping after the current step" in log
    assert log.rstrip().endswith("bitrix-sync service stopped.")
    assert portal.request_count == 0


def test_a_lost_lock_is_logged_as_such_and_the_service_goes_on(monkeypatch, logs, seeded,
                                                                sqlite_url, tmp_path, mapping):
    lock_file = lock_file_for(Path(sqlite_url.removeprefix("sqlite:///")))

    def replace_lock_file(call, params, answer):
        if call == 1:  # the first run's read of the users: its lock file is replaced
            lock_file.unlink()
            lock_file.touch()
        return answer

    hook_method(seeded, "user.get", replace_lock_file)
    settings = settings_for(seeded, sqlite_url, tmp_path, SYNC_ON_START="true")
    harness = Harness(monkeypatch, datetime(2024, 1, 1, 0, 3, tzinfo=UTC), stop_after=2)
    harness.run(settings, mapping)

    assert [r.exit_code for r in harness.results] == [4, 0]
    assert [status for _, status, _ in history(sqlite_url)] == ["failed", "ok"]
    said = lines(logs) + lines(logs, "app.sync.engine")
    assert any(level == logging.ERROR and "This run lost its lock on the database" in message
               for level, message in said)
    assert not any("another sync holds the lock" in message for _, message in said)
    assert counts(sqlite_url) == {**TABLES, "objects": 40}
