"""Texts about the database: the run lock, refused connections, failures mid-run."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
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
    # what failed, after what was being done (app/db/connect.py database_errors)
    "db.failed": {"ru": "{doing}: {what}", "en": "{doing}: {what}"},
    "db.saving_state": {
        "ru": "Ошибка базы данных при сохранении состояния синхронизации",
        "en": "Database error while saving the sync state",
    },
    "db.taking_lock": {
        "ru": "Не удаётся взять блокировку синхронизации в базе данных",
        "en": "Cannot take the sync lock on the database",
    },
    "db.creating_tables": {
        "ru": "Не удаётся создать таблицы",
        "en": "Cannot create tables",
    },
    "db.reading_demo_tables": {
        "ru": "не удаётся прочитать её таблицы",
        "en": "cannot read its tables",
    },
    "db.bad_url": {
        "ru": "DATABASE_URL: адрес базы данных {url} не подходит: {reason}",
        "en": "DATABASE_URL: cannot use the database URL {url}: {reason}",
    },
    "db.driver_refused": {
        "ru": "DATABASE_URL: драйвер не принимает адрес {url}: {reason}",
        "en": "DATABASE_URL: the driver does not accept the URL {url}: {reason}",
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
}
