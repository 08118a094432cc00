"""`cli.py --status`: last runs, last success, next run, --json and --max-age exit codes."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.commands.status import gather_status, parse_age
from app.config import load_settings
from app.sync.runner import RunOptions, run_sync
from tests.conftest import run_cli, settings_for
from tests.ops_helpers import execute
from tests.test_cron_scripts import dockerfile_instruction, exec_form


@pytest.fixture
def history(seeded, sqlite_url, tmp_path, mapping, monkeypatch):
    """Two runs in the history of an SQLite database: an ok cli run, then a cron run
    with a record error. --status gets only DATABASE_URL (no webhook)."""
    settings = settings_for(seeded, sqlite_url, tmp_path)
    assert run_sync(settings, RunOptions(), overrides=mapping).exit_code == 0
    seeded.add_items(1036, [{"id": 777001, "title": "Ж" * 256}])
    assert run_sync(settings, RunOptions(names=("city",), trigger="cron"),
                    overrides=mapping).exit_code == 1
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return sqlite_url


@pytest.mark.parametrize(("text_", "expected"), [
    ("26h", timedelta(hours=26)),
    ("90m", timedelta(minutes=90)),
    ("2d", timedelta(days=2)),
    ("45s", timedelta(seconds=45)),
    ("1.5H", timedelta(hours=1.5)),
], ids=["hours", "minutes", "days", "seconds", "decimal-upper-case"])
def test_parse_age(text_, expected):
    assert parse_age(text_) == expected


@pytest.mark.parametrize("bad", ["26", "h", "-1h", "0h", "26x", "1h30m", ""],
                         ids=["no-unit", "no-number", "negative", "zero", "bad-unit",
                              "two-parts", "empty"])
def test_parse_age_rejects(bad):
    with pytest.raises(argparse.ArgumentTypeError, match="is not an age: use a positive number "
                                                         "with a unit s, m, h or d, e.g. 26h"):
        parse_age(bad)


def test_max_age_needs_status(capsys):
    code, _, err = run_cli(capsys, "--max-age", "26h")
    assert code == 2 and "--max-age works only with --status" in err


def test_status_without_history_needs_no_webhook(capsys, sqlite_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SYNC_SCHEDULE", "0 3 * * *")
    monkeypatch.setenv("SYNC_TIMEZONE", "UTC")

    code, out, _ = run_cli(capsys, "--status")

    assert code == 0
    lines = out.splitlines()
    assert lines[:2] == ["No runs recorded yet.", "Last success: none recorded"]
    assert lines[2].startswith("Next run of the service (service.py): ") and lines[2].endswith(
        " 03:00:00+00:00 (SYNC_SCHEDULE '0 3 * * *', UTC); cron and Task Scheduler keep "
        "their own times")
    assert len(lines) == 3

    code, out, _ = run_cli(capsys, "--status", "--max-age", "26h")
    assert code == 1
    assert out.splitlines()[-1] == "Max age 26h: STALE, no successful run recorded"


def test_status_lists_the_runs_newest_first(capsys, history):
    code, out, _ = run_cli(capsys, "--status")

    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Runs, newest first (times in ")
    assert lines[1].split() == ["id", "started", "took", "trigger", "status", "fetched",
                                "created", "updated", "deactivated", "errors"]
    second, first = lines[2].split(), lines[4].split()
    # The second run read only what changed: the one city added since the first.
    assert second[0] == "2" and second[4:7] == ["cron", "errors", "1"]
    assert lines[3].strip() == ("1 record error(s), the first: city btxid 777001: name (from "
                                "title) is too long (256 characters; the column holds 255)")
    assert first[0] == "1" and first[4:7] == ["cli", "ok", "99"]
    assert lines[5].startswith("Last success: run 1, finished ")
    assert lines[6].startswith("Next run of the service (service.py): ")


def test_status_json(capsys, history):
    before = datetime.now(UTC)
    code, out, _ = run_cli(capsys, "--status", "--json")
    after = datetime.now(UTC)

    assert code == 0
    data = json.loads(out)
    assert [(r["id"], r["trigger"], r["status"], r["exit_code"]) for r in data["runs"]] == [
        (2, "cron", "errors", 1), (1, "cli", "ok", 0)]
    assert data["runs"][1]["directories"]["user"]["created"] == 15
    assert data["last_success"]["id"] == 1
    # The JSON shows finished_at in whole seconds; the age counts from the stored instant,
    # which lies within the second after the one shown.
    shown = datetime.fromisoformat(data["last_success"]["finished_at"])
    assert int((before - shown - timedelta(seconds=1)).total_seconds()) \
        <= data["last_success_age_seconds"] <= int((after - shown).total_seconds())
    assert data["schedule"] == "0 0 * * * (local time)"
    assert datetime.fromisoformat(data["next_run"]) > datetime.now(UTC)
    assert data["schedule_error"] is None
    assert data["max_age_seconds"] is None and data["fresh"] is None


def test_max_age_exit_codes(capsys, history):
    code, out, _ = run_cli(capsys, "--status", "--max-age", "26h")
    assert code == 0 and out.splitlines()[-1] == "Max age 26h: OK"

    execute(history, "UPDATE bitrix_sync_runs SET started_at = '2000-01-01 00:00:00', "
                     "finished_at = '2000-01-01 00:01:00' WHERE id = 1")
    code, out, _ = run_cli(capsys, "--status", "--max-age", "26h")
    assert code == 1
    assert out.splitlines()[-1].startswith("Max age 26h: STALE, the last success is ")

    code, out, _ = run_cli(capsys, "--status", "--max-age", "26h", "--json")
    assert code == 1
    assert json.loads(out)["fresh"] is False


def test_the_docker_health_check_command(capsys, history):
    argv = exec_form(dockerfile_instruction("HEALTHCHECK"))[2:]  # after "python cli.py"
    assert run_cli(capsys, *argv)[0] == 0
    execute(history, "DELETE FROM bitrix_sync_runs WHERE status = 'ok'")
    assert run_cli(capsys, *argv)[0] == 1


def test_times_are_shown_in_the_schedule_zone(history, tmp_path):
    execute(history, "UPDATE bitrix_sync_runs SET started_at = '2024-06-01 21:00:03', "
                     "finished_at = '2024-06-01 21:00:44' WHERE id = 1")
    execute(history, "DELETE FROM bitrix_sync_runs WHERE id = 2")
    execute(history, "DELETE FROM bitrix_sync_state")  # the runs alone (see test_incremental_cli)
    settings = load_settings(environ={"DATABASE_URL": history,
                                      "SYNC_TIMEZONE": "Europe/Moscow"},
                             require_webhook=False, project_dir=tmp_path)

    status = gather_status(settings, max_age=timedelta(hours=6),
                           now=datetime(2024, 6, 2, 3, 0, tzinfo=UTC))

    lines = status.render().splitlines()
    assert lines[0] == "Runs, newest first (times in Europe/Moscow):"
    assert lines[2].split()[:5] == ["1", "2024-06-02", "00:00:03", "41s", "cli"]
    assert lines[3:] == [
        "Last success: run 1, finished 2024-06-02 00:00:44 (5h 59m ago)",
        "Next run of the service (service.py): 2024-06-03 00:00:00+03:00 (SYNC_SCHEDULE "
        "'0 0 * * *', Europe/Moscow); cron and Task Scheduler keep their own times",
        "Max age 6h: OK",
    ]
    assert status.to_dict()["next_run"] == "2024-06-03T00:00:00+03:00"
    assert status.to_dict()["last_success"]["finished_at"] == "2024-06-01T21:00:44+00:00"


def test_durations_are_in_russian_units_by_default(history, tmp_path):
    """A Russian --status says '41 с' and '5 ч 59 мин', not the English '41s' (issue 18 §1)."""
    from app import messages

    messages.set_language("ru")
    execute(history, "UPDATE bitrix_sync_runs SET started_at = '2024-06-01 21:00:03', "
                     "finished_at = '2024-06-01 21:00:44' WHERE id = 1")
    execute(history, "DELETE FROM bitrix_sync_runs WHERE id = 2")
    settings = load_settings(environ={"DATABASE_URL": history}, require_webhook=False,
                             project_dir=tmp_path)

    status = gather_status(settings, now=datetime(2024, 6, 2, 3, 0, tzinfo=UTC))

    lines = status.render().splitlines()
    assert lines[2].split()[3:5] == ["41", "с"]
    assert "(5 ч 59 мин назад)" in lines[3]
    assert "41s" not in status.render() and "59m" not in status.render()
    assert status.to_dict()["runs"][0]["seconds"] == 41  # --json: numbers, no words


def test_invalid_schedule_is_a_settings_error_for_status_too(capsys, history, monkeypatch):
    """Settings are checked as a whole: the service could not start with this schedule."""
    monkeypatch.setenv("SYNC_SCHEDULE", "every night")

    code, out, err = run_cli(capsys, "--status", "--max-age", "1d")

    assert code == 2 and out == ""
    assert "  - SYNC_SCHEDULE = 'every night' is not a valid cron expression" in err


def test_unreachable_database_exits_3(capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://root:pw@127.0.0.1:9/none")
    code, out, err = run_cli(capsys, "--status", "--max-age", "26h")
    assert code == 3
    assert out == ""
    assert "error: Cannot connect to the database" in err and ":pw@" not in err


def test_status_on_mariadb(capsys, seeded, mysql_url, tmp_path, mapping, monkeypatch):
    run_sync(settings_for(seeded, mysql_url, tmp_path), RunOptions(trigger="cron"),
             overrides=mapping)
    monkeypatch.setenv("DATABASE_URL", mysql_url)
    code, out, _ = run_cli(capsys, "--status", "--json", "--max-age", "1h")
    data = json.loads(out)
    assert code == 0 and data["fresh"] is True
    assert [(r["trigger"], r["status"]) for r in data["runs"]] == [("cron", "ok")]
