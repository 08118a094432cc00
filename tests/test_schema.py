"""Schema checks before any write, and the parent-project layout (MiniApps/bitrix-sync)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from app.db.connect import make_engine
from app.sync.runner import RunOptions, run_sync
from tests.conftest import settings_for, write_mapping_toml

ROOT = Path(__file__).resolve().parent.parent


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()


def test_missing_btxid_column_stops_before_any_write(seeded, mysql_url, tmp_path, mapping):
    engine = make_engine(mysql_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE cities DROP COLUMN btxid"))
        conn.execute(text("ALTER TABLE objects DROP COLUMN address"))

    report = run_sync(settings_for(seeded, mysql_url, tmp_path), RunOptions(),
                      overrides=mapping)

    assert report.exit_code == 2
    assert "table 'cities' has no column 'btxid'; add it with: ALTER TABLE cities ADD COLUMN " \
           "btxid INTEGER NULL UNIQUE;" in report.fatal
    assert "table 'objects' has no column 'address'; add it with: ALTER TABLE objects ADD " \
           "COLUMN address VARCHAR(512) NULL;" in report.fatal
    assert count(engine, "users") == 0 and count(engine, "violation_categories") == 0
    engine.dispose()


def test_missing_table_is_named(seeded, sqlite_url, tmp_path, mapping):
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE violations"))

    report = run_sync(settings_for(seeded, sqlite_url, tmp_path), RunOptions(),
                      overrides=mapping)

    assert report.exit_code == 2
    assert "table 'violations' does not exist (model Violation)" in report.fatal
    assert "--init-db" in report.fatal
    assert count(engine, "cities") == 0
    engine.dispose()


def test_column_unknown_to_the_model_is_named(seeded, sqlite_url, tmp_path, mapping):
    mapping["city"]["fields"]["ufCrm3_1709124411"] = "region"
    report = run_sync(settings_for(seeded, sqlite_url, tmp_path), RunOptions(names=("city",)),
                      overrides=mapping)
    assert report.exit_code == 2
    assert "model City (built-in app/db/models.py) has no column 'region'" in report.fatal


PARENT_DATABASE = '''
from sqlalchemy.orm import declarative_base
Base = declarative_base()
'''

PARENT_MODELS = '''
from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String
from database import Base  # a sibling module, as parent projects often have


class City(Base):
    __tablename__ = "ref_city"
    id = Column(Integer, primary_key=True)
    btxid = Column(Integer, unique=True)
    title = Column(String(120), nullable=False)
    enabled = Column(Boolean, nullable=False, default=True)


class Object(Base):
    __tablename__ = "ref_object"
    id = Column(Integer, primary_key=True)
    btxid = Column(Integer, unique=True)
    title = Column(String(255), nullable=False)
    town_id = Column(Integer, ForeignKey("ref_city.id"))
    enabled = Column(Boolean, nullable=False, default=True)


class User(Base):
    __tablename__ = "tg_user"
    id = Column(Integer, primary_key=True)
    btxid = Column(Integer, unique=True)
    tg_id = Column(BigInteger, unique=True)
    secret_key = Column(String(64), nullable=False)
    full_name = Column(String(255))
    fired = Column(Boolean, default=False)
'''


@pytest.mark.slow
def test_parent_project_layout_end_to_end(seeded, mysql_url, tmp_path):
    """MiniApps/.env + MiniApps/models.py + MiniApps/bitrix-sync/ run from elsewhere."""
    parent = tmp_path / "MiniApps"
    project = parent / "bitrix-sync"
    shutil.copytree(ROOT / "app", project / "app",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "cli.py", project / "cli.py")
    (parent / "database.py").write_text(PARENT_DATABASE, encoding="utf-8")
    (parent / "models.py").write_text(textwrap.dedent(PARENT_MODELS), encoding="utf-8")
    write_mapping_toml(project / "mapping.toml", {
        "city": {"params": {"entityTypeId": 1036}, "fields": {"title": "title"},
                 "active_column": "enabled"},
        "object": {"params": {"entityTypeId": 1040},
                   "fields": {"title": "title", "parentId1036": "town_id"},
                   "references": {"town_id": "city"}, "active_column": "enabled"},
        "user": {"fields": {"LAST_NAME": "full_name"}, "active_column": ""},
    })
    (parent / ".env").write_text(
        f"BITRIX_WEBHOOK_URL={seeded.webhook_url}\nDATABASE_URL={mysql_url}\nLOG_LEVEL=INFO\n",
        encoding="utf-8")
    sys.path.insert(0, str(parent))
    try:
        import importlib

        parent_models = importlib.import_module("models")
        engine = make_engine(mysql_url)
        parent_models.Base.metadata.create_all(engine)
    finally:
        sys.path.remove(str(parent))
        sys.modules.pop("models", None)
        sys.modules.pop("database", None)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tg_user (btxid, tg_id, secret_key, full_name) "
                          "VALUES (1, 555, 'keep-this-key-123', 'old')"))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITRIX", "MYSQL"))}
    result = subprocess.run(
        [sys.executable, str(project / "cli.py"), "--sync", "city", "object", "user", "--json"],
        cwd=tmp_path, capture_output=True, text=True, encoding="utf-8", timeout=120, env=env)

    assert result.returncode == 0, result.stderr
    assert f"Using models from parent project {parent / 'models.py'}" in result.stderr
    report = json.loads(result.stdout)
    assert report["directories"]["object"]["created"] == len(seeded.records("crm:1040"))
    with engine.connect() as conn:
        linked = conn.execute(text(
            "SELECT COUNT(*) FROM ref_object o JOIN ref_city c ON c.id = o.town_id")).scalar()
        kept = conn.execute(text("SELECT tg_id, secret_key FROM tg_user WHERE btxid = 1")).one()
    assert linked == sum(1 for i in seeded.records("crm:1040") if i.get("parentId1036"))
    assert tuple(kept) == (555, "keep-this-key-123")
    with engine.begin() as conn:
        for table in ("ref_object", "ref_city", "tg_user"):
            conn.execute(text(f"DROP TABLE {table}"))
    engine.dispose()
