"""Texts of mapping.toml's structure checks, the parent's models and the SQLite lock file."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- mapping.toml (app/syncers/mapping.py, base_syncer.py) --------------------------
    "mapping.not_toml": {"ru": "Файл сопоставления {path} — не TOML: {why}",
                         "en": "The mapping file {path} is not valid TOML: {why}"},
    "mapping.problems": {"ru": "В сопоставлении {source} есть ошибки:\n{problems}",
                         "en": "The mapping in {source} has problems:\n{problems}"},
    "mapping.not_directory": {"ru": "[{name}] — не справочник; возможные: {known}",
                              "en": "[{name}] is not a directory; use one of {known}"},
    "mapping.not_table": {"ru": "[{name}] должен быть таблицей",
                          "en": "[{name}] must be a table"},
    "mapping.unknown_key": {"ru": "в [{name}] неизвестный ключ {key!r}; возможные: {known}",
                            "en": "[{name}] has an unknown key {key!r}; known: {known}"},
    "mapping.key_table": {"ru": "[{name}] {key} должен быть таблицей вида {{ a = \"b\" }}",
                          "en": "[{name}] {key} must be a table like {{ a = \"b\" }}"},
    "mapping.key_text": {"ru": "[{name}] {key}.{item} должен быть непустой строкой",
                         "en": "[{name}] {key}.{item} must be a non-empty string"},
    "mapping.key_string": {"ru": "[{name}] {key} должен быть строкой",
                           "en": "[{name}] {key} must be a string"},
    "mapping.hook_failed": {"ru": "{where} завершился ошибкой: {what}",
                            "en": "{where} failed: {what}"},
    # --- MODELS_MODULE (app/db/parent_models.py) ----------------------------------------
    "models.no_file": {"ru": "MODELS_MODULE указывает на несуществующий файл: {path}",
                       "en": "MODELS_MODULE points at a file that does not exist: {path}"},
    "models.no_module": {"ru": "MODELS_MODULE={spec!r} не импортируется: {why}",
                         "en": "MODELS_MODULE={spec!r} cannot be imported: {why}"},
    "models.import_failed": {"ru": "Не удаётся импортировать модели из {path}: {why}",
                             "en": "Cannot import models from {path}: {why}"},
    # --- the SQLite lock file (app/db/run_lock.py) ---------------------------------------
    "lock.file_unwritable": {
        "ru": "Не удаётся создать файл блокировки {path}: {why}; папка базы SQLite должна "
              "быть доступна для записи",
        "en": "Cannot create the lock file {path}: {why}; the folder of the SQLite database "
              "must be writable",
    },
}
