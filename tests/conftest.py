"""Shared fixtures: a clean environment, a real MariaDB/MySQL database, a fake portal."""

from __future__ import annotations

import compileall
import itertools
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

import cli
from app import masking, messages
from app.bitrix.client import Bitrix24Client
from app.config import (
    CA_BUNDLE_VARIABLES,
    PROJECT_DIR_VARIABLE,
    VARIABLES,
    Settings,
    load_settings,
)
from app.db.connect import make_engine
from app.db.models import Base
from app.report import SyncReport
from app.sync.runner import RunOptions, run_sync
from app.testing.portal import FakePortal
from app.testing.seed import DEMO_MAPPING, seed_portal

MYSQL_ADMIN_URL = os.environ.get(
    "TEST_MYSQL_URL", "mysql+pymysql://root:@127.0.0.1:3306/?charset=utf8mb4")
ROOT = Path(__file__).resolve().parent.parent
_TESTS = itertools.count()


@pytest.fixture(scope="session")
def _elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the stand-ins for the project folder go, one per test, made only when written."""
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, _elsewhere: Path) -> None:
    """No test sees the developer's own settings: not the environment's, and not the .env,
    mapping.toml, log file, parent .env or parent models.py of the folder the suite runs
    in (BITRIX_SYNC_PROJECT_DIR points settings at an empty folder, child processes too)."""
    for name in (*VARIABLES, *CA_BUNDLE_VARIABLES):  # requests' CA bundle: see config.py
        monkeypatch.delenv(name, raising=False)
    folder = _elsewhere / str(next(_TESTS)) / "project"
    monkeypatch.setenv(PROJECT_DIR_VARIABLE, str(folder))
    masking._known_secrets.clear()
    # The suite's assertions on screen text are written against the English catalog;
    # the tests of the Russian default (tests/test_voice.py) remove SYNC_LANG again.
    monkeypatch.setenv("SYNC_LANG", "en")
    messages.set_language("en")


def child_environ(**extra: str) -> dict[str, str]:
    """The environment for a child process that runs a copy of the project and must find
    that copy's own .env files (not the stand-in folder of clean_env)."""
    env = {k: v for k, v in os.environ.items()
           if k != PROJECT_DIR_VARIABLE and k not in CA_BUNDLE_VARIABLES}
    return {**env, **extra}


@pytest.fixture(scope="session", autouse=True)
def _compiled_app() -> None:
    """app/ compiled once: the ~50 tests that start Python children (from the project or
    from a copy made by copy_project) load bytecode instead of compiling every module."""
    compileall.compile_dir(ROOT / "app", quiet=1)  # cli.py itself runs as a script: never cached


def copy_project(dest: Path, *files: str) -> Path:
    """app/ (with its compiled bytecode, still valid: copy2 keeps the times) and the named
    top-level files copied to `dest`, as a user unpacks bitrix-sync."""
    shutil.copytree(ROOT / "app", dest / "app")
    for name in files:
        shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Drop handlers a test's CLI run attached (they point at closed capture streams)."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    for handler in before:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str]:
    """A throw-away database on the real server; CI fails (not skips) without MySQL."""
    admin = create_engine(MYSQL_ADMIN_URL)
    name = f"bitrix_sync_test_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 "
                              "COLLATE utf8mb4_unicode_ci"))
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"MySQL/MariaDB is required under CI and is unreachable: {exc}")
        pytest.skip(f"MySQL/MariaDB not reachable: {exc}")
    url = MYSQL_ADMIN_URL.replace("/?", f"/{name}?")
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


def _fresh_tables(url: str) -> Engine:
    """Drop and create the built-in tables (and drop the history and state tables)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for table in (*OWN_TABLES, *(t.name for t in Base.metadata.sorted_tables)):
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return engine


# The tool's own tables, created on first use: a test starts without them.
OWN_TABLES = ("bitrix_sync_runs", "bitrix_sync_state")
_SHAPE = text(
    "SELECT 'c', table_name, column_name, column_type, is_nullable, column_default, extra "
    "FROM information_schema.columns WHERE table_schema = DATABASE() "
    "UNION ALL SELECT 'i', table_name, index_name, column_name, seq_in_index, non_unique, '' "
    "FROM information_schema.statistics WHERE table_schema = DATABASE() "
    "UNION ALL SELECT 'f', table_name, constraint_name, referenced_table_name, '', '', '' "
    "FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE()")


def _shape(conn) -> tuple[frozenset[tuple], set[str]]:
    """The built-in tables' columns, indexes and foreign keys; which own tables exist."""
    built_in = {t.name for t in Base.metadata.sorted_tables}
    rows = [tuple(map(str, row)) for row in conn.execute(_SHAPE)]
    return (frozenset(row for row in rows if row[1] in built_in),
            {row[1] for row in rows if row[1] in OWN_TABLES})


class _MysqlTables:
    """Built-in tables created once per session and emptied before each test; a test that
    changed their shape (or created the tool's own tables) gets them dropped and made anew."""

    def __init__(self, url: str) -> None:
        self.url = url
        _fresh_tables(url).dispose()
        self.engine = make_engine(url)
        with self.engine.connect() as conn:
            self.shape = _shape(conn)[0]

    def clean(self) -> None:
        with self.engine.connect() as conn:
            shape, own = _shape(conn)
        if shape != self.shape:
            _fresh_tables(self.url).dispose()
            return
        with self.engine.begin() as conn:
            if own:  # made by the run that used them: the next test starts without them
                conn.execute(text(f"DROP TABLE {', '.join(sorted(own))}"))
            names = [t.name for t in Base.metadata.sorted_tables]
            filled = conn.execute(text(" UNION ALL ".join(
                f"SELECT '{name}' FROM (SELECT 1 FROM {name} LIMIT 1) AS t{i}"
                for i, name in enumerate(names)))).scalars().all()
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for name in filled:  # TRUNCATE also starts the ids at 1 again
                conn.execute(text(f"TRUNCATE TABLE {name}"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture(scope="session")
def _mysql_tables(mysql_database: str) -> Iterator[_MysqlTables]:
    tables = _MysqlTables(mysql_database)
    yield tables
    tables.engine.dispose()


@pytest.fixture
def mysql_url(_mysql_tables: _MysqlTables) -> Iterator[str]:
    """The MySQL test database with empty built-in tables."""
    _mysql_tables.clean()
    yield _mysql_tables.url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    _fresh_tables(f"sqlite:///{path.as_posix()}").dispose()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A SQLite file of this test's own with empty built-in tables (a copy of one made once)."""
    path = tmp_path / "sync.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture(params=["mysql", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each engine test runs on real MariaDB and on SQLite."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def portal() -> Iterator[FakePortal]:
    """An empty fake portal over HTTP on loopback."""
    with FakePortal() as fake:
        yield fake


@pytest.fixture
def seeded(portal: FakePortal) -> FakePortal:
    """A fake portal holding the standard sample data."""
    seed_portal(portal)
    return portal


@pytest.fixture
def synced(seeded: FakePortal, db_url: str, tmp_path: Path, mapping: dict) -> FakePortal:
    """The sample portal after one full sync into the test database."""
    first = sync(seeded, db_url, tmp_path, mapping)
    assert first.ok and {d.mode for d in first.directories.values()} == {"full"}
    return seeded


@pytest.fixture
def mapping() -> dict:
    """The mapping matching the sample data, as mapping.toml would give it."""
    import copy

    return copy.deepcopy(DEMO_MAPPING)


def settings_for(portal: FakePortal, db_url: str, tmp_path: Path, **env: str) -> Settings:
    """Settings pointing at the fake portal and a test database, isolated from real files."""
    environ = {"BITRIX_WEBHOOK_URL": portal.webhook_url, "DATABASE_URL": db_url,
               "BITRIX_MAX_RETRIES": "3", **env}
    return load_settings(environ=environ, project_dir=tmp_path / "project")


def hook_method(portal: FakePortal, method: str, change) -> None:
    """Pass every answer of `method` (in a batch too) through `change(call number, params,
    answer)`: how a test makes the portal answer in ways its data alone would not. The
    portal is the test's own, so the hook ends with it."""
    calls = [0]

    def wrap(original):
        def hooked(params):
            answer = original(params)
            calls[0] += 1
            return change(calls[0], params, answer)
        return hooked

    portal.hook(method, wrap)


def sync(portal: FakePortal, db_url: str, tmp_path: Path, mapping: dict, *names: str,
         client: Bitrix24Client | None = None, env: dict[str, str] | None = None,
         **options) -> SyncReport:
    """One run of the named directories (every one when none is named) into `db_url`."""
    settings = settings_for(portal, db_url, tmp_path, **(env or {}))
    return run_sync(settings, RunOptions(names=names, **options), overrides=mapping,
                    client=client)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`python cli.py ARGV` in this process: its exit code, stdout and stderr."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_mapping_toml(path: Path, mapping: dict) -> Path:
    """Write a mapping dict as mapping.toml (inline tables; strings and numbers only)."""

    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return str(v) if isinstance(v, int | float) else '"' + str(v).replace('"', '\\"') + '"'

    lines = []
    for section, body in mapping.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {value(v)}" for key, v in body.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
