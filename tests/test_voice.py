"""One voice for the admin: each screen run as the real command, read in Russian (the
default) and in English (SYNC_LANG=en), never half one language and half the other."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import PROJECT_DIR_VARIABLE
from app.db.run_lock import run_lock
from app.messages import CATALOG
from app.testing.portal import FakePortal
from app.testing.seed import seed_portal
from tests.conftest import ROOT, copy_project, write_mapping_toml

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
needs_posix_signals = pytest.mark.skipif(sys.platform == "win32",
                                         reason="SIGINT to a child is POSIX-only")


def project_folder() -> Path:
    """The stand-in project folder of this test (clean_env): its .env is what cli.py reads."""
    folder = Path(os.environ[PROJECT_DIR_VARIABLE])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def environ(language: str | None, **values: str) -> dict[str, str]:
    """The child's environment: SYNC_LANG as given (None: unset, the Russian default)."""
    env = {k: v for k, v in os.environ.items() if k != "SYNC_LANG"}
    if language is not None:
        env["SYNC_LANG"] = language
    return {**env, "PYTHONIOENCODING": "utf-8", **values}


def run(script: str, *args: str, language: str | None = None, **values: str
        ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=project_folder(),
                          env=environ(language, **values), capture_output=True, text=True,
                          encoding="utf-8", timeout=120, stdin=subprocess.DEVNULL)


def service_until(text: str, *, cwd: Path, env: dict[str, str], console: Path) -> str:
    """Run service.py (its console into `console`) until it prints `text`, stop it with
    SIGTERM (exit 0 expected) and return what its console said."""
    with open(console, "wb") as out:
        child = subprocess.Popen([sys.executable, str(ROOT / "service.py")], cwd=cwd, env=env,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while text not in console.read_text(encoding="utf-8"):
                assert child.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            child.send_signal(signal.SIGTERM)
            assert child.wait(60) == 0
        finally:
            if child.poll() is None:
                child.kill()
    return console.read_text(encoding="utf-8")


def assert_english(text: str) -> None:
    assert not CYRILLIC.search(text), text


# --- settings -----------------------------------------------------------------------------


EXAMPLE_ENV = ("BITRIX_WEBHOOK_URL=https://example.bitrix24.ru/rest/1/abc123/\n"
               "DATABASE_URL=sqlite:///x.db\n")


def test_settings_errors_are_russian_by_default():
    (project_folder() / ".env").write_text(EXAMPLE_ENV, encoding="utf-8")

    result = run("cli.py")

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "ошибка: Настройки неверны; ничего не записано. Исправьте и запустите снова:"
    assert lines[1] == ("  - BITRIX_WEBHOOK_URL: всё ещё образец из .env.example; впишите адрес "
                        "входящего вебхука (Bitrix24: «Разработчикам» → «Другое» → "
                        "«Входящий вебхук»)")
    assert lines[2].startswith("Где задано: BITRIX_WEBHOOK_URL (")
    assert lines[3].startswith("Прочитано: переменные окружения, затем ")
    assert "Settings" not in result.stderr and " read)" not in result.stderr


def test_settings_errors_in_english_with_sync_lang_in_the_env_file():
    (project_folder() / ".env").write_text(EXAMPLE_ENV + "SYNC_LANG=en\n", encoding="utf-8")

    result = run("cli.py")

    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: Settings are not valid; nothing was written. Fix these and run again:\n"
        "  - BITRIX_WEBHOOK_URL: is still the example from .env.example; enter the inbound "
        "webhook's URL (Bitrix24: Developer resources → Other → Inbound webhook)\n")
    assert_english(result.stderr)


def test_a_wrong_sync_lang_is_refused_naming_the_variable_and_its_file():
    env_file = project_folder() / ".env"
    env_file.write_text("BITRIX_WEBHOOK_URL=https://portal.bitrix24.ru/rest/1/abc123/\n"
                        "DATABASE_URL=sqlite:///x.db\nSYNC_LANG=de\n", encoding="utf-8")

    result = run("cli.py", "--status")

    assert result.returncode == 2
    assert "  - SYNC_LANG: должен быть одним из ru, en, а указано 'de'" in result.stderr
    assert f"Где задано: SYNC_LANG ({env_file})." in result.stderr


def test_a_settings_warning_is_a_line_of_the_console_not_a_log_line(sqlite_url):
    env_file = project_folder() / ".env"
    env_file.write_text(f"DATABASE_URL={sqlite_url}\nMODELS_MODULE=\"C:\\models\\new.py\"\n",
                        encoding="utf-8")

    result = run("cli.py", "--status")

    assert result.returncode == 0, result.stderr
    [line] = result.stderr.splitlines()
    assert line == (f"предупреждение: MODELS_MODULE в {env_file}: обратная косая черта в "
                    "значении в двойных кавычках — это управляющая последовательность (\\b, "
                    "\\t, \\n ...); значение прочитано буквально: 'C:\\models\\new.py'; "
                    "как исправить: пути Windows пишите в одинарных кавычках: "
                    "MODELS_MODULE='C:\\models\\new.py'")


def test_check_puts_a_warnings_fix_on_a_line_of_its_own_in_the_consoles_language(
        sqlite_url, seeded):
    (project_folder() / ".env").write_text(
        f"BITRIX_WEBHOOK_URL={seeded.webhook_url}\nDATABASE_URL={sqlite_url}\n"
        "SYNC_LOG_FILE=\"C:\\logs\\bitrix.log\"\n", encoding="utf-8")

    for language, marker in ((None, "как исправить: "), ("en", "fix: ")):
        result = run("cli.py", "--check", language=language)

        warned = [line for line in result.stdout.splitlines() if "SYNC_LOG_FILE" in line]
        assert len(warned) == 2, result.stdout  # the warning, then its fix on a line of its own
        assert warned[0].startswith("[WARN]") and marker not in warned[0]
        assert warned[1].strip().startswith(marker + ("пути Windows" if language is None
                                                       else "write Windows"))


def test_nothing_configured_in_english_from_the_environment():
    result = run("cli.py", language="en")

    assert result.returncode == 2
    assert result.stderr.startswith("error: No settings found; nothing was written.")
    assert "next: 1) copy .env.example to .env" in result.stderr
    assert_english(result.stderr)


def test_a_refused_sync_schedule_stops_the_service_in_russian():
    result = run("service.py", BITRIX_WEBHOOK_URL="https://portal.bitrix24.ru/rest/1/abc123/",
                 DATABASE_URL="sqlite:///x.db", SYNC_SCHEDULE="0 0 * *")

    assert result.returncode == 2
    assert ("  - SYNC_SCHEDULE = '0 0 * *' — неверное выражение cron: в нём полей: 4; нужно 5 "
            "полей (минута час день-месяца месяц день-недели)") in result.stderr
    assert result.stderr.startswith("ошибка: Настройки неверны; ничего не записано.")
    assert "cron expression" not in result.stderr


# --- the portal and the database refuse ------------------------------------------------------


@pytest.mark.parametrize("language", [None, "en"], ids=["ru", "en"])
def test_a_wrong_webhook_code(language, seeded, sqlite_url, tmp_path, mapping):
    wrong = seeded.webhook_url.replace(seeded.code, "Wr0ngSecretCode77")

    result = run("cli.py", language=language, BITRIX_WEBHOOK_URL=wrong, DATABASE_URL=sqlite_url,
                 SYNC_MAPPING_FILE=str(write_mapping_toml(tmp_path / "m.toml", mapping)),
                 BITRIX_MAX_RETRIES="1", LOG_FILE=str(tmp_path / "sync.log"))

    assert result.returncode == 3
    assert "Wr0ngSecretCode77" not in result.stdout + result.stderr
    log = (tmp_path / "sync.log").read_text(encoding="utf-8")
    assert "The portal rejected the webhook (Bitrix24 said: " in log  # English, always
    assert_english(log)
    if language is None:
        assert result.stderr.startswith("ошибка: Портал отклонил вебхук (ответ Bitrix24: ")
        assert "Проверьте BITRIX_WEBHOOK_URL: код может быть неверным" in result.stderr
    else:
        assert result.stderr.startswith("error: The portal rejected the webhook (Bitrix24 said: ")
        assert_english(result.stderr)


@pytest.mark.parametrize("language", [None, "en"], ids=["ru", "en"])
def test_a_wrong_mysql_password(language, mysql_url):
    result = run("cli.py", "--status", language=language, MYSQL_HOST="127.0.0.1",
                 MYSQL_PORT="3306", MYSQL_USER="root",
                 MYSQL_PASSWORD="WrongPassw0rd", MYSQL_DATABASE="nothing_here")

    assert result.returncode == 3
    assert "WrongPassw0rd" not in result.stderr
    if language is None:
        assert result.stderr.startswith("ошибка: Не удаётся подключиться к базе данных ")
        assert ("сервер не принял пользователя или пароль: проверьте MYSQL_USER и "
                "MYSQL_PASSWORD (ответ сервера: ") in result.stderr
    else:
        assert result.stderr.startswith("error: Cannot connect to the database ")
        assert "(check MYSQL_USER and MYSQL_PASSWORD)" in result.stderr


@pytest.mark.parametrize("language", [None, "en"], ids=["ru", "en"])
def test_the_lock_message_of_a_second_run(language, seeded, sqlite_url, tmp_path, mapping):
    from sqlalchemy import create_engine

    engine = create_engine(sqlite_url)
    with engine.connect() as conn, run_lock(conn):
        result = run("cli.py", language=language, BITRIX_WEBHOOK_URL=seeded.webhook_url,
                     DATABASE_URL=sqlite_url,
                     SYNC_MAPPING_FILE=str(write_mapping_toml(tmp_path / "m.toml", mapping)))
    engine.dispose()

    assert result.returncode == 4
    if language is None:
        assert result.stderr.startswith("ошибка: С базой данных ")
        assert "уже работает другая синхронизация" in result.stderr
        assert result.stderr.rstrip().endswith(
            "этот запуск не начинался. Запустите снова, когда та синхронизация закончится.")
    else:
        assert "Another sync is already running against the database" in result.stderr
        assert_english(result.stderr)


@pytest.mark.parametrize("language", [None, "en"], ids=["ru", "en"])
def test_a_retry_warning_speaks_the_console_language_and_the_log_file_english(
        language, seeded, sqlite_url, tmp_path, mapping):
    seeded.fail("crm.item.list", status=503, error="QUERY_LIMIT_EXCEEDED",
                description="Too many requests")
    log_file = tmp_path / "sync.log"

    result = run("cli.py", "--sync", "city", language=language,
                 BITRIX_WEBHOOK_URL=seeded.webhook_url, DATABASE_URL=sqlite_url,
                 LOG_FILE=str(log_file),
                 SYNC_MAPPING_FILE=str(write_mapping_toml(tmp_path / "m.toml", mapping)))

    assert result.returncode == 0, result.stderr
    # The first page's command in the first batch meets the fault; it is asked again alone.
    english = ("Bitrix24 crm.item.list: Bitrix24 is busy or failing on crm.item.list (Bitrix24 "
               "said: QUERY_LIMIT_EXCEEDED: Too many requests) in the first batch; retry: ")
    log = log_file.read_text(encoding="utf-8")
    assert f" WARNING app.bitrix.reading: {english}" in log  # the log file: English, always
    assert_english(log)
    [warning] = [line for line in result.stderr.splitlines() if "QUERY_LIMIT" in line]
    assert " WARNING " not in result.stderr and "app.bitrix" not in result.stderr
    if language is None:
        assert warning.startswith(
            "предупреждение: Bitrix24 crm.item.list: Bitrix24 перегружен или сбоит на "
            "crm.item.list (ответ Bitrix24: QUERY_LIMIT_EXCEEDED: Too many requests) в первом "
            "пакете; повтор: ")
        assert warning.endswith(" отдельным запросом") and "retry" not in warning
        assert result.stdout.startswith("справочник")
    else:
        assert warning.startswith(f"warning: {english}")
        assert_english(result.stderr + result.stdout)
    assert seeded.code not in result.stdout + result.stderr + log


@pytest.mark.parametrize("language", [None, "en"], ids=["ru", "en"])
def test_a_portal_that_answers_nothing_is_told_in_one_language(language, sqlite_url, tmp_path,
                                                               mapping):
    log_file = tmp_path / "sync.log"

    result = run("cli.py", "--sync", "city", language=language,
                 BITRIX_WEBHOOK_URL="http://127.0.0.1:9/rest/1/Secr3tCodeXYZ/",
                 DATABASE_URL=sqlite_url, BITRIX_MAX_RETRIES="1", LOG_FILE=str(log_file),
                 SYNC_MAPPING_FILE=str(write_mapping_toml(tmp_path / "m.toml", mapping)))

    assert result.returncode == 3
    log = log_file.read_text(encoding="utf-8")
    assert "; retry 1/1 in " in log
    assert "(every request failed; gave up after 2 attempts). Check that the portal " in log
    assert_english(log)
    retry, error = result.stderr.splitlines()
    if language is None:
        assert re.match(r"предупреждение: Bitrix24 [\w.]+: не удаётся подключиться к порталу",
                        retry)
        assert "; повтор 1/1 через " in retry
        assert error.startswith("ошибка: не удаётся подключиться к порталу")
        assert error.endswith("(не удался ни один запрос; попыток: 2). Проверьте, что адрес "
                              "портала в BITRIX_WEBHOOK_URL верен и доступен с этой машины.")
        assert "gave up" not in error and "Check" not in error
    else:
        assert re.match(r"warning: Bitrix24 [\w.]+: cannot connect to the portal", retry)
        assert error.endswith("(every request failed; gave up after 2 attempts). Check that "
                              "the portal address in BITRIX_WEBHOOK_URL is right and reachable "
                              "from this machine.")
        assert_english(result.stderr)
    assert "Secr3tCodeXYZ" not in result.stdout + result.stderr + log


@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_service_warning_speaks_the_console_language_and_the_log_file_english(
        language, capsys, tmp_path):
    from app import messages
    from app.logging_setup import setup_logging
    from tests.test_scheduler import FakeClock, Recorder, make, utc

    messages.set_language(language)
    log_file = tmp_path / "service.log"
    setup_logging("INFO", log_file=log_file, console_level="WARNING")  # as service.py does
    clock = FakeClock(utc(2024, 1, 10, 12, 0))
    scheduler = make("0 3 * * *", clock, Recorder(clock))
    scheduler.tick(clock.now)
    clock.now = utc(2024, 1, 5, 11, 55)  # a wrong clock corrected by NTP

    scheduler.tick(clock.now)

    logging.shutdown()
    console = capsys.readouterr().err
    assert ("WARNING app.service.scheduler: the clock moved back by 5d 0h; next run "
            "recomputed: 2024-01-06 03:00:00+00:00") in log_file.read_text(encoding="utf-8")
    if language == "ru":
        assert console == ("предупреждение: часы переведены назад на 5 д 0 ч; следующий запуск "
                           "пересчитан: 2024-01-06 03:00:00+00:00\n")
    else:
        assert console == ("warning: the clock moved back by 5d 0h; next run recomputed: "
                           "2024-01-06 03:00:00+00:00\n")


def test_every_console_warning_of_app_is_a_catalog_text():
    """A WARNING or ERROR log call of app/ (and cli.py, service.py) reaches the console
    without --verbose: its message is a catalog text (`log.warning(say(...))`), shown in the
    console's language and written to the log file in English; or it is kept off the
    console (extra=IN_REPORT) because the console prints that problem itself."""
    import ast

    sources = [ROOT / "cli.py", ROOT / "service.py",
               *(path for path in (ROOT / "app").rglob("*.py") if "testing" not in path.parts)]
    plain = []
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # `for warning in settings.warnings: log.warning(warning)`: Settings.warnings holds
        # catalog texts (test_settings_warnings_are_told_once checks).
        settings_warnings = {node.target.id for node in ast.walk(tree)
                             if isinstance(node, ast.For) and isinstance(node.target, ast.Name)
                             and ast.unparse(node.iter) == "settings.warnings"}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("warning", "error", "exception", "critical")
                    and "log" in ast.unparse(node.func.value).lower()):
                continue
            said = (node.args and isinstance(node.args[0], ast.Call)
                    and ast.unparse(node.args[0].func) == "say" and len(node.args) == 1) or (
                len(node.args) == 1 and ast.unparse(node.args[0]) in settings_warnings)
            kept_off = any(k.arg == "extra" for k in node.keywords)
            if not (said or kept_off):
                plain.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert plain == []


# --- Ctrl+C, then --status --------------------------------------------------------------------


@pytest.mark.slow
@needs_posix_signals
def test_ctrl_c_says_what_was_saved_and_status_names_the_stop(sqlite_url, tmp_path, mapping):
    with FakePortal(latency=0.05) as portal:
        seed_portal(portal, objects=300)  # the objects need a batch, the others do not
        held = portal.hold("batch", skip=1)  # after every first page, the objects hang
        _interrupt_a_run(portal, held, sqlite_url, tmp_path, mapping)


def _interrupt_a_run(portal, held, sqlite_url, tmp_path, mapping):
    import pty

    env = environ(None, BITRIX_WEBHOOK_URL=portal.webhook_url, DATABASE_URL=sqlite_url,
                  SYNC_MAPPING_FILE=str(write_mapping_toml(tmp_path / "m.toml", mapping)))
    master, slave = pty.openpty()  # a terminal, so the progress lines are drawn
    child = subprocess.Popen([sys.executable, str(ROOT / "cli.py")], cwd=project_folder(),
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=slave)
    os.close(slave)
    try:
        assert held.arrived.wait(60), "the objects' batch never came"
        time.sleep(0.3)  # the objects' progress line is drawn
        child.send_signal(signal.SIGINT)
        screen = _read_until_closed(master, child, release=held.release)
    finally:
        held.release()
        if child.poll() is None:
            child.kill()
        child.wait(30)
        os.close(master)

    assert child.returncode == 130, screen
    lines = [line.strip() for line in re.split(r"[\r\n]+", screen) if line.strip()]
    assert "Прервано (Ctrl+C)." in lines
    assert "Сохранено полностью: city, category." in lines
    assert "Откачено, в базе как до запуска: object." in lines
    assert "Не запускались: violation, user." in lines
    assert ("дальше: запустите `python cli.py --sync object violation user`, чтобы дописать "
            "остальное") in screen
    objects = [line for line in lines if line.startswith("object ")]
    assert objects and "готово" not in objects[-1] and "прерван" in objects[-1]
    assert "готово" in next(line for line in reversed(lines) if line.startswith("city "))
    assert "Interrupted" not in screen and "Traceback" not in screen
    assert portal.code not in screen

    status = run("cli.py", "--status", DATABASE_URL=sqlite_url, SYNC_TIMEZONE="UTC")
    assert status.returncode == 0, status.stderr
    assert "остановлен по Ctrl+C; справочник, который шёл в тот момент, откачен" in status.stdout
    assert "KeyboardInterrupt" not in status.stdout
    assert " остановлен " in status.stdout.splitlines()[2]  # the run's status column
    assert "Следующий запуск сервиса (service.py): " in status.stdout
    assert "у cron и Планировщика заданий своё расписание" in status.stdout

    english = run("cli.py", "--status", language="en", DATABASE_URL=sqlite_url,
                  SYNC_TIMEZONE="UTC")
    assert "stopped by Ctrl+C; the directory in progress was rolled back" in english.stdout
    assert "Next run of the service (service.py): " in english.stdout
    assert_english(english.stdout)


def _read_until_closed(master: int, child: subprocess.Popen, *, release) -> str:
    """Everything the child writes to its terminal until it exits (the held page is let go
    once the interruption has been told, so the child's reader thread can end)."""
    import select

    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
            if "дальше:".encode() in b"".join(chunks):
                release()
        elif child.poll() is not None:
            break
    return b"".join(chunks).decode("utf-8", "replace")


# --- --dry-run --verbose, --debug-http --------------------------------------------------------


def test_a_verbose_dry_run_lists_records_without_http_debug(seeded, sqlite_url, tmp_path,
                                                            mapping):
    values = dict(BITRIX_WEBHOOK_URL=seeded.webhook_url, DATABASE_URL=sqlite_url,
                  SYNC_MAPPING_FILE=str(write_mapping_toml(tmp_path / "m.toml", mapping)))

    result = run("cli.py", "--dry-run", "--verbose", "--sync", "city", **values)

    assert result.returncode == 0, result.stderr
    assert "Пробный прогон: изменились бы записи (" in result.stdout
    assert re.search(r"^  city btxid \d+: создать ", result.stdout, re.MULTILINE)
    assert "urllib3" not in result.stderr and "HTTP/1.1" not in result.stderr

    debug = run("cli.py", "--dry-run", "--debug-http", "--sync", "city", language="en",
                **values)

    assert debug.returncode == 0, debug.stderr
    assert "urllib3.connectionpool" in debug.stderr and "/rest/1/***/" in debug.stderr
    assert seeded.code not in debug.stdout + debug.stderr
    assert "Dry run: " in debug.stdout


# --- outside the virtual environment ---------------------------------------------------------


@pytest.mark.parametrize("language", [None, "en"], ids=["ru", "en"])
def test_outside_the_venv_the_advice_is_to_run_its_python(language, tmp_path):
    project = copy_project(tmp_path / "bitrix-sync", "cli.py")
    (project / ".venv" / "bin").mkdir(parents=True)

    # -S: no site-packages, as when cron runs the system Python instead of the venv's.
    result = subprocess.run([sys.executable, "-S", str(project / "cli.py"), "--help"],
                            cwd=tmp_path, env=environ(language), capture_output=True,
                            text=True, encoding="utf-8", timeout=60)

    assert result.returncode == 2
    bin_python = (f"{project / '.venv'}\\Scripts\\python.exe" if sys.platform == "win32"
                  else str(project / ".venv" / "bin" / "python"))
    venv_python = f"{bin_python} {project / 'cli.py'}"
    assert venv_python in result.stderr
    assert "pip install" not in result.stderr and "Traceback" not in result.stderr
    if language is None:
        assert "запущена не из своего виртуального окружения" in result.stderr
    else:
        assert_english(result.stderr)


def test_the_windows_venv_python_is_named_the_windows_way(tmp_path):
    from app.bootstrap import project_venv_python

    (tmp_path / ".venv").mkdir()
    windows = f"{tmp_path / '.venv'}\\Scripts\\python.exe"
    assert project_venv_python(tmp_path, windows=True) == windows
    assert project_venv_python(tmp_path, windows=False) == str(tmp_path / ".venv/bin/python")
    assert project_venv_python(tmp_path / "none", windows=False) is None


# --- the service's console --------------------------------------------------------------------


@pytest.mark.slow
@needs_posix_signals
@pytest.mark.parametrize("language", [None, "en"], ids=["ru", "en"])
def test_the_service_console_is_a_short_summary(language, seeded, sqlite_url, tmp_path,
                                                mapping):
    log_file = tmp_path / "service.log"
    env = environ(language, BITRIX_WEBHOOK_URL=seeded.webhook_url, DATABASE_URL=sqlite_url,
                  SYNC_MAPPING_FILE=str(write_mapping_toml(tmp_path / "m.toml", mapping)),
                  SYNC_ON_START="true", SYNC_SCHEDULE="0 0 1 1 *", SYNC_TIMEZONE="UTC",
                  LOG_FILE=str(log_file))
    done = "Запуск закончен" if language is None else "Run finished"
    console = service_until(done, cwd=tmp_path, env=env, console=tmp_path / "console.txt")
    lines = console.splitlines()

    assert len(lines) == 5, console  # start (2 lines), the run, the signal, the stop
    assert "models_module" not in console and "full_every" not in console
    assert "INFO" not in console and "WARNING" not in console
    log = log_file.read_text(encoding="utf-8")
    assert "models_module=" in log and "full_every=" in log  # the details: in the log file
    assert "SIGTERM received: stopping after the current step" in log
    assert_english(log)  # whatever the console's language
    if language is None:
        assert lines[0].startswith("Сервис bitrix-sync запущен (pid ")
        assert lines[0].endswith(
            "SYNC_SCHEDULE '0 0 1 1 *' (UTC); первый запуск — сейчас (SYNC_ON_START).")
        assert lines[1] == (f"Подробности — в логе {log_file}. Остановить: Ctrl+C "
                            "(или SIGTERM); идущий запуск закончит текущий шаг.")
        assert lines[2].startswith("Запуск закончен (успешно): прочитано ")
        assert lines[2].endswith("Следующий — 2027-01-01 00:00:00+00:00.")
        assert lines[3].startswith(
            "предупреждение: Получен SIGTERM: сервис остановится после текущего шага")
        assert lines[4] == "Сервис bitrix-sync остановлен."
    else:
        assert lines[0].startswith("bitrix-sync service started (pid ")
        assert lines[2].startswith("Run finished (ok): fetched ")
        assert lines[3].startswith("warning: SIGTERM received: stopping after the current step")
        assert lines[4] == "bitrix-sync service stopped."
        assert_english(console)


# --- --help --------------------------------------------------------------------------------


@pytest.mark.parametrize("script", ["cli.py", "service.py"])
def test_help_speaks_the_console_language(script):
    russian = run(script, "--help")
    english = run(script, "--help", language="en")

    assert russian.returncode == english.returncode == 0
    assert russian.stdout.startswith(f"запуск: python {script} [-h]")
    assert "  -h, --help" in russian.stdout and "показать эту справку и выйти" in russian.stdout
    assert "коды завершения (cli.py, service.py, sync-cron.sh, sync-cron.ps1):" in russian.stdout
    assert "usage:" not in russian.stdout and "options:" not in russian.stdout
    assert english.stdout.startswith(f"usage: python {script} [-h]")
    assert_english(english.stdout)


# --- the catalog itself -----------------------------------------------------------------------


def test_every_text_has_both_languages_with_the_same_placeholders_and_one_key():
    import string

    from app import messages

    keys = [key for group in messages.GROUPS for key in group.TEXTS]
    assert len(keys) == len(set(keys))
    assert not set(keys) - set(CATALOG)
    for key, texts in CATALOG.items():
        assert set(texts) == {"ru", "en"}, key
        fields = [{f[1] for f in string.Formatter().parse(texts[lang]) if f[1]}
                  for lang in ("ru", "en")]
        assert fields[0] == fields[1], key
        assert not CYRILLIC.search(texts["en"]), key


# --- the README quotes the catalog ------------------------------------------------------------


def _troubleshooting_quotes() -> list[str]:
    """The quoted texts of the first column of README's "Решение проблем" table, but for the
    log file's lines (English on purpose) and the PowerShell script's own texts."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Решение проблем", 1)[1].split("\n## ", 1)[0]
    quotes = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split(" | ", 1)[0]
        if "(в логе)" in cell or cell.startswith("| `sync-cron.ps1:"):
            continue
        quotes += re.findall(r"`([^`]+)`", cell)
    return quotes


def _russian_catalog() -> list[str]:
    """Each Russian text with its placeholders shown as '…', as the README elides them."""
    return [re.sub(r"\{[^{}]*\}", "…", texts["ru"]) for texts in CATALOG.values()]


def _in_catalog(quote: str, catalog: list[str]) -> bool:
    """Every part of `quote` between '…' in one text of the catalog, or the quote two such
    texts printed one after the other (a sentence and its reason: "… к порталу: <reason>")."""
    parts = [p.strip() for p in re.split(r"…|\.\.\.", quote) if p.strip()]
    if any(all(part in text for part in parts) for text in catalog):
        return True
    return any(_in_catalog(quote[:cut], catalog) and _in_catalog(quote[cut:], catalog)
               for cut in range(12, len(quote) - 11) if "…" not in quote)


def test_every_quote_of_the_troubleshooting_table_is_a_russian_text_of_the_catalog():
    catalog = _russian_catalog()
    quotes = _troubleshooting_quotes()
    assert len(quotes) > 30
    # A setting's problem is printed after its name: "  - SYNC_LANG: <text>".
    missing = [quote for quote in quotes
               if not _in_catalog(re.sub(r"^[A-Z_]+(: | (?==))", "", quote), catalog)]
    assert missing == []
