"""Shared fixtures: a clean environment, a real MariaDB/MySQL database, a fake portal."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

import cli
from app import masking
from app.bitrix.client import Bitrix24Client
from app.config import VARIABLES, Settings, load_settings
from app.db.connect import make_engine
from app.db.models import Base
from app.report import SyncReport
from app.sync.runner import RunOptions, run_sync
from app.testing.portal import FakePortal
from app.testing.seed import DEMO_MAPPING, seed_portal

MYSQL_ADMIN_URL = os.environ.get(
    "TEST_MYSQL_URL", "mysql+pymysql://root:@127.0.0.1:3306/?charset=utf8mb4")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own settings."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    masking._known_secrets.clear()


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
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for table in ("bitrix_sync_runs", "bitrix_sync_state",
                          *(t.name for t in Base.metadata.sorted_tables)):
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return engine


@pytest.fixture
def mysql_url(mysql_database: str) -> Iterator[str]:
    """The MySQL test database with empty built-in tables."""
    _fresh_tables(mysql_database).dispose()
    yield mysql_database


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{(tmp_path / 'sync.db').as_posix()}"
    _fresh_tables(url).dispose()
    return url


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
