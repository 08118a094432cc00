"""Texts of a run: its table, progress, Ctrl+C, dry-run list and the run's own failures."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
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
        "ru": "дальше: запустите `python cli.py --sync {names}`, чтобы дописать остальное "
              "(или просто `python cli.py`: сохранённое прочитается заново только по "
              "изменениям).",
        "en": "next: run `python cli.py --sync {names}` to sync the rest (or just "
              "`python cli.py`: what was saved is read again only for its changes).",
    },
    "stop.next_all": {
        "ru": "дальше: запустите ту же команду ещё раз.",
        "en": "next: run the same command again.",
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
        "ru": "как исправить: выполните `python cli.py --init-db` — он создаст недостающие "
              "встроенные таблицы",
        "en": "fix: run `python cli.py --init-db`: it creates the missing built-in tables",
    },
    "schema.fix_parent_one": {
        "ru": "как исправить: создайте её в основном проекте по его моделям: {where}; `--init-db` "
              "создаёт только встроенные таблицы",
        "en": "fix: create it in the main project from its models: {where}; `--init-db` "
              "creates only the built-in tables",
    },
    "schema.fix_parent": {
        "ru": "как исправить: создайте их в основном проекте по его моделям: {where}; `--init-db` "
              "создаёт только встроенные таблицы",
        "en": "fix: create them in the main project from its models: {where}; `--init-db` "
              "creates only the built-in tables",
    },
    "schema.same_database": {
        "ru": "; если таблицы уже есть, проверьте, та ли это база: {database}",
        "en": "; if the tables do exist, check that this is the right database: {database}",
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
    # --- checks before a run (app/sync/runner.py) --------------------------------------
    "run.setup_problems": {"ru": "Настройка с ошибками; ничего не записано:",
                           "en": "The setup has problems; nothing was written:"},
    "run.tables_not_checked": {"ru": "таблицы не проверены: {why}",
                               "en": "the tables were not checked: {why}"},
}
