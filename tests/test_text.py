"""The one table renderer and the one shortener every printed table and line uses."""

from __future__ import annotations

from app.text import one_line, render_table, shorten


def test_columns_align_left_numbers_right_and_trailing_spaces_go():
    rows = [("name", "count", "note"), ("city", "7", ""), ("category", "12", "ok")]
    assert render_table(rows, right={1}) == [
        "name      count  note",
        "city          7",
        "category     12  ok",
    ]


def test_a_rule_goes_under_the_head_and_the_indent_before_every_line():
    rows = [("id", "status"), ("10", "ok")]
    assert render_table(rows, rule=True, indent="  ") == [
        "  id  status",
        "  --  ------",
        "  10  ok",
    ]


def test_a_cell_with_a_newline_or_a_control_character_cannot_break_the_table():
    assert render_table([("a\nb", "x"), ("c\x1b", "y")]) == ["a b  x", "c    y"]
    assert render_table([]) == []


def test_shorten_makes_one_line_and_cuts_with_dots():
    assert shorten("a  b\n c", 40) == "a b c"
    assert shorten("x" * 12, 10) == "xxxxxxx..."
    assert shorten("x" * 10, 10) == "x" * 10
    assert one_line("\tпривет\x00  мир\r\n") == "привет мир"
