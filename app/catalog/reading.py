"""Texts about reading a list page by page and counting removed records: a read that
came back incomplete (app/bitrix/paging/, app/bitrix/reconcile.py)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- a list read page by page (app/bitrix/client.py, app/bitrix/paging/) -------------
    "reading.short": {
        "ru": "{method} вернул {read} строк, а сообщил о {total}; чтение неполное",
        "en": "{method} returned {read} rows but reported {total}; the read is incomplete",
    },
    "reading.short_after_short_page": {
        "ru": "{method} вернул {read} строк, а сообщил о {total}, и после неполной страницы "
              "строки ещё остались; чтение неполное",
        "en": "{method} returned {read} rows but reported {total}, and rows remain after a "
              "page that came back short; the read is incomplete",
    },
    "reading.filter_ignored": {
        "ru": "{method} не учёл фильтр по ID (пришёл ID {first} после {after}); чтение не "
              "может продолжиться",
        "en": "{method} ignored the id filter (got id {first} after {after}); the read "
              "cannot go on",
    },
    "reading.no_usable_id": {
        "ru": "{method} вернул страницу из {count} строк без пригодного {field} ({value}, "
              "...); дальше неё чтение продолжиться не может",
        "en": "{method} returned a page of {count} rows without a usable {field} ({value}, "
              "...); the read cannot go on past it",
    },
    "reading.batch_stopped": {
        "ru": "(команда {label}; batch остановился раньше неё)",
        "en": "(command {label}; the batch stopped before it)",
    },
    "reading.start_in_batch": {"ru": "start={start} в batch", "en": "start={start} in a batch"},
    "reading.confirming_end": {"ru": "при проверке конца списка",
                               "en": "while confirming the end of the list"},
    "reading.confirming_removed": {"ru": "при проверке записей к деактивации",
                                   "en": "while confirming records to deactivate"},
    # --- counting records to find removed ones (app/bitrix/reconcile.py) -----------------
    "reading.counting_removed": {"ru": "при подсчёте записей для поиска удалённых",
                                 "en": "while counting records to find removed ones"},
    "reading.range_short": {
        "ru": "{method} насчитал {count} записей в диапазоне ID, а вернул {read}; удалённые "
              "записи не отличить",
        "en": "{method} counted {count} records in an id range but returned {read}; the "
              "removed ones cannot be told apart",
    },
    "reading.no_total": {
        "ru": "{method} не дал total для страницы из {count} записей, поэтому её записи "
              "не посчитать",
        "en": "{method} gave no total for a page of {count} records, so its records cannot "
              "be counted",
    },
}
