"""What the console says, in one catalog: Russian by default, English with `SYNC_LANG=en`.

Every line a person reads on the console — errors, `fix:`/`next:` hints,
`--check`, `--status`, `--discover`, the demo, the service's start and stop,
Ctrl+C — comes from `CATALOG` through `say()`, so one run speaks one language.
The log file stays English and does not use this module.

Entries are grouped by the screen that shows them; a new text goes into its
screen's group, with both languages. Placeholders use `str.format` names.
"""

from __future__ import annotations

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"

_current = DEFAULT_LANGUAGE


def set_language(code: str) -> None:
    """Switch the console's language for the rest of the process ('ru' or 'en')."""
    global _current
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; expected one of {', '.join(LANGUAGES)}")
    _current = code


def language() -> str:
    """The console's language now."""
    return _current


def say(key: str, /, **values: object) -> str:
    """The text `key` in the console's language, its placeholders filled from `values`."""
    return CATALOG[key][_current].format(**values)


def both(key: str) -> dict[str, str]:
    """Both languages of `key`, unformatted: for tests and the README check."""
    return dict(CATALOG[key])


CATALOG: dict[str, dict[str, str]] = {
    # --- general -----------------------------------------------------------------------
    "interrupted": {
        "ru": "Прервано.",
        "en": "Interrupted.",
    },
    # --- setup problems (a run's exit 2, --check's mapping items) ----------------------
    "mapping_id_field": {
        "ru": "справочник {name!r}: id_field = \"{given}\" — не поле ID метода {method} "
              "(\"{own}\"). Страницы, проверки по ID и подсчёт удалений идут по \"{own}\", "
              "и btxid из другого поля сравнивался бы с чужими номерами. Уберите id_field "
              "({where}): ID найдётся сам; или укажите id_field = \"{own}\"",
        "en": "directory {name!r}: id_field = \"{given}\" is not the id field of {method} "
              "(\"{own}\"). Paging, the by-id checks and the removal counts use \"{own}\", "
              "so a btxid from another field would be compared with other numbers. Remove "
              "id_field ({where}): the id is found by itself; or set id_field = \"{own}\"",
    },
}
