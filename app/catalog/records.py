"""Texts of a record that fails alone — named by directory, btxid and field — in a run's
table, the list under it and --dry-run --verbose (app/sync/values.py, records.py, writer.py).
--json, the run history and the log file keep `.en`."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- a value that cannot go into its column (app/sync/values.py) -----------------------
    "value.empty_not_null": {"ru": "пустое, а столбец не допускает NULL",
                             "en": "is empty, but the column does not allow NULL"},
    "value.several": {"ru": "содержит несколько ({value!r}), а столбец хранит одно",
                      "en": "has several values {value!r}, but the column holds one"},
    "value.too_long": {
        "ru": "слишком длинное ({length} символов; столбец вмещает {most})",
        "en": "is too long ({length} characters; the column holds {most})",
    },
    "value.not_yes_no": {"ru": "не значение да/нет: {value!r}",
                         "en": "is not a yes/no value: {value!r}"},
    "value.not_whole": {"ru": "не целое число: {value!r}",
                        "en": "is not a whole number: {value!r}"},
    "value.not_number": {"ru": "не число: {value!r}", "en": "is not a number: {value!r}"},
    "value.out_of_range": {"ru": "вне диапазона NUMERIC({precision},{scale}): {value!r}",
                           "en": "is out of range for NUMERIC({precision},{scale}): {value!r}"},
    "value.not_date": {"ru": "не дата: {value!r}", "en": "is not a date: {value!r}"},
    # --- a record that cannot be converted (app/sync/records.py) ---------------------------
    "record.no_id": {
        "ru": "нет пригодного ID в поле {field!r} ({value!r}); запись не сохранена",
        "en": "has no usable id in field {field!r} ({value!r}); the record was not stored",
    },
    "record.value": {"ru": "{column} (из {field}): значение {problem}",
                     "en": "{column} (from {field}) {problem}"},
    # --- a record the database refused (app/sync/writer.py) --------------------------------
    "record.refused": {"ru": "база данных не приняла запись: {why}",
                       "en": "the database refused the record: {why}"},
    "record.db_null": {"ru": "пустое значение в столбце, который не допускает NULL ({detail})",
                       "en": "an empty value in a column that does not allow NULL ({detail})"},
    "record.db_duplicate": {
        "ru": "такое значение уже есть в другой строке, а столбец уникален ({detail})",
        "en": "the value is already in another row of a unique column ({detail})",
    },
    "record.db_row_size": {"ru": "строка больше, чем допускает таблица ({detail})",
                           "en": "the row is larger than the table allows ({detail})"},
    "record.db_out_of_range": {"ru": "значение вне диапазона столбца ({detail})",
                               "en": "the value is out of the column's range ({detail})"},
    "record.db_too_long": {"ru": "значение не помещается в столбец ({detail})",
                           "en": "the value does not fit the column ({detail})"},
    "record.db_date": {"ru": "неверная дата или время ({detail})",
                       "en": "an incorrect date or time ({detail})"},
    "record.db_bad_value": {"ru": "столбец не принимает такое значение ({detail})",
                            "en": "the column does not accept the value ({detail})"},
    "record.db_no_default": {
        "ru": "столбец не заполнен, а значения по умолчанию у него нет ({detail})",
        "en": "the column is not filled and has no default value ({detail})",
    },
    "record.db_foreign_key": {"ru": "ссылка на строку, которой нет, или на которую ссылаются "
                                    "другие ({detail})",
                              "en": "a reference to a row that is not there, or one others "
                                    "refer to ({detail})"},
    "record.db_constraint": {"ru": "значение нарушает ограничение таблицы ({detail})",
                             "en": "the value breaks a constraint of the table ({detail})"},
    "record.db_other": {"ru": "ответ сервера: {detail}", "en": "the server said: {detail}"},
}
