"""What the console says, in one catalog: Russian by default, English with `SYNC_LANG=en`.

Every line a person reads on the console — errors, `fix:`/`next:` hints,
`--check`, `--status`, `--discover`, the demo, the service's start and stop,
Ctrl+C — comes from `CATALOG` through `say()`, so one run speaks one language.
The log file stays English and does not use this module.

Entries are grouped by the screen that shows them; a new text goes into its
screen's group, with both languages. Placeholders use `str.format` names.
"""

from __future__ import annotations

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"

_current = DEFAULT_LANGUAGE


def set_language(code: str) -> None:
    """Switch the console's language for the rest of the process ('ru' or 'en')."""
    global _current
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; expected one of {', '.join(LANGUAGES)}")
    _current = code


def language() -> str:
    """The console's language now."""
    return _current


def say(key: str, /, **values: object) -> str:
    """The text `key` in the console's language, its placeholders filled from `values`."""
    return CATALOG[key][_current].format(**values)


def both(key: str) -> dict[str, str]:
    """Both languages of `key`, unformatted: for tests and the README check."""
    return dict(CATALOG[key])


def normal_language(raw: str | None) -> str | None:
    """'RU ' -> 'ru'; None when `raw` names no language of the catalog (empty: the default)."""
    code = (raw or "").strip().lower() or DEFAULT_LANGUAGE
    return code if code in LANGUAGES else None


CATALOG: dict[str, dict[str, str]] = {
    # --- general -----------------------------------------------------------------------
    "error": {
        "ru": "ошибка: {text}",
        "en": "error: {text}",
    },
    "warning": {
        "ru": "предупреждение: {text}",
        "en": "warning: {text}",
    },
    "interrupted": {
        "ru": "Прервано.",
        "en": "Interrupted.",
    },
    "unexpected": {
        "ru": "Непредвиденная ошибка: {what} (подробности — с --verbose)",
        "en": "Unexpected error: {what} (run with --verbose for the traceback)",
    },
    # --- start-up: Python and packages (app/bootstrap.py) -------------------------------
    "missing_package": {
        "ru": "ошибка: не установлен пакет Python {name!r}; установите зависимости: "
              "{python} -m pip install -r requirements.txt",
        "en": "error: the Python package {name!r} is missing; install the requirements "
              "with: {python} -m pip install -r requirements.txt",
    },
    "missing_package_venv": {
        "ru": "ошибка: не установлен пакет Python {name!r}: программа запущена не из своего "
              "виртуального окружения ({python}). Запустите её Python из .venv рядом с cli.py: "
              "{venv_python} {script}",
        "en": "error: the Python package {name!r} is missing: this is not the project's "
              "virtual environment ({python}). Run the Python of the .venv beside cli.py: "
              "{venv_python} {script}",
    },
    "old_python": {
        "ru": "bitrix-sync нужен Python {major}.{minor} или новее; {python} — это Python "
              "{old_major}.{old_minor}. Установите новый Python (python.org) и создайте им "
              "виртуальное окружение проекта, например py -3.11 -m venv .venv в Windows или "
              "python3.11 -m venv .venv в Linux",
        "en": "bitrix-sync needs Python {major}.{minor} or newer; {python} is Python "
              "{old_major}.{old_minor}. Install a newer Python (python.org) and create the "
              "project's virtual environment with it, e.g. py -3.11 -m venv .venv on Windows or "
              "python3.11 -m venv .venv on Linux",
    },
    # --- settings (app/config.py) ------------------------------------------------------
    "settings.invalid": {
        "ru": "Настройки неверны; ничего не записано. Исправьте и запустите снова:",
        "en": "Settings are not valid; nothing was written. Fix these and run again:",
    },
    "settings.webhook_menu": {
        "ru": "«Разработчикам» → «Другое» → «Входящий вебхук»",
        "en": "Developer resources → Other → Inbound webhook",
    },
    "settings.not_set_webhook": {
        "ru": "не задан; впишите адрес входящего вебхука (Bitrix24: {menu})",
        "en": "is not set; enter the inbound webhook's URL (Bitrix24: {menu})",
    },
    "settings.example_webhook": {
        "ru": "всё ещё образец из .env.example; впишите адрес входящего вебхука "
              "(Bitrix24: {menu})",
        "en": "is still the example from .env.example; enter the inbound webhook's URL "
              "(Bitrix24: {menu})",
    },
    "settings.webhook_shape": {
        "ru": "должен иметь вид {shape}, а указано {shown}",
        "en": "must look like {shape}, got {shown}",
    },
    "settings.webhook_path": {
        "ru": "должен иметь вид {shape} (после /rest/ — id пользователя и код), "
              "а указано {shown}",
        "en": "must look like {shape} (user id and code after /rest/), got {shown}",
    },
    "settings.webhook_https": {
        "ru": "должен начинаться с https:// (Bitrix24 отвергает http), а указано {shown}",
        "en": "must use https:// (Bitrix24 rejects plain http), got {shown}",
    },
    "settings.not_set_mysql_user": {
        "ru": "не задан; впишите пользователя MySQL (или задайте DATABASE_URL)",
        "en": "is not set; enter the MySQL user (or set DATABASE_URL)",
    },
    "settings.database_url": {
        "ru": "должен быть адресом SQLAlchemy, например "
              "mysql+pymysql://user:password@host:3306/db или sqlite:///sync.db",
        "en": "must be an SQLAlchemy URL such as "
              "mysql+pymysql://user:password@host:3306/db or sqlite:///sync.db",
    },
    "settings.port": {
        "ru": "должен быть номером порта, а указано {raw!r}",
        "en": "must be a port number, got {raw!r}",
    },
    "settings.number": {
        "ru": "должен быть числом, а указано {raw!r}",
        "en": "must be a number, got {raw!r}",
    },
    "settings.whole_number": {
        "ru": "должен быть целым числом, а указано {raw!r}",
        "en": "must be a whole number, got {raw!r}",
    },
    "settings.at_least": {
        "ru": "должен быть не меньше {minimum}, а указано {raw!r}",
        "en": "must be at least {minimum}, got {raw!r}",
    },
    "settings.duration": {
        "ru": "должен быть длительностью, например 10m, 24h или 0, а указано {raw!r}",
        "en": "must be a duration such as 10m, 24h or 0, got {raw!r}",
    },
    "settings.flag": {
        "ru": "должен быть true или false, а указано {raw!r}",
        "en": "must be true or false, got {raw!r}",
    },
    "settings.one_of": {
        "ru": "должен быть одним из {allowed}, а указано {raw!r}",
        "en": "must be one of {allowed}, got {raw!r}",
    },
    "settings.file_not_found": {
        "ru": "файл не найден: {path}",
        "en": "file not found: {path}",
    },
    "settings.env_file_missing": {
        "ru": "Файл настроек из --env-file не существует: {path}",
        "en": "The settings file given with --env-file does not exist: {path}",
    },
    "settings.set_in": {
        "ru": "Где задано: {places}.",
        "en": "Set in: {places}.",
    },
    "settings.read_from": {
        "ru": "Прочитано: переменные окружения, затем {files}.",
        "en": "Read: environment variables, then {files}.",
    },
    "settings.then": {"ru": ", затем ", "en": ", then "},
    "settings.file_read": {"ru": "прочитан", "en": "read"},
    "settings.file_not_there": {"ru": "не найден", "en": "not found"},
    "settings.file_empty": {"ru": "найден, но ничего не задаёт",
                            "en": "found, but sets nothing"},
    "settings.environment": {"ru": "окружение", "en": "environment"},
    "settings.nothing": {
        "ru": "Настройки не найдены; ничего не записано. Где искали (побеждает первое место, "
              "где переменная задана):\n  1. переменные окружения\n{places}\n"
              "next: 1) скопируйте .env.example в .env (рядом с cli.py или в корень "
              "родительского проекта);\n"
              "      2) впишите в него BITRIX_WEBHOOK_URL — адрес входящего вебхука "
              "(Bitrix24: {menu}) — и настройки базы данных (MYSQL_* или DATABASE_URL);\n"
              "      3) запустите `python cli.py --check`.\n"
              "      Посмотреть работу без настроек: `python cli.py --demo`.",
        "en": "No settings found; nothing was written. Looked for them in this order "
              "(the first place that sets a variable wins):\n  1. environment variables\n"
              "{places}\n"
              "next: 1) copy .env.example to .env (beside cli.py or in the parent project's "
              "root);\n"
              "      2) enter BITRIX_WEBHOOK_URL in it — the inbound webhook's URL "
              "(Bitrix24: {menu}) — and the database settings (MYSQL_* or DATABASE_URL);\n"
              "      3) run `python cli.py --check`.\n"
              "      To see it work without settings: `python cli.py --demo`.",
    },
    # --- a run's table and its dry-run list (app/report.py) ------------------------------
    "table.directory": {"ru": "справочник", "en": "directory"},
    "table.mode": {"ru": "чтение", "en": "mode"},
    "table.fetched": {"ru": "прочитано", "en": "fetched"},
    "table.created": {"ru": "создано", "en": "created"},
    "table.updated": {"ru": "обновлено", "en": "updated"},
    "table.unchanged": {"ru": "без_изменений", "en": "unchanged"},
    "table.deactivated": {"ru": "деактивировано", "en": "deactivated"},
    "table.errors": {"ru": "ошибок", "en": "errors"},
    "table.seconds": {"ru": "секунд", "en": "seconds"},
    "table.status": {"ru": "итог", "en": "status"},
    "table.mode_full": {"ru": "полное", "en": "full"},
    "table.mode_incremental": {"ru": "изменения", "en": "incremental"},
    "table.status_ok": {"ru": "ок", "en": "ok"},
    "table.status_errors": {"ru": "с_ошибками", "en": "errors"},
    "table.status_failed": {"ru": "сбой", "en": "failed"},
    "table.status_skipped": {"ru": "пропущен", "en": "skipped"},
    "table.more_errors": {
        "ru": "... и ещё ошибок в записях: {count} (все — в --json)",
        "en": "... and {count} more record errors (see --json)",
    },
    "table.dry_run": {
        "ru": "Пробный прогон: ничего не записано.",
        "en": "Dry run: nothing was written.",
    },
    "planned.none": {
        "ru": "Пробный прогон: ни одна запись не изменилась бы.",
        "en": "Dry run: no record would change.",
    },
    "planned.head": {
        "ru": "Пробный прогон: изменились бы записи ({count}):",
        "en": "Dry run: {count} records would change:",
    },
    "planned.create": {"ru": "создать", "en": "create"},
    "planned.update": {"ru": "обновить", "en": "update"},
    "planned.deactivate": {"ru": "деактивировать", "en": "deactivate"},
    # --- a directory that did not finish (app/sync/engine.py, directory.py) -------------
    "engine.not_run": {"ru": "не запускался: {why}", "en": "not run: {why}"},
    "engine.stopped_early": {"ru": "запуск остановлен раньше",
                             "en": "the run stopped early"},
    "engine.earlier_error": {"ru": "запуск прервала ошибка выше",
                             "en": "an earlier error ended the run"},
    "engine.rolled_back": {"ru": "остановлен; изменения откачены",
                           "en": "stopped; changes rolled back"},
    # --- live progress (app/commands/progress.py) ---------------------------------------
    "progress.line": {
        "ru": "{directory} {phase} {rows} строк прочитано  {rate} строк/с  {took}",
        "en": "{directory} {phase} {rows} rows read  {rate} rows/s  {took}",
    },
    "progress.reading": {"ru": "чтение", "en": "reading"},
    "progress.writing": {"ru": "запись", "en": "writing"},
    "progress.done": {"ru": "готово", "en": "done"},
    "progress.stopped": {"ru": "прерван", "en": "stopped"},
    # --- Ctrl+C during a run (cli.py, SyncReport.render_stop) ---------------------------
    "stop.head": {
        "ru": "Прервано (Ctrl+C).",
        "en": "Interrupted (Ctrl+C).",
    },
    "stop.saved": {
        "ru": "Сохранено полностью: {names}.",
        "en": "Saved in full: {names}.",
    },
    "stop.failed": {
        "ru": "С ошибкой (сохранено то, что успело прийти): {names}.",
        "en": "Failed (what had arrived was kept): {names}.",
    },
    "stop.rolled_back": {
        "ru": "Откачено, в базе как до запуска: {names}.",
        "en": "Rolled back, as before the run in the database: {names}.",
    },
    "stop.not_run": {
        "ru": "Не запускались: {names}.",
        "en": "Not run: {names}.",
    },
    "stop.nothing_saved": {
        "ru": "Ничего не записано.",
        "en": "Nothing was written.",
    },
    "stop.dry_run": {
        "ru": "Пробный прогон: ничего не записано.",
        "en": "Dry run: nothing was written.",
    },
    "stop.next": {
        "ru": "next: запустите `python cli.py --sync {names}`, чтобы дописать остальное "
              "(или просто `python cli.py`: сохранённое прочитается заново только по "
              "изменениям).",
        "en": "next: run `python cli.py --sync {names}` to sync the rest (or just "
              "`python cli.py`: what was saved is read again only for its changes).",
    },
    "stop.next_all": {
        "ru": "next: запустите ту же команду ещё раз.",
        "en": "next: run the same command again.",
    },
    # --- cli.py --init-db ---------------------------------------------------------------
    "init_db.created": {"ru": "Созданы таблицы: {tables}", "en": "Created tables: {tables}"},
    "init_db.exist": {"ru": "Все таблицы уже есть.", "en": "All tables already exist."},
    # --- cli.py --status (app/commands/status.py) ----------------------------------------
    "status.runs": {"ru": "Запуски, новые сверху (время — {zone}):",
                    "en": "Runs, newest first (times in {zone}):"},
    "status.no_runs": {"ru": "Запусков пока не записано.", "en": "No runs recorded yet."},
    "status.no_success": {"ru": "Последний успешный запуск: не записан",
                          "en": "Last success: none recorded"},
    "status.success": {
        "ru": "Последний успешный запуск: {id}, закончен {when} ({age} назад)",
        "en": "Last success: run {id}, finished {when} ({age} ago)",
    },
    "status.next_run": {
        "ru": "Следующий запуск сервиса (service.py): {when} (SYNC_SCHEDULE '{expression}', "
              "{zone}); у cron и Планировщика заданий своё расписание",
        "en": "Next run of the service (service.py): {when} (SYNC_SCHEDULE '{expression}', "
              "{zone}); cron and Task Scheduler keep their own times",
    },
    "status.next_run_unknown": {
        "ru": "Следующий запуск сервиса (service.py): неизвестен, {problem}",
        "en": "Next run of the service (service.py): unknown, {problem}",
    },
    "status.directories": {"ru": "Справочники (часы портала, время — {zone}):",
                           "en": "Directories (portal's clock, shown in {zone}):"},
    "status.fresh": {"ru": "Не старше {limit}: OK", "en": "Max age {limit}: OK"},
    "status.stale_none": {
        "ru": "Не старше {limit}: УСТАРЕЛО, успешных запусков не записано",
        "en": "Max age {limit}: STALE, no successful run recorded",
    },
    "status.stale": {
        "ru": "Не старше {limit}: УСТАРЕЛО, последнему успешному запуску {age}",
        "en": "Max age {limit}: STALE, the last success is {age} old",
    },
    "status.last_full_read": {"ru": "последнее полное чтение", "en": "last full read"},
    "status.last_read": {"ru": "последнее чтение", "en": "last read"},
    "status.never": {"ru": "никогда", "en": "never"},
    "status.when_ago": {"ru": "{when} ({age} назад)", "en": "{when} ({age} ago)"},
    "status.started": {"ru": "начат", "en": "started"},
    "status.took": {"ru": "длился", "en": "took"},
    "status.trigger": {"ru": "кто_запустил", "en": "trigger"},
    "status.run_running": {"ru": "идёт", "en": "running"},
    "status.run_ok": {"ru": "ок", "en": "ok"},
    "status.run_errors": {"ru": "с_ошибками", "en": "errors"},
    "status.run_failed": {"ru": "сбой", "en": "failed"},
    "status.run_stopped": {"ru": "остановлен", "en": "stopped"},
    "status.run_interrupted": {"ru": "оборван", "en": "interrupted"},
    "status.gone": {"ru": "{status} (процесса уже нет)", "en": "{status} (the process is gone)"},
    "status.process_gone": {
        "ru": "процесс завершился до конца запуска (его убили, он упал или потерял "
              "соединение с базой)",
        "en": "the process ended before the run finished (killed, crashed or lost its "
              "database connection)",
    },
    "status.ctrl_c": {
        "ru": "остановлен по Ctrl+C; справочник, который шёл в тот момент, откачен",
        "en": "stopped by Ctrl+C; the directory in progress was rolled back",
    },
    # --- the run lock: a second run, a lost lock (app/db/run_lock.py) -------------------
    "lock.held_mysql": {
        "ru": "С базой данных {database!r} уже работает другая синхронизация "
              "(MySQL-блокировка {name!r} занята)",
        "en": "Another sync is already running against the database {database!r} "
              "(the MySQL lock {name!r} is taken)",
    },
    "lock.held_file": {
        "ru": "С базой данных {database!r} уже работает другая синхронизация "
              "(файл блокировки {path} занят)",
        "en": "Another sync is already running against the database {database!r} "
              "(the lock file {path} is locked)",
    },
    "lock.holder": {
        "ru": " (запуск {id}, начат {when} UTC, запустил {trigger} на {host}, pid {pid})",
        "en": " (run {id}, started {when} UTC by {trigger} on {host}, pid {pid})",
    },
    "lock.did_not_start": {
        "ru": "{held}{holder}; этот запуск не начинался. Запустите снова, когда та "
              "синхронизация закончится.",
        "en": "{held}{holder}; this run did not start. Try again when that run has finished.",
    },
    "lock.lost_mysql": {
        "ru": "Запуск потерял блокировку базы данных {database!r} (MySQL-блокировка "
              "{name!r}: {why}); ",
        "en": "This run lost its lock on the database {database!r} (the MySQL lock "
              "{name!r}: {why}); ",
    },
    "lock.lost_file": {
        "ru": "Запуск потерял блокировку базы данных {database!r} (файл блокировки {path} "
              "удалён или заменён); ",
        "en": "This run lost its lock on the database {database!r} (the lock file {path} "
              "was deleted or replaced); ",
    },
    "lock.lost_advice": {
        "ru": "возможно, сейчас идёт другая синхронизация, поэтому этот запуск остановился, "
              "не записав больше ничего (справочник, который шёл, откачен; законченные "
              "раньше сохранены). Запустите снова, чтобы дописать остальное.",
        "en": "another sync may be running now, so this run stopped before writing more "
              "(the directory in progress was rolled back; those finished before are kept). "
              "Run again to sync the rest.",
    },
    # --- the database refuses the connection (app/db/connect.py) -------------------------
    "db.cannot_connect": {
        "ru": "Не удаётся подключиться к базе данных {url}",
        "en": "Cannot connect to the database {url}",
    },
    "db.hinted": {
        "ru": "{hint} (ответ сервера: {detail})",
        "en": "{detail} ({hint})",
    },
    "db.hint_1045": {
        "ru": "сервер не принял пользователя или пароль: проверьте MYSQL_USER и MYSQL_PASSWORD",
        "en": "check MYSQL_USER and MYSQL_PASSWORD",
    },
    "db.hint_1049": {
        "ru": "такой базы нет: сначала создайте её (CREATE DATABASE ... CHARACTER SET "
              "utf8mb4) или исправьте MYSQL_DATABASE",
        "en": "create the database first (CREATE DATABASE ... CHARACTER SET utf8mb4) or fix "
              "MYSQL_DATABASE",
    },
    "db.hint_2003": {
        "ru": "сервер не отвечает: проверьте MYSQL_HOST и MYSQL_PORT и что сервер запущен",
        "en": "check MYSQL_HOST and MYSQL_PORT and that the server is running",
    },
    "db.hint_2005": {
        "ru": "сервер не найден: проверьте MYSQL_HOST",
        "en": "check MYSQL_HOST",
    },
    # --- Bitrix24 answered with an error (app/bitrix/client.py) --------------------------
    "portal.said": {"ru": "(ответ Bitrix24: {answer})", "en": "(Bitrix24 said: {answer})"},
    "portal.overload": {
        "ru": "Поддержка Bitrix24 заблокировала REST-запросы этого портала (OVERLOAD_LIMIT) "
              "{said}. Повторы не помогут; обратитесь в поддержку Bitrix24.",
        "en": "Bitrix24 support has blocked REST calls on this portal (OVERLOAD_LIMIT) "
              "{said}. Retrying will not help; contact Bitrix24 support.",
    },
    "portal.plan_rest": {
        "ru": "Тариф портала Bitrix24 не разрешает REST-запросы {said}: REST API и вебхуки "
              "работают только на коммерческих тарифах. Вебхук ни при чём; администратору "
              "портала нужно перейти на коммерческий тариф.",
        "en": "The portal's Bitrix24 plan does not allow REST calls {said}: the REST API and "
              "webhooks work only on commercial plans. The webhook itself is not the problem; "
              "the portal's administrator has to move the portal to a commercial plan.",
    },
    "portal.owner": {
        "ru": "Портал не смог действовать от имени владельца вебхука {said}: сотрудник, "
              "создавший вебхук, уволен или лишился прав. Создайте вебхук заново от имени "
              "активного сотрудника и впишите его адрес в BITRIX_WEBHOOK_URL.",
        "en": "The portal could not act as the webhook's owner {said}: the employee who "
              "created the webhook has been deactivated (fired) or has lost the rights. "
              "Create the webhook again as an active employee and put its URL in "
              "BITRIX_WEBHOOK_URL.",
    },
    "portal.https_only": {
        "ru": "Портал принимает только https {said}; BITRIX_WEBHOOK_URL должен начинаться "
              "с https://.",
        "en": "The portal accepts only https {said}; BITRIX_WEBHOOK_URL must start with "
              "https://.",
    },
    "portal.own_database": {
        "ru": "Собственная база портала дала сбой на {method} {said}. Это сбой на стороне "
              "Bitrix24; запрос повторён один раз, справочник ждёт следующего запуска. Если "
              "не пройдёт, сообщите в поддержку Bitrix24.",
        "en": "The portal's own database failed on {method} {said}. This is a fault on the "
              "Bitrix24 side; it was retried once, and this directory waits for the next "
              "run. If it stays, tell Bitrix24 support.",
    },
    "portal.rejected": {
        "ru": "Bitrix24 отклонил {method} {said}",
        "en": "Bitrix24 rejected {method} {said}",
    },
    "portal.busy": {
        "ru": "Bitrix24 перегружен или сбоит на {method} {said}",
        "en": "Bitrix24 is busy or failing on {method} {said}",
    },
    "portal.webhook_rejected": {
        "ru": "Портал отклонил вебхук {said}. Проверьте BITRIX_WEBHOOK_URL: код может быть "
              "неверным, вебхук — удалён или просрочен.",
        "en": "The portal rejected the webhook {said}. Check BITRIX_WEBHOOK_URL: the code "
              "may be wrong, deleted or expired.",
    },
    "portal.no_scope": {
        "ru": "У вебхука нет права на {method} {said}; отметьте нужное право (crm, lists, "
              "user, department) у вебхука в Bitrix24.",
        "en": "The webhook has no permission for {method} {said}; tick the needed scope "
              "(crm, lists, user, department) on the webhook in Bitrix24.",
    },
    "portal.no_method": {
        "ru": "Bitrix24 не знает метод {method} {said}; проверьте имя метода в "
              "сопоставлении и права вебхука.",
        "en": "Bitrix24 does not know the method {method} {said}; check the method name in "
              "the mapping and the webhook's scopes.",
    },
    "portal.plan_lists": {
        "ru": "Тариф портала Bitrix24 не включает {method} {said}: универсальные списки есть "
              "только на расширенных тарифах. Вебхук ни при чём; администратору портала нужно "
              "сменить тариф (остальные справочники синхронизируются).",
        "en": "The portal's Bitrix24 plan does not include {method} {said}: universal lists "
              "work only on extended plans. The webhook is not the problem; the portal's "
              "administrator has to change the plan (the other directories are synced).",
    },
    "portal.access_denied": {
        "ru": "Нет доступа к {method} {said}; пользователю вебхука нужно право на чтение.",
        "en": "Access denied to {method} {said}; the webhook's user needs read access to it.",
    },
    # --- SYNC_SCHEDULE and SYNC_TIMEZONE (app/cron.py) ----------------------------------
    "cron.examples": {
        "ru": "'0 3 * * *' (каждый день в 03:00) или '*/30 * * * *' (каждые 30 минут)",
        "en": "'0 3 * * *' (every day at 03:00) or '*/30 * * * *' (every 30 minutes)",
    },
    "cron.fields": {
        "ru": "минута час день-месяца месяц день-недели",
        "en": "minute hour day-of-month month day-of-week",
    },
    "cron.hint": {
        "ru": "нужно 5 полей ({fields}), например {examples}",
        "en": "use 5 fields ({fields}), e.g. {examples}",
    },
    "cron.empty": {"ru": "пуст; {hint}", "en": "is empty; {hint}"},
    "cron.bad_alias": {
        "ru": "= {shown} — неверное выражение cron; {hint}, или одно из {aliases}",
        "en": "= {shown} is not a valid cron expression; {hint}, or one of {aliases}",
    },
    "cron.no_seconds": {
        "ru": " (секунды и годы не поддерживаются)",
        "en": " (seconds and years are not supported)",
    },
    "cron.field_count": {
        "ru": "= {shown} — неверное выражение cron: в нём полей: {count}{extra}; {hint}",
        "en": "= {shown} is not a valid cron expression: it has {count} fields{extra}; {hint}",
    },
    "cron.never": {
        "ru": "= {shown} не сработает никогда (такой даты нет, например 30 февраля); "
              "например {examples}",
        "en": "= {shown} never fires (no such date, e.g. 30 February); use e.g. {examples}",
    },
    "cron.invalid": {
        "ru": "= {shown} — неверное выражение cron ({why}); {hint}",
        "en": "= {shown} is not a valid cron expression ({why}); {hint}",
    },
    "cron.no_tzdata": {
        "ru": "= {key!r} — неизвестный часовой пояс: не найдена база часовых поясов; "
              "установите пакет tzdata (pip install tzdata), он есть в requirements.txt",
        "en": "= {key!r} is not a known time zone: no time zone database found; install the "
              "tzdata package (pip install tzdata), it is listed in requirements.txt",
    },
    "cron.offset": {
        "ru": "= {key!r} — неизвестный часовой пояс: укажите имя пояса, а не смещение, "
              "например Europe/Moscow; по имени учитывается и переход на летнее время",
        "en": "= {key!r} is not a known time zone: use a zone name, not an offset, e.g. "
              "Europe/Moscow; a name also follows daylight-saving changes",
    },
    "cron.did_you_mean": {"ru": " (может быть, {zone}?)", "en": " (did you mean {zone}?)"},
    "cron.unknown_zone": {
        "ru": "= {key!r} — неизвестный часовой пояс{suggestion}; укажите имя IANA, например "
              "Europe/Moscow или Asia/Yekaterinburg, или оставьте пустым для местного "
              "времени компьютера",
        "en": "= {key!r} is not a known time zone{suggestion}; use an IANA name such as "
              "Europe/Moscow or Asia/Yekaterinburg, or leave it empty for the machine's "
              "local time",
    },
    "cron.invalid_settings": {
        "ru": "Настройки расписания неверны. Исправьте и запустите снова:",
        "en": "The schedule settings are not valid. Fix these and run again:",
    },
    # --- service.py: start, each run, stop (app/service/loop.py, signals.py) -------------
    "service.started": {
        "ru": "Сервис bitrix-sync запущен (pid {pid}): синхронизация по расписанию "
              "SYNC_SCHEDULE '{expression}' ({zone}); {first}.\n"
              "Подробности — в логе {log_file}. Остановить: Ctrl+C (или SIGTERM); "
              "идущий запуск закончит текущий шаг.",
        "en": "bitrix-sync service started (pid {pid}): syncing on SYNC_SCHEDULE "
              "'{expression}' ({zone}); {first}.\n"
              "Details go to the log {log_file}. To stop: Ctrl+C (or SIGTERM); a run in "
              "progress finishes its current step.",
    },
    "service.first_now": {"ru": "первый запуск — сейчас (SYNC_ON_START)",
                          "en": "the first run starts now (SYNC_ON_START)"},
    "service.first_at": {"ru": "следующий запуск — {when}", "en": "next run at {when}"},
    "service.run_done": {
        "ru": "Запуск закончен ({state}): {summary}. Следующий — {next}.",
        "en": "Run finished ({state}): {summary}. Next run at {next}.",
    },
    "service.state_ok": {"ru": "успешно", "en": "ok"},
    "service.state_errors": {"ru": "с ошибками, см. лог", "en": "with errors, see the log"},
    "service.run_failed": {
        "ru": "Запуск не удался: {error}\nСледующий — {next}.",
        "en": "Run failed: {error}\nNext run at {next}.",
    },
    "service.run_crashed": {
        "ru": "Запуск не удался (подробности в логе). Следующий — {next}.",
        "en": "Run failed (see the log). Next run at {next}.",
    },
    "service.run_stopped": {
        "ru": "Запуск остановлен, не закончены: {names} (их изменения не записаны, "
              "шедший справочник откачен).",
        "en": "Run stopped before finishing {names} (nothing of them was written; the one "
              "in progress was rolled back).",
    },
    "service.skipped": {
        "ru": "Запуск пропущен: идёт другая синхронизация. Следующий — {next}.",
        "en": "Skipped this run: another sync holds the lock. Next run at {next}.",
    },
    "service.stopping": {
        "ru": "Получен {signal}{reason}: сервис остановится после текущего шага… "
              "(повторите, чтобы остановить сразу)",
        "en": "{signal} received{reason}: stopping after the current step… "
              "(send it again to stop at once)",
    },
    "service.hup": {"ru": " (терминал закрыт)", "en": " (the terminal was closed)"},
    "service.stop_now": {
        "ru": "Повторный {signal}: выход сразу, текущий шаг не закончен (база откатит "
              "незаконченную транзакцию).",
        "en": "{signal} received again: exiting now without finishing the current step "
              "(the database rolls the open transaction back).",
    },
    "service.stopped": {"ru": "Сервис bitrix-sync остановлен.",
                        "en": "bitrix-sync service stopped."},
    "service.log_unwritable": {
        "ru": "не удаётся писать в лог {path}: {why}; укажите в LOG_FILE доступный для "
              "записи путь",
        "en": "cannot write the log file {path}: {why}; set LOG_FILE to a writable path",
    },
    # --- cli.py --demo (app/commands/demo.py) -------------------------------------------
    "demo.where": {
        "ru": "Демо-данные — в {database} (SQLite): {counts}.",
        "en": "The demo data is in {database} (SQLite): {counts}.",
    },
    "demo.open": {
        "ru": "Открыть можно любым просмотрщиком SQLite, например: "
              'sqlite3 "{database}" "SELECT name FROM objects LIMIT 5"',
        "en": "Open it with any SQLite viewer, e.g.: "
              'sqlite3 "{database}" "SELECT name FROM objects LIMIT 5"',
    },
    "demo.again": {
        "ru": "Запустите `python cli.py --demo` ещё раз: повторная синхронизация читает только "
              "изменения, поэтому ничего не читает, не создаёт и не меняет.",
        "en": "Run `python cli.py --demo` again: a re-sync reads only the changes, so it "
              "reads, creates and changes nothing.",
    },
    "demo.resync": {
        "ru": "Это была повторная синхронизация тех же данных: ничего не создано, не "
              "обновлено и не деактивировано (синхронизация идемпотентна).",
        "en": "This was a re-sync of the same data: nothing was created, updated or "
              "deactivated (the sync is idempotent).",
    },
    "demo.next": {
        "ru": "next: подключите свой портал — README, «Пять шагов к рабочей синхронизации»: "
              "`python cli.py --discover`, затем `python cli.py --check`.",
        "en": "next: connect your own portal — README, \"Five steps to a working sync\": "
              "`python cli.py --discover`, then `python cli.py --check`.",
    },
    "demo.unwritable": {
        "ru": "Не удаётся использовать {database} для демо-базы ({why}); укажите место, "
              "доступное для записи: --demo-db PATH.",
        "en": "Cannot use {database} for the demo database ({why}); choose a writable place "
              "with --demo-db PATH.",
    },
    # --- cli.py flags that do not go together (app/commands/handlers.py check_flags) -----
    "flags.combined": {
        "ru": "{flags} нельзя использовать вместе; запустите их по одному.",
        "en": "{flags} cannot be combined; run them one at a time.",
    },
    "flags.and": {"ru": " и ", "en": " and "},
    "flags.stray": {
        "ru": "{flags} здесь не применимо; какие флаги сочетаются — в `python cli.py --help`.",
        "en": "{flags} cannot be used here; see `python cli.py --help` for which flags go "
              "together.",
    },
    # --- no usable answer from the portal (app/bitrix/transport.py, client.py) -----------
    "transport.tls": {
        "ru": "Проверка TLS портала не прошла для {method}: {reason}. Для коробочного портала "
              "с самоподписанным сертификатом задайте BITRIX_VERIFY_SSL=false.",
        "en": "TLS check of the portal failed for {method}: {reason}. For an on-premise portal "
              "with a self-signed certificate set BITRIX_VERIFY_SSL=false.",
    },
    "transport.cannot_connect": {
        "ru": "не удаётся подключиться к порталу: {reason}",
        "en": "cannot connect to the portal: {reason}",
    },
    "transport.proxy": {"ru": "отказал прокси (HTTPS_PROXY или системные настройки прокси)",
                        "en": "the proxy failed (HTTPS_PROXY, or the system proxy settings)"},
    "transport.dns": {"ru": "имя хоста не найдено (DNS)", "en": "host name not found (DNS)"},
    "transport.refused": {"ru": "соединение отвергнуто (Connection refused)",
                          "en": "Connection refused"},
    "transport.connect_timeout": {"ru": "время ожидания соединения истекло",
                                  "en": "connection timed out"},
    "transport.no_route": {"ru": "нет маршрута до хоста (No route to host)",
                           "en": "No route to host"},
    "transport.reset": {"ru": "соединение сброшено (Connection reset)",
                        "en": "Connection reset"},
    "transport.closed": {"ru": "портал закрыл соединение, не ответив",
                         "en": "the portal closed the connection without answering"},
    "transport.timed_out": {"ru": "время ожидания истекло", "en": "timed out"},
    "transport.broke_off": {
        "ru": "портал оборвал ответ после {size} байт ({reason})",
        "en": "the portal broke off its answer after {size} bytes ({reason})",
    },
    "transport.too_slow": {
        "ru": "Bitrix24 не ответил полностью за {timeout} с (BITRIX_TIMEOUT)",
        "en": "Bitrix24 did not answer completely within {timeout} s (BITRIX_TIMEOUT)",
    },
    "transport.too_large": {
        "ru": "Ответ Bitrix24 на {method} больше {size} МБ (BITRIX_MAX_RESPONSE_MB): "
              "{detail}, чтение остановлено. Настоящая страница — не больше нескольких МБ: "
              "проверьте, что отвечает по адресу из BITRIX_WEBHOOK_URL (прокси или "
              "неисправный портал), или увеличьте BITRIX_MAX_RESPONSE_MB, если записи "
              "действительно так велики.",
        "en": "Bitrix24's answer to {method} is larger than {size} MB "
              "(BITRIX_MAX_RESPONSE_MB): {detail}, so reading it was stopped. A real page is "
              "a few MB at most: check what answers at the address in BITRIX_WEBHOOK_URL (a "
              "proxy or a broken portal), or raise BITRIX_MAX_RESPONSE_MB if the records "
              "really are that large.",
    },
    "transport.http_404": {
        "ru": "Портал ответил HTTP 404 (это не ответ REST Bitrix24) на {method}; проверьте "
              "адрес в BITRIX_WEBHOOK_URL.",
        "en": "The portal answered HTTP 404 (not a Bitrix24 REST answer) for {method}; check "
              "the address in BITRIX_WEBHOOK_URL.",
    },
    "transport.http_504": {
        "ru": "внешний сервер портала оборвал запрос (HTTP 504, gateway timeout; облачный "
              "портал обрывает любой запрос через 60 с)",
        "en": "the portal's front end cut the request off (HTTP 504, gateway timeout; a cloud "
              "portal cuts any request at 60 s)",
    },
    "transport.not_json": {
        "ru": "Bitrix24 ответил HTTP {status}, но не JSON ({kind})",
        "en": "Bitrix24 answered with HTTP {status} and a non-JSON body ({kind})",
    },
    # --- mapping and schema problems a run refuses to start with -----------------------
    "mapping.where": {"ru": "[{name}] в mapping.toml (SYNC_MAPPING_FILE)",
                      "en": "[{name}] in mapping.toml (SYNC_MAPPING_FILE)"},
    "mapping.set_method": {"ru": "укажите method в {where}", "en": "set method in {where}"},
    "mapping.set_param": {
        "ru": "укажите params.{key} ({what}) в {where} или верните его из {code} в {file}; "
              "`python cli.py --discover` покажет, что есть на портале",
        "en": "set params.{key} ({what}) in {where} or return it from {code} in {file}; "
              "`python cli.py --discover` lists what the portal has",
    },
    "mapping.set_fields": {"ru": "укажите fields (поле Bitrix24 = колонка) в {where}",
                           "en": "set fields (Bitrix24 field = column) in {where}"},
    "mapping.not_configured": {"ru": "Справочник {name!r} не настроен: {missing}",
                               "en": "Directory {name!r} is not configured: {missing}"},
    "mapping.entity_type_id": {"ru": "entityTypeId смарт-процесса",
                               "en": "the smart process's entityTypeId"},
    "mapping.iblock_type_id": {"ru": "тип списка, обычно \"lists\"",
                               "en": "the list type, usually \"lists\""},
    "mapping.iblock_id": {"ru": "id универсального списка", "en": "the universal list's id"},
    "mapping.protected": {
        "ru": "Справочник {name!r} не может писать {column}: эта колонка принадлежит "
              "мини-приложению и никогда не берётся из Bitrix24; уберите {line} из {where}",
        "en": "Directory {name!r} may not write {column}: it belongs to the mini-app and is "
              "never taken from Bitrix24; remove {line} from {where}",
    },
    "schema.model_no_column": {
        "ru": "в модели {model} (таблица {table!r}, {origin}) нет колонки {column!r}; "
              "добавьте её в модель и в таблицу или исправьте сопоставление",
        "en": "model {model} (table {table!r}, {origin}) has no column {column!r}; add it to "
              "the model and the table, or fix the mapping",
    },
    "schema.table_no_column": {
        "ru": "в таблице {table!r} нет колонки {column!r}; добавьте её командой: {sql}",
        "en": "table {table!r} has no column {column!r}; add it with: {sql}",
    },
    "schema.no_table": {"ru": "таблицы {table!r} нет (модель {model})",
                        "en": "table {table!r} does not exist (model {model})"},
    "schema.no_tables": {"ru": "таблиц {tables} нет", "en": "tables {tables} do not exist"},
    "schema.table_of": {"ru": "{table!r} (модель {model})", "en": "{table!r} (model {model})"},
    "schema.fix_init_db": {
        "ru": "fix: выполните `python cli.py --init-db` — он создаст недостающие встроенные "
              "таблицы",
        "en": "fix: run `python cli.py --init-db`: it creates the missing built-in tables",
    },
    "schema.fix_parent_one": {
        "ru": "fix: создайте её в основном проекте по его моделям: {where}; `--init-db` "
              "создаёт только встроенные таблицы",
        "en": "fix: create it in the main project from its models: {where}; `--init-db` "
              "creates only the built-in tables",
    },
    "schema.fix_parent": {
        "ru": "fix: создайте их в основном проекте по его моделям: {where}; `--init-db` "
              "создаёт только встроенные таблицы",
        "en": "fix: create them in the main project from its models: {where}; `--init-db` "
              "creates only the built-in tables",
    },
    "schema.same_database": {
        "ru": "; если таблицы уже есть, проверьте, та ли это база: {database}",
        "en": "; if the tables do exist, check that this is the right database: {database}",
    },
    # --- settings and mapping files (app/env_files.py) -----------------------------------
    "files.settings_file": {"ru": "файл настроек", "en": "the settings file"},
    "files.mapping_file": {"ru": "файл сопоставления", "en": "the mapping file"},
    "files.unreadable": {"ru": "Не удаётся прочитать {what} {path}: {why}",
                         "en": "Cannot read {what} {path}: {why}"},
    "files.encoding": {
        "ru": "{what} {path}: это не текст в UTF-8, UTF-16 или Windows-1251; fix: откройте "
              "его в Блокноте и сохраните в кодировке UTF-8",
        "en": "{what} {path} is not text in UTF-8, UTF-16 or Windows-1251; fix: open it in "
              "Notepad and save it as UTF-8",
    },
    "files.backslashes": {
        "ru": "{key} в {path}: обратная косая черта в значении в двойных кавычках — это "
              "управляющая последовательность (\\b, \\t, \\n ...); значение прочитано "
              "буквально: '{literal}'; fix: пути Windows пишите в одинарных кавычках: "
              "{key}='{literal}'",
        "en": "{key} in {path}: backslashes in a double-quoted value are escapes "
              "(\\b, \\t, \\n ...); read it literally as '{literal}'; fix: write Windows "
              "paths in single quotes: {key}='{literal}'",
    },
    # --- a run's own failures (app/sync/) ------------------------------------------------
    "db.while_writing": {"ru": "Ошибка базы данных при записи {name}",
                         "en": "Database error while writing {name}"},
    "sync.mass_deactivation": {
        "ru": "Bitrix24 больше не возвращает {gone} из {active} активных записей; это похоже "
              "на потерю доступа, а не на удаление, поэтому ничего не деактивировано. Если "
              "так и задумано, запустите с --allow-mass-deactivation.",
        "en": "Bitrix24 no longer returns {gone} of {active} active records; that looks like "
              "lost access rather than deletions, so nothing was deactivated. If it is "
              "intended, run with --allow-mass-deactivation.",
    },
    "sync.too_big": {
        "ru": "{column} слишком велико для базы: {size} байт, а сервер принимает не больше "
              "{most} байт за один запрос (max_allowed_packet); увеличьте max_allowed_packet "
              "на сервере или сократите значение в Bitrix24",
        "en": "{column} is too big for the database: {size} bytes, and the server takes at "
              "most {most} bytes in one statement (max_allowed_packet); raise "
              "max_allowed_packet on the server or shorten the value in Bitrix24",
    },
    "paging.changed_twice": {
        "ru": "{method} дважды изменился или вернул меньше строк во время постраничного "
              "чтения ({problem}); строка могла быть пропущена, поэтому чтение неполное",
        "en": "{method} changed or came back short while it was read page by page, twice "
              "({problem}); a row may have been skipped, so the read is incomplete",
    },
    # --- the database fails mid-run (app/db/connect.py) ---------------------------------
    "db.lost": {"ru": "соединение с базой данных потеряно",
                "en": "the connection to the database was lost"},
    "db.lost_earlier": {"ru": "{lost} раньше в этой транзакции",
                        "en": "{lost} earlier in this transaction"},
    "db.lost_killed": {"ru": "{lost}: его закрыли на сервере (KILL)",
                       "en": "{lost}: it was killed on the server (KILL)"},
    "db.lost_gone": {
        "ru": "{lost} (сервер перезапустился или закрыл соединение, долго простоявшее "
              "без дела)",
        "en": "{lost} (the server restarted, or closed a connection that was idle too long)",
    },
    "db.lost_during": {
        "ru": "{lost} во время запроса (перезапуск сервера, KILL или тайм-аут прокси или "
              "файрвола)",
        "en": "{lost} during a statement (a server restart, KILL, or a proxy or firewall "
              "timeout)",
    },
    "db.lost_sync": {"ru": "{lost} (commands out of sync)",
                     "en": "{lost} (commands out of sync)"},
    "db.lost_idle": {"ru": "{lost}: сервер закрыл его из-за бездействия (wait_timeout)",
                     "en": "{lost}: the server closed it for inactivity (wait_timeout)"},
    "db.disk_full": {"ru": "на сервере базы данных кончилось место на диске",
                     "en": "the database server's disk is full"},
    "db.too_many_connections": {"ru": "у сервера базы данных слишком много соединений",
                                "en": "the database server has too many connections"},
    "db.shutting_down": {"ru": "сервер базы данных останавливается",
                         "en": "the database server is shutting down"},
    "db.table_full": {
        "ru": "таблица переполнена (диск сервера базы данных или предел размера таблицы)",
        "en": "a table is full (the database server's disk or a table size limit)",
    },
    "db.packet": {"ru": "запрос больше max_allowed_packet сервера",
                  "en": "a statement was larger than the server's max_allowed_packet"},
    "db.lock_wait": {
        "ru": "другой сеанс слишком долго держал блокировку тех же строк (lock wait timeout); "
              "транзакция откачена",
        "en": "another session held a lock on the same rows for too long (lock wait "
              "timeout); the transaction was rolled back",
    },
    "db.deadlock": {"ru": "взаимоблокировка с другим сеансом; транзакция откачена",
                    "en": "a deadlock with another session; the transaction was rolled back"},
    "db.read_only_replica": {
        "ru": "база данных только для чтения (задан read_only или это реплика)",
        "en": "the database is read-only (read_only is set, or this is a replica)",
    },
    "db.read_only_transaction": {
        "ru": "база данных только для чтения (транзакция READ ONLY)",
        "en": "the database is read-only (the transaction is READ ONLY)",
    },
    "db.read_only": {"ru": "база данных только для чтения", "en": "the database is read-only"},
    "db.sqlite_locked": {"ru": "другая программа заблокировала файл базы SQLite",
                         "en": "another program holds a lock on the SQLite database file"},
    "db.sqlite_disk_full": {"ru": "на диске базы SQLite кончилось место",
                            "en": "the disk of the SQLite database is full"},
    "db.sqlite_read_only": {"ru": "файл базы SQLite только для чтения",
                            "en": "the SQLite database file is read-only"},
    "db.sqlite_io": {"ru": "диск базы SQLite не смог прочитать или записать данные",
                     "en": "the disk of the SQLite database failed to read or write"},
    # --- checks before a run (app/sync/runner.py) --------------------------------------
    "run.setup_problems": {"ru": "Настройка с ошибками; ничего не записано:",
                           "en": "The setup has problems; nothing was written:"},
    "run.tables_not_checked": {"ru": "таблицы не проверены: {why}",
                               "en": "the tables were not checked: {why}"},
    # --- setup problems (a run's exit 2, --check's mapping items) ----------------------
    "mapping_id_field": {
        "ru": "справочник {name!r}: id_field = \"{given}\" — не поле ID метода {method} "
              "(\"{own}\"). Страницы, проверки по ID и подсчёт удалений идут по \"{own}\", "
              "и btxid из другого поля сравнивался бы с чужими номерами. Уберите id_field "
              "({where}): ID найдётся сам; или укажите id_field = \"{own}\"",
        "en": "directory {name!r}: id_field = \"{given}\" is not the id field of {method} "
              "(\"{own}\"). Paging, the by-id checks and the removal counts use \"{own}\", "
              "so a btxid from another field would be compared with other numbers. Remove "
              "id_field ({where}): the id is found by itself; or set id_field = \"{own}\"",
    },
}
