"""Texts about settings: .env files, variables, SYNC_SCHEDULE and SYNC_TIMEZONE."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
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
    "settings.ca_bundle_missing": {
        "ru": "файл с доверенными сертификатами не найден: {path}; укажите существующий "
              "PEM-файл (или папку) либо уберите переменную, тогда используются корневые "
              "сертификаты certifi. Эта переменная действует только в окружении процесса "
              "(не в .env)",
        "en": "no file of trusted certificates at {path}; name an existing PEM file (or "
              "folder), or unset the variable to use certifi's root certificates. This "
              "variable works only in the process environment (not in .env)",
    },
    "settings.ca_bundle_quoted": {
        "ru": "; уберите кавычки и пробелы вокруг пути",
        "en": "; remove the quotes and spaces around the path",
    },
    "settings.ca_bundle_in_env_file": {
        "ru": "{name} в {path} не действует: requests читает её только из окружения процесса "
              "(задайте её там, например в задании планировщика или в службе)",
        "en": "{name} in {path} has no effect: requests reads it only from the process "
              "environment (set it there, e.g. in the scheduled task or the service)",
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
              "дальше: 1) скопируйте .env.example в .env (рядом с cli.py или в корень "
              "родительского проекта);\n"
              "        2) впишите в него BITRIX_WEBHOOK_URL — адрес входящего вебхука "
              "(Bitrix24: {menu}) — и настройки базы данных (MYSQL_* или DATABASE_URL);\n"
              "        3) запустите `python cli.py --check`.\n"
              "        Посмотреть работу без настроек: `python cli.py --demo`.",
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
    # --- settings and mapping files (app/env_files.py) -----------------------------------
    "files.settings_file": {"ru": "файл настроек", "en": "the settings file"},
    "files.mapping_file": {"ru": "файл сопоставления", "en": "the mapping file"},
    "files.unreadable": {"ru": "Не удаётся прочитать {what} {path}: {why}",
                         "en": "Cannot read {what} {path}: {why}"},
    "files.encoding": {
        "ru": "{what} {path}: это не текст в UTF-8, UTF-16 или Windows-1251; как исправить: "
              "откройте его в Блокноте и сохраните в кодировке UTF-8",
        "en": "{what} {path} is not text in UTF-8, UTF-16 or Windows-1251; fix: open it in "
              "Notepad and save it as UTF-8",
    },
    "files.backslashes": {
        "ru": "{key} в {path}: обратная косая черта в значении в двойных кавычках — это "
              "управляющая последовательность (\\b, \\t, \\n ...); значение прочитано "
              "буквально: '{literal}'; как исправить: пути Windows пишите в одинарных кавычках: "
              "{key}='{literal}'",
        "en": "{key} in {path}: backslashes in a double-quoted value are escapes "
              "(\\b, \\t, \\n ...); read it literally as '{literal}'; fix: write Windows "
              "paths in single quotes: {key}='{literal}'",
    },
}
