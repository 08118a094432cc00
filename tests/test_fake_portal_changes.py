"""The fake portal's clock and modification filters, as the real server has them (clock.py)."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from app.testing.clock import PORTAL_TZ
from app.testing.portal import FakePortal
from app.testing.seed import (
    CATEGORY_IBLOCK_ID,
    CITY_ENTITY_TYPE_ID,
    VIOLATION_IBLOCK_ID,
    seed_portal,
)

CITIES = f"crm:{CITY_ENTITY_TYPE_ID}"
LIST = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": CATEGORY_IBLOCK_ID}


def call(portal: FakePortal, method: str, params: Any = None) -> dict[str, Any]:
    response = requests.post(portal.webhook_url + method, json=params or {}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def site(moment: datetime, pattern: str = "%d.%m.%Y %H:%M:%S") -> str:
    return moment.astimezone(PORTAL_TZ).strftime(pattern)


@pytest.fixture
def portal():
    fake = FakePortal()
    seed_portal(fake)
    with fake:
        yield fake


@pytest.mark.parametrize("offset", [-600, 600])
def test_time_block_and_stamps_follow_the_portal_clock(portal, offset):
    portal.clock_offset = offset
    city = portal.records(CITIES)[0]
    before = time.time()
    portal.update_record(CITIES, city["id"], title="Москва-Сити")
    body = call(portal, "crm.item.get", {"entityTypeId": CITY_ENTITY_TYPE_ID, "id": city["id"]})

    after = time.time()

    def portal_now(moment: float) -> bool:
        # Between our clock before and after the calls, shifted by the portal's offset;
        # ISO stamps are whole seconds, so the lower bound is the second it started in.
        return math.floor(before + offset) <= moment <= after + offset

    started = datetime.fromisoformat(body["time"]["date_start"])
    assert started.utcoffset() == timedelta(hours=3)  # the portal's zone, not ours
    assert portal_now(started.timestamp())
    assert portal_now(body["time"]["start"])
    stamped = datetime.fromisoformat(body["result"]["item"]["updatedTime"])
    assert portal_now(stamped.timestamp())


def test_profile_gives_the_webhook_users_whole_utc_offset(portal):
    assert call(portal, "profile")["result"]["TIME_ZONE_OFFSET"] == 3 * 3600
    portal.user_zone_offset = -2 * 3600  # the user set a personal zone two hours west
    assert call(portal, "profile")["result"]["TIME_ZONE_OFFSET"] == 3600


def test_crm_updated_time_filter_reads_what_strtotime_reads(portal):
    cities = portal.records(CITIES)
    portal.update_record(CITIES, cities[1]["id"], title="Новое имя")
    now = datetime.now(PORTAL_TZ)
    hour_ago = now - timedelta(hours=1)

    def ids(value: str) -> tuple[list[int], int]:
        body = call(portal, "crm.item.list", {"entityTypeId": CITY_ENTITY_TYPE_ID,
                                              "filter": {">=updatedTime": value}})
        return [i["id"] for i in body["result"]["items"]], body["total"]

    assert ids(hour_ago.isoformat(timespec="seconds")) == ([cities[1]["id"]], 1)
    # The same instant written in UTC, and naive (read in the portal's zone).
    assert ids(hour_ago.astimezone(PORTAL_TZ.utc).isoformat())[1] == 1
    assert ids(hour_ago.strftime("%Y-%m-%d %H:%M:%S"))[1] == 1
    assert ids((now + timedelta(hours=1)).isoformat())[1] == 0
    # Not a date: no items and total 0, no error.
    assert ids("вчера") == ([], 0)


def test_crm_date_filter_is_shifted_by_the_webhook_users_zone(portal):
    city = portal.records(CITIES)[0]
    portal.update_record(CITIES, city["id"], title="Сдвиг")
    stamp = datetime.fromisoformat(portal.records(CITIES)[0]["updatedTime"])
    params = {"entityTypeId": CITY_ENTITY_TYPE_ID,
              "filter": {">=updatedTime": (stamp + timedelta(minutes=30)).isoformat()}}
    assert call(portal, "crm.item.list", params)["total"] == 0
    # A user one hour east: CharToDateFunction subtracts the hour, the bound moves back.
    portal.user_zone_offset = 3600
    assert call(portal, "crm.item.list", params)["total"] == 1


def test_an_unstamped_change_keeps_updated_time(portal):
    city = portal.records(CITIES)[0]
    portal.update_record(CITIES, city["id"], touch=False, title="Без отметки")
    after = portal.records(CITIES)[0]
    assert (after["title"], after["updatedTime"]) == ("Без отметки", city["updatedTime"])


def test_user_timestamp_filter_takes_the_site_format_in_user_time_only(portal):
    portal.update_record("user", 44, NAME="Пётр")
    hour_ago = datetime.now(PORTAL_TZ) - timedelta(hours=1)

    def users(value: str) -> dict[str, Any]:
        return call(portal, "user.get", {"FILTER": {">=TIMESTAMP_X": value}})

    body = users(site(hour_ago))
    assert [(u["ID"], u["TIMESTAMP_X"]) for u in body["result"]] == [("44", {})]
    assert body["total"] == 1
    # ISO 8601 works too (user-get.md), read as the same instant.
    assert [u["ID"] for u in users(hour_ago.isoformat())["result"]] == ["44"]
    assert users(datetime.now(PORTAL_TZ).isoformat())["result"] == []
    # Not on a server that hands the value to the ORM unconverted: it matches nobody, and
    # an empty page has no total.
    portal.user_get_takes_iso = False
    iso = users(hour_ago.isoformat())
    assert iso["result"] == [] and "total" not in iso
    portal.user_get_takes_iso = True
    # The value is the user's local time: for a user two hours east, half an hour ahead of
    # the portal's wall clock is an hour and a half ago.
    soon = site(datetime.now(PORTAL_TZ) + timedelta(minutes=30))
    assert users(soon)["result"] == []
    portal.user_zone_offset = 2 * 3600
    assert [u["ID"] for u in users(soon)["result"]] == ["44"]


def test_site_format_is_the_portals_culture(portal):
    portal.site_format = "MM/DD/YYYY H:MI:SS T"
    portal.update_record("user", 44, NAME="Пётр")
    hour_ago = datetime.now(PORTAL_TZ) - timedelta(hours=1)
    english = site(hour_ago, "%m/%d/%Y %I:%M:%S %p").replace("AM", "am").replace("PM", "pm")
    got = call(portal, "user.get", {"FILTER": {">=TIMESTAMP_X": english}})["result"]
    assert [u["ID"] for u in got] == ["44"]
    assert call(portal, "user.get", {"FILTER": {">=TIMESTAMP_X": site(hour_ago)}})["result"] == []
    stamp = call(portal, "lists.get", {"IBLOCK_TYPE_ID": "lists"})["result"][0]["TIMESTAMP_X"]
    assert stamp == "03/01/2024 10:00:00 am"


def test_list_timestamp_filter_on_every_list(portal):
    element = portal.records(f"list:{CATEGORY_IBLOCK_ID}")[2]
    portal.update_record(f"list:{CATEGORY_IBLOCK_ID}", element["ID"], NAME="Новая категория")
    hour_ago = datetime.now(PORTAL_TZ) - timedelta(hours=1)

    def elements(filter_: dict[str, Any]) -> dict[str, Any]:
        return call(portal, "lists.element.get", {**LIST, "FILTER": filter_})

    changed = elements({">=TIMESTAMP_X": site(hour_ago)})
    assert [e["ID"] for e in changed["result"]] == [str(element["ID"])]
    assert "TIMESTAMP_X" not in changed["result"][0]  # not one of this list's fields
    assert elements({"DATE_MODIFY_FROM": site(hour_ago)})["total"] == 1
    assert elements({"DATE_MODIFY_TO": site(hour_ago)})["total"] == len(
        portal.records(f"list:{CATEGORY_IBLOCK_ID}")) - 1
    # ISO only works on a list that has TIMESTAMP_X among its fields.
    empty = elements({">=TIMESTAMP_X": hour_ago.isoformat()})
    assert empty["result"] == [] and "total" not in empty


def test_list_with_a_timestamp_field_shows_it_and_takes_iso(portal):
    portal.add_list(77, name="Со штампом", fields={"NAME": {"TYPE": "NAME"},
                                                   "TIMESTAMP_X": {"TYPE": "TIMESTAMP_X"}})
    before = time.time()
    [element_id] = portal.add_elements(77, [{"NAME": "Элемент"}])
    after = time.time()
    hour_ago = datetime.now(PORTAL_TZ) - timedelta(hours=1)
    params = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": 77}
    body = call(portal, "lists.element.get", {**params, "FILTER": {
        ">=TIMESTAMP_X": hour_ago.isoformat()}})
    [row] = body["result"]
    assert row["ID"] == str(element_id)
    shown = datetime.strptime(row["TIMESTAMP_X"], "%d.%m.%Y %H:%M:%S").replace(tzinfo=PORTAL_TZ)
    assert math.floor(before) <= shown.timestamp() <= after  # stamped when it was added


def test_new_records_are_stamped_now(portal):
    [city_id] = portal.add_items(CITY_ENTITY_TYPE_ID, [{"title": "Тверь"}])
    [element_id] = portal.add_elements(VIOLATION_IBLOCK_ID, [{"NAME": "Новое нарушение"}])
    hour_ago = datetime.now(PORTAL_TZ) - timedelta(hours=1)
    cities = call(portal, "crm.item.list", {"entityTypeId": CITY_ENTITY_TYPE_ID,
                                            "filter": {">updatedTime": hour_ago.isoformat()}})
    assert [i["id"] for i in cities["result"]["items"]] == [city_id]
    violations = call(portal, "lists.element.get", {
        "IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": VIOLATION_IBLOCK_ID,
        "FILTER": {">TIMESTAMP_X": site(hour_ago)}})
    assert [e["ID"] for e in violations["result"]] == [str(element_id)]


def test_a_portal_in_berlin_follows_daylight_saving_time(portal):
    from datetime import UTC
    from zoneinfo import ZoneInfo

    portal.zone = ZoneInfo("Europe/Berlin")

    def at(moment: str) -> None:
        stamp = datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()
        portal.clock_offset = stamp - time.time()

    at("2026-10-25T00:30:00")  # 02:30 CEST, half an hour before the clocks go back
    assert call(portal, "profile")["result"]["TIME_ZONE_OFFSET"] == 7200
    element = portal.records(f"list:{CATEGORY_IBLOCK_ID}")[1]
    at("2026-10-25T01:10:00")  # 02:10 CET: the repeated hour
    portal.update_record(f"list:{CATEGORY_IBLOCK_ID}", element["ID"], NAME="Повторный час")
    body = call(portal, "profile")
    assert body["result"]["TIME_ZONE_OFFSET"] == 3600
    assert body["time"]["date_start"].endswith("+01:00")

    def changed(since: str) -> list[str]:
        rows = call(portal, "lists.element.get",
                    {**LIST, "FILTER": {">=TIMESTAMP_X": since}})["result"]
        return [r["ID"] for r in rows]

    # Stored as the wall clock 02:10 with no zone: a bound of 02:20 (the wall clock of
    # 00:20 UTC, before the change) misses it; the server compares wall clocks.
    assert changed("25.10.2026 02:20:00") == []
    assert changed("25.10.2026 02:05:00") == [element["ID"]]


def _changed_since(portal: FakePortal, moment: datetime) -> list[int]:
    body = call(portal, "crm.item.list", {
        "entityTypeId": CITY_ENTITY_TYPE_ID, "select": ["id"],
        "filter": {">=updatedTime": moment.isoformat(timespec="seconds")}})
    return [item["id"] for item in body["result"]["items"]]


def test_a_restored_item_is_new_with_its_old_stamps(portal):
    """dynamiccontroller.php recover() re-adds the item; Restore.php keeps updatedTime."""
    first, second = portal.records(CITIES)[:2]
    highest = max(c["id"] for c in portal.records(CITIES))
    portal.recycle(CITY_ENTITY_TYPE_ID, second["id"])
    assert second["id"] not in [c["id"] for c in portal.records(CITIES)]
    assert portal.records(CITIES)[0]["id"] == first["id"]

    new_id = portal.restore(CITY_ENTITY_TYPE_ID, second["id"])

    restored = portal.records(CITIES)[-1]
    assert new_id == restored["id"] == highest + 1  # a new id, above every other
    assert second["id"] not in [c["id"] for c in portal.records(CITIES)]
    assert (restored["title"], restored["updatedTime"], restored["createdTime"]) == (
        second["title"], second["updatedTime"], second["createdTime"])
    # A change query from a minute ago does not see it.
    assert new_id not in _changed_since(portal, datetime.now(PORTAL_TZ) - timedelta(minutes=1))


def test_an_import_sets_an_old_stamp_on_a_new_id(portal):
    highest = max(c["id"] for c in portal.records(CITIES))
    old = "2023-05-17T10:00:00+03:00"

    [new_id] = portal.import_items(CITY_ENTITY_TYPE_ID, [
        {"id": 3, "title": "Импорт", "createdTime": old, "updatedTime": old}])

    assert new_id == highest + 1
    assert portal.records(CITIES)[-1]["updatedTime"] == old
    assert new_id not in _changed_since(portal, datetime(2024, 1, 1, tzinfo=PORTAL_TZ))
