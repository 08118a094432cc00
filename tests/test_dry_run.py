"""--dry-run: reads everything, writes nothing (byte for byte), predicts the real run exactly."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

import cli
from app.db.models import Base
from app.sync.runner import RunOptions, run_sync
from tests.conftest import settings_for, write_mapping_toml

COUNTS = ("fetched", "created", "updated", "unchanged", "deactivated", "errors", "warnings")


def snapshot(engine, db_url: str):
    """Everything a write could change: SQLite's file bytes; on MariaDB every row, every
    table definition (SHOW CREATE TABLE carries AUTO_INCREMENT) and the table status."""
    if engine.dialect.name == "sqlite":
        return Path(db_url.removeprefix("sqlite:///")).read_bytes()
    state = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            state.append(conn.execute(text(f"SHOW CREATE TABLE {table.name}")).one()[1])
            state.append(conn.execute(text(f"SELECT * FROM {table.name} ORDER BY id")).all())
            state.append(conn.execute(text(
                "SELECT AUTO_INCREMENT, TABLE_ROWS FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"), {"t": table.name}).all())
            state.append(conn.execute(text(f"CHECKSUM TABLE {table.name}")).all())
    return state


def change_portal(portal) -> dict:
    """One of each: a new city, a renamed city, an object moved to the new city, a deleted
    object, a fired employee."""
    city = portal.records("crm:1036")[0]
    obj, gone = portal.records("crm:1040")[:2]
    user = next(u for u in portal.records("user") if u["ACTIVE"])
    [new_city] = portal.add_items(1036, [{"title": "Великий Новгород"}])
    portal.update_record("crm:1036", city["id"], title=city["title"] + " (центр)")
    portal.update_record("crm:1040", obj["id"], parentId1036=new_city)
    portal.delete_record("crm:1040", gone["id"])
    portal.update_record("user", int(user["ID"]), ACTIVE=False)
    return {"city": city, "new_city": new_city, "object": obj, "gone": gone, "user": user}


def counts(report) -> dict:
    return {n: tuple(getattr(d, k) for k in COUNTS) for n, d in report.directories.items()}


def test_dry_run_leaves_the_database_untouched_and_predicts_the_sync(seeded, db, db_url,
                                                                      tmp_path, mapping):
    settings = settings_for(seeded, db_url, tmp_path)
    assert run_sync(settings, RunOptions(), overrides=mapping).ok
    changed = change_portal(seeded)
    before = snapshot(db, db_url)

    dry = run_sync(settings, RunOptions(dry_run=True), overrides=mapping)

    assert dry.ok and dry.dry_run
    assert snapshot(db, db_url) == before
    with db.connect() as conn:
        old_city_id = conn.execute(text("SELECT city_id FROM objects WHERE btxid = :b"),
                                   {"b": changed["object"]["id"]}).scalar()
    planned = {(p.directory, p.action, p.btxid): p.fields for p in dry.planned}
    moved = planned.pop(("object", "update", changed["object"]["id"]))
    assert planned == {
        ("city", "create", changed["new_city"]): {"name": "Великий Новгород", "is_active": True},
        ("city", "update", changed["city"]["id"]): {
            "name": (changed["city"]["title"], changed["city"]["title"] + " (центр)")},
        ("object", "deactivate", changed["gone"]["id"]): {},
        ("user", "update", int(changed["user"]["ID"])): {"is_active": (True, False)},
    }
    # The object moves to a city only the dry run created: shown as that city, not as NULL.
    assert list(moved) == ["city_id"] and moved["city_id"][0] == old_city_id
    assert str(moved["city_id"][1]) == f"(new city {changed['new_city']})"
    assert dry.directories["object"].warnings == 0  # the new city is not "unknown"

    real = run_sync(settings, RunOptions(), overrides=mapping)

    assert counts(real) == counts(dry)


def test_cli_dry_run_lists_changes_only_with_verbose(capsys, monkeypatch, seeded, sqlite_url,
                                                     tmp_path, mapping):
    for key, value in {"BITRIX_WEBHOOK_URL": seeded.webhook_url, "DATABASE_URL": sqlite_url,
                       "SYNC_MAPPING_FILE": str(write_mapping_toml(tmp_path / "m.toml",
                                                                   mapping))}.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["--quiet"]) == 0
    changed = change_portal(seeded)
    capsys.readouterr()

    assert cli.main(["--dry-run"]) == 0
    out, _ = capsys.readouterr()
    assert "Dry run: nothing was written." in out and "would change" not in out

    assert cli.main(["--dry-run", "--verbose"]) == 0
    out, _ = capsys.readouterr()
    assert "Dry run: 5 records would change:" in out
    title = changed["city"]["title"]
    assert f"  city btxid {changed['city']['id']}: update name: {title!r} -> " \
           f"{title + ' (центр)'!r}" in out
    assert f"  object btxid {changed['gone']['id']}: deactivate\n" in out
    assert f"(new city {changed['new_city']})" in out

    assert cli.main(["--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dry_run"] is True
    assert {(p["directory"], p["action"]) for p in data["planned"]} == {
        ("city", "create"), ("city", "update"), ("object", "update"), ("object", "deactivate"),
        ("user", "update")}
    assert cli.main(["--sync", "city", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["directories"]["city"]["created"] == 1
