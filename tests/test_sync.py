"""The whole sync against the fake portal, on real MariaDB and on SQLite."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from app.bitrix.client import Bitrix24Client
from app.report import DirectoryStatus
from app.sync.removals import unmatched_notice
from app.sync.runner import RunOptions, run_sync
from app.testing.seed import seed_portal
from tests.conftest import hook_method, settings_for, sync, write_mapping_toml

OK, FAILED, WITH_ERRORS = (DirectoryStatus.OK, DirectoryStatus.FAILED,
                          DirectoryStatus.WITH_ERRORS)


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def scalar(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_full_sync_loads_every_directory(seeded, db, db_url, tmp_path, mapping):
    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.ok, report.render_table()
    assert report.exit_code == 0
    portal_counts = {
        "city": len(seeded.records("crm:1036")),
        "object": len(seeded.records("crm:1040")),
        "category": len(seeded.records("list:48")),
        "violation": len(seeded.records("list:52")),
        "user": len(seeded.records("user")),
    }
    for name, count in portal_counts.items():
        d = report.directories[name]
        assert (d.fetched, d.created, d.updated, d.errors, d.status) == (count, count, 0, 0, OK)
    assert scalar(db, "SELECT COUNT(*) FROM cities") == portal_counts["city"]
    assert scalar(db, "SELECT COUNT(*) FROM users") == portal_counts["user"]
    # Bitrix ids land in btxid, names exactly as the portal has them.
    for item in seeded.records("crm:1036"):
        assert rows(db, f"SELECT name FROM cities WHERE btxid = {item['id']}") == [(item["title"],)]


def test_references_resolve_to_local_ids(seeded, db, db_url, tmp_path, mapping):
    sync(seeded, db_url, tmp_path, mapping)

    for item in seeded.records("crm:1040"):
        got = rows(db, "SELECT c.btxid FROM objects o LEFT JOIN cities c ON c.id = o.city_id "
                       f"WHERE o.btxid = {item['id']}")
        assert got == [(item.get("parentId1036") or None,)]
    for element in seeded.records("list:52"):
        category = next(iter(element["PROPERTY_212"].values()))
        got = rows(db, "SELECT c.btxid FROM violations v JOIN violation_categories c "
                       f"ON c.id = v.category_id WHERE v.btxid = {element['ID']}")
        assert got == [(int(category),)]


def test_values_are_converted_to_column_types(seeded, db, db_url, tmp_path, mapping):
    sync(seeded, db_url, tmp_path, mapping)

    element = seeded.records("list:52")[0]
    fine = next(iter(element["PROPERTY_230"].values()))
    assert rows(db, f"SELECT fine FROM violations WHERE btxid = {element['ID']}") == [
        (Decimal(fine).quantize(Decimal("0.01")),)]
    fired = [u for u in seeded.records("user") if u["ACTIVE"] is False]
    assert fired, "sample data has a fired employee"
    for user in seeded.records("user"):
        got = rows(db, f"SELECT is_active, first_name FROM users WHERE btxid = {user['ID']}")
        assert got == [(user["ACTIVE"], user["NAME"] or None)]


def test_new_users_get_a_secret_key_and_no_tg_id(seeded, db, db_url, tmp_path, mapping):
    sync(seeded, db_url, tmp_path, mapping)

    keys = rows(db, "SELECT secret_key, tg_id FROM users")
    assert len(keys) == len(seeded.records("user"))
    assert all(len(key) >= 16 and tg is None for key, tg in keys)
    assert len({key for key, _ in keys}) == len(keys)


def test_second_run_changes_nothing(seeded, db, db_url, tmp_path, mapping):
    sync(seeded, db_url, tmp_path, mapping)
    before = rows(db, "SELECT * FROM users ORDER BY id") + rows(db, "SELECT * FROM objects")

    again = sync(seeded, db_url, tmp_path, mapping)  # incremental: nothing changed, nothing read
    report = sync(seeded, db_url, tmp_path, mapping, full=True)

    assert again.ok and again.totals["fetched"] == 0
    assert {d.mode for d in again.directories.values()} == {"incremental"}
    assert report.ok
    assert report.totals["created"] == 0 and report.totals["updated"] == 0
    assert report.totals["unchanged"] == report.totals["fetched"] > 0
    assert rows(db, "SELECT * FROM users ORDER BY id") + rows(db, "SELECT * FROM objects") \
        == before


def test_changed_record_is_updated_and_local_columns_kept(seeded, db, db_url, tmp_path, mapping):
    sync(seeded, db_url, tmp_path, mapping)
    user = seeded.records("user")[0]
    with db.begin() as conn:
        conn.execute(text("UPDATE users SET tg_id = 777000111, secret_key = 'mine-keep-it-1234' "
                          f"WHERE btxid = {user['ID']}"))
    seeded.update_record("user", int(user["ID"]), NAME="Пётр", WORK_POSITION="Прораб")

    report = sync(seeded, db_url, tmp_path, mapping, "user")

    assert report.directories["user"].updated == 1
    assert report.directories["user"].unchanged == report.directories["user"].fetched - 1
    assert rows(db, f"SELECT first_name, position, tg_id, secret_key FROM users "
                    f"WHERE btxid = {user['ID']}") == [
        ("Пётр", "Прораб", 777000111, "mine-keep-it-1234")]


def test_vanished_records_are_deactivated_not_deleted(seeded, db, db_url, tmp_path, mapping):
    sync(seeded, db_url, tmp_path, mapping)
    gone = seeded.records("crm:1040")[0]["id"]
    seeded.delete_record("crm:1040", gone)

    report = sync(seeded, db_url, tmp_path, mapping, "object")

    assert report.directories["object"].deactivated == 1
    assert rows(db, f"SELECT is_active FROM objects WHERE btxid = {gone}") == [(False,)]
    assert scalar(db, "SELECT COUNT(*) FROM objects WHERE is_active") == len(
        seeded.records("crm:1040"))

    seeded.add_items(1040, [{"id": gone, "title": "Вернулся", "parentId1036": None}])
    report = sync(seeded, db_url, tmp_path, mapping, "object")
    assert report.directories["object"].updated == 1
    assert rows(db, f"SELECT is_active, name FROM objects WHERE btxid = {gone}") == [
        (True, "Вернулся")]


def test_mass_deactivation_is_refused_unless_allowed(seeded, db, db_url, tmp_path, mapping):
    sync(seeded, db_url, tmp_path, mapping)
    for item in seeded.records("crm:1036"):
        seeded.delete_record("crm:1036", item["id"])

    report = sync(seeded, db_url, tmp_path, mapping, "city")

    city = report.directories["city"]
    assert (city.status, city.deactivated) == (FAILED, 0)
    assert "--allow-mass-deactivation" in city.message
    assert report.exit_code == 1
    assert scalar(db, "SELECT COUNT(*) FROM cities WHERE is_active") == scalar(
        db, "SELECT COUNT(*) FROM cities")

    report = sync(seeded, db_url, tmp_path, mapping, "city", allow_mass_deactivation=True)
    assert report.directories["city"].status == OK
    assert scalar(db, "SELECT COUNT(*) FROM cities WHERE is_active") == 0


def test_bad_records_fail_alone(seeded, db, db_url, tmp_path, mapping):
    seeded.add_items(1036, [{"id": 90001, "title": "Я" * 300},
                            {"id": 90002, "title": ""},
                            {"id": 90003, "title": "Нормальный город"}])
    seeded.add_elements(52, [{"ID": "90004", "NAME": "Штраф", "PROPERTY_230": {"1": "много"}}])

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.exit_code == 1
    assert report.directories["city"].status == WITH_ERRORS
    assert report.directories["city"].errors == 2
    found = {(i.directory, i.btxid, i.field): i.message for i in report.issues}
    assert "too long (300 characters; the column holds 255)" in found[("city", 90001, "name")]
    assert "does not allow NULL" in found[("city", 90002, "name")]
    assert "not a number: 'много'" in found[("violation", 90004, "fine")]
    assert rows(db, "SELECT name FROM cities WHERE btxid = 90003") == [("Нормальный город",)]
    assert scalar(db, "SELECT COUNT(*) FROM cities WHERE btxid IN (90001, 90002)") == 0
    assert scalar(db, "SELECT COUNT(*) FROM cities") == len(seeded.records("crm:1036")) - 2


def test_unknown_reference_gives_null_and_a_warning(seeded, db, db_url, tmp_path, mapping):
    seeded.add_items(1040, [{"id": 95000, "title": "Объект без города", "parentId1036": 424242}])

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.directories["object"].status == OK
    assert report.directories["object"].warnings == 1
    assert rows(db, "SELECT city_id FROM objects WHERE btxid = 95000") == [(None,)]


def test_strings_are_stored_exactly(portal, db, db_url, tmp_path, mapping):
    tricky = ["Москва «Сити» & <Север>", 'Кавычки "двойные" и \'одинарные\'', "Эмодзи 🏗️🚧",
              "  пробелы по краям  ", "Back\\slash; DROP TABLE cities;--"]
    portal.add_items(1036, [{"id": i + 1, "title": t} for i, t in enumerate(tricky)])

    report = sync(portal, db_url, tmp_path, mapping, "city")

    assert report.ok
    assert [r[0] for r in rows(db, "SELECT name FROM cities ORDER BY btxid")] == tricky
    assert sync(portal, db_url, tmp_path, mapping, "city").totals["updated"] == 0


def test_one_failing_directory_does_not_stop_the_others(seeded, db, db_url, tmp_path, mapping):
    mapping["category"]["params"]["IBLOCK_ID"] = 4040  # no such list

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.directories["category"].status == FAILED
    assert "ERROR_IBLOCK_NOT_FOUND" in report.directories["category"].message
    assert report.directories["violation"].status == OK  # runs; its categories resolve NULL
    assert report.directories["user"].status == OK
    assert report.exit_code == 1
    assert scalar(db, "SELECT COUNT(*) FROM users") == len(seeded.records("user"))


def test_transient_faults_are_retried_to_the_same_result(seeded, db, db_url, tmp_path, mapping):
    seeded.fail("crm.item.list", status=503, error="QUERY_LIMIT_EXCEEDED",
                description="Too many requests", times=2)
    seeded.fail_raw("user.get", status=502, body="<html>502 Bad Gateway</html>")
    seeded.drop_connection("lists.element.get")
    client = Bitrix24Client(seeded.webhook_url, backoff=0.01)

    report = sync(seeded, db_url, tmp_path, mapping, client=client)

    assert report.ok, report.render_table()
    assert scalar(db, "SELECT COUNT(*) FROM objects") == len(seeded.records("crm:1040"))
    assert scalar(db, "SELECT COUNT(*) FROM users") == len(seeded.records("user"))


def test_bad_webhook_stops_the_run_with_exit_3(seeded, db, db_url, tmp_path, mapping):
    bad_url = seeded.webhook_url.replace(seeded.code, "wrongcode1")
    settings = settings_for(seeded, db_url, tmp_path, BITRIX_WEBHOOK_URL=bad_url)

    report = run_sync(settings, RunOptions(), overrides=mapping)

    assert report.exit_code == 3
    assert "rejected the webhook" in report.fatal
    assert "wrongcode1" not in report.fatal and "wrongcode1" not in str(report.to_dict())
    assert scalar(db, "SELECT COUNT(*) FROM cities") == 0


def test_unconfigured_directory_is_a_mapping_error(seeded, db, db_url, tmp_path):
    report = sync(seeded, db_url, tmp_path, {}, "city")

    assert report.exit_code == 2
    assert "params.entityTypeId" in report.fatal and "[city]" in report.fatal


def test_users_work_with_built_in_defaults(seeded, db, db_url, tmp_path):
    report = sync(seeded, db_url, tmp_path, {}, "user")

    assert report.ok
    assert scalar(db, "SELECT COUNT(*) FROM users") == len(seeded.records("user"))


def test_mysql_charset_is_utf8mb4(mysql_url, seeded, tmp_path, mapping):
    report = sync(seeded, mysql_url, tmp_path, mapping, "city")
    assert report.ok
    from app.db.connect import make_engine

    engine = make_engine(mysql_url)
    assert scalar(engine, "SELECT @@character_set_connection") == "utf8mb4"
    engine.dispose()


def test_an_existing_record_that_turns_bad_is_reported_not_deactivated(
        seeded, db, db_url, tmp_path, mapping):
    sync(seeded, db_url, tmp_path, mapping, "city")
    city = seeded.records("crm:1036")[2]
    seeded.update_record("crm:1036", city["id"], title="Г" * 300)

    report = sync(seeded, db_url, tmp_path, mapping, "city")

    assert report.directories["city"].errors == 1
    assert report.directories["city"].deactivated == 0
    assert rows(db, f"SELECT name, is_active FROM cities WHERE btxid = {city['id']}") == [
        (city["title"], True)]


def test_a_database_rejection_fails_alone_and_names_the_column(
        seeded, db, db_url, tmp_path, mapping):
    with db.begin() as conn:
        conn.execute(text("CREATE UNIQUE INDEX uq_city_name ON cities (name)"))
    first = seeded.records("crm:1036")[0]
    seeded.add_items(1036, [{"id": 91001, "title": first["title"]}])

    report = sync(seeded, db_url, tmp_path, mapping, "city")

    assert report.directories["city"].errors == 1
    issue = report.issues[0]
    assert (issue.directory, issue.btxid, issue.field) == ("city", 91001, "name")
    assert issue.message.startswith("the database refused the record")
    assert scalar(db, "SELECT COUNT(*) FROM cities") == len(seeded.records("crm:1036")) - 1


def test_a_number_too_big_for_its_column_fails_alone(seeded, db, db_url, tmp_path, mapping):
    seeded.add_elements(52, [{"ID": "91002", "NAME": "Огромный штраф",
                              "PROPERTY_230": {"1": "1e26"}}])

    report = sync(seeded, db_url, tmp_path, mapping)

    assert [(i.btxid, i.field) for i in report.issues] == [(91002, "fine")]
    assert "out of range for NUMERIC(12,2)" in report.issues[0].message
    assert report.directories["user"].status == OK
    assert scalar(db, "SELECT COUNT(*) FROM violations") == len(seeded.records("list:52")) - 1


def id_abc(portal, is_broken) -> None:
    """crm.item.list answers (in batches too) give the item `is_broken` picks the id "abc"."""
    def change(call, params, answer):
        for item in answer.result["items"]:
            if is_broken(item):
                item["id"] = "abc"
        return answer

    hook_method(portal, "crm.item.list", change)


def assert_one_record_without_id(report, name: str, created: int) -> None:
    stats = report.directories[name]
    assert (stats.status, stats.errors, stats.created) == (WITH_ERRORS, 1, created)
    assert [(i.directory, i.btxid, i.field) for i in report.issues] == [(name, None, "id")]
    assert "has no usable id in field 'id' ('abc')" in report.issues[0].message
    assert report.exit_code == 1


def test_a_record_without_a_usable_id_is_a_record_error(
        seeded, db, db_url, tmp_path, mapping):
    cities = seeded.records("crm:1036")
    broken = cities[1]["title"]
    id_abc(seeded, lambda item: item["title"] == broken)

    report = sync(seeded, db_url, tmp_path, mapping, "city")

    assert_one_record_without_id(report, "city", len(cities) - 1)
    data = report.to_dict()
    assert data["ok"] is False and data["directories"]["city"]["errors"] == 1
    assert "city, id: has no usable id" in report.render_table()
    assert scalar(db, "SELECT COUNT(*) FROM cities") == len(cities) - 1
    assert scalar(db, f"SELECT COUNT(*) FROM cities WHERE name = '{broken}'") == 0


def test_a_record_that_loses_its_id_keeps_every_row_active(
        seeded, db, db_url, tmp_path, mapping):
    """Its row cannot be told from a removed record's, so nothing is deactivated this run."""
    cities = seeded.records("crm:1036")
    broken = cities[1]
    assert sync(seeded, db_url, tmp_path, mapping, "city").ok
    id_abc(seeded, lambda item: item["title"] == broken["title"])

    report = sync(seeded, db_url, tmp_path, mapping, "city", full=True)

    assert_one_record_without_id(report, "city", 0)
    city = report.directories["city"]
    assert (city.deactivated, city.notices) == (0, [unmatched_notice()])
    assert report.render_table().count(unmatched_notice()) == 1
    assert scalar(db, f"SELECT is_active FROM cities WHERE btxid = {broken['id']}") == 1
    assert scalar(db, "SELECT COUNT(*) FROM cities WHERE is_active = 1") == len(cities)


def crm_selects(portal) -> list:
    """The select of every crm.item.list the portal was asked, batch commands included."""
    return [params.get("select") for params in portal.calls("crm.item.list")]


def test_a_sync_asks_only_for_the_mapped_fields(seeded, db, db_url, tmp_path, mapping):
    seed_more = [{"title": f"Город {i}", "ufCrm3_1709124000": "x"} for i in range(120)]
    seeded.add_items(1036, seed_more)

    report = sync(seeded, db_url, tmp_path, mapping, "city", "object")

    assert report.ok
    selects = crm_selects(seeded)
    assert len(selects) > 3  # first pages and batch commands
    assert {tuple(s) for s in selects} == {
        ("id",),  # each list's highest id (a reverse-ordered page of ids)
        ("id", "title"),
        ("id", *mapping["object"]["fields"]),
    }
    assert scalar(db, "SELECT COUNT(*) FROM cities") == len(seeded.records("crm:1036"))
    assert rows(db, "SELECT name FROM cities ORDER BY btxid DESC LIMIT 1") == [("Город 119",)]


def test_check_and_a_transforming_syncer_still_see_every_field(seeded, db, db_url, tmp_path,
                                                               mapping, monkeypatch):
    from app.commands.check import run_check
    from app.syncers.city_syncer import CitySyncer

    mapping_file = write_mapping_toml(tmp_path / "mapping.toml", mapping)
    report = run_check(lambda: settings_for(seeded, db_url, tmp_path,
                                            SYNC_MAPPING_FILE=str(mapping_file)))
    assert report.item("city: fields").status == "ok"
    assert None in crm_selects(seeded)  # --check reads whole rows
    seeded.reset_stats()

    monkeypatch.setattr(CitySyncer, "transform", lambda self, record: {
        **record, "title": record["title"] + record.get("stageId", "")})
    assert sync(seeded, db_url, tmp_path, mapping, "city").ok
    # Every page whole; only the highest id's command asks for the id alone.
    assert {s if s is None else tuple(s) for s in crm_selects(seeded)} == {None, ("id",)}


@pytest.mark.parametrize("position", [
    pytest.param(74, id="mid-page"),  # a row inside a page read by a chained command
    pytest.param(99, id="last-of-a-chained-page"),  # the row the next command refers to
    pytest.param(49, id="last-of-the-first-page"),  # the row the chains start after
])
def test_a_chained_read_steps_over_a_record_without_a_usable_id(
        portal, db, db_url, tmp_path, mapping, position):
    # 1,200 objects are read in chained pages; one comes back with id "abc" every time.
    seed_portal(portal, objects=1200)
    objects = portal.records("crm:1040")
    broken = objects[position]["id"]
    assert sync(portal, db_url, tmp_path, mapping, "city").ok
    id_abc(portal, lambda item: item["id"] == broken)

    report = sync(portal, db_url, tmp_path, mapping, "object")

    assert_one_record_without_id(report, "object", len(objects) - 1)
    assert scalar(db, "SELECT COUNT(*) FROM objects") == len(objects) - 1
    assert scalar(db, f"SELECT COUNT(*) FROM objects WHERE btxid = {broken}") == 0


def skip_across_a_boundary(portal, method: str, before_start: str, change) -> list:
    """Run `change()` once, just before `method` answers its page at `before_start`."""
    done: list = []

    def wrap(original):
        def hooked(params):
            if str(params.get("start")) == before_start and not done:
                done.append(change())
            return original(params)
        return hooked

    portal.hook(method, wrap)
    return done


@pytest.mark.parametrize("params", [
    {"FILTER": {">ID": 0, "WORK_POSITION": "staff"}},
    {"FILTER": {"LOGIC": "OR", "WORK_POSITION": "staff", "=WORK_POSITION": "lead"}},
], ids=["own-id-bound", "logic-or"])
def test_an_offset_read_that_skipped_a_live_record_does_not_deactivate_it(
        portal, db, db_url, tmp_path, mapping, params):
    # 151 users, all staff but #5: 150 under the filter, read newest first by offset. After
    # the first page (151..102), #151 leaves the filter and #5 joins it: the total stays
    # 150, ids still fall across every page, and #101 moves up onto the page already read,
    # so no page returns it. It is live: asked for by id, it stays active.
    made = portal.add_users([{"NAME": f"U{i}", "WORK_POSITION": "other" if i == 5 else "staff"}
                             for i in range(1, 152)])
    assert made == list(range(1, 152))
    mapping["user"]["params"] = params
    mapping["user"]["fields"] = {"NAME": "first_name", "WORK_POSITION": "position"}
    assert sync(portal, db_url, tmp_path, mapping, "user").ok
    done = skip_across_a_boundary(portal, "user.get", "50", lambda: [
        portal.update_record("user", 151, WORK_POSITION="other"),
        portal.update_record("user", 5, WORK_POSITION="staff")])

    report = sync(portal, db_url, tmp_path, mapping, "user", full=True)

    assert done, "the portal changed during the read"
    user = report.directories["user"]
    assert (user.status, user.deactivated, user.created) == (OK, 0, 1), report.render_table()
    assert report.exit_code == 0
    assert rows(db, "SELECT btxid FROM users WHERE NOT is_active") == []
    assert scalar(db, "SELECT COUNT(*) FROM users WHERE is_active") == 151

    # Asked by id with the filter merged, records that left the filter count as removed.
    portal.update_record("user", 150, WORK_POSITION="other")
    report = sync(portal, db_url, tmp_path, mapping, "user", full=True)
    assert report.directories["user"].deactivated == 2, report.render_table()
    assert rows(db, "SELECT btxid FROM users WHERE NOT is_active ORDER BY btxid") == [
        (150,), (151,)]


def test_an_offset_read_of_a_method_not_asked_by_id_deactivates_nothing(
        portal, db, db_url, tmp_path, mapping):
    # user.get stands in for a method that takes no id list: its id filter is ignored, so
    # the answer holds ids it was not asked for and nothing can be confirmed.
    portal.add_users([{"NAME": f"U{i}", "WORK_POSITION": "staff"} for i in range(1, 121)])
    mapping["user"]["params"] = {"FILTER": {">ID": 0, "WORK_POSITION": "staff"}}
    mapping["user"]["fields"] = {"NAME": "first_name", "WORK_POSITION": "position"}
    assert sync(portal, db_url, tmp_path, mapping, "user").ok
    portal.delete_record("user", 120)

    def ignore_id_lists(original):
        def hooked(params):
            params = dict(params)
            params["FILTER"] = {k: v for k, v in params["FILTER"].items() if k != "ID"}
            return original(params)
        return hooked

    portal.hook("user.get", ignore_id_lists)

    report = sync(portal, db_url, tmp_path, mapping, "user", full=True)

    user = report.directories["user"]
    assert (user.status, user.deactivated) == (OK, 0), report.render_table()
    assert any("cannot be asked for records by id" in n for n in user.notices)
    assert scalar(db, "SELECT COUNT(*) FROM users WHERE is_active") == 120


def test_a_record_refused_after_its_unknown_reference_still_warns_of_it(
        seeded, db, db_url, tmp_path, mapping):
    # Fields are converted in the mapping's order: an unknown city met before a value
    # that cannot be stored is still counted as a warning, and the record fails alone.
    from app.testing.seed import OBJECT_CITY_FIELD

    fields = mapping["object"]["fields"]
    mapping["object"]["fields"] = {OBJECT_CITY_FIELD: "city_id",
                                   **{k: v for k, v in fields.items() if k != OBJECT_CITY_FIELD}}
    seeded.add_items(1040, [{"id": 95001, "title": "Я" * 300, "parentId1036": 424242},
                            {"id": 95002, "title": "Объект", "parentId1036": 424242}])

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.directories["object"].warnings == 2
    assert [(i.btxid, i.field) for i in report.issues] == [(95001, "name")]
    assert rows(db, "SELECT btxid, city_id FROM objects WHERE btxid > 95000") == [(95002, None)]


def test_a_run_leaves_the_garbage_collector_as_it_found_it(seeded, db, db_url, tmp_path,
                                                            mapping):
    # A run collects less often and freezes what was alive before it; the service runs
    # sync after sync in one process, so both are undone when the run ends.
    import gc

    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()

    report = sync(seeded, db_url, tmp_path, mapping, "city")

    assert report.ok
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
