"""One sync at a time per database: a MySQL named lock, or a lock file next to SQLite."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.db.connect import database_errors, describe_db_error
from app.errors import DatabaseError, LockHeldError

log = logging.getLogger(__name__)

LOCK_PREFIX = "bitrix_sync:"
_MYSQL_NAME_LIMIT = 64  # MySQL 5.7+ rejects longer GET_LOCK names
# A run may keep its lock connection idle for a long time; hosts that set a short
# wait_timeout would otherwise drop it mid-run and silently release the lock.
_LOCK_SESSION_TIMEOUT = 7 * 24 * 3600


@contextlib.contextmanager
def run_lock(conn: Connection) -> Iterator[bool]:
    """Hold the sync lock of `conn`'s database for the duration of the block.

    Policy:

    * MySQL/MariaDB: ``GET_LOCK('bitrix_sync:<database>', 0)`` on `conn`, which the
      caller keeps open for the whole run. The lock belongs to the server session,
      so runs on different hosts against one database exclude each other, and it
      disappears with the connection if the process dies.
    * SQLite: an exclusive OS lock (``fcntl.flock``, ``msvcrt.locking`` on Windows)
      on ``<database file>.lock``. The OS drops it when the process dies. The file
      is left in place on release: deleting it would let a process that already
      opened the old file and one that creates a new one both "hold" the lock.
    * An in-memory SQLite database or another dialect: nothing to share, no lock.

    Never waits: a held lock raises LockHeldError (exit 4) at once. Yields True
    when a real lock is held, False when the database needs none.
    """
    dialect = conn.engine.dialect.name
    if dialect in ("mysql", "mariadb"):
        with _mysql_lock(conn):
            yield True
    elif dialect == "sqlite" and (database_file := _sqlite_file(conn)) is not None:
        with _file_lock(lock_file_for(database_file)):
            yield True
    else:
        if dialect != "sqlite":
            log.warning("no run lock for %s databases; make sure only one sync runs at a time",
                        dialect)
        yield False


def mysql_lock_name(database: str) -> str:
    """The GET_LOCK name for a database, hashed when the name would be too long."""
    name = LOCK_PREFIX + database
    if len(name) > _MYSQL_NAME_LIMIT:
        name = LOCK_PREFIX + hashlib.sha1(database.encode("utf-8")).hexdigest()
    return name


def lock_file_for(database_file: Path) -> Path:
    """The lock file of an SQLite database: the database file name plus '.lock'."""
    return database_file.with_name(database_file.name + ".lock")


def _sqlite_file(conn: Connection) -> Path | None:
    database = conn.engine.url.database
    if not database or database == ":memory:" or "mode=memory" in str(conn.engine.url):
        return None
    return Path(database)


@contextlib.contextmanager
def _mysql_lock(conn: Connection) -> Iterator[None]:
    with database_errors("Cannot take the sync lock on the database"):
        database = conn.execute(text("SELECT DATABASE()")).scalar() or conn.engine.url.database
        name = mysql_lock_name(database or "")
        conn.execute(text(f"SET SESSION wait_timeout = {_LOCK_SESSION_TIMEOUT}"))
        got = conn.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": name}).scalar()
        conn.commit()
    if got != 1:
        raise LockHeldError(f"Another sync is already running against the database "
                            f"{database!r} (the MySQL lock {name!r} is taken)")
    try:
        yield
    finally:
        try:
            conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
            conn.commit()
        except SQLAlchemyError as exc:
            # The server frees the lock with the session; closing the connection ends it.
            log.debug("could not release the lock %s: %s", name, describe_db_error(exc))


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        handle = open(path, "a+b")  # stays open (and locked) for the whole run
    except OSError as exc:
        raise DatabaseError(f"Cannot create the lock file {path}: {exc.strerror or exc}; "
                            "the folder of the SQLite database must be writable") from None
    try:
        if not _try_lock(handle):
            raise LockHeldError(f"Another sync is already running against the database "
                                f"{path.stem!r} (the lock file {path} is locked)")
        try:
            yield
        finally:
            _unlock(handle)
    finally:
        handle.close()


if os.name == "nt":
    import msvcrt

    def _try_lock(handle: IO[bytes]) -> bool:
        # Byte 0 may lie past the end of the empty file; Windows allows locking there.
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        handle.seek(0)
        with contextlib.suppress(OSError):
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[bytes]) -> bool:
        # flock, not fcntl/lockf: its lock belongs to the open file, so a second open in
        # the same process conflicts too (POSIX record locks would not).
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
