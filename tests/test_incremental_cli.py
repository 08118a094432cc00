"""The command line around incremental reads: --full, mode in --json, --status and --check."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, write_mapping_toml


@pytest.fixture
def env(monkeypatch, seeded, tmp_path, mapping, sqlite_url) -> dict[str, str]:
    values = {"BITRIX_WEBHOOK_URL": seeded.webhook_url, "DATABASE_URL": sqlite_url,
              "SYNC_MAPPING_FILE": str(write_mapping_toml(tmp_path / "mapping.toml", mapping)),
              "BITRIX_MAX_RETRIES": "1", "SYNC_TIMEZONE": "UTC"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def directories(out: str) -> dict:
    return json.loads(out)["directories"]


def test_json_carries_the_mode_and_full_forces_it(capsys, env, seeded):
    code, out, _ = run_cli(capsys, "--json")
    first = directories(out)
    assert code == 0 and {d["mode"] for d in first.values()} == {"full"}
    assert first["city"]["mode_reason"] == "no complete full read recorded yet"

    code, out, _ = run_cli(capsys, "--json")
    again = directories(out)
    assert code == 0 and {d["mode"] for d in again.values()} == {"incremental"}
    assert all("mode_reason" not in d for d in again.values())

    code, out, _ = run_cli(capsys, "--json", "--full", "--sync", "city")
    forced = directories(out)
    assert (forced["city"]["mode"], forced["city"]["mode_reason"]) == ("full", "--full")
    assert forced["city"]["fetched"] == len(seeded.records("crm:1036"))


def test_status_shows_the_last_full_read_of_each_directory(capsys, env):
    assert run_cli(capsys, "--sync", "city", "user")[0] == 0
    assert run_cli(capsys, "--sync", "city")[0] == 0

    code, out, _ = run_cli(capsys, "--status")

    assert code == 0
    lines = out.splitlines()
    start = lines.index("Directories (portal's clock, shown in UTC):")
    head, *rows = [line.split() for line in lines[start + 1:start + 4]]
    assert head == ["directory", "last", "full", "read", "last", "read", "read"]
    assert {row[0]: row[-1] for row in rows} == {"city": "incremental", "user": "full"}
    assert all("ago)" in " ".join(row) for row in rows)

    code, out, _ = run_cli(capsys, "--status", "--json")
    status = json.loads(out)["directories"]
    assert set(status) == {"city", "user"}
    assert status["city"]["mode"] == "incremental" and status["city"]["full_read_at"]


def test_check_says_which_way_each_directory_is_read(capsys, env, monkeypatch):
    code, out, _ = run_cli(capsys, "--check", "--json")
    reads = {c["name"]: c["detail"] for c in json.loads(out)["checks"]
             if c["name"].endswith(": read")}
    assert code == 0
    assert reads["city: read"] == "next run reads full: no complete full read recorded yet"

    assert run_cli(capsys, "--sync", "city", "user")[0] == 0
    out = run_cli(capsys, "--check")[1]
    assert ("user: read: next run reads incremental: records changed since the last read, "
            "by TIMESTAMP_X; the first such run learns the portal's date format") in out
    assert run_cli(capsys, "--sync", "city", "user")[0] == 0  # it learns it
    monkeypatch.setenv("SYNC_FULL_EVERY", "0")
    assert "city: read: next run reads full: SYNC_FULL_EVERY is 0" in run_cli(capsys,
                                                                               "--check")[1]
    monkeypatch.delenv("SYNC_FULL_EVERY")
    code, out, _ = run_cli(capsys, "--check")

    assert code == 0
    assert ("[ OK ] city: read: next run reads incremental: records changed since the last "
            "read, by updatedTime") in out
    assert "[ OK ] user: read: next run reads incremental: records changed since the last " \
           "read, by TIMESTAMP_X (the portal's date format: DD.MM.YYYY HH:MI:SS)" in out
    assert "[ OK ] object: read: next run reads full: no complete full read recorded yet" in out
