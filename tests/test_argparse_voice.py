"""argparse's own words — usage, its errors, -h's headings — in the console's language
(issue 18 §1), for cli.py and service.py; a wrong argument still exits 2."""

from __future__ import annotations

import pytest

from tests.test_voice import assert_english, run

RUSSIAN_ERRORS = [
    (("cli.py", "--bogus"), "python cli.py: ошибка: неизвестные аргументы: --bogus"),
    (("service.py", "--bogus"), "python service.py: ошибка: неизвестные аргументы: --bogus"),
    (("cli.py", "--sync", "nope"), "python cli.py: ошибка: аргумент --sync: недопустимое "
                                   "значение: 'nope' (возможные: 'city', 'category', "
                                   "'object', 'violation', 'user')"),
    (("cli.py", "--write"), "python cli.py: ошибка: аргумент --write: нужно одно значение"),
    (("cli.py", "--entity-type-id", "q"), "python cli.py: ошибка: аргумент --entity-type-id: "
                                          "недопустимое значение (int): 'q'"),
    (("cli.py", "--status", "--max-age", "x"),
     "python cli.py: ошибка: аргумент --max-age: 'x' — не возраст: нужно положительное число "
     "с единицей s, m, h или d, например 26h"),
]


@pytest.mark.parametrize(("argv", "said"), RUSSIAN_ERRORS, ids=lambda v: " ".join(v)[:30])
def test_a_wrong_argument_is_told_in_russian_with_exit_2(argv, said):
    result = run(*argv)

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"запуск: python {argv[0]} [-h]")
    assert lines[-1] == said
    for english in ("usage:", "error:", "unrecognized", "argument", "invalid", "expected",
                    "is not an age"):
        assert english not in result.stderr


@pytest.mark.parametrize("argv", [argv for argv, _ in RUSSIAN_ERRORS],
                         ids=lambda v: " ".join(v)[:30])
def test_a_wrong_argument_is_told_in_english_with_sync_lang_en(argv):
    result = run(*argv, language="en")

    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: python {argv[0]} [-h]")
    assert f"python {argv[0]}: error: " in result.stderr
    assert_english(result.stderr)


@pytest.mark.parametrize("script", ["cli.py", "service.py"])
def test_help_has_no_english_heading_on_a_russian_console(script):
    result = run(script, "--help")

    assert result.returncode == 0
    assert result.stdout.startswith(f"запуск: python {script}")
    assert "\nпараметры:\n" in result.stdout
    assert "  -h, --help" in result.stdout and "показать эту справку и выйти" in result.stdout
    for english in ("usage:", "options:", "show this help message"):
        assert english not in result.stdout
