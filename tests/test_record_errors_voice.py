"""A record that fails alone is named by directory, btxid and field in the console's language
(issue 18 §1): Russian by default, English with SYNC_LANG=en; --json and the log file keep
the English wording, and the other records land."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from app.testing.seed import DEMO_MAPPING, FINE_PROPERTY
from tests.conftest import write_mapping_toml
from tests.test_first_hour import make_project, run
from tests.test_screens import check_env

pytestmark = pytest.mark.slow

TOO_LONG = "Ж" * 256


def broken_portal(portal, db_url: str) -> int:
    """Three broken records: a city name too long for its column, text in the number field
    of a violation, and a city whose name a unique index refuses; returns the cities' count."""
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE UNIQUE INDEX uq_city_name ON cities (name)"))
    engine.dispose()
    first = portal.records("crm:1036")[0]
    portal.add_items(1036, [{"id": 777001, "title": TOO_LONG},
                            {"id": 777002, "title": first["title"]}])
    portal.add_elements(52, [{"ID": "91002", "NAME": "Штраф", FINE_PROPERTY: {"1": "много"}}])
    return len(portal.records("crm:1036"))


def test_a_broken_record_is_named_in_the_consoles_language_and_the_rest_land(
        tmp_path, seeded, sqlite_url):
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", DEMO_MAPPING)
    cities = broken_portal(seeded, sqlite_url)
    log_file = tmp_path / "sync.log"

    dry = run(project, "--dry-run", "--verbose", env=check_env(seeded, sqlite_url))
    russian = run(project, env=check_env(seeded, sqlite_url, LOG_FILE=str(log_file)))
    english = run(project, env=check_env(seeded, sqlite_url, SYNC_LANG="en"))
    as_json = run(project, "--json", env=check_env(seeded, sqlite_url))

    assert russian.returncode == english.returncode == as_json.returncode == 1, russian.stdout
    assert ("city, btxid 777001, name: name (из title): значение слишком длинное "
            "(256 символов; столбец вмещает 255)") in russian.stdout
    assert (f"violation, btxid 91002, fine: fine (из {FINE_PROPERTY}): значение не число: "
            "'много'") in russian.stdout
    assert ("city, btxid 777002, name: база данных не приняла запись: такое значение уже есть "
            "в другой строке, а столбец уникален (UNIQUE constraint failed: cities.name)"
            ) in russian.stdout
    for english_words in ("is too long", "is not a number", "refused", "from title"):
        assert english_words not in russian.stdout
    assert "city, btxid 777001, name: name (из title): значение слишком длинное" in dry.stdout

    assert ("city, btxid 777001, name: name (from title) is too long (256 characters; "
            "the column holds 255)") in english.stdout
    assert (f"violation, btxid 91002, fine: fine (from {FINE_PROPERTY}) is not a number: "
            "'много'") in english.stdout
    assert ("city, btxid 777002, name: the database refused the record: the value is already "
            "in another row of a unique column (UNIQUE constraint failed: cities.name)"
            ) in english.stdout
    assert "значение" not in english.stdout and "из title" not in english.stdout

    report = json.loads(as_json.stdout)
    assert {(e["directory"], e["btxid"], e["field"], e["message"]) for e in report["errors"]} == {
        ("city", 777001, "name",
         "name (from title) is too long (256 characters; the column holds 255)"),
        ("violation", 91002, "fine", f"fine (from {FINE_PROPERTY}) is not a number: 'много'"),
        ("city", 777002, "name", "the database refused the record: the value is already in "
                                 "another row of a unique column (UNIQUE constraint failed: "
                                 "cities.name)")}
    log = log_file.read_text(encoding="utf-8")
    assert "city btxid 777001: name (from title) is too long" in log
    assert "значение" not in log and "не приняла" not in log

    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT COUNT(*) FROM cities")).scalar()
        fines = conn.execute(text("SELECT COUNT(*) FROM violations")).scalar()
        history = [row[0] for row in conn.execute(text(
            "SELECT error FROM bitrix_sync_runs ORDER BY id"))]
    engine.dispose()
    assert stored == cities - 2  # every city but the two broken ones landed
    assert fines == len(seeded.records("list:52")) - 1
    assert report["directories"]["object"]["errors"] == 0
    # The run history keeps English, whatever language the console spoke.
    assert history and all("record error(s), the first: city btxid 777001: name (from title) "
                           "is too long" in error for error in history), history
