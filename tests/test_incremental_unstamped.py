"""Incremental runs on a portal that breaks the stamp promise or cuts batches off (issue 16).

Records restored from the recycle bin or imported come back with new ids and old stamps
(app/testing/crm.py has the server's sources); the opening batch reads every record above
the table's highest id, so an ordinary run finds them. A portal that cuts off big batches
costs a few more requests, never a full read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.testing.clock import iso
from app.testing.seed import CITY_ENTITY_TYPE_ID, seed_portal
from tests.conftest import sync
from tests.test_incremental import CITIES, assert_matches_portal, modes, rows, state

OLD = datetime.now(UTC) - timedelta(days=400)


def test_a_delete_and_a_restore_between_two_ordinary_runs(synced, db, db_url, tmp_path,
                                                         mapping):
    """The portal's total stays the same (one gone, one back): both are still noticed."""
    portal = synced
    cities = portal.records(CITIES)
    gone, back = cities[2], cities[4]
    portal.recycle(CITY_ENTITY_TYPE_ID, back["id"])
    second = sync(portal, db_url, tmp_path, mapping, "city")
    assert second.directories["city"].deactivated == 1
    portal.delete_record(CITIES, gone["id"])
    new_id = portal.restore(CITY_ENTITY_TYPE_ID, back["id"])
    assert portal.records(CITIES)[-1]["updatedTime"] == back["updatedTime"]  # its old stamp

    report = sync(portal, db_url, tmp_path, mapping, "city")

    stats = report.directories["city"]
    assert report.ok, report.render_table()
    assert (stats.mode, stats.created, stats.deactivated, stats.fetched) == (
        "incremental", 1, 1, 1)
    assert rows(db, f"SELECT btxid, name, is_active FROM cities WHERE btxid IN "
                    f"({gone['id']}, {back['id']}, {new_id}) ORDER BY btxid") == [
        (gone["id"], gone["title"], False), (back["id"], back["title"], False),
        (new_id, back["title"], True)]
    assert_matches_portal(db, portal, "city")
    assert state(db, "city")["mode"] == "incremental"


@pytest.mark.parametrize("name", ["city", "category", "user"])
def test_a_record_added_with_an_old_stamp_is_created_next_run(synced, db, db_url, tmp_path,
                                                              mapping, name):
    """crm.item.import sets updatedTime (the server's behaviour, crm.py). For a list element
    or a user no such path is known, but the read by id does not depend on the stamp: an
    element or user stored with an old TIMESTAMP_X proves it for those kinds too."""
    portal = synced
    if name == "city":
        [new_id] = portal.import_items(CITY_ENTITY_TYPE_ID, [
            {"title": "Импортированный город", "createdTime": iso(OLD.timestamp()),
             "updatedTime": iso(OLD.timestamp())}])
        table, column = "cities", "name"
    elif name == "category":
        [new_id] = portal.add_elements(48, [{"NAME": "Импортированная категория",
                                             "TIMESTAMP_X": OLD.timestamp()}])
        table, column = "violation_categories", "name"
    else:
        [new_id] = portal.add_users([{"NAME": "Импортированный", "LAST_NAME": "Сотрудник",
                                      "TIMESTAMP_X": OLD.timestamp()}])
        table, column = "users", "first_name"

    report = sync(portal, db_url, tmp_path, mapping)

    stats = report.directories[name]
    assert report.ok, report.render_table()
    assert set(modes(report).values()) == {"incremental"}
    assert (stats.created, stats.updated, stats.deactivated) == (1, 0, 0)
    assert rows(db, f"SELECT {column}, is_active FROM {table} WHERE btxid = {new_id}") == [
        (portal.records(TABLE_COLLECTIONS[name])[-1][NAME_FIELDS[name]], True)]
    assert_matches_portal(db, portal, name)
    # Other directories read nothing: the records above their highest id are none.
    assert sum(d.fetched for n, d in report.directories.items() if n != name) == 0


TABLE_COLLECTIONS = {"city": CITIES, "category": "list:48", "user": "user"}
NAME_FIELDS = {"city": "title", "category": "NAME", "user": "NAME"}


def test_cut_off_batches_do_not_cost_the_next_run_a_full_read(portal, db, db_url, tmp_path,
                                                              mapping):
    """A full read whose chain batches are cut off still keeps its start (read_at), and the
    opening batch (26 commands for five directories) is sent again in halves."""
    seed_portal(portal, cities=1500)  # 30 pages: a chain batch of more than 20 commands
    portal.cut_off_batches(more_than=20)
    first = sync(portal, db_url, tmp_path, mapping)
    assert first.ok and set(modes(first).values()) == {"full"}
    assert any(r.method == "batch" and r.status == 504 for r in portal.requests)
    assert state(db, "city")["read_at"] is not None
    started = len(portal.requests)

    second = sync(portal, db_url, tmp_path, mapping)

    assert second.ok, second.render_table()
    assert set(modes(second).values()) == {"incremental"}
    assert second.totals["fetched"] == 0 and second.totals["deactivated"] == 0
    for name in second.directories:
        assert state(db, name)["mode"] == "incremental", name
    sent = portal.requests[started:]
    # One batch learns the zone and the date format, the opening is cut off once and sent
    # again as two halves: a handful of requests, not a full read of 1,500 cities.
    assert len(sent) <= 5, [(r.method, r.status) for r in sent]
    assert [r.status for r in sent].count(504) == 1
    assert_matches_portal(db, portal, "city")


def test_one_directory_whose_opening_commands_are_always_cut_off_is_read_in_full(
        synced, db, db_url, tmp_path, mapping):
    """Its five commands alone are too heavy for the portal (a change query on a big list):
    that directory is read in full, the others incrementally, and the run goes on. The
    client's own retries would have taken the portal for down and ended the run."""
    portal = synced
    violations = portal.records("list:52")
    portal.update_record("list:52", int(violations[1]["ID"]), NAME="Изменено")

    def heavy(params) -> bool:  # the violations' change query is in this batch
        return any(command.startswith("lists.element.get?") and "IBLOCK_ID=52" in command
                   and "TIMESTAMP_X" in command for command in params.get("cmd", {}).values())

    portal.cut_off_batches(when=heavy)

    report = sync(portal, db_url, tmp_path, mapping, env={"BITRIX_MAX_RETRIES": "1"})

    assert report.ok, report.render_table()
    assert modes(report) == {**dict.fromkeys(TABLE_NAMES, "incremental"), "violation": "full"}
    assert "the incremental read failed" in report.directories["violation"].mode_reason
    assert report.directories["violation"].updated == 1
    assert rows(db, f"SELECT name FROM violations WHERE btxid = {violations[1]['ID']}") == [
        ("Изменено",)]
    assert_matches_portal(db, portal, "violation")
    assert state(db, "violation")["mode"] == "full"


TABLE_NAMES = ("city", "object", "category", "violation", "user")
