"""Texts of a run's warnings under its table: a mapped field no record carried."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- report warnings (a run's table; app/report.py, app/sync/records.py) ---------------
    "table.status_ok_with_warnings": {"ru": "ок_с_предупреждениями", "en": "ok_with_warnings"},
    "report.absent_field": {
        "ru": "предупреждение: {directory}: поля {field} (-> {column}) не было ни в одной из "
              "прочитанных записей ({fetched}), поэтому {column} получает пустое значение; "
              "проверьте имя поля в сопоставлении: `python cli.py --check`",
        "en": "warning: {directory}: the field {field} (-> {column}) was in none of the "
              "{fetched} records read, so {column} gets an empty value; check the field's "
              "name in the mapping: `python cli.py --check`",
    },
}
