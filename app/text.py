"""Plain-text helpers for everything we print: one table renderer, one shortener."""

from __future__ import annotations

import argparse
import unicodedata
from collections.abc import Collection, Sequence

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


class ConsoleArgumentParser(MaskingArgumentParser):
    """argparse in the console's language: our help texts, its own headings and -h too
    (its error messages stay its own English)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(add_help=False, formatter_class=_Formatter, **kwargs)
        self._optionals.title = say("help.options")
        self.add_argument("-h", "--help", action="help", help=say("help.help"))


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None) -> None:
        super().add_usage(usage, actions, groups, prefix=prefix or say("help.usage"))
