"""Connecting to the database: the engine, the connection check, driver errors in words."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.config import mask_database_url
from app.errors import ConfigError, DatabaseError

_HINTS = {
    1045: "check MYSQL_USER and MYSQL_PASSWORD",
    1049: "create the database first (CREATE DATABASE ... CHARACTER SET utf8mb4) or fix "
          "MYSQL_DATABASE",
    2003: "check MYSQL_HOST and MYSQL_PORT and that the server is running",
    2005: "check MYSQL_HOST",
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
        raise ConfigError(f"DATABASE_URL: cannot use the database URL {mask_database_url(url)}: "
                          f"{exc}", variables=("DATABASE_URL",)) from None
    if engine.dialect.name == "sqlite":
        _fix_sqlite_transactions(engine)
    return engine


def _fix_sqlite_transactions(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")


def describe_db_error(exc: BaseException) -> str:
    """A short, secret-free sentence for a driver error, with a hint where we know one."""
    orig = getattr(exc, "orig", exc)
    args = getattr(orig, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    detail = str(args[1]) if code is not None and len(args) > 1 else str(orig).splitlines()[0]
    hint = _HINTS.get(code)
    return f"{detail}" + (f" ({hint})" if hint else "")


@contextlib.contextmanager
def database_errors(doing: str) -> Iterator[None]:
    """Turn a driver error in the block into DatabaseError (exit 3): '<doing>: <what failed>'."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise DatabaseError(f"{doing}: {describe_db_error(exc)}") from None


def check_connection(engine: Engine) -> None:
    """Raise DatabaseError (exit 3) when the database cannot be reached."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        with database_errors(f"Cannot connect to the database {url}"), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except TypeError as exc:  # the driver refused an option from the URL's query string
        raise ConfigError(
            f"DATABASE_URL: the driver does not accept the URL {url}: {exc}",
            variables=("DATABASE_URL",)) from None
