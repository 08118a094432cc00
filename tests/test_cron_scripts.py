"""End-to-end tests of sync-cron.sh / sync-cron.ps1 with a fake cli.py, and Docker file checks."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import child_environ, copy_project, write_mapping_toml
from tests.ops_helpers import held_lock, history, scalar

ROOT = Path(__file__).resolve().parent.parent

FAKE_CLI = """\
import json, os, sys
print(json.dumps({
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "python": os.environ.get("FAKE_PYTHON", ""),
    "utf8": [os.environ.get("PYTHONIOENCODING"), os.environ.get("PYTHONUTF8")],
}, ensure_ascii=False))
print("Справочник городов: готово")
print("a warning on stderr", file=sys.stderr)
sys.exit(next((int(a[7:]) for a in sys.argv[1:] if a.startswith("--exit=")), 0))
"""

STAMP = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:?\d\d\]"
START = re.compile(STAMP + r" start: cli\.py")
FINISH = re.compile(STAMP + r" finish: exit code (\d+)$")

# What the scripts put before the user's arguments: the run history records "cron".
CRON_TRIGGER = ["--trigger", "cron"]

BASH = shutil.which("bash")
PWSH = shutil.which("pwsh") or (shutil.which("powershell") if sys.platform == "win32" else None)

needs_bash = pytest.mark.skipif(
    sys.platform == "win32" or BASH is None,
    reason="sync-cron.sh is for POSIX hosts (Windows uses sync-cron.ps1)")
needs_pwsh = pytest.mark.skipif(
    PWSH is None, reason="PowerShell (pwsh) is not installed, so sync-cron.ps1 cannot run here")


def make_project(tmp_path: Path, script: str) -> Path:
    """A temporary project folder: a copy of the script and a fake cli.py."""
    project = tmp_path / "project"
    project.mkdir()
    target = project / script
    shutil.copy2(ROOT / script, target)
    target.chmod(target.stat().st_mode | stat.S_IXUSR)
    (project / "cli.py").write_text(FAKE_CLI, encoding="utf-8")
    return project


def fake_python(path: Path, marker: str) -> Path:
    """A python wrapper script that tags the run so the test can tell which one ran."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nFAKE_PYTHON={marker} exec "{sys.executable}" "$@"\n',
                    encoding="utf-8")
    path.chmod(0o755)
    return path


def script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in child_environ().items() if k not in ("SYNC_CRON_LOG", "FAKE_PYTHON")}
    env.update(extra)
    return env


def symlink_or_skip(link: Path, target: Path | str) -> None:
    try:
        link.symlink_to(target)
    except (OSError, NotImplementedError) as exc:
        pytest.skip(f"cannot create symlinks here: {exc}")


def cli_output(log_text: str) -> list[dict]:
    return [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]


# --- sync-cron.sh ----------------------------------------------------------------------------


def run_sh(script: Path, *args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run([BASH, str(script), *args], cwd=cwd, env=env or script_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


@pytest.fixture
def sh_project(tmp_path):
    project = make_project(tmp_path, "sync-cron.sh")
    # A known python3 first on PATH, so the fallback is deterministic.
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir / "python3", "path")
    env = script_env(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return project, env, elsewhere


@needs_bash
def test_sh_passes_arguments_and_exit_code(sh_project):
    project, env, elsewhere = sh_project
    args = ["--sync", "users", "two words", "Город", "it's", "--exit=3"]
    result = run_sh(project / "sync-cron.sh", *args, cwd=elsewhere, env=env)
    assert result.returncode == 3
    [output] = cli_output((project / "bitrix-sync-cron.log").read_text(encoding="utf-8"))
    assert output["argv"] == [*CRON_TRIGGER, *args]


@needs_bash
def test_sh_appends_start_and_finish_lines(sh_project):
    project, env, elsewhere = sh_project
    assert run_sh(project / "sync-cron.sh", cwd=elsewhere, env=env).returncode == 0
    result = run_sh(project / "sync-cron.sh", "--exit=2", cwd=elsewhere, env=env)
    assert result.returncode == 2
    assert result.stdout == b""  # not a terminal: everything went to the log (cron sends no mail)
    lines = (project / "bitrix-sync-cron.log").read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if START.match(line)]
    finishes = [(i, FINISH.match(line).group(1)) for i, line in enumerate(lines)
                if FINISH.match(line)]
    assert len(starts) == 2
    assert [code for _, code in finishes] == ["0", "2"]
    assert starts[0] < finishes[0][0] < starts[1] < finishes[1][0]
    assert "--exit=2" in lines[starts[1]]
    assert lines.count("a warning on stderr") == 2
    assert lines.count("Справочник городов: готово") == 2  # UTF-8 in the log


@needs_bash
def test_sh_sets_utf8_and_runs_in_the_project_folder(sh_project):
    project, env, elsewhere = sh_project
    run_sh(project / "sync-cron.sh", cwd=elsewhere, env=env)
    [output] = cli_output((project / "bitrix-sync-cron.log").read_text(encoding="utf-8"))
    assert Path(output["cwd"]).resolve() == project.resolve()
    assert output["utf8"] == ["utf-8", "1"]
    assert output["python"] == "path"  # no venv: python3 from PATH


@needs_bash
def test_sh_works_through_a_chain_of_symlinks(sh_project, tmp_path):
    project, env, elsewhere = sh_project
    (tmp_path / "links").mkdir()
    (tmp_path / "usr-bin").mkdir()
    symlink_or_skip(tmp_path / "links" / "absolute", project / "sync-cron.sh")
    symlink_or_skip(tmp_path / "usr-bin" / "bitrix-sync", Path("..") / "links" / "absolute")
    result = run_sh(tmp_path / "usr-bin" / "bitrix-sync", "--exit=5", cwd=elsewhere, env=env)
    assert result.returncode == 5, result.stderr
    [output] = cli_output((project / "bitrix-sync-cron.log").read_text(encoding="utf-8"))
    assert Path(output["cwd"]).resolve() == project.resolve()
    assert not (tmp_path / "usr-bin" / "bitrix-sync-cron.log").exists()


@needs_bash
@pytest.mark.parametrize("venv", [".venv", "venv"])
def test_sh_prefers_the_project_venv(sh_project, venv):
    project, env, elsewhere = sh_project
    fake_python(project / venv / "bin" / "python", venv)
    run_sh(project / "sync-cron.sh", cwd=elsewhere, env=env)
    [output] = cli_output((project / "bitrix-sync-cron.log").read_text(encoding="utf-8"))
    assert output["python"] == venv


@needs_bash
def test_sh_log_location_from_sync_cron_log(sh_project, tmp_path):
    project, env, elsewhere = sh_project
    run_sh(project / "sync-cron.sh", cwd=elsewhere, env={**env, "SYNC_CRON_LOG": "logs/cron.log"})
    assert START.match((project / "logs" / "cron.log").read_text(encoding="utf-8"))
    absolute = tmp_path / "var" / "bitrix.log"
    run_sh(project / "sync-cron.sh", cwd=elsewhere, env={**env, "SYNC_CRON_LOG": str(absolute)})
    assert START.match(absolute.read_text(encoding="utf-8"))
    assert not (project / "bitrix-sync-cron.log").exists()


@needs_bash
def test_sh_without_python_exits_127(tmp_path):
    project = make_project(tmp_path, "sync-cron.sh")
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("dirname", "date", "mkdir", "readlink"):  # everything but python
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    result = run_sh(project / "sync-cron.sh", cwd=tmp_path, env=script_env(PATH=str(tools)))
    assert result.returncode == 127
    assert b"no Python found" in result.stderr
    assert "no Python found" in (project / "bitrix-sync-cron.log").read_text(encoding="utf-8")


def copy_real_project(tmp_path: Path) -> Path:
    """A copy of the real project (cli.py, app/, sync-cron.sh) in a folder of its own."""
    return copy_project(tmp_path / "project", "cli.py", "sync-cron.sh")


@pytest.mark.slow
@needs_bash
def test_sh_end_to_end_with_the_real_cli(seeded, mysql_url, tmp_path, mapping):
    project = copy_real_project(tmp_path)
    fake_python(tmp_path / "bin" / "python3", "path")
    env = script_env(PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                     BITRIX_WEBHOOK_URL=seeded.webhook_url, DATABASE_URL=mysql_url,
                     SYNC_MAPPING_FILE=str(write_mapping_toml(tmp_path / "m.toml", mapping)))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = run_sh(project / "sync-cron.sh", "--sync", "city", "object", cwd=elsewhere, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    lines = (project / "bitrix-sync-cron.log").read_text(encoding="utf-8").splitlines()
    assert START.match(lines[0]) and lines[0].split("start: ")[1].startswith(
        "cli.py --sync city object (pid ")
    assert FINISH.match(lines[-1]).group(1) == "0"
    table = [line.split() for line in lines if line.startswith(("city ", "object "))]
    assert [(row[0], row[2], row[-1]) for row in table] == [("city", "8", "ok"),
                                                             ("object", "40", "ok")]
    assert scalar(mysql_url, "SELECT COUNT(*) FROM objects") == 40
    assert history(mysql_url) == [("cron", "ok", 0)]

    with held_lock(mysql_url):  # e.g. the service is syncing right now
        result = run_sh(project / "sync-cron.sh", cwd=elsewhere, env=env)
    assert result.returncode == 4
    lines = (project / "bitrix-sync-cron.log").read_text(encoding="utf-8").splitlines()
    assert lines[-2].startswith("error: Another sync is already running against the database")
    assert FINISH.match(lines[-1]).group(1) == "4"
    assert history(mysql_url) == [("cron", "ok", 0)]


# --- sync-cron.ps1 ---------------------------------------------------------------------------


def run_ps1(script: Path, *args: str, cwd: Path, env: dict[str, str]):
    command = [PWSH, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
               "-File", str(script), *args]
    return subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=120)


@pytest.fixture
def ps1_project(tmp_path):
    project = make_project(tmp_path, "sync-cron.ps1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = script_env()
    if sys.platform != "win32":
        bin_dir = tmp_path / "bin"
        fake_python(bin_dir / "python", "path")
        fake_python(bin_dir / "python3", "path")
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return project, env, elsewhere


@needs_pwsh
def test_ps1_passes_arguments_exit_code_and_logs(ps1_project):
    project, env, elsewhere = ps1_project
    args = ["--sync", "users", "two words", "Город", "--exit=3"]
    result = run_ps1(project / "sync-cron.ps1", *args, cwd=elsewhere, env=env)
    assert result.returncode == 3, result.stderr
    second = run_ps1(project / "sync-cron.ps1", cwd=elsewhere, env=env)
    assert second.returncode == 0, second.stderr
    text = (project / "bitrix-sync-cron.log").read_text(encoding="utf-8")
    assert not text.startswith("\ufeff")
    lines = text.splitlines()
    assert sum(1 for line in lines if START.match(line)) == 2
    assert [FINISH.match(line).group(1) for line in lines if FINISH.match(line)] == ["3", "0"]
    outputs = cli_output(text)
    assert outputs[0]["argv"] == [*CRON_TRIGGER, *args]
    assert Path(outputs[0]["cwd"]).resolve() == project.resolve()
    assert outputs[0]["utf8"] == ["utf-8", "1"]
    assert "Справочник городов: готово" in lines
    assert "a warning on stderr" in lines


@needs_pwsh
def test_ps1_works_through_a_symlink(ps1_project, tmp_path):
    project, env, elsewhere = ps1_project
    (tmp_path / "links").mkdir()
    symlink_or_skip(tmp_path / "links" / "sync-cron.ps1", project / "sync-cron.ps1")
    result = run_ps1(tmp_path / "links" / "sync-cron.ps1", "--exit=4", cwd=elsewhere, env=env)
    assert result.returncode == 4, result.stderr
    [output] = cli_output((project / "bitrix-sync-cron.log").read_text(encoding="utf-8"))
    assert Path(output["cwd"]).resolve() == project.resolve()


@needs_pwsh
@pytest.mark.skipif(sys.platform == "win32", reason="a fake python.exe cannot be a shell script")
def test_ps1_prefers_the_project_venv(ps1_project):
    project, env, elsewhere = ps1_project
    fake_python(project / ".venv" / "bin" / "python", ".venv")
    run_ps1(project / "sync-cron.ps1", cwd=elsewhere, env=env)
    [output] = cli_output((project / "bitrix-sync-cron.log").read_text(encoding="utf-8"))
    assert output["python"] == ".venv"


# --- Docker ----------------------------------------------------------------------------------

ENTRY_POINTS = {"cli.py", "service.py"}


def dockerfile_instruction(keyword: str) -> str:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith(keyword + " ")]
    assert len(lines) == 1, f"expected one {keyword} line, got {lines}"
    return lines[0]


def exec_form(line: str) -> list[str]:
    """The JSON array at the end of a CMD / HEALTHCHECK line (exec form)."""
    return json.loads(line[line.index("["):])


def test_compose_file_parses():
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    [service] = data["services"].values()
    env_file = service["env_file"]
    assert ".env" in ([env_file] if isinstance(env_file, str) else env_file)
    assert service["restart"] == "unless-stopped"
    assert service["build"] == "."


def test_dockerfile_base_user_and_requirements():
    assert dockerfile_instruction("FROM") == "FROM python:3.11-slim"
    user = dockerfile_instruction("USER").split()[1]
    assert user not in ("root", "0")
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install -r requirements.txt" in text
    assert (ROOT / "requirements.txt").is_file()


@pytest.mark.parametrize(("keyword", "expected"), [
    ("CMD", ["python", "service.py"]),
    ("HEALTHCHECK", ["python", "cli.py", "--status", "--max-age", "26h"]),
])
def test_dockerfile_commands_name_real_files(keyword, expected):
    command = exec_form(dockerfile_instruction(keyword))
    assert command == expected
    scripts = [part for part in command if part.endswith(".py")]
    assert scripts and set(scripts) <= ENTRY_POINTS  # a typo fails here, not only at run time
    assert [name for name in scripts if not (ROOT / name).is_file()] == []


def test_dockerignore_keeps_secrets_out_and_code_in():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert ".env" in patterns
    assert ".git" in patterns
    for needed in ("app", "cli.py", "service.py", "requirements.txt", "mapping.toml"):
        assert needed not in patterns
