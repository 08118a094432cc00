"""One sync at a time per database: a MySQL named lock, or a lock file next to SQLite."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.db.connect import database_errors, describe_db_error
from app.errors import DatabaseError, LockHeldError, LockLostError
from app.messages import say

log = logging.getLogger(__name__)

LOCK_PREFIX = "bitrix_sync:"
_MYSQL_NAME_LIMIT = 64  # MySQL 5.7+ rejects longer GET_LOCK names
# A run may keep its lock connection idle for a long time; hosts that set a short
# wait_timeout would otherwise drop it mid-run and silently release the lock.
_LOCK_SESSION_TIMEOUT = 7 * 24 * 3600


class HeldLock:
    """The run lock as this run holds it; `check()` proves it is still this run's.

    `exclusive` is False when the database needs no lock (an in-memory SQLite
    database, a dialect without one): then every method is a no-op.
    """

    exclusive = False

    def check(self) -> None:
        """Raise LockLostError (exit 4) when this run no longer holds the lock."""

    def claim(self, run_id: int) -> None:
        """Mark history row `run_id` as this live process's, for other runs and --status."""

    def run_alive(self, run_id: int) -> bool:
        """Whether another live process owns history row `run_id` (we hold the run lock)."""
        return not self.exclusive  # without a lock nothing can be known: leave the row

    def release(self) -> None:
        """Give up what claim() took (the run lock itself goes with its context)."""


@contextlib.contextmanager
def run_lock(conn: Connection) -> Iterator[HeldLock]:
    """Hold the sync lock of `conn`'s database for the duration of the block.

    Policy:

    * MySQL/MariaDB: ``GET_LOCK('bitrix_sync:<database>', 0)`` on `conn`, which the
      caller keeps open for the whole run. The lock belongs to the server session,
      so runs on different hosts against one database exclude each other, and it
      disappears with the connection if the process dies. It also disappears when
      only the connection dies (KILL, a server restart, a proxy's idle timeout)
      while the process goes on: so the run calls `check()` before every commit,
      which asks the server whether this very session still holds the lock, and
      stops (LockLostError, exit 4) instead of writing beside the next run.
    * Each recorded run also holds a lock of its own, ``...#run<id>``, on a second
      connection: "a live process owns this history row". A 'running' row whose
      lock nobody holds belongs to a process that is gone; one whose lock is held
      belongs to a run that lost the run lock and has yet to notice; it finishes
      its row itself.
    * SQLite: an exclusive OS lock (``fcntl.flock``, ``msvcrt.locking`` on Windows)
      on ``<database file>.lock``. The OS drops it when the process dies. The file
      is left in place on release: deleting it would let a process that already
      opened the old file and one that creates a new one both "hold" the lock;
      `check()` notices that the file was deleted or replaced.
    * An in-memory SQLite database or another dialect: nothing to share, no lock.

    Never waits: a held lock raises LockHeldError (exit 4) at once.
    """
    dialect = conn.engine.dialect.name
    if dialect in ("mysql", "mariadb"):
        with _mysql_lock(conn) as held:
            try:
                yield held
            finally:
                held.release()
    elif dialect == "sqlite" and (database_file := _sqlite_file(conn)) is not None:
        with _file_lock(lock_file_for(database_file)) as held:
            yield held
    else:
        if dialect != "sqlite":
            log.warning(say("log.no_run_lock", dialect=dialect))
        yield HeldLock()


def run_alive(conn: Connection, run_id: int) -> bool | None:
    """Whether a live process owns history row `run_id` (for --status; we hold no lock).

    None when the database cannot tell (no lock for it). On SQLite the row is the
    only run there can be, so its process is alive while the lock file is locked;
    the probe holds the file for an instant, and a run starting in that instant is
    turned away (exit 4) like any run that meets another.
    """
    return _lock_used(conn, lambda: _run_lock_name(conn, run_id))


def sync_running(conn: Connection) -> bool | None:
    """Whether some process holds the sync lock of `conn`'s database now (for --check).

    None when the database has no lock to ask. Like run_alive, the SQLite probe holds
    the lock file for an instant.
    """
    return _lock_used(conn, lambda: mysql_lock_name(_database(conn) or ""))


def _lock_used(conn: Connection, mysql_name: Callable[[], str]) -> bool | None:
    """Whether the named MySQL lock (or SQLite's lock file) is held; None: nothing to ask."""
    dialect = conn.engine.dialect.name
    if dialect in ("mysql", "mariadb"):
        return conn.execute(text("SELECT IS_USED_LOCK(:name)"),
                            {"name": mysql_name()}).scalar() is not None
    if dialect == "sqlite" and (database_file := _sqlite_file(conn)) is not None:
        return _file_locked(lock_file_for(database_file))
    return None


def _file_locked(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "a+b") as handle:
        if not _try_lock(handle):
            return True
        _unlock(handle)
    return False


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


def run_lock_name(database: str, run_id: int) -> str:
    """The GET_LOCK name that says "a live process owns history row `run_id`"."""
    return mysql_lock_name(f"{database}#run{run_id}")


def _run_lock_name(conn: Connection, run_id: int) -> str:
    database = _database(conn)
    return run_lock_name(database or "", run_id)


class _MysqlLock(HeldLock):
    """GET_LOCK held by one server session, whose id we keep to compare."""

    exclusive = True

    def __init__(self, conn: Connection, database: str, name: str, session: int) -> None:
        self.conn, self.database, self.name, self.session = conn, database, name, session
        self._run: tuple[int, Connection] | None = None  # the claimed row and its connection

    def check(self) -> None:
        try:
            holder, current = self.conn.execute(
                text("SELECT IS_USED_LOCK(:name), CONNECTION_ID()"), {"name": self.name}).one()
        except SQLAlchemyError as exc:
            self._end_transaction()
            raise self._lost(f"its connection failed: {describe_db_error(exc)}") from None
        self._end_transaction()
        if current != self.session:
            # SQLAlchemy reconnected a connection the server had closed: a new session,
            # which holds nothing.
            raise self._lost("its connection was closed (the server restarted, KILL, or an "
                             "idle timeout) and reopened")
        if holder != self.session:
            raise self._lost("the server no longer has it" if holder is None else
                             f"another session (connection {holder}) holds it now")
        self._keep_claim()

    def claim(self, run_id: int) -> None:
        name = run_lock_name(self.database, run_id)
        try:
            conn = self.conn.engine.connect()
            conn.execute(text(f"SET SESSION wait_timeout = {_LOCK_SESSION_TIMEOUT}"))
            conn.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": name})
            conn.commit()
        except SQLAlchemyError as exc:
            # Without it a second run would take our row for a dead one: a worse label,
            # not a worse sync.
            log.warning(say("log.not_alive", run=run_id, why=describe_db_error(exc)))
            return
        self._run = (run_id, conn)

    def run_alive(self, run_id: int) -> bool:
        name = run_lock_name(self.database, run_id)
        return self.conn.execute(text("SELECT IS_USED_LOCK(:name)"), {"name": name}).scalar() \
            is not None

    def release(self) -> None:
        if self._run is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._run[1].close()  # the server frees the row's lock with the session
            self._run = None

    def _keep_claim(self) -> None:
        # The row's lock may have gone with its own connection; take it again (it is ours
        # by name, nobody else asks for it).
        if self._run is None:
            return
        run_id, conn = self._run
        try:
            mine = conn.execute(text("SELECT IS_USED_LOCK(:name) = CONNECTION_ID()"),
                                {"name": run_lock_name(self.database, run_id)}).scalar()
            conn.rollback()
        except SQLAlchemyError:
            mine = False
        if not mine:
            self.release()
            self.claim(run_id)

    def _end_transaction(self) -> None:
        # The check's SELECT began a transaction; history writes need none open. After a
        # connection error this also lets the connection reconnect for the history row.
        with contextlib.suppress(SQLAlchemyError):
            self.conn.rollback()

    def _lost(self, why: str) -> LockLostError:
        return LockLostError(say("lock.lost_mysql", database=self.database, name=self.name,
                                 why=why) + say("lock.lost_advice"))


@contextlib.contextmanager
def _mysql_lock(conn: Connection) -> Iterator[_MysqlLock]:
    with database_errors(say("db.taking_lock")):
        database = _database(conn)
        name = mysql_lock_name(database or "")
        conn.execute(text(f"SET SESSION wait_timeout = {_LOCK_SESSION_TIMEOUT}"))
        got, session = conn.execute(text("SELECT GET_LOCK(:name, 0), CONNECTION_ID()"),
                                    {"name": name}).one()
        conn.commit()
    if got != 1:
        raise LockHeldError(say("lock.held_mysql", database=database, name=name))
    try:
        yield _MysqlLock(conn, database or "", name, session)
    finally:
        try:
            conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
            conn.commit()
        except SQLAlchemyError as exc:
            # The server frees the lock with the session; closing the connection ends it.
            log.debug("could not release the lock %s: %s", name, describe_db_error(exc))


class _FileLock(HeldLock):
    """An OS lock on an open lock file."""

    exclusive = True

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path, self.handle = path, handle

    def check(self) -> None:
        # Deleted or replaced, the file a new run locks is not ours: both would "hold" it.
        try:
            same = os.path.samestat(os.fstat(self.handle.fileno()), os.stat(self.path))
        except OSError:
            same = False
        if not same:
            raise LockLostError(say("lock.lost_file", database=self.path.stem, path=self.path)
                                + say("lock.lost_advice"))

    def run_alive(self, run_id: int) -> bool:
        return False  # we hold the only lock there is: any other 'running' row is dead


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[_FileLock]:
    try:
        handle = open(path, "a+b")  # stays open (and locked) for the whole run
    except OSError as exc:
        raise DatabaseError(say("lock.file_unwritable", path=path,
                                why=exc.strerror or exc)) from None
    try:
        if not _try_lock(handle):
            raise LockHeldError(say("lock.held_file", database=path.stem, path=path))
        try:
            yield _FileLock(path, handle)
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


def _database(conn) -> str | None:
    """The connection's current database (the URL's when the server names none)."""
    return conn.execute(text("SELECT DATABASE()")).scalar() or conn.engine.url.database
