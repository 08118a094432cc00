"""Helpers shared by the operations tests: database look-ups by URL and a held run lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from app.db.connect import make_engine
from app.db.run_lock import run_lock


def query(url: str, sql: str) -> list[dict]:
    """Rows of a query on a fresh engine (so no pooled connection outlives the call)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def scalar(url: str, sql: str):
    [row] = query(url, sql)
    [value] = row.values()
    return value


def execute(url: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def history(url: str) -> list[tuple]:
    """(trigger, status, exit code) of every recorded run, oldest first."""
    return [(r["triggered_by"], r["status"], r["exit_code"]) for r in query(
        url, "SELECT triggered_by, status, exit_code FROM bitrix_sync_runs ORDER BY id")]


@contextmanager
def held_lock(url: str) -> Iterator[None]:
    """Hold the run lock of `url` the way another run (another process or host) would."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn, run_lock(conn) as held:
            assert held.exclusive
            yield
    finally:
        engine.dispose()
