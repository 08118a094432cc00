"""Texts of service.py's console: start, each run, stop."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
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
}
