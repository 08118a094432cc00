"""Connecting to the database: the engine, the connection check, driver errors in words."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DataError, IntegrityError, PendingRollbackError, SQLAlchemyError

from app.config import mask_database_url
from app.errors import ConfigError, DatabaseError
from app.messages import say

# What to check for a connection the server refused (catalog keys, app/messages.py).
_HINTS = {1045: "db.hint_1045", 1698: "db.hint_1045", 1049: "db.hint_1049",
          2003: "db.hint_2003", 2005: "db.hint_2005"}

# What a server-side failure means, in plain words (catalog keys; MySQL/MariaDB error codes).
_LOST = "db.lost"
_CAUSES = {
    1021: "db.disk_full", 1040: "db.too_many_connections", 1053: "db.shutting_down",
    1114: "db.table_full", 1153: "db.packet", 1205: "db.lock_wait", 1213: "db.deadlock",
    1290: "db.read_only_replica", 1792: "db.read_only_transaction", 1836: "db.read_only",
    1927: "db.lost_killed", 2006: "db.lost_gone", 2013: "db.lost_during", 2014: "db.lost_sync",
    2055: _LOST, 4031: "db.lost_idle",
}
_SQLITE_CAUSES = {
    "database is locked": "db.sqlite_locked",
    "disk is full": "db.sqlite_disk_full",
    "readonly database": "db.sqlite_read_only",
    "disk i/o error": "db.sqlite_io",
}
# Errors about the values of the row(s) sent: splitting a chunk finds the record at fault.
# Anything else (the connection, the server, the transaction) is not about one record.
# Each with the catalog text of its cause, which app/sync/refusals.py says for the record.
RECORD_CAUSES: dict[int, str] = {
    1048: "record.db_null",          # column cannot be null
    1062: "record.db_duplicate",     # duplicate entry
    1118: "record.db_row_size",      # row size too large
    1264: "record.db_out_of_range",  # out of range value
    1690: "record.db_out_of_range",  # value out of range
    1406: "record.db_too_long",      # data too long for column
    1265: "record.db_too_long",      # data truncated for column
    1292: "record.db_date",          # incorrect date/time value
    1441: "record.db_date",          # datetime function overflow
    1300: "record.db_bad_value",     # invalid character string
    1366: "record.db_bad_value",     # incorrect value for column (a 4-byte character in utf8mb3)
    1367: "record.db_bad_value",     # illegal value
    1411: "record.db_bad_value",     # incorrect value for a function
    1416: "record.db_bad_value",     # cannot get geometry object
    3140: "record.db_bad_value",     # invalid JSON text
    1364: "record.db_no_default",    # field has no default value
    1451: "record.db_foreign_key", 1452: "record.db_foreign_key",  # foreign key checks
    1216: "record.db_foreign_key", 1217: "record.db_foreign_key",
    3819: "record.db_constraint",    # check constraint violated (MySQL)
    4025: "record.db_constraint",    # constraint failed (MariaDB)
}


def make_engine(url: str) -> Engine:
    """An engine for the URL; MySQL gets utf8mb4 and liveness checks."""
    kwargs: dict = {"pool_pre_ping": True}
    if url.startswith("mysql"):
        if "charset=" not in url:
            url += ("&" if "?" in url else "?") + "charset=utf8mb4"
        kwargs["pool_recycle"] = 3600
    try:
        engine = create_engine(url, **kwargs)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        # A URL SQLAlchemy cannot even parse or load a driver for is a setting to fix.
        raise ConfigError(say("db.bad_url", url=mask_database_url(url), reason=exc),
                          variables=("DATABASE_URL",)) from None
    if engine.dialect.name == "sqlite":
        _fix_sqlite_transactions(engine)
    elif engine.dialect.name in ("mysql", "mariadb"):
        _sync_session(engine)
        if engine.dialect.driver == "pymysql":
            _share_tls_context(engine)
    return engine


# Without it a server whose default sql_mode is not strict stores 2^31+10 as 2147483647 and
# cuts a long text to the column's length, with only a warning nobody reads. Strict, the
# statement fails and the record is reported. ALL, not TRANS: a MyISAM table of the
# parent project gets the same truth.
STRICT_MODE = "STRICT_ALL_TABLES"
# A directory's connection sits idle while its pages are read, and a read can wait ten
# minutes for the method's operating budget; a host whose wait_timeout is shorter would
# close it and lose the directory. The sync's own sessions wait at least this long (MySQL's
# default); the run lock's connection sets more (run_lock.py).
SESSION_IDLE_SECONDS = 8 * 3600


def _sync_session(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT @@SESSION.sql_mode, @@SESSION.wait_timeout")
            mode, idle = cursor.fetchone()
            modes = [m for m in (mode or "").split(",") if m]
            if STRICT_MODE not in modes:
                cursor.execute("SET SESSION sql_mode = %s", (",".join([*modes, STRICT_MODE]),))
            if int(idle or 0) < SESSION_IDLE_SECONDS:
                cursor.execute("SET SESSION wait_timeout = %s", (SESSION_IDLE_SECONDS,))


def _share_tls_context(engine: Engine) -> None:
    # PyMySQL 1.2 offers TLS to every server ("preferred", no CA given: nothing is verified)
    # and builds a new default SSL context for each connection, loading the system's CA
    # store every time: 0.13 s of CPU per connection, 0.5 s of a sync that opens four.
    # The context is the same for all of them, so one is built and shared (an SSLContext
    # is safe to share between connections and threads).
    connection_class = _shared_tls_connection_class()

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        return connection_class(*cargs, **cparams)


@functools.cache
def _shared_tls_connection_class() -> type:
    from pymysql.connections import Connection

    class SharedTlsConnection(Connection):
        def _create_ssl_ctx(self, sslp):
            if not isinstance(sslp, dict) or sslp:  # the URL's own TLS settings: as PyMySQL
                return super()._create_ssl_ctx(sslp)
            return _preferred_context(self)

    return SharedTlsConnection


_preferred: list = []  # PyMySQL's context for TLS offered without settings, made once
_preferred_lock = threading.Lock()


def _preferred_context(connection) -> object:
    from pymysql.connections import Connection

    with _preferred_lock:
        if not _preferred:
            _preferred.append(Connection._create_ssl_ctx(connection, {}))
        return _preferred[0]


def prepare_tls(url: str) -> None:
    """Make that shared context in the background while the run sets itself up (loading the
    CA store lets other threads run), so the first connection need not wait for it. Any
    failure is left for the first connection to meet and report."""
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError):
        return  # make_engine() tells what is wrong with it
    if parsed.get_driver_name() != "pymysql" or any(k.startswith("ssl") for k in parsed.query):
        return  # another driver, or the URL's own TLS settings (or none): not this context

    def make() -> None:
        import pymysql
        from pymysql.connections import Connection

        if pymysql.VERSION < (1, 2):  # TLS offered without settings came with 1.2
            return
        try:  # PyMySQL's own method, on a connection not yet opened: it reads no attribute
            _preferred_context(Connection.__new__(Connection))
        except Exception:  # noqa: BLE001 - the first connection makes it (and says why not)
            pass

    threading.Thread(target=make, name="db-tls-context", daemon=True).start()


def _fix_sqlite_transactions(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")


def error_code(exc: BaseException) -> int | None:
    """The MySQL/MariaDB error number of a driver error, None for others (SQLite)."""
    args = getattr(getattr(exc, "orig", exc), "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def describe_db_error(exc: BaseException) -> str:
    """A short, secret-free sentence for a driver error: the cause in plain words where we
    know it, then the server's own words, or the server's words and a hint."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    code = error_code(exc)
    if code is not None and len(args) > 1:
        detail = str(args[1])
    elif orig is exc and args and isinstance(args[0], str):  # SQLAlchemy's own error
        detail = args[0]
    else:
        detail = (str(orig).splitlines() or [type(orig).__name__])[0]
    cause = _CAUSES.get(code) or _sqlite_cause(detail)
    if cause is None and getattr(exc, "connection_invalidated", False):
        cause = _LOST
    if cause is None and isinstance(exc, PendingRollbackError):
        cause = "db.lost_earlier"
    if cause is not None:
        return say(cause, lost=say(_LOST)) + f" ({detail})"
    hint = _HINTS.get(code)
    return say("db.hinted", detail=detail, hint=say(hint)) if hint else detail


def _sqlite_cause(detail: str) -> str | None:
    lowered = detail.lower()
    return next((cause for words, cause in _SQLITE_CAUSES.items() if words in lowered), None)


def names_a_record(exc: BaseException) -> bool:
    """Whether a driver error is about the values of the rows sent, not about the
    connection, the server or the transaction (only then does a record fail alone)."""
    if getattr(exc, "connection_invalidated", False):
        return False
    code = error_code(exc)
    if code is not None:
        return code in RECORD_CAUSES
    return isinstance(exc, IntegrityError | DataError)  # SQLite: constraints and values


@contextlib.contextmanager
def database_errors(doing: str) -> Iterator[None]:
    """Turn a driver error in the block into DatabaseError (exit 3): '<doing>: <what failed>'."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise DatabaseError(say("db.failed", doing=doing, what=describe_db_error(exc))) from None


def check_connection(engine: Engine) -> None:
    """Raise DatabaseError (exit 3) when the database cannot be reached."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        with database_errors(say("db.cannot_connect", url=url)), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except TypeError as exc:  # the driver refused an option from the URL's query string
        raise ConfigError(
            say("db.driver_refused", url=url, reason=exc), variables=("DATABASE_URL",)) from None
