"""Start-up: `cli.py --help` and a plain sync load only the modules they use (issue 17 §3).

Asserted on the modules a child process loaded (`-X importtime` lists every import), never
on timings: --check, --discover and --demo bring their own modules and SQLAlchemy through
them, which a plain sync must not pay for before its first request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT, write_mapping_toml

# Modules of commands a plain sync never runs.
OTHER_COMMANDS = ("app.commands.check", "app.commands.discover", "app.commands.demo",
                  "app.commands.status", "app.testing")
# Libraries a sync without a terminal (cron, the Task Scheduler) and with the default
# schedule does not need: the progress bar's tqdm, croniter.
NOT_FOR_CRON = ("tqdm", "croniter")


def imported(*argv: str, env: dict[str, str] | None = None
             ) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules `python cli.py ARGV` imported, and how it ended."""
    result = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "cli.py"), *argv],
                            capture_output=True, text=True, encoding="utf-8", timeout=120,
                            env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})})
    modules = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
               if line.startswith("import time:") and line.count("|") == 2}
    return modules, result


def loaded(modules: set[str], *names: str) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_help_loads_neither_sqlalchemy_nor_other_commands():
    modules, result = imported("--help")

    assert result.returncode == 0 and "--sync" in result.stdout
    assert "app.config" in modules  # the listing works: it saw what --help does load
    assert loaded(modules, "sqlalchemy", "app.db", "app.sync", *OTHER_COMMANDS) == []


def test_a_sync_loads_no_other_command(seeded, sqlite_url, tmp_path, mapping):
    env = {"BITRIX_WEBHOOK_URL": seeded.webhook_url, "DATABASE_URL": sqlite_url,
           "SYNC_MAPPING_FILE": str(write_mapping_toml(tmp_path / "mapping.toml", mapping)),
           "BITRIX_MAX_RETRIES": "1"}

    modules, result = imported("--sync", "city", "--json", env=env)

    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["directories"]["city"]["status"] == "ok"
    assert "sqlalchemy" in modules and "app.sync.engine" in modules
    assert loaded(modules, *OTHER_COMMANDS, *NOT_FOR_CRON) == []
