"""Texts of cli.py's other screens: --status, --demo, --init-db, flag rules."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
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
    "status.bad_age": {
        "ru": "{text} — не возраст: нужно положительное число с единицей s, m, h или d, "
              "например 26h",
        "en": "{text} is not an age: use a positive number with a unit s, m, h or d, e.g. 26h",
    },
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
    "status.read": {"ru": "как", "en": "read"},
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
    # --- the run history's error summary (app/db/history.py), shown by --status ---------
    "history.unfinished": {"ru": "остановлен, не закончив {names}",
                           "en": "stopped before finishing {names}"},
    "history.record_errors": {
        "ru": "ошибок в записях: {count}, первая — {where}: {message}",
        "en": "{count} record error(s), the first: {where}: {message}",
    },
    "history.told_to_exit": {
        "ru": "остановлен: процессу велели завершиться ({what})",
        "en": "stopped: the process was told to exit ({what})",
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
        "ru": "дальше: подключите свой портал — README, «Пять шагов к рабочей синхронизации»: "
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
}
