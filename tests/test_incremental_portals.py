"""Incremental reads on portals unlike the default fake: daylight saving time, a portal clock
far from this host's, servers that honour or ignore SELECT (issue 16 §2, §4, §5)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from app.bitrix.changes import PortalZone, bound_text, change_field
from app.testing.seed import CATEGORY_LINK_PROPERTY, FINE_PROPERTY, seed_portal
from tests.conftest import sync
from tests.test_incremental import TABLES, assert_matches_portal, modes, rows, state

VIOLATIONS = TABLES["violation"][1]


def set_portal_clock(portal, moment: str) -> None:
    """Put the portal's clock at `moment` (ISO, UTC); it runs on from there."""
    portal.clock_offset = datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp() \
        - time.time()


def change_one_of_each(portal) -> None:
    for _, collection, field, key in TABLES.values():
        record = portal.records(collection)[2]
        portal.update_record(collection, int(record[key]), **{field: f"{record[field]} (час)"})


# (first run, the change, second run), UTC. Europe/Berlin moves its clocks at 01:00 UTC:
# on 2026-03-29 from 02:00 CET to 03:00 CEST, on 2026-10-25 from 03:00 CEST back to 02:00 CET.
SWITCHES = {
    # The change (01:35 CET) lies between the last read and the switch; a bound built with
    # the summer offset for the winter watermark would start at 02:10 wall clock.
    "spring": ("2026-03-29T00:20:00", "2026-03-29T00:35:00", "2026-03-29T01:10:00"),
    # The change (02:10 CET) is in the repeated hour, below the watermark's wall clock
    # (02:40 CEST): an ISO bound written with the summer offset would start above it.
    "autumn": ("2026-10-25T00:40:00", "2026-10-25T01:10:00", "2026-10-25T01:20:00"),
}


@pytest.mark.parametrize("switch", SWITCHES)
def test_a_change_in_the_hour_of_a_clock_switch_is_read_next_run(portal, db, db_url, tmp_path,
                                                                  mapping, switch):
    first, change, second = SWITCHES[switch]
    portal.zone = ZoneInfo("Europe/Berlin")
    set_portal_clock(portal, first)
    seed_portal(portal)
    assert set(modes(sync(portal, db_url, tmp_path, mapping)).values()) == {"full"}
    set_portal_clock(portal, change)
    change_one_of_each(portal)
    set_portal_clock(portal, second)

    report = sync(portal, db_url, tmp_path, mapping)

    assert report.ok, report.render_table()
    assert set(modes(report).values()) == {"incremental"}
    assert {n: d.updated for n, d in report.directories.items()} == dict.fromkeys(TABLES, 1)
    for name in TABLES:
        assert_matches_portal(db, portal, name)


def test_a_bound_reaches_back_by_the_hour_the_clock_moved():
    watermark = datetime(2026, 3, 29, 0, 10, tzinfo=UTC)  # 01:10 CET, before the jump
    summer = PortalZone(7200, 7200, "DD.MM.YYYY HH:MI:SS")
    users = change_field("user.get")
    # Stored as winter wall clock: the bound is the watermark's, not an hour later.
    assert bound_text(users, watermark, summer, then_offset=3600) == "29.03.2026 01:10:00"
    assert bound_text(users, watermark, summer) == "29.03.2026 02:10:00"  # no switch between
    # Autumn, ISO: the server writes the instant with its summer offset, above the repeated
    # hour, so the instant itself moves back by the hour.
    watermark = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    winter = PortalZone(3600, 3600)
    cities = change_field("crm.item.list")
    assert bound_text(cities, watermark, winter, then_offset=7200) == "2026-10-25T00:30:00+01:00"
    assert bound_text(cities, watermark, winter) == "2026-10-25T01:30:00+01:00"
    # The spring jump needs no reach for ISO, the autumn one none for the site format.
    assert bound_text(cities, watermark, summer, then_offset=3600) == "2026-10-25T02:30:00+02:00"
    assert bound_text(users, watermark, PortalZone(3600, 3600, "DD.MM.YYYY HH:MI:SS"),
                      then_offset=7200) == "25.10.2026 01:30:00"


@pytest.mark.parametrize("hours", [5, -5], ids=["portal-ahead", "portal-behind"])
def test_the_full_read_is_due_by_the_portals_clock(portal, db, db_url, tmp_path, mapping,
                                                   hours):
    portal.clock_offset = hours * 3600  # the portal's clock is hours off this host's
    seed_portal(portal)
    env = {"SYNC_FULL_EVERY": "1h"}

    def mode() -> tuple[str, str | None]:
        stats = sync(portal, db_url, tmp_path, mapping, "city", env=env).directories["city"]
        return stats.mode, stats.mode_reason

    assert mode()[0] == "full"
    # Not due by the portal's clock, whatever this host's says.
    assert mode() == ("incremental", None)
    portal.clock_offset += 61 * 60  # an hour on the portal; hardly a second here
    due = mode()
    assert due[0] == "full" and "SYNC_FULL_EVERY (" in due[1]
    assert mode() == ("incremental", None)


def test_a_stale_clock_difference_does_not_force_full_reads_for_ever(portal, db, db_url,
                                                                    tmp_path, mapping):
    """The clock difference kept from an earlier run is wrong once this host's clock is set
    right (it was hours slow). It may not keep every run full: the portal's own clock, which
    the opening batch brings, says the full read is not due, and the difference is measured
    again."""
    seed_portal(portal)
    env = {"SYNC_FULL_EVERY": "1h"}
    assert sync(portal, db_url, tmp_path, mapping, "city", env=env).ok
    assert modes(sync(portal, db_url, tmp_path, mapping, "city", env=env)) == {
        "city": "incremental"}  # its opening measured the difference (about 0)
    with db.begin() as conn:  # as if measured while this host's clock was 5 hours slow
        details = json.loads(conn.execute(text(
            "SELECT details FROM bitrix_sync_state WHERE directory = '(portal)'")).scalar())
        conn.execute(text("UPDATE bitrix_sync_state SET details = :d "
                          "WHERE directory = '(portal)'"),
                     {"d": json.dumps({**details, "clock_skew": 5 * 3600})})

    for _ in range(2):
        stats = sync(portal, db_url, tmp_path, mapping, "city", env=env).directories["city"]
        assert (stats.mode, stats.mode_reason) == ("incremental", None)
    assert abs(state(db, "(portal)")["details"]["clock_skew"]) < 60


@pytest.mark.parametrize("honoured", [True, False], ids=["select-honoured", "select-ignored"])
def test_list_reads_and_counts_ask_for_the_mapped_fields(portal, db, db_url, tmp_path, mapping,
                                                         honoured):
    portal.lists_select_honoured = honoured  # False: an older server that ignores SELECT
    seed_portal(portal)
    names = ("category", "violation")
    assert set(modes(sync(portal, db_url, tmp_path, mapping, *names)).values()) == {"full"}
    violations = portal.records(VIOLATIONS)
    portal.update_record(VIOLATIONS, int(violations[3]["ID"]), NAME="Переименовано")
    portal.delete_record(VIOLATIONS, int(violations[5]["ID"]))

    report = sync(portal, db_url, tmp_path, mapping, *names)

    assert report.ok, report.render_table()
    stats = report.directories["violation"]
    assert (stats.mode, stats.updated, stats.deactivated) == ("incremental", 1, 1)
    for name in names:
        assert_matches_portal(db, portal, name)
    category_of = dict(rows(db, "SELECT id, btxid FROM violation_categories"))
    local = {b: (category_of.get(c), None if f is None else float(f)) for b, c, f in rows(
        db, "SELECT btxid, category_id, fine FROM violations WHERE is_active = 1")}
    assert local == {int(r["ID"]): (_first(r, CATEGORY_LINK_PROPERTY, int),
                                    _first(r, FINE_PROPERTY, float))
                     for r in portal.records(VIOLATIONS)}
    selects = {tuple(p.get("SELECT") or ()) for p in portal.calls("lists.element.get")}
    # Reads ask for the id and the mapped fields; counts and probes for the id alone.
    assert selects == {("ID", "NAME"), ("ID", "NAME", CATEGORY_LINK_PROPERTY, FINE_PROPERTY),
                       ("ID",)}


def _first(record: dict, key: str, kind):
    """A single-valued property's value (lists.element.get gives {value row id: value})."""
    value = record.get(key)
    return kind(next(iter(value.values()))) if value else None


NO_LISTS = ("crm", "user", "department", "basic")  # a webhook without the lists scope


def test_users_are_read_incrementally_by_a_webhook_without_lists(portal, db, db_url, tmp_path,
                                                                 mapping):
    portal.scopes = NO_LISTS
    seed_portal(portal)
    assert modes(sync(portal, db_url, tmp_path, mapping, "user")) == {"user": "full"}
    user = portal.records("user")[3]
    portal.update_record("user", int(user["ID"]), NAME="Без списков")
    portal.reset_stats()

    report = sync(portal, db_url, tmp_path, mapping, "user")

    stats = report.directories["user"]
    assert report.ok and (stats.mode, stats.fetched, stats.updated) == ("incremental", 1, 1)
    assert_matches_portal(db, portal, "user")
    assert rows(db, f"SELECT first_name FROM users WHERE btxid = {user['ID']}") == [
        ("Без списков",)]
    # lists.get was tried once and refused (insufficient_scope): the bound went as ISO 8601.
    assert len(portal.calls("lists.get")) == 1
    bounds = [p["FILTER"][">=TIMESTAMP_X"] for p in portal.calls("user.get")
              if ">=TIMESTAMP_X" in p.get("FILTER", {})]
    assert bounds and all("T" in b for b in bounds)
    # Later runs do not ask lists.get again: one request each.
    portal.reset_stats()
    again = sync(portal, db_url, tmp_path, mapping, "user")
    assert modes(again) == {"user": "incremental"} and portal.request_count == 1
    assert portal.calls("lists.get") == []


def test_lists_get_refuses_a_webhook_without_the_lists_scope(portal):
    import requests

    portal.scopes = NO_LISTS
    answer = requests.post(portal.webhook_url + "lists.get", json={"IBLOCK_TYPE_ID": "lists"},
                           timeout=5)
    assert (answer.status_code, answer.json()["error"]) == (401, "insufficient_scope")


def test_users_are_read_in_full_when_the_server_ignores_an_iso_bound(portal, db, db_url,
                                                                     tmp_path, mapping):
    portal.scopes = NO_LISTS
    portal.user_get_takes_iso = False  # hands the value to the ORM as it is: no user matches
    seed_portal(portal)
    assert sync(portal, db_url, tmp_path, mapping, "user").ok
    user = portal.records("user")[3]
    portal.update_record("user", int(user["ID"]), NAME="Полностью")

    report = sync(portal, db_url, tmp_path, mapping, "user")

    stats = report.directories["user"]
    assert report.ok and (stats.mode, stats.updated) == ("full", 1)
    assert "does not read the TIMESTAMP_X bound as a date" in stats.mode_reason
    assert_matches_portal(db, portal, "user")
