"""What the console says, in one catalog: Russian by default, English with `SYNC_LANG=en`.

Every line a person reads on the console — errors, fix and next hints,
`--check`, `--status`, `--discover`, the demo, the service's start and stop,
Ctrl+C — comes from `CATALOG` through `say()`, so one run speaks one language.
The log file stays English: a log record whose message is a catalog text (`Said`)
reaches the console in the console's language and the log file in English.

Entries are grouped by the screen that shows them; a new text goes into its
screen's group, with both languages. Placeholders use `str.format` names. The
larger groups live in app/catalog/ (one module per subject) and are merged in
below; a key is defined once (tests/test_voice.py checks).
"""

from __future__ import annotations

from app.catalog import (
    benchmark,
    check,
    commands,
    database,
    discover,
    logs,
    mapping_files,
    options,
    portal,
    reading,
    reasons,
    records,
    run,
    run_warnings,
    service,
    settings,
    startup,
)

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


def say(key: str, /, **values: object) -> Said:
    """The text `key` in the console's language, its placeholders filled from `values`.

    The result also carries its English wording (`.en`), so the log file can stay
    English while the console speaks the console's language, and its wording in every
    language (`.words`), so what is kept (the run history) can be said again in another.
    """
    words = {code: CATALOG[key][code].format(
        **{name: in_language(value, code) for name, value in values.items()})
        for code in LANGUAGES}
    return Said(words[_current], words["en"], words)


class Said(str):
    """A console text that remembers its English wording (`en`) for the log file and its
    wording in every language (`words`); joining two keeps both (`say(a) + say(b)`,
    `say(a) + "text"`)."""

    en: str
    words: dict[str, str]

    def __new__(cls, text: str, en: str | None = None,
                words: dict[str, str] | None = None) -> Said:
        said = super().__new__(cls, text)
        said.en = text if en is None else en
        # Without a wording per language (e.g. one of our errors' texts): the console's
        # text stands for every language but English.
        said.words = {code: (words or {}).get(code, said.en if code == "en" else text)
                      for code in LANGUAGES}
        return said

    def __add__(self, other: str) -> Said:
        return Said(str(self) + other, self.en + getattr(other, "en", other),
                    {code: self.words[code] + in_language(other, code) for code in LANGUAGES})

    def __radd__(self, other: str) -> Said:
        return Said(other + str(self), getattr(other, "en", other) + self.en,
                    {code: in_language(other, code) + self.words[code] for code in LANGUAGES})

    def join(self, parts) -> Said:  # type: ignore[override]
        parts = list(parts)
        return Said(str.join(self, parts), self.en.join(getattr(p, "en", p) for p in parts),
                    {code: self.words[code].join(str(in_language(p, code)) for p in parts)
                     for code in LANGUAGES})


def in_language(value: object, code: str) -> object:
    """`value`'s wording in the language `code`: a `Said`'s own; the English of anything
    with an `.en` for "en"; otherwise the value itself."""
    words = getattr(value, "words", None)
    if isinstance(words, dict) and code in words:
        return words[code]
    return getattr(value, "en", value) if code == "en" else value


def now_said(text: str) -> str:
    """`text` in the console's language as it is now: a `Said` made before the language
    was known (while the .env files were read), or kept in the history, is said again."""
    return str(in_language(text, _current))


def english(text: str | None) -> str | None:
    """The English wording of a console text (a `Said` or an error's message) for what is
    kept: --json, the run history, the log file; other text as it is."""
    return getattr(text, "en", text)


def both(key: str) -> dict[str, str]:
    """Both languages of `key`, unformatted: for tests and the README check."""
    return dict(CATALOG[key])


def normal_language(raw: str | None) -> str | None:
    """'RU ' -> 'ru'; None when `raw` names no language of the catalog (empty: the default)."""
    code = (raw or "").strip().lower() or DEFAULT_LANGUAGE
    return code if code in LANGUAGES else None


CATALOG: dict[str, dict[str, str]] = {
    # --- general -----------------------------------------------------------------------
    "error": {
        "ru": "ошибка: {text}",
        "en": "error: {text}",
    },
    "warning": {
        "ru": "предупреждение: {text}",
        "en": "warning: {text}",
    },
    "interrupted": {
        "ru": "Прервано.",
        "en": "Interrupted.",
    },
    "unexpected": {
        "ru": "Непредвиденная ошибка: {what} (подробности — с --verbose)",
        "en": "Unexpected error: {what} (run with --verbose for the traceback)",
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

GROUPS = (startup, settings, run, run_warnings, commands, check, discover, database, portal,
          reading, service, options, logs, benchmark, reasons,
          records, mapping_files)
for _group in GROUPS:
    _twice = CATALOG.keys() & _group.TEXTS.keys()
    if _twice:  # one text per key: a second definition would silently win
        raise RuntimeError(f"catalog keys defined twice: {', '.join(sorted(_twice))}")
    CATALOG.update(_group.TEXTS)
