"""Plain-text helpers for everything we print: one table renderer, one shortener."""

from __future__ import annotations

import argparse
import contextlib
import unicodedata
from collections.abc import Collection, Iterator, Sequence

from app.masking import MaskingArgumentParser
from app.messages import say


def one_line(text: str) -> str:
    """Whitespace runs as one space, control characters dropped: safe in a table or a comment."""
    return "".join(ch for ch in " ".join(text.split()) if unicodedata.category(ch) != "Cc")


def shorten(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with '...' when longer."""
    text = one_line(text)
    return text if len(text) <= width else text[:width - 3] + "..."


def render_table(rows: Sequence[Sequence[str]], *, right: Collection[int] = (),
                 rule: bool = False, indent: str = "") -> list[str]:
    """Aligned columns two spaces apart, one line per row, trailing spaces trimmed.

    Columns are left-aligned but for the indexes in `right` (numbers); `rule`
    puts a line of dashes under the first row (the head). Cells are made one
    line each, so a stray newline cannot break the table.
    """
    if not rows:
        return []
    cells = [[one_line(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]

    def line(row: list[str]) -> str:
        return (indent + "  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                                   for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                ).rstrip()

    lines = [line(row) for row in cells]
    if rule:
        lines.insert(1, indent + "  ".join("-" * w for w in widths))
    return lines


# argparse's own words (its gettext msgids) -> catalog keys.
_ARGPARSE_WORDS = {
    "%(prog)s: error: %(message)s\n": "argparse.error",
    "unrecognized arguments: %s": "argparse.unrecognized",
    "the following arguments are required: %s": "argparse.required",
    "one of the arguments %s is required": "argparse.one_required",
    "argument %(argument_name)s: %(message)s": "argparse.argument",
    "invalid choice: %(value)r (choose from %(choices)s)": "argparse.invalid_choice",
    "invalid %(type)s value: %(value)r": "argparse.invalid_value",
    "expected one argument": "argparse.expected_one",
    "expected at most one argument": "argparse.expected_at_most_one",
    "expected at least one argument": "argparse.expected_at_least_one",
    "expected %s argument": "argparse.expected_n",
    "expected %s arguments": "argparse.expected_n",
    "ambiguous option: %(option)s could match %(matches)s": "argparse.ambiguous",
    "ignored explicit argument %r": "argparse.explicit",
    "not allowed with argument %s": "argparse.not_allowed",
    "positional arguments": "argparse.positional",
    "usage: ": "help.usage",
    "options": "help.options",
    "show this help message and exit": "help.help",
}


@contextlib.contextmanager
def _argparse_in_console_language() -> Iterator[None]:
    """argparse looks its words up through gettext at the moment it says them (the module's
    `_` and `ngettext`); while our parser parses or prints, they come from the catalog."""
    saved = argparse._, argparse.ngettext

    def words(text: str) -> str:
        key = _ARGPARSE_WORDS.get(text)
        return str(say(key)) if key else saved[0](text)

    argparse._ = words  # type: ignore[attr-defined]
    argparse.ngettext = lambda one, many, n: words(one if n == 1 else many)  # type: ignore
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


class ConsoleArgumentParser(MaskingArgumentParser):
    """argparse in the console's language: our help texts, its own headings, -h and its
    error messages too (exit code 2 as always)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(add_help=False, formatter_class=_Formatter, **kwargs)
        self._optionals.title = say("help.options")
        self._positionals.title = say("argparse.positional")
        self.add_argument("-h", "--help", action="help", help=say("help.help"))

    def parse_args(self, args=None, namespace=None):
        with _argparse_in_console_language():
            return super().parse_args(args, namespace)

    def parse_known_args(self, args=None, namespace=None):
        with _argparse_in_console_language():
            return super().parse_known_args(args, namespace)

    def error(self, message: str):  # type: ignore[override]
        with _argparse_in_console_language():
            super().error(message)

    def format_help(self) -> str:
        with _argparse_in_console_language():
            return super().format_help()

    def format_usage(self) -> str:
        with _argparse_in_console_language():
            return super().format_usage()


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None) -> None:
        super().add_usage(usage, actions, groups, prefix=prefix or say("help.usage"))
