"""Errors tell the truth: a database error is one error, a crash leaves no directory "ok"
that did not finish, and the counts are what was committed."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from app.bitrix.client import Bitrix24Client
from app.bitrix.read_ahead import ReadPipeline
from app.db.connect import make_engine
from app.logging_setup import CLI_CONSOLE, setup_logging
from app.sync import directory
from app.syncers.object_syncer import ObjectSyncer
from app.testing.seed import seed_portal
from tests.conftest import MYSQL_ADMIN_URL, sync
from tests.ops_helpers import query, scalar


@contextlib.contextmanager
def killed_at(statement_start: str, occurrence: int = 1) -> Iterator[list[int]]:
    """KILL, from another connection, the connection about to run the `occurrence`-th
    statement that starts with `statement_start`, right before it is sent: the writer
    meets a connection the server has closed. Yields the killed connection ids."""
    admin = create_engine(MYSQL_ADMIN_URL)
    killed: list[int] = []
    seen = [0]

    def before(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith(statement_start):
            return
        seen[0] += 1
        if seen[0] == occurrence:
            victim = conn.connection.dbapi_connection.thread_id()
            with admin.connect() as other:
                other.execute(text(f"KILL {int(victim)}"))
            killed.append(victim)

    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield killed
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        admin.dispose()


def test_a_killed_writer_connection_is_one_database_error_and_nothing_half_written(
        portal, mysql_url, tmp_path, mapping):
    seed_portal(portal, objects=2500)
    # The second chunk of objects: 1000 rows are already in the open transaction.
    with killed_at("INSERT INTO objects", occurrence=2) as killed:
        report = sync(portal, mysql_url, tmp_path, mapping)
    assert len(killed) == 1
    assert report.exit_code == 3
    [issue] = report.to_dict()["errors"]
    assert issue["btxid"] is None
    assert issue["message"].startswith("Database error while writing object: the connection "
                                       "to the database was lost")
    objects = report.directories["object"]
    assert (objects.status, objects.created, objects.errors) == ("failed", 0, 0)
    assert [report.directories[n].status for n in ("city", "category", "violation", "user")] \
        == ["ok", "ok", "skipped", "skipped"]
    assert scalar(mysql_url, "SELECT COUNT(*) FROM objects") == 0  # rolled back, all of it
    [run] = query(mysql_url, "SELECT status, exit_code, counts FROM bitrix_sync_runs")
    assert (run["status"], run["exit_code"]) == ("failed", 3)
    assert json.loads(run["counts"])["object"]["created"] == 0

    again = sync(portal, mysql_url, tmp_path, mapping)
    assert again.exit_code == 0
    assert again.directories["object"].created == 2500
    assert scalar(mysql_url, "SELECT COUNT(*) FROM objects") == 2500


def test_a_memory_error_mid_directory_leaves_no_directory_ok_that_did_not_finish(
        portal, db_url, tmp_path, mapping, monkeypatch):
    seed_portal(portal, objects=1500)
    transformed = [0]

    def transform(self, record):
        transformed[0] += 1
        if transformed[0] == 1200:  # after the first chunk of 1000 went to the database
            raise MemoryError
        return record

    monkeypatch.setattr(ObjectSyncer, "transform", transform)
    monkeypatch.setattr(directory, "WRITE_BATCH", 1000)  # so a write comes before the error
    report = sync(portal, db_url, tmp_path, mapping)
    assert report.exit_code == 1
    assert report.fatal.startswith("Unexpected error: MemoryError")
    statuses = {name: d.status for name, d in report.directories.items()}
    assert statuses == {"city": "ok", "category": "ok", "object": "failed",
                        "violation": "skipped", "user": "skipped"}
    objects = report.directories["object"]
    assert objects.message == "did not finish: unexpected error MemoryError; changes rolled back"
    assert (objects.created, objects.updated) == (0, 0)
    assert scalar(db_url, "SELECT COUNT(*) FROM objects") == 0
    [run] = query(db_url, "SELECT status, exit_code, counts FROM bitrix_sync_runs")
    assert (run["status"], run["exit_code"]) == ("failed", 1)
    counts = json.loads(run["counts"])
    assert (counts["object"]["status"], counts["object"]["created"]) == ("failed", 0)
    assert counts["user"]["status"] == "skipped"

    monkeypatch.undo()
    again = sync(portal, db_url, tmp_path, mapping)
    assert again.exit_code == 0
    assert scalar(db_url, "SELECT COUNT(*) FROM objects") == 1500


def test_a_crash_before_any_directory_marks_every_directory_not_run(
        seeded, db_url, tmp_path, mapping, monkeypatch):
    def no_memory(self, *args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(ReadPipeline, "start", no_memory)
    report = sync(seeded, db_url, tmp_path, mapping)
    assert report.exit_code == 1
    assert {d.status for d in report.directories.values()} == {"skipped"}
    assert {d.message for d in report.directories.values()} == {
        "not run: an earlier error ended the run"}
    assert scalar(db_url, "SELECT COUNT(*) FROM cities") == 0


@pytest.mark.parametrize("fault", ["database-of-one-list", "overload", "killed-writer"])
def test_the_printed_report_tells_each_problem_once(portal, mysql_url, tmp_path, mapping, fault):
    seed_portal(portal, objects=1500)
    iblock = str(mapping["violation"]["params"]["IBLOCK_ID"])
    killing = contextlib.nullcontext([])
    if fault == "database-of-one-list":  # one directory fails, the others go on
        portal.fail_database("lists.element.get",
                             when=lambda p: str(p.get("IBLOCK_ID")) == iblock)
    elif fault == "overload":  # the run's fatal error, met by its first directory
        portal.overloaded = True
    else:  # a database error ends the run in the middle of a directory
        killing = killed_at("INSERT INTO objects", occurrence=2)
    client = Bitrix24Client(portal.webhook_url, max_retries=1, sleep=lambda seconds: None)

    with killing:
        report = sync(portal, mysql_url, tmp_path, mapping, client=client)
    client.close()

    failed = [d for d in report.directories.values() if d.status == "failed"]
    assert len(failed) == 1 and report.exit_code == {"database-of-one-list": 1}.get(fault, 3)
    problem = report.fatal or report.to_dict()["errors"][0]["message"]
    assert problem in failed[0].message
    printed = report.render_table()
    assert printed.count(problem) == 1, printed


class _Seen(logging.Handler):
    """What SQLAlchemy's pool logged, as it logged it (before our handlers shape it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.msg} {bool(record.exc_info)}")


def test_a_killed_connection_is_our_one_database_error_without_the_pools_traceback(
        portal, mysql_url, tmp_path, mapping, capsys):
    seed_portal(portal, objects=1500)
    log_file = tmp_path / "bitrix-sync.log"
    setup_logging("INFO", log_file=log_file, console_level=CLI_CONSOLE)  # as cli.py does
    seen = _Seen()
    logging.getLogger("sqlalchemy.pool").addHandler(seen)
    try:
        with killed_at("INSERT INTO objects", occurrence=2):
            report = sync(portal, mysql_url, tmp_path, mapping)
        # A connection killed mid-write and returned to the pool before a statement met the
        # closed socket: the pool's rollback-on-return fails, and SQLAlchemy logs that.
        engine = make_engine(mysql_url)
        raw = engine.raw_connection()
        with raw.cursor() as cursor:
            cursor.execute("INSERT INTO cities (btxid, name, is_active) VALUES (999999, 'x', 1)")
            victim = raw.dbapi_connection.thread_id()
        with make_engine(MYSQL_ADMIN_URL).connect() as admin:
            admin.execute(text(f"KILL {int(victim)}"))
        raw.close()
        engine.dispose()
    finally:
        logging.getLogger("sqlalchemy.pool").removeHandler(seen)
    for handler in logging.getLogger().handlers:
        handler.flush()

    assert report.exit_code == 3
    assert "ERROR Exception during reset or similar True" in seen.lines  # it did happen
    console, written = capsys.readouterr().err, log_file.read_text(encoding="utf-8")
    for shown in (console, written):
        assert "Traceback" not in shown and "Exception during reset" not in shown
        assert "sqlalchemy" not in shown
    assert written.count("the connection to the database was lost") == 1
    assert scalar(mysql_url, "SELECT COUNT(*) FROM cities WHERE btxid = 999999") == 0

