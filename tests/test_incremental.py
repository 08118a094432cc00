"""Incremental re-syncs against the fake portal: only what changed is read, nothing is missed."""

from __future__ import annotations

import random
import socket
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from app.db.sync_state import load_states
from app.report import DirectoryStatus
from app.testing.clock import iso
from app.testing.seed import seed_portal
from tests.conftest import sync

CITIES, OBJECTS, CATEGORIES, VIOLATIONS = "crm:1036", "crm:1040", "list:48", "list:52"
TABLES = {"city": ("cities", CITIES, "title", "id"),
          "object": ("objects", OBJECTS, "title", "id"),
          "category": ("violation_categories", CATEGORIES, "NAME", "ID"),
          "violation": ("violations", VIOLATIONS, "NAME", "ID"),
          "user": ("users", "user", "NAME", "ID")}


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def state(engine, directory: str) -> dict | None:
    """The directory's row of bitrix_sync_state, as the sync reads it (times aware UTC)."""
    with engine.connect() as conn:
        found = load_states(conn).get(directory)
    return None if found is None else {**found.to_dict(), "read_at": found.read_at,
                                       "full_read_at": found.full_read_at}


def assert_matches_portal(engine, portal, name: str) -> None:
    """The table holds exactly the portal's records (and their active flags), by name;
    rows of records removed from the portal are inactive."""
    table, collection, field, key = TABLES[name]
    column = "first_name" if name == "user" else "name"
    records = portal.records(collection)
    expected = sorted((int(r[key]), r[field] or None, r.get("ACTIVE", True)) for r in records)
    ids = {row[0] for row in expected}
    local = sorted((b, n, bool(a)) for b, n, a in rows(
        engine, f"SELECT btxid, {column}, is_active FROM {table}") if b in ids or a)
    assert local == expected


def modes(report) -> dict[str, str]:
    return {name: d.mode for name, d in report.directories.items()}


def test_updates_additions_and_removals_between_runs(synced, db, db_url, tmp_path, mapping):
    portal = synced
    changed = {}
    for name, (_, collection, field, key) in TABLES.items():
        first, second = portal.records(collection)[1:3]
        portal.update_record(collection, int(first[key]), **{field: f"{first[field]} (изм.)"})
        portal.delete_record(collection, int(second[key]))
        changed[name] = int(second[key])
    portal.add_items(1036, [{"title": "Великий Новгород"}])
    portal.add_elements(48, [{"NAME": "Новая категория"}])
    portal.add_users([{"NAME": "Новый", "LAST_NAME": "Сотрудник"}])
    started = len(portal.requests)

    report = sync(portal, db_url, tmp_path, mapping)

    assert report.ok, report.render_table()
    assert set(modes(report).values()) == {"incremental"}
    for name in TABLES:
        stats = report.directories[name]
        added = 1 if name in ("city", "category", "user") else 0
        assert (stats.updated, stats.created) == (1, added), name
        assert stats.fetched == 1 + added, name  # only what changed was read
        assert_matches_portal(db, portal, name)
    for name in ("city", "object", "category", "violation"):
        assert report.directories[name].deactivated == 1, name
        assert rows(db, f"SELECT is_active FROM {TABLES[name][0]} WHERE btxid = "
                        f"{changed[name]}") == [(False,)]
    # user.get never loses a user (fired ones stay, ACTIVE=false): one deleted is deactivated.
    assert rows(db, f"SELECT is_active FROM users WHERE btxid = {changed['user']}") == [(False,)]
    assert len(portal.requests) - started <= 10


def test_a_no_op_resync_takes_one_or_two_requests(synced, db, db_url, tmp_path, mapping):
    portal = synced
    before = len(portal.requests)
    second = sync(portal, db_url, tmp_path, mapping)
    middle = len(portal.requests)
    third = sync(portal, db_url, tmp_path, mapping)

    for report in (second, third):
        assert report.ok and set(modes(report).values()) == {"incremental"}
        assert report.totals["fetched"] == 0 and report.totals["deactivated"] == 0
    # The first incremental run learns the portal's zone and date format; later ones do not.
    assert middle - before <= 2
    assert len(portal.requests) - middle == 1


@pytest.mark.parametrize("offset", [-600, 600], ids=["portal-behind", "portal-ahead"])
def test_the_watermark_is_the_portals_clock(portal, db, db_url, tmp_path, mapping, offset):
    portal.clock_offset = offset
    seed_portal(portal)
    env = {"SYNC_INCREMENTAL_OVERLAP": "1m"}
    early, late = portal.records(CITIES)[:2]
    # Changed five minutes (by the portal's clock) before the first run: that run reads it.
    portal.update_record(CITIES, early["id"], touch=False, title="Пять минут назад",
                         updatedTime=iso(time.time() + offset - 300))
    assert sync(portal, db_url, tmp_path, mapping, "city", env=env).ok
    portal.update_record(CITIES, late["id"], title="Сразу после")

    report = sync(portal, db_url, tmp_path, mapping, "city", env=env)

    # Behind: our clock's watermark would be 9 minutes past the change, and miss it.
    # Ahead: our clock's would start 11 minutes back and read the older change again.
    stats = report.directories["city"]
    assert (stats.mode, stats.fetched, stats.updated) == ("incremental", 1, 1)
    assert_matches_portal(db, portal, "city")


def test_a_record_changed_during_the_read_is_read_next_time(portal, db, db_url, tmp_path,
                                                            mapping):
    seed_portal(portal, cities=300)
    cities = portal.records(CITIES)
    calls = []

    def change_an_early_page(original):
        def hooked(params):
            answer = original(params)
            calls.append(1)
            if len(calls) == 3:  # a later page of the full read; cities[0] was on the first
                portal.update_record(CITIES, cities[0]["id"], title="Изменён во время чтения")
            return answer
        return hooked

    undo = portal.hook("crm.item.list", change_an_early_page)
    assert sync(portal, db_url, tmp_path, mapping, "city").ok
    undo()
    assert rows(db, f"SELECT name FROM cities WHERE btxid = {cities[0]['id']}") == [
        (cities[0]["title"],)]

    report = sync(portal, db_url, tmp_path, mapping, "city")

    assert (report.directories["city"].mode, report.directories["city"].updated) == (
        "incremental", 1)
    assert_matches_portal(db, portal, "city")


def test_a_record_moved_out_of_the_filter_counts_as_removed(seeded, db, db_url, tmp_path,
                                                           mapping):
    mapping["city"]["params"]["filter"] = {"ufCrm3_1709124411": "Москва"}
    moscow = [c for c in seeded.records(CITIES) if c["ufCrm3_1709124411"] == "Москва"]
    assert len(moscow) >= 1
    extra = [c for c in seeded.records(CITIES) if c["ufCrm3_1709124411"] != "Москва"][:2]
    for city in extra:
        seeded.update_record(CITIES, city["id"], ufCrm3_1709124411="Москва")
    assert sync(seeded, db_url, tmp_path, mapping, "city").ok
    moved = extra[0]
    seeded.update_record(CITIES, moved["id"], ufCrm3_1709124411="Тверская область")

    report = sync(seeded, db_url, tmp_path, mapping, "city")

    stats = report.directories["city"]  # (what changed within the overlap is read again)
    assert (stats.mode, stats.updated, stats.deactivated) == ("incremental", 0, 1)
    assert rows(db, f"SELECT is_active FROM cities WHERE btxid = {moved['id']}") == [(False,)]
    assert rows(db, "SELECT COUNT(*) FROM cities WHERE is_active") == [(len(moscow) + 1,)]


def test_an_empty_incremental_answer_meets_the_mass_deactivation_guard(synced, db, db_url,
                                                                       tmp_path, mapping):
    portal = synced
    watermark = state(db, "category")["read_at"]
    for element in portal.records(CATEGORIES):
        portal.delete_record(CATEGORIES, int(element["ID"]))

    refused = sync(portal, db_url, tmp_path, mapping, "category")

    stats = refused.directories["category"]
    assert (stats.mode, stats.status, stats.deactivated) == (
        "incremental", DirectoryStatus.FAILED, 0)
    assert "--allow-mass-deactivation" in stats.message
    assert rows(db, "SELECT COUNT(*) FROM violation_categories WHERE NOT is_active") == [(0,)]
    assert state(db, "category")["read_at"] == watermark

    allowed = sync(portal, db_url, tmp_path, mapping, "category", allow_mass_deactivation=True)

    assert allowed.directories["category"].deactivated == 6
    assert rows(db, "SELECT COUNT(*) FROM violation_categories WHERE is_active") == [(0,)]


def test_a_changed_mapping_forces_a_full_read(synced, db, db_url, tmp_path, mapping):
    mapping["city"]["params"]["useOriginalUfNames"] = "N"  # another parameter, same records
    report = sync(synced, db_url, tmp_path, mapping, "city", "category")

    assert modes(report) == {"city": "full", "category": "incremental"}
    assert report.directories["city"].mode_reason == "the mapping changed since the last full read"
    assert report.directories["city"].fetched == len(synced.records(CITIES))
    again = sync(synced, db_url, tmp_path, mapping, "city")
    assert modes(again) == {"city": "incremental"}


def test_full_catches_a_change_the_portal_did_not_stamp(synced, db, db_url, tmp_path, mapping):
    portal = synced
    element = portal.records(VIOLATIONS)[3]
    portal.update_record(VIOLATIONS, int(element["ID"]), touch=False, NAME="Без отметки")

    unseen = sync(portal, db_url, tmp_path, mapping, "violation")
    assert (unseen.directories["violation"].mode, unseen.directories["violation"].fetched) == (
        "incremental", 0)
    assert rows(db, f"SELECT name FROM violations WHERE btxid = {element['ID']}") == [
        (element["NAME"],)]

    full = sync(portal, db_url, tmp_path, mapping, "violation", full=True)

    stats = full.directories["violation"]
    assert (stats.mode, stats.mode_reason, stats.updated) == ("full", "--full", 1)
    assert_matches_portal(db, portal, "violation")


def test_sync_full_every_reads_in_full_when_the_last_full_read_is_older(synced, db, db_url,
                                                                        tmp_path, mapping):
    with db.begin() as conn:  # the last full read was two days ago
        conn.execute(text("UPDATE bitrix_sync_state SET full_read_at = :t WHERE directory = "
                          "'user'"), {"t": datetime.utcnow() - timedelta(days=2)})
    report = sync(synced, db_url, tmp_path, mapping, "user", "category")

    assert modes(report) == {"category": "incremental", "user": "full"}
    assert "SYNC_FULL_EVERY (1d 0h)" in report.directories["user"].mode_reason
    every_run = sync(synced, db_url, tmp_path, mapping, "category",
                     env={"SYNC_FULL_EVERY": "0"})
    assert modes(every_run) == {"category": "full"}


def test_two_hosts_sync_one_database_in_turn(synced, db, db_url, tmp_path, mapping,
                                             monkeypatch):
    portal = synced
    city = portal.records(CITIES)[0]
    portal.update_record(CITIES, city["id"], title="С другого сервера")
    monkeypatch.setattr(socket, "gethostname", lambda: "host-b")
    other_folder = tmp_path / "host-b"
    other_folder.mkdir()

    on_b = sync(portal, db_url, other_folder, mapping)

    assert on_b.ok and set(modes(on_b).values()) == {"incremental"}
    assert on_b.directories["city"].updated == 1
    assert state(db, "city")["host"] == "host-b"
    monkeypatch.setattr(socket, "gethostname", lambda: "host-a")
    portal.update_record(CITIES, city["id"], title="Снова с первого")
    on_a = sync(portal, db_url, tmp_path, mapping)
    assert on_a.directories["city"].updated == 1 and on_a.directories["city"].fetched == 1
    assert_matches_portal(db, portal, "city")


def test_a_failed_incremental_read_leaves_the_watermark(portal, db, db_url, tmp_path, mapping):
    seed_portal(portal, cities=300)
    assert sync(portal, db_url, tmp_path, mapping, "city").ok
    watermark = state(db, "city")["read_at"]
    portal.clock_offset = 120  # so a watermark moved by this run would show
    for city in portal.records(CITIES)[::4]:  # 75 changes: more than the first page holds
        portal.update_record(CITIES, city["id"], title=city["title"] + " (изм.)")
    # The opening batch runs five crm.item.list commands; the next one, the change query's
    # second page, is refused.
    portal.fail("crm.item.list", status=400, error="ACCESS_DENIED", skip=5)

    failed = sync(portal, db_url, tmp_path, mapping, "city")

    stats = failed.directories["city"]
    assert (stats.mode, stats.status, stats.complete) == ("incremental", "failed", False)
    assert state(db, "city")["read_at"] == watermark
    retried = sync(portal, db_url, tmp_path, mapping, "city")
    assert retried.directories["city"].mode == "incremental"
    assert retried.directories["city"].fetched == 75
    assert state(db, "city")["read_at"] >= watermark + timedelta(seconds=100)
    assert_matches_portal(db, portal, "city")


def test_dry_run_reports_the_incremental_changes_and_writes_no_state(synced, db, db_url,
                                                                     tmp_path, mapping):
    portal = synced
    user = portal.records("user")[2]
    gone = portal.records(CITIES)[0]["id"]
    portal.update_record("user", int(user["ID"]), NAME="Пётр")
    portal.delete_record(CITIES, gone)
    before = rows(db, "SELECT directory, read_at, mode, details FROM bitrix_sync_state "
                      "ORDER BY directory")
    data_before = rows(db, "SELECT btxid, first_name, is_active FROM users ORDER BY id")

    dry = sync(portal, db_url, tmp_path, mapping, dry_run=True)

    assert set(modes(dry).values()) == {"incremental"}
    assert {(p.directory, p.action, p.btxid) for p in dry.planned} == {
        ("user", "update", int(user["ID"])), ("city", "deactivate", gone)}
    assert rows(db, "SELECT directory, read_at, mode, details FROM bitrix_sync_state "
                    "ORDER BY directory") == before
    assert rows(db, "SELECT btxid, first_name, is_active FROM users ORDER BY id") == data_before
    real = sync(portal, db_url, tmp_path, mapping)
    assert {n: (d.updated, d.deactivated) for n, d in real.directories.items()} == {
        n: (d.updated, d.deactivated) for n, d in dry.directories.items()}


def test_users_in_another_culture_and_zone_are_read_incrementally(portal, db, db_url, tmp_path,
                                                                   mapping):
    portal.site_format = "MM/DD/YYYY H:MI:SS T"
    portal.user_zone_offset = -5 * 3600  # the webhook's user lives five hours west
    seed_portal(portal)
    assert sync(portal, db_url, tmp_path, mapping, "user", "category").ok
    user = portal.records("user")[4]
    portal.update_record("user", int(user["ID"]), NAME="Джон")

    report = sync(portal, db_url, tmp_path, mapping, "user", "category")

    stats = report.directories["user"]
    assert (stats.mode, stats.fetched, stats.updated) == ("incremental", 1, 1)
    assert_matches_portal(db, portal, "user")


def test_an_unclear_site_format_reads_those_directories_in_full(portal, db, db_url, tmp_path,
                                                                mapping):
    portal.site_format = "DD/MM/YYYY HH:MI:SS"  # 01/03/2024: which is the month?
    seed_portal(portal)
    assert sync(portal, db_url, tmp_path, mapping).ok

    report = sync(portal, db_url, tmp_path, mapping)

    # user.get takes ISO 8601 as well (issue 16 §5): the probes prove it, so users need no
    # site format.
    assert modes(report) == {"city": "incremental", "category": "full", "object": "incremental",
                             "violation": "full", "user": "incremental"}
    assert "date format could not be learned" in report.directories["category"].mode_reason


def test_new_referenced_rows_refill_references_left_empty(synced, db, db_url, tmp_path,
                                                          mapping):
    portal = synced
    # An object pointing at a city the portal does not have yet: stored with NULL.
    [orphan] = portal.add_items(1040, [{"title": "Объект без города", "parentId1036": 9999}])
    first = sync(portal, db_url, tmp_path, mapping, "city", "object")
    assert first.directories["object"].warnings == 1
    assert rows(db, f"SELECT city_id FROM objects WHERE btxid = {orphan}") == [(None,)]
    portal.add_items(1036, [{"id": 9999, "title": "Новый город"}])

    report = sync(portal, db_url, tmp_path, mapping, "city", "object")

    assert report.directories["object"].mode == "full"
    assert "city got new rows" in report.directories["object"].mode_reason
    assert rows(db, "SELECT c.btxid FROM objects o JOIN cities c ON c.id = o.city_id "
                    f"WHERE o.btxid = {orphan}") == [(9999,)]


def test_local_rows_lost_are_noticed_and_read_again(synced, db, db_url, tmp_path, mapping):
    with db.begin() as conn:  # someone deleted rows by hand
        conn.execute(text("DELETE FROM users WHERE btxid IN (SELECT btxid FROM (SELECT btxid "
                          "FROM users ORDER BY btxid LIMIT 2) AS t)")
                     if db.dialect.name == "mysql" else
                     text("DELETE FROM users WHERE btxid IN (SELECT btxid FROM users "
                          "ORDER BY btxid LIMIT 2)"))

    report = sync(synced, db_url, tmp_path, mapping, "user")

    stats = report.directories["user"]
    assert (stats.mode, stats.mode_reason) == (
        "full", "2 row(s) were deleted in the table outside the sync since the last read")
    assert stats.created == 2
    assert_matches_portal(db, synced, "user")


@pytest.mark.parametrize("objects, removed, at_most", [
    (6_000, 7, 5),  # one opening batch and a few rounds of counts, not 120 pages of ids
    (20_000, 60, 12),  # a level of counts takes several batches, sent at the same time
], ids=["few", "many"])
def test_removals_scattered_through_a_big_directory_are_found_by_counting(
        portal, db, db_url, tmp_path, mapping, objects, removed, at_most):
    seed_portal(portal, objects=objects)
    assert sync(portal, db_url, tmp_path, mapping, "city", "object").ok
    gone = sorted(o["id"] for o in random.Random(7).sample(portal.records(OBJECTS), removed))
    for object_id in gone:
        portal.delete_record(OBJECTS, object_id)
    before = len(portal.requests)

    report = sync(portal, db_url, tmp_path, mapping, "object")

    stats = report.directories["object"]
    assert (stats.mode, stats.fetched, stats.deactivated) == ("incremental", 0, removed)
    assert [r[0] for r in rows(db, "SELECT btxid FROM objects WHERE NOT is_active "
                                   "ORDER BY btxid")] == gone
    assert_matches_portal(db, portal, "object")
    sent = portal.requests[before:]
    assert len(sent) <= at_most
    if removed > 50:  # one level's labels run past a batch: r50 is in a second batch
        assert any("r50" in r.params["cmd"] for r in sent if r.method == "batch")


def test_a_row_lost_locally_beside_a_removal_still_reads_in_full(portal, db, db_url, tmp_path,
                                                                 mapping):
    """The counts alone would agree (one record removed, another deleted from the table by
    hand); the table's own counts, kept in the state, show the hand-made deletion."""
    seed_portal(portal, objects=3000)
    assert sync(portal, db_url, tmp_path, mapping, "city", "object").ok
    objects = portal.records(OBJECTS)
    portal.delete_record(OBJECTS, objects[1500]["id"])
    with db.begin() as conn:
        conn.execute(text(f"DELETE FROM objects WHERE btxid = {objects[1501]['id']}"))

    report = sync(portal, db_url, tmp_path, mapping, "object")

    stats = report.directories["object"]
    assert stats.mode == "full" and "deleted in the table outside the sync" in stats.mode_reason
    assert (stats.created, stats.deactivated) == (1, 1)
    assert_matches_portal(db, portal, "object")


def test_a_record_the_counts_show_missing_is_read_in_full(seeded, db, db_url, tmp_path,
                                                         mapping):
    """A record entering the filter without a new stamp (or the webhook's user gaining
    access) makes the portal hold more than the table: the changes alone cannot be right."""
    last = seeded.records(CITIES)[-1]
    mapping["city"]["params"]["filter"] = {"ufCrm3_1709124411": last["ufCrm3_1709124411"]}
    assert sync(seeded, db_url, tmp_path, mapping, "city").ok
    # Below the highest id the table holds: a record above it would be read as new.
    outside = seeded.records(CITIES)[0]
    seeded.update_record(CITIES, outside["id"], touch=False,
                         ufCrm3_1709124411=last["ufCrm3_1709124411"])

    report = sync(seeded, db_url, tmp_path, mapping, "city")

    stats = report.directories["city"]
    assert stats.mode == "full"
    assert stats.mode_reason == ("after the changes the portal has 1 record(s) under the filter "
                                 "that the table lacks")
    assert stats.created == 1
    assert rows(db, f"SELECT is_active FROM cities WHERE btxid = {outside['id']}") == [(True,)]


def test_a_fatal_error_in_the_opening_batch_starts_no_list_read(synced, db, db_url, tmp_path,
                                                                mapping):
    portal = synced
    assert sync(portal, db_url, tmp_path, mapping).ok  # learns the zone: one batch from now on
    before = rows(db, "SELECT btxid, name, is_active FROM cities ORDER BY btxid")
    portal.fail("batch", status=401, error="expired_token",
                description="The access token provided has expired.")
    started = len(portal.requests)

    report = sync(portal, db_url, tmp_path, mapping)

    assert report.fatal.startswith("The portal rejected the webhook (Bitrix24 said: "
                                   "expired_token")
    assert report.fatal_exit_code == 3
    assert {d.status for d in report.directories.values()} == {DirectoryStatus.SKIPPED}
    # Every directory is skipped, so not one list read was started: the batch was all.
    assert [r.method for r in portal.requests[started:]] == ["batch"]
    assert rows(db, "SELECT btxid, name, is_active FROM cities ORDER BY btxid") == before
