"""Texts of why a directory is read in full, and of the notes a read leaves: --check's
"read" lines, a run's table and warnings (app/sync/incremental.py, removals.py, engine.py,
app/bitrix/changes.py). The stored state, the run history, --json and the log keep `.en`."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- how a directory is read (--check's "read" line) -----------------------------------
    "read.full": {"ru": "целиком: {reason}", "en": "full: {reason}"},
    "read.incremental": {
        "ru": "по изменениям: записи, изменённые после прошлого чтения, по полю {field}",
        "en": "incremental: records changed since the last read, by {field}",
    },
    # --- why it is read in full (plan_directory, static_reason) ----------------------------
    "reason.option_full": {"ru": "указан --full", "en": "--full"},
    "reason.full_every_zero": {"ru": "SYNC_FULL_EVERY равен 0", "en": "SYNC_FULL_EVERY is 0"},
    "reason.never_full": {"ru": "полное чтение ещё ни разу не завершилось",
                          "en": "no complete full read recorded yet"},
    "reason.mapping_changed": {"ru": "сопоставление изменилось после прошлого полного чтения",
                               "en": "the mapping changed since the last full read"},
    "reason.full_read_due": {
        "ru": "прошлое полное чтение старше SYNC_FULL_EVERY ({every})",
        "en": "the last full read is older than SYNC_FULL_EVERY ({every})",
    },
    "reason.unstored": {
        "ru": "в прошлый раз не сохранились записи ({count}); справочник читается целиком, "
              "пока они не сохранятся",
        "en": "{count} record(s) could not be stored last time; read in full until they are",
    },
    "reason.no_change_field": {
        "ru": "у {method} нет фильтра по времени изменения, работу которого можно проверить, "
              "поэтому он читается целиком при каждом запуске",
        "en": "{method} has no modification-time filter that can be proved to work, so it is "
              "read in full every run",
    },
    "reason.filter_bounds_id": {
        "ru": "собственный фильтр справочника ограничивает ID или использует LOGIC, поэтому "
              "изменения и удаления нельзя посчитать по ID",
        "en": "its own filter bounds the id or uses LOGIC, so its changes and removals "
              "cannot be counted by id",
    },
    "reason.filter_uses_change": {"ru": "собственный фильтр справочника уже использует {field}",
                                  "en": "its own filter already uses {field}"},
    "reason.active_from_field": {
        "ru": "{active} заполняется из {source}, поэтому записи, которые остаются активными, "
              "нельзя посчитать",
        "en": "{active} is filled from {source}, so the records to keep active cannot "
              "be counted",
    },
    "reason.references_grew": {
        "ru": "некоторые строки ссылаются на записи, которых не было, а в {tables} появились "
              "новые строки",
        "en": "some rows refer to records that were missing, and {tables} got new rows",
    },
    # --- why an incremental read became a full one (the opening batch, the table) ----------
    "reason.no_time": {"ru": "ответ портала не содержал времени",
                       "en": "the portal's answer carried no time"},
    "reason.zone_kept_changing": {
        "ru": "часовой пояс портала или пользователя вебхука менялся раз за разом",
        "en": "the portal's or the webhook user's time zone kept changing",
    },
    "reason.no_zone": {"ru": "портал не сообщил свой часовой пояс (profile)",
                       "en": "the portal did not tell its time zone (profile)"},
    "reason.site_format_unknown": {"ru": "формат дат портала неизвестен",
                                   "en": "the portal's date format is not known"},
    "reason.site_format_failed": {
        "ru": "формат дат портала узнать не удалось (lists.get не выполнился: {error})",
        "en": "the portal's date format could not be learned (lists.get failed: {error})",
    },
    "reason.site_format_unclear": {
        "ru": "формат дат портала узнать не удалось (lists.get не показал ни одного списка "
              "с однозначной датой)",
        "en": "the portal's date format could not be learned (lists.get showed no list with "
              "a clear date)",
    },
    "reason.highest_btxid": {"ru": "не удалось прочитать наибольший btxid таблицы ({error})",
                             "en": "the table's highest btxid could not be read ({error})"},
    "reason.opening_failed": {"ru": "не выполнился начальный пакет запросов ({error})",
                              "en": "the opening batch failed ({error})"},
    "reason.incremental_failed": {"ru": "не удалось чтение по изменениям ({error})",
                                  "en": "the incremental read failed ({error})"},
    "reason.not_filtered": {
        "ru": "{method} не фильтрует по {field} так, как передано: граница на два года вперёд "
              "всё равно совпала с записями ({count})",
        "en": "{method} does not filter by {field} as sent: a bound two years ahead still "
              "matched {count} record(s)",
    },
    "reason.not_a_date": {
        "ru": "{method} не понимает границу {field} как дату: первая посчитанная запись не "
              "нашлась после 2000 года",
        "en": "{method} does not read the {field} bound as a date: the first counted record "
              "was not found after 2000",
    },
    "reason.rows_deleted": {
        "ru": "после прошлого чтения в таблице вне синхронизации удалены строки ({count})",
        "en": "{count} row(s) were deleted in the table outside the sync since the last read",
    },
    "reason.rows_deactivated": {
        "ru": "после прошлого чтения в таблице вне синхронизации деактивированы строки ({count})",
        "en": "{count} row(s) were deactivated in the table outside the sync since the last "
              "read",
    },
    "reason.count_above_table": {
        "ru": "после изменений на портале записей {portal}, а в таблице {table}",
        "en": "after the changes the portal has {portal} records and the table {table}",
    },
    "reason.table_lacks": {
        "ru": "после изменений на портале есть записи под фильтром, которых нет в таблице "
              "({count})",
        "en": "after the changes the portal has {count} record(s) under the filter that the "
              "table lacks",
    },
    # --- how a directory ended (a run's table) ---------------------------------------------
    "outcome.read_incomplete": {
        "ru": "чтение не завершено, ничего не деактивировано: {error}",
        "en": "read incomplete, nothing deactivated: {error}",
    },
    "outcome.unexpected": {
        "ru": "не завершён: непредвиденная ошибка {kind}; изменения откатены",
        "en": "did not finish: unexpected error {kind}; changes rolled back",
    },
    # --- the order of the directories (a run's setup) --------------------------------------
    "order.unknown_dependency": {
        "ru": "справочник {name!r} зависит от {dep!r}, а такого справочника нет ({names})",
        "en": "Directory {name!r} depends on {dep!r}, which is not a known directory ({names})",
    },
    "order.cycle": {"ru": "справочники зависят друг от друга по кругу: {cycle}",
                    "en": "Directories depend on each other in a cycle: {cycle}"},
    # --- notes a read leaves (a run's table, --json's notices in English) ------------------
    "notice.unmatched": {
        "ru": "запись без пригодного ID нельзя сопоставить со строкой, поэтому в этом запуске "
              "ничего не деактивировано",
        "en": "a record without a usable id cannot be matched to its row, so nothing was "
              "deactivated in this run",
    },
}
