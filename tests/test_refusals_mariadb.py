"""Records the real MariaDB refuses (issue 18 §1): a string too long for its VARCHAR, a number
out of a DECIMAL's range, a NULL into a NOT NULL column. Each record fails alone, named by
directory, btxid and field in the console's language with the cause in words (from the
server's error number, app/db/connect.py RECORD_CAUSES); the rest lands."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from app.testing.seed import DEMO_MAPPING, FINE_PROPERTY, OBJECT_CITY_FIELD
from tests.conftest import write_mapping_toml
from tests.test_first_hour import make_project, run
from tests.test_screens import check_env

pytestmark = pytest.mark.slow

LONG_TITLE = "Город с очень длинным названием"  # 31 characters; the column below holds 20


def narrowed_columns(portal, mysql_url: str) -> dict[str, int]:
    """Columns narrower than the models say (what the tool's own checks cannot know), and one
    record for each to break; returns how many records each directory has."""
    engine = create_engine(mysql_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE cities MODIFY name VARCHAR(20) NOT NULL"))
        conn.execute(text("ALTER TABLE violations MODIFY fine DECIMAL(7,2) NULL"))
        conn.execute(text("ALTER TABLE objects MODIFY address VARCHAR(512) NOT NULL"))
    engine.dispose()
    city = portal.records("crm:1036")[0]["id"]
    portal.add_items(1036, [{"id": 888001, "title": LONG_TITLE}])
    portal.add_elements(52, [{"ID": "91003", "NAME": "Крупный штраф",
                              FINE_PROPERTY: {"1": "1000000.00"}}])
    portal.add_items(1040, [{"id": 888101, "title": "Объект без адреса",
                             OBJECT_CITY_FIELD: city}])
    return {"cities": len(portal.records("crm:1036")),
            "violations": len(portal.records("list:52")),
            "objects": len(portal.records("crm:1040"))}


@pytest.mark.parametrize("language", ["ru", "en"])
def test_records_mariadb_refuses_fail_alone_named_in_the_consoles_language(
        tmp_path, seeded, mysql_url, language):
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", DEMO_MAPPING)
    counts = narrowed_columns(seeded, mysql_url)

    result = run(project, env=check_env(seeded, mysql_url, SYNC_LANG=language))
    as_json = run(project, "--json", env=check_env(seeded, mysql_url, SYNC_LANG=language))

    assert result.returncode == 1, result.stdout + result.stderr
    if language == "ru":
        expected = [
            "city, btxid 888001, name: база данных не приняла запись: значение не помещается в "
            "столбец (Data too long for column 'name' at row 1)",
            "violation, btxid 91003, fine: база данных не приняла запись: значение вне "
            "диапазона столбца (Out of range value for column 'fine' at row 1)",
            "object, btxid 888101, address: база данных не приняла запись: пустое значение в "
            "столбце, который не допускает NULL (Column 'address' cannot be null)",
        ]
        assert "refused" not in result.stdout
    else:
        expected = [
            "city, btxid 888001, name: the database refused the record: the value does not "
            "fit the column (Data too long for column 'name' at row 1)",
            "violation, btxid 91003, fine: the database refused the record: the value is out "
            "of the column's range (Out of range value for column 'fine' at row 1)",
            "object, btxid 888101, address: the database refused the record: an empty value "
            "in a column that does not allow NULL (Column 'address' cannot be null)",
        ]
    for line in expected:
        assert line in result.stdout, result.stdout

    engine = create_engine(mysql_url)
    with engine.connect() as conn:
        stored = {table: conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()
                  for table in counts}
    engine.dispose()
    assert stored == {table: count - 1 for table, count in counts.items()}  # the rest landed
    errors = json.loads(as_json.stdout)["errors"]
    assert {(e["directory"], e["btxid"], e["field"]) for e in errors} == {
        ("city", 888001, "name"), ("violation", 91003, "fine"), ("object", 888101, "address")}
