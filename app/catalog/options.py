"""Texts of cli.py's and service.py's --help: argparse's headings and every option."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- argparse's own words ------------------------------------------------------------
    "help.usage": {"ru": "запуск: ", "en": "usage: "},
    "help.options": {"ru": "параметры", "en": "options"},
    "help.help": {"ru": "показать эту справку и выйти", "en": "show this help message and exit"},
    # argparse's messages (its gettext msgids, app/text.py); the %-placeholders are its own.
    "argparse.error": {"ru": "%(prog)s: ошибка: %(message)s\n",
                       "en": "%(prog)s: error: %(message)s\n"},
    "argparse.unrecognized": {"ru": "неизвестные аргументы: %s",
                              "en": "unrecognized arguments: %s"},
    "argparse.required": {"ru": "не хватает обязательных аргументов: %s",
                          "en": "the following arguments are required: %s"},
    "argparse.one_required": {"ru": "нужен один из аргументов %s",
                              "en": "one of the arguments %s is required"},
    "argparse.argument": {"ru": "аргумент %(argument_name)s: %(message)s",
                          "en": "argument %(argument_name)s: %(message)s"},
    "argparse.invalid_choice": {
        "ru": "недопустимое значение: %(value)r (возможные: %(choices)s)",
        "en": "invalid choice: %(value)r (choose from %(choices)s)",
    },
    "argparse.invalid_value": {"ru": "недопустимое значение (%(type)s): %(value)r",
                               "en": "invalid %(type)s value: %(value)r"},
    "argparse.expected_one": {"ru": "нужно одно значение", "en": "expected one argument"},
    "argparse.expected_at_most_one": {"ru": "нужно не больше одного значения",
                                      "en": "expected at most one argument"},
    "argparse.expected_at_least_one": {"ru": "нужно хотя бы одно значение",
                                       "en": "expected at least one argument"},
    "argparse.expected_n": {"ru": "нужно значений: %s", "en": "expected %s arguments"},
    "argparse.ambiguous": {
        "ru": "неоднозначный параметр: %(option)s подходит к %(matches)s",
        "en": "ambiguous option: %(option)s could match %(matches)s",
    },
    "argparse.explicit": {"ru": "лишнее значение %r", "en": "ignored explicit argument %r"},
    "argparse.not_allowed": {"ru": "нельзя вместе с аргументом %s",
                             "en": "not allowed with argument %s"},
    "argparse.positional": {"ru": "позиционные аргументы", "en": "positional arguments"},
    "help.exit_codes": {
        "ru": "коды завершения (cli.py, service.py, sync-cron.sh, sync-cron.ps1):",
        "en": "exit codes (cli.py, service.py, sync-cron.sh, sync-cron.ps1):",
    },
    # --- cli.py ------------------------------------------------------------------------
    "help.cli": {
        "ru": "Односторонняя синхронизация справочников Bitrix24 в локальную базу данных.",
        "en": "One-way sync of Bitrix24 directories into the local database.",
    },
    "help.sync": {"ru": "какие справочники синхронизировать (по умолчанию все): {names}",
                  "en": "directories to sync (default: all): {names}"},
    "help.webhook_url": {
        "ru": "адрес вебхука Bitrix24 (вместо BITRIX_WEBHOOK_URL); его код виден в списке "
              "процессов и в истории команд, поэтому лучше BITRIX_WEBHOOK_URL в окружении "
              "или в .env",
        "en": "Bitrix24 webhook URL (overrides BITRIX_WEBHOOK_URL); its secret shows in the "
              "process list and shell history, so prefer BITRIX_WEBHOOK_URL in the "
              "environment or .env",
    },
    "help.env_file": {"ru": "сначала читать настройки из этого файла .env",
                      "en": "read settings from this .env file first"},
    "help.json": {"ru": "напечатать отчёт одним объектом JSON в stdout",
                  "en": "print the report as one JSON object on stdout"},
    "help.full": {
        "ru": "в этот раз читать каждый справочник полностью, а не только изменения "
              "(полное чтение и так идёт раз в SYNC_FULL_EVERY)",
        "en": "read every directory in full this run, not only what changed (a full read "
              "also runs by itself every SYNC_FULL_EVERY)",
    },
    "help.allow_mass": {
        "ru": "деактивировать, даже если пропало больше половины справочника",
        "en": "deactivate even when more than half of a directory vanished",
    },
    "help.init_db": {"ru": "создать встроенные таблицы на пустой базе и выйти",
                     "en": "create the built-in tables on an empty database, then exit"},
    "help.verbose": {
        "ru": "подробный лог и полный traceback (без обмена по HTTP)",
        "en": "debug logging and full tracebacks (without HTTP traffic)",
    },
    "help.debug_http": {
        "ru": "--verbose и ещё строка на каждый запрос и ответ HTTP (urllib3); код вебхука "
              "остаётся скрытым",
        "en": "--verbose plus a log line for each HTTP request and answer (urllib3); the "
              "webhook code stays masked",
    },
    "help.demo": {
        "ru": "синхронизировать встроенный демо-портал с примером данных в файл SQLite; не "
              "читает настроек и не трогает настоящий портал и базу",
        "en": "sync a built-in demo portal with sample data into a SQLite file; reads no "
              "settings and touches no real portal or database",
    },
    "help.demo_db": {"ru": "файл SQLite для --demo (по умолчанию demo.db рядом с cli.py)",
                     "en": "the SQLite file of --demo (default: demo.db next to cli.py)"},
    "help.discover": {
        "ru": "показать смарт-процессы, универсальные списки и поля, которые видит вебхук",
        "en": "list the smart processes, universal lists and fields the webhook can see",
    },
    "help.write": {"ru": "с --discover: записать черновик сопоставления с комментариями в PATH",
                   "en": "with --discover: write a commented mapping skeleton to PATH"},
    "help.force": {"ru": "с --write: перезаписать существующий файл",
                   "en": "with --write: overwrite an existing file"},
    "help.entity_type_id": {
        "ru": "с --discover: описать и этот смарт-процесс (для вебхука без прав "
              "администратора CRM); можно повторять",
        "en": "with --discover: also describe this smart process (for a webhook without CRM "
              "administrator rights); repeatable",
    },
    "help.check": {
        "ru": "проверить настройки, базу, таблицы, вебхук и сопоставление; ничего не "
              "записывает (код 0, 2 или 3)",
        "en": "check settings, database, tables, webhook and mapping; writes nothing (exit 0, "
              "2 or 3)",
    },
    "help.dry_run": {
        "ru": "всё прочитать, ничего не записать, показать, что изменилось бы (--verbose — "
              "каждая запись)",
        "en": "read everything, write nothing, report what would change (--verbose lists "
              "each record)",
    },
    "help.quiet": {
        "ru": "без строки прогресса (stderr и так показывает только предупреждения и ошибки, "
              "если нет --verbose)",
        "en": "no progress line (stderr shows only warnings and errors anyway, unless "
              "--verbose)",
    },
    "help.status": {
        "ru": "показать последние запуски, последний успешный и следующий запуск сервиса и "
              "выйти (нужны только настройки базы)",
        "en": "show the last runs, the last success and the service's next run, then exit "
              "(needs only the database settings)",
    },
    "help.max_age": {
        "ru": "с --status: код 1, если последний успешный запуск старше AGE (единицы s, m, "
              "h, d, например 26h) или его нет",
        "en": "with --status: exit 1 when the last successful run is older than AGE (units "
              "s, m, h, d, e.g. 26h) or there is none",
    },
    "help.max_age_alone": {"ru": "--max-age работает только с --status",
                           "en": "--max-age works only with --status"},
    # --- service.py --------------------------------------------------------------------
    "help.service": {
        "ru": "Синхронизировать справочники Bitrix24 по расписанию cron SYNC_SCHEDULE "
              "(часовой пояс SYNC_TIMEZONE), пока не остановят Ctrl+C, SIGTERM или SIGHUP.",
        "en": "Sync Bitrix24 directories on the cron schedule SYNC_SCHEDULE (time zone "
              "SYNC_TIMEZONE) until Ctrl+C, SIGTERM or SIGHUP.",
    },
}
