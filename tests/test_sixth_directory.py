"""A new directory is a syncer class, its registry line and a model: nothing else.

A copy of the project gets a sixth directory, regions (a smart process): --discover
--write finds it on the portal by its title, --check accepts it and a sync fills it, with
no change to discover, the checks, the engine or the tests' own tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import child_environ, copy_project
from tests.ops_helpers import query

pytestmark = pytest.mark.slow

REGION_ENTITY_TYPE_ID = 1044
REGION_SYNCER = '''"""Regions: a smart process."""

from app.syncers.base_syncer import BaseSyncer


class RegionSyncer(BaseSyncer):
    """Regions -> Region."""

    name = "region"
    title = {"ru": "Регионы", "en": "Regions"}
    title_words = {"ru": "регион", "en": "region"}
    model = "Region"
    method = "crm.item.list"
    field_map = {"title": "name"}
'''
REGION_MODEL = '''

class Region(_Synced, Base):
    """A region (regions)."""

    __tablename__ = "regions"
    name: Mapped[str] = mapped_column(String(255), nullable=False)
'''


def add_region_directory(project: Path) -> None:
    """What a maintainer writes for a sixth directory: a syncer, its registry line, a model."""
    (project / "app" / "syncers" / "region_syncer.py").write_text(REGION_SYNCER, "utf-8")
    registry = project / "app" / "syncers" / "__init__.py"
    text = registry.read_text("utf-8")
    assert "ViolationSyncer, UserSyncer)" in text
    registry.write_text(text.replace(
        "ViolationSyncer, UserSyncer)", "ViolationSyncer, UserSyncer, RegionSyncer)").replace(
        "from app.syncers.user_syncer", "from app.syncers.region_syncer import RegionSyncer\n"
        "from app.syncers.user_syncer"), "utf-8")
    models = project / "app" / "db" / "models.py"
    models.write_text(models.read_text("utf-8") + REGION_MODEL, "utf-8")


def test_a_sixth_directory_is_discovered_checked_and_synced(seeded, tmp_path):
    regions = ["Северо-Запад", "Урал", "Сибирь", "Дальний Восток"]
    seeded.add_smart_process(REGION_ENTITY_TYPE_ID, type_id=7, title="Регионы", fields={
        "id": {"type": "integer", "title": "ID", "upperName": "ID", "isReadOnly": True},
        "title": {"type": "string", "title": "Название", "upperName": "TITLE"}})
    seeded.add_items(REGION_ENTITY_TYPE_ID, [{"title": name} for name in regions])
    project = copy_project(tmp_path / "project", "cli.py")
    add_region_directory(project)
    database = f"sqlite:///{(tmp_path / 'sync.db').as_posix()}"
    env = child_environ(PYTHONIOENCODING="utf-8", BITRIX_WEBHOOK_URL=seeded.webhook_url,
                        DATABASE_URL=database)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(project / "cli.py"), *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, encoding="utf-8",
                              timeout=120)

    written = cli("--discover", "--write", str(project / "mapping.toml"))
    assert written.returncode == 0, written.stderr
    mapping = (project / "mapping.toml").read_text("utf-8")
    assert "# Regions: table regions (model Region). Source: «Регионы»." in mapping
    assert f"[region]\nmethod = \"crm.item.list\"\nparams = {{ entityTypeId = " \
           f"{REGION_ENTITY_TYPE_ID} }}" in mapping

    assert cli("--init-db").returncode == 0
    check = cli("--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "region" in check.stdout

    synced = cli("--json")
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert report["directories"]["region"]["created"] == len(regions)
    rows = query(database, "SELECT btxid, name FROM regions ORDER BY btxid")
    assert [row["name"] for row in rows] == regions
    assert report["directories"]["city"]["created"] == len(seeded.records("crm:1036"))
