"""cli.py: output, --json, exit codes, no tracebacks, no leaked webhook code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cli
from tests.conftest import run_cli, write_mapping_toml
from tests.ops_helpers import scalar

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def portal_env(monkeypatch, seeded, tmp_path, mapping) -> dict[str, str]:
    """The portal settings through the environment, as a user would set them."""
    values = {"BITRIX_WEBHOOK_URL": seeded.webhook_url,
              "SYNC_MAPPING_FILE": str(write_mapping_toml(tmp_path / "mapping.toml", mapping)),
              "BITRIX_MAX_RETRIES": "1"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def env(portal_env, monkeypatch, db_url) -> dict[str, str]:
    """The portal and a database (real MariaDB, then SQLite) through the environment."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    return {**portal_env, "DATABASE_URL": db_url}


def test_unknown_directory_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "--sync", "town")
    assert code == 2 and "invalid choice: 'town'" in err


def test_json_report_is_one_object_with_every_directory(capsys, env, seeded):
    code, out, err = run_cli(capsys, "--json")

    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] is True and report["errors"] == []
    assert list(report["directories"]) == ["city", "category", "object", "violation", "user"]
    for counts in report["directories"].values():
        assert set(counts) >= {"fetched", "created", "updated", "unchanged", "deactivated",
                               "errors", "seconds", "status"}
    assert report["directories"]["user"]["created"] == len(seeded.records("user"))
    assert err == ""  # a successful run is quiet: INFO lines go to the log file only

    code, out, err = run_cli(capsys, "--json", "--verbose")
    assert code == 0 and json.loads(out)["ok"] is True
    assert "INFO" in err  # --verbose: logs go to stderr, never into the JSON


def test_table_report_and_selected_directories(capsys, env):
    code, out, _ = run_cli(capsys, "--sync", "city", "object")

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["directory", "mode", "fetched", "created", "updated",
                                "unchanged", "deactivated", "errors", "seconds", "status"]
    assert [line.split()[0] for line in lines[2:]] == ["city", "object"]
    assert scalar(env["DATABASE_URL"], "SELECT COUNT(*) FROM users") == 0


def test_record_errors_give_exit_1_and_name_the_record(capsys, env, seeded):
    seeded.add_items(1036, [{"id": 777001, "title": "Ж" * 256}])

    code, out, _ = run_cli(capsys, "--json", "--sync", "city")

    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["errors"] == [{"directory": "city", "btxid": 777001, "field": "name",
                                 "message": "name (from title) is too long (256 characters; "
                                            "the column holds 255)"}]


def test_missing_setting_exits_2_naming_it_without_traceback(capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    code, out, err = run_cli(capsys)
    assert code == 2
    assert "BITRIX_WEBHOOK_URL: is not set" in err
    assert "Traceback" not in err + out


def test_bad_webhook_code_exits_3_and_never_shows_the_code(capsys, env, seeded, monkeypatch,
                                                           tmp_path):
    bad = seeded.webhook_url.replace(seeded.code, "Wr0ngSecretCode77")
    log_file = tmp_path / "sync.log"
    monkeypatch.setenv("LOG_FILE", str(log_file))

    code, out, err = run_cli(capsys, "--webhook-url", bad, "--debug-http", "--json")

    assert code == 3
    assert json.loads(out)["fatal"].startswith("The portal rejected the webhook")
    everything = out + err + log_file.read_text(encoding="utf-8")
    assert "Wr0ngSecretCode77" not in everything
    assert "/rest/1/***" in everything


def test_database_unreachable_exits_3(capsys, portal_env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://root:pw@127.0.0.1:9/none")
    code, _, err = run_cli(capsys)
    assert code == 3
    assert "Cannot connect to the database" in err and "check MYSQL_HOST" in err
    assert ":pw@" not in err


def test_unexpected_error_is_one_line_unless_verbose(capsys, portal_env, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError(f"kaboom at {os.environ['BITRIX_WEBHOOK_URL']}")

    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setattr(cli, "run_sync", boom)
    webhook = portal_env["BITRIX_WEBHOOK_URL"]
    code, out, err = run_cli(capsys)
    assert code == 1
    assert "Unexpected error: RuntimeError: kaboom" in err and "--verbose" in err
    assert "Traceback" not in err
    assert webhook not in err

    code, _, err = run_cli(capsys, "--verbose")
    assert "Traceback" in err and webhook not in err


def test_init_db_creates_built_in_tables(capsys, monkeypatch, tmp_path):
    url = f"sqlite:///{(tmp_path / 'new.db').as_posix()}"
    monkeypatch.setenv("DATABASE_URL", url)
    code, out, _ = run_cli(capsys, "--init-db")
    assert code == 0
    assert out.strip() == ("Created tables: cities, users, violation_categories, objects, "
                           "violations")
    assert run_cli(capsys, "--init-db")[1].strip() == "All tables already exist."


@pytest.mark.slow
def test_runs_from_any_folder_as_cron_would(env, tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--sync", "user", "--json"],
        cwd=tmp_path, capture_output=True, text=True, encoding="utf-8", timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["directories"]["user"]["status"] == "ok"


@pytest.mark.parametrize("argv", [
    ["--webhok-url", "https://portal.example/rest/1/SecretCodeXyz123/"],
    ["--sync", "city", "https://portal.example/rest/1/SecretCodeXyz123/"],
], ids=["mistyped-option", "url-as-directory"])
def test_usage_errors_never_echo_the_webhook_code(capsys, argv):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert "SecretCodeXyz123" not in out + err
    assert "/rest/1/***/" in err


def test_database_url_with_an_unknown_driver_is_a_setting_error(capsys, portal_env,
                                                                 monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql+nodriver://root:pw@127.0.0.1/db")
    code, _, err = run_cli(capsys)
    assert code == 2
    assert "DATABASE_URL: cannot use the database URL mysql+nodriver://root:***@" in err


def test_database_url_option_the_driver_refuses_is_a_setting_error(capsys, portal_env,
                                                                   monkeypatch, mysql_url):
    monkeypatch.setenv("DATABASE_URL", mysql_url + "&sslmode=require")
    code, _, err = run_cli(capsys)
    assert code == 2
    assert "DATABASE_URL: the driver does not accept the URL" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("script", ["cli.py", "service.py"])
def test_missing_packages_are_named_without_a_traceback(script, tmp_path):
    # -S: no site-packages, as when cron runs the system Python instead of the venv's.
    result = subprocess.run([sys.executable, "-S", str(ROOT / script), "--help"], cwd=tmp_path,
                            capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert result.returncode == 2
    assert "is missing; install the requirements with:" in result.stderr
    assert "-m pip install -r requirements.txt" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_reader_that_goes_away_does_not_fail_the_run(tmp_path, sqlite_url):
    """`python cli.py --status | head -1`: stdout closes before the result is printed."""
    env = {**os.environ, "DATABASE_URL": sqlite_url}
    child = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "--status"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    child.stdout.close()  # long before the child gets to print
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert b"Traceback" not in err and b"BrokenPipe" not in err
