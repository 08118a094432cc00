"""Incremental state: the bitrix_sync_state table, one row per directory, next to the run history.

In the database, not on disk, so every host, the service and cron share it. A row says
when the directory was last read in full and from when the next incremental read starts
(both on the portal's clock, stored as UTC), which mapping those reads used (its
fingerprint), and a few facts of the last read (`details`, JSON). The row named
PORTAL_ROW keeps what the portal told about itself: its UTC offset, the webhook user's
offset and the site's date format. A row is written in the same transaction as the
directory's data, so the two never disagree.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, inspect, select, update
from sqlalchemy.engine import Connection

TABLE_NAME = "bitrix_sync_state"
PORTAL_ROW = "(portal)"

STATE = Table(
    TABLE_NAME,
    MetaData(),
    Column("directory", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False, comment="the mapping the reads used"),
    Column("full_read_at", DateTime, nullable=True,
           comment="UTC, portal clock: start of the last complete full read"),
    Column("read_at", DateTime, nullable=True,
           comment="UTC, portal clock: start of the last successful read (the watermark)"),
    Column("mode", String(16), nullable=True, comment="full or incremental"),
    Column("updated_at", DateTime, nullable=True, comment="UTC, this host's clock"),
    Column("host", String(255), nullable=True),
    Column("details", Text, nullable=True, comment="JSON"),
    mysql_charset="utf8mb4",
    mysql_engine="InnoDB",
)


@dataclass(frozen=True)
class DirectoryState:
    """One row of bitrix_sync_state; times are aware UTC."""

    directory: str
    fingerprint: str = ""
    full_read_at: datetime | None = None
    read_at: datetime | None = None
    mode: str | None = None
    updated_at: datetime | None = None
    host: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"full_read_at": _iso(self.full_read_at), "read_at": _iso(self.read_at),
                "mode": self.mode, "updated_at": _iso(self.updated_at), "host": self.host,
                "fingerprint": self.fingerprint, "details": self.details}


def ensure_table(conn: Connection) -> None:
    STATE.create(conn, checkfirst=True)


def load_states(conn: Connection) -> dict[str, DirectoryState]:
    """Every row by directory; empty when the table does not exist yet."""
    if not inspect(conn).has_table(TABLE_NAME):
        return {}
    states = {}
    for row in conn.execute(select(STATE)):
        data = row._mapping
        try:
            details = json.loads(data["details"]) if data["details"] else {}
        except ValueError:
            details = {}
        states[data["directory"]] = DirectoryState(
            directory=data["directory"], fingerprint=data["fingerprint"] or "",
            full_read_at=_aware(data["full_read_at"]), read_at=_aware(data["read_at"]),
            mode=data["mode"], updated_at=_aware(data["updated_at"]), host=data["host"],
            details=details if isinstance(details, dict) else {})
    return states


def save_state(conn: Connection, state: DirectoryState) -> None:
    """Insert or replace the row (the caller's transaction commits it)."""
    values = {"fingerprint": state.fingerprint, "full_read_at": _naive(state.full_read_at),
              "read_at": _naive(state.read_at), "mode": state.mode,
              "updated_at": _naive(datetime.now(UTC)), "host": socket.gethostname()[:255],
              "details": json.dumps(state.details, ensure_ascii=False, sort_keys=True)}
    done = conn.execute(update(STATE).where(STATE.c.directory == state.directory)
                        .values(**values))
    if done.rowcount == 0:
        conn.execute(STATE.insert().values(directory=state.directory, **values))


def _naive(moment: datetime | None) -> datetime | None:
    # DATETIME has no zone: UTC, whole seconds (MySQL would round a fraction up).
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")
