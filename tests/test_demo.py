"""--demo: from nothing to a synced SQLite file, idempotent, blind to real settings."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import cli
from app import config
from app.testing.portal import FakePortal
from app.testing.seed import seed_portal

ROOT = Path(__file__).resolve().parent.parent
# Only what Windows needs to start Python at all; nothing of the developer's settings.
MINIMAL_ENV = {k: os.environ[k] for k in ("SYSTEMROOT",) if k in os.environ}


def expected_counts() -> dict[str, int]:
    with FakePortal() as portal:
        return seed_portal(portal).counts


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "--demo", *args],
                          cwd=cwd, env=MINIMAL_ENV, capture_output=True, timeout=120,
                          encoding="utf-8", stdin=subprocess.DEVNULL)


def assert_no_webhook_code(text: str) -> None:
    assert "/rest/1/***/" in text  # the demo portal is named, its code is not
    assert not re.search(r"/rest/1/(?!\*\*\*/)", text)


@pytest.mark.slow
def test_demo_end_to_end_from_a_clean_folder_with_an_empty_environment(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    database = out / "demo.db"
    project_demo = ROOT / "demo.db"
    before = project_demo.stat().st_mtime_ns if project_demo.exists() else None
    counts = expected_counts()

    first = run_demo(work, "--demo-db", str(database))

    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    # No SYNC_LANG anywhere: the whole screen is Russian, the default.
    assert lines[0].split()[:4] == ["справочник", "чтение", "прочитано", "создано"]
    for name in ("city", "category", "object", "violation", "user"):
        row = next(line.split() for line in lines if line.startswith(name + " "))
        assert row[1] == "полное" and row[2:4] == [str(counts[name])] * 2 and row[-1] == "ок"
    assert f"Демо-данные — в {database.resolve()} (SQLite)" in first.stdout
    assert "ещё раз" in first.stdout and "дальше: подключите свой портал" in first.stdout
    assert "--discover" in first.stdout
    assert first.stderr == ""  # quiet: no INFO lines on the console

    second = run_demo(work, "--demo-db", str(database), "--json", "--verbose")

    assert second.returncode == 0, second.stderr
    assert_no_webhook_code(second.stderr)
    report = json.loads(second.stdout)
    assert report["ok"] is True and report["demo"]["database"] == str(database.resolve())
    assert list(report["directories"]) == ["city", "category", "object", "violation", "user"]
    for name, stats in report["directories"].items():
        assert (stats["created"], stats["updated"], stats["deactivated"]) == (0, 0, 0), name
        # The second run reads only what changed since the first: nothing.
        assert (stats["mode"], stats["fetched"]) == ("incremental", 0), name
    assert report["demo"]["rows"] == {"cities": counts["city"], "objects": counts["object"],
                                      "violation_categories": counts["category"],
                                      "violations": counts["violation"],
                                      "users": counts["user"]}
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM users WHERE is_active = 0").fetchone() == (1,)
        assert conn.execute("SELECT COUNT(*) FROM objects o JOIN cities c ON c.id = o.city_id"
                            ).fetchone()[0] > 0
    conn.close()
    # It wrote its database and nothing else: not in the working folder, not next to cli.py.
    assert list(work.iterdir()) == []
    # Only the database and its run lock (kept beside it on purpose, see app/db/run_lock.py).
    assert sorted(p.name for p in out.iterdir()) == ["demo.db", "demo.db.lock"]
    assert (project_demo.stat().st_mtime_ns if project_demo.exists() else None) == before


def test_demo_reads_no_settings(capsys, monkeypatch, tmp_path):
    def no_settings(**kwargs):
        raise AssertionError("the demo must not read settings")

    monkeypatch.setattr(config, "read_environment", no_settings)
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://root:pw@127.0.0.1:9/production")
    monkeypatch.setenv("BITRIX_WEBHOOK_URL", "https://real.bitrix24.ru/rest/1/RealSecret123/")
    database = tmp_path / "demo.db"

    code = cli.main(["--demo", "--demo-db", str(database), "--json", "--sync", "city"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["demo"]["rows"]["cities"] == expected_counts()["city"]
    assert "real.bitrix24.ru" not in out + err


def test_demo_refuses_settings_flags(capsys, tmp_path):
    code = cli.main(["--demo", "--demo-db", str(tmp_path / "d.db"), "--webhook-url",
                     "https://real.bitrix24.ru/rest/1/RealSecret123/"])
    assert code == 2
    assert "--webhook-url cannot be used here" in capsys.readouterr().err
    assert not (tmp_path / "d.db").exists()


def test_demo_dry_run_creates_only_empty_tables(capsys, tmp_path):
    database = tmp_path / "demo.db"

    code = cli.main(["--demo", "--demo-db", str(database), "--dry-run", "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["dry_run"] is True
    assert report["directories"]["city"]["created"] == expected_counts()["city"]
    assert set(report["demo"]["rows"].values()) == {0}


def test_unwritable_demo_place_names_the_way_out(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")

    code = cli.main(["--demo", "--demo-db", str(blocker / "demo.db")])

    assert code == 2
    assert "choose a writable place with --demo-db PATH" in capsys.readouterr().err


def test_a_demo_file_that_is_no_database_is_told_in_one_line(capsys, tmp_path):
    not_a_database = tmp_path / "demo.db"
    not_a_database.write_bytes(b"not a database " * 20)

    code = cli.main(["--demo", "--demo-db", str(not_a_database)])

    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"error: Cannot use {not_a_database} for the demo database (cannot read its "
                   "tables: file is not a database); choose a writable place with --demo-db "
                   "PATH.\n")
