"""--check: every checklist item passing, then each one failing with its fix and exit code."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

import cli
from app.commands.check import FAIL, OK, SKIP, WARN, run_check
from app.config import load_settings
from app.db.connect import make_engine
from app.testing.portal import FakePortal
from app.testing.seed import DEMO_MAPPING, seed_portal
from tests.conftest import write_mapping_toml

DIRECTORIES = ("city", "category", "object", "violation", "user")


@dataclass
class World:
    """What one check looks at: a portal, a database, settings and the mapping."""

    portal: FakePortal
    db_url: str
    tmp_path: Path
    mapping: dict = field(default_factory=lambda: copy.deepcopy(DEMO_MAPPING))
    env: dict = field(default_factory=dict)

    def sql(self, *statements: str) -> None:
        engine = make_engine(self.db_url)
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
        engine.dispose()

    def check(self, *names: str):
        env = {"BITRIX_WEBHOOK_URL": self.portal.webhook_url, "DATABASE_URL": self.db_url,
               "BITRIX_MAX_RETRIES": "0",
               "SYNC_MAPPING_FILE": str(write_mapping_toml(self.tmp_path / "mapping.toml",
                                                           self.mapping)),
               **self.env}
        env = {k: v for k, v in env.items() if v is not None}
        return run_check(lambda: load_settings(environ=env, project_dir=self.tmp_path / "p"),
                         names)


@pytest.fixture
def world(seeded, sqlite_url, tmp_path) -> World:
    return World(seeded, sqlite_url, tmp_path)


def test_every_item_passes_on_a_good_setup(world):
    report = world.check()

    assert report.exit_code == 0, report.render()
    assert {i.status for i in report.items} == {OK}
    names = [i.name for i in report.items]
    assert names[:2] == ["settings", "mapping"]
    for name in DIRECTORIES:
        for item in ("mapping", "portal", "fields"):
            assert f"{name}: {item}" in names
    for item in ("models", "database", "webhook", "object: reference city_id -> city",
                 "violation: reference category_id -> category"):
        assert item in names
    for table in ("cities", "objects", "violation_categories", "violations", "users"):
        assert f"table {table}" in names and f"{table}.btxid unique" in names
    assert report.item("city: portal").detail == "crm.item.list answers: 8 records"
    assert report.render().endswith("next: `python cli.py --dry-run` shows what a sync would "
                                    "change without writing anything; then `python cli.py`.")


def _no_webhook(w):
    w.env["BITRIX_WEBHOOK_URL"] = None


def _bad_toml(w):
    w.mapping["city"]["colour"] = "red"


def _city_unconfigured(w):
    del w.mapping["city"]["params"]


def _bad_models(w):
    w.env["MODELS_MODULE"] = "no_such_models_module"


def _db_down(w):
    w.env["DATABASE_URL"] = "mysql+pymysql://root:pw@127.0.0.1:9/none"


def _db_driver_missing(w):
    w.env["DATABASE_URL"] = "mysql+nodriver://root:pw@127.0.0.1/none"


def _table_missing(w):
    w.sql("DROP TABLE violations")


def _column_missing(w):
    w.sql("ALTER TABLE objects DROP COLUMN address")


def _bad_code(w):
    w.env["BITRIX_WEBHOOK_URL"] = w.portal.webhook_url.replace(w.portal.code, "Wr0ngCode99")


def _portal_down(w):
    w.env["BITRIX_WEBHOOK_URL"] = "http://127.0.0.1:9/rest/1/SomeCode123/"


def _no_lists_scope(w):
    w.portal.scopes = ("crm", "user", "basic")


def _wrong_list_id(w):
    w.mapping["category"]["params"]["IBLOCK_ID"] = 999


def _access_denied(w):
    w.portal.fail("crm.item.list", status=400, error="ACCESS_DENIED", description="Access denied")


def _field_typo(w):
    w.mapping["object"]["fields"] = {"title": "name", "ufCrm5_170912500": "address"}


def _id_field_typo(w):
    w.mapping["city"]["id_field"] = "ident"


def _field_empty_everywhere(w):
    for row in w.portal.records("list:52"):
        w.portal.update_record("list:52", row["ID"], PROPERTY_230=None)


def _user_brief(w):
    w.portal.scopes = ("crm", "lists", "user_brief", "basic")


def _empty_directory(w):
    w.portal.add_list(70, name="Пустой список")
    w.mapping["category"]["params"]["IBLOCK_ID"] = 70


# (id, change, failing item, text in its detail or fix, exit code)
FAILURES = [
    ("settings", _no_webhook, "settings", "BITRIX_WEBHOOK_URL: is not set", 2),
    ("mapping-file", _bad_toml, "mapping", "unknown key 'colour'", 2),
    ("directory-mapping", _city_unconfigured, "city: mapping", "params.entityTypeId", 2),
    ("reference", _city_unconfigured, "object: reference city_id -> city",
     "[city] is not configured", 2),
    ("models", _bad_models, "models", "cannot be imported", 2),
    ("database", _db_down, "database", "Cannot connect to the database", 3),
    ("database-driver", _db_driver_missing, "database", "Can't load plugin", 2),
    ("table", _table_missing, "tables", "--init-db", 2),
    ("column", _column_missing, "table for Object",
     "ALTER TABLE objects ADD COLUMN address VARCHAR(512) NULL;", 2),
    ("webhook-code", _bad_code, "webhook", "rejected the webhook", 3),
    ("webhook-unreachable", _portal_down, "webhook", "Connection refused", 3),
    ("scope", _no_lists_scope, "category: scope", "tick the lists scope", 3),
    ("probe-not-found", _wrong_list_id, "category: portal", "ERROR_IBLOCK_NOT_FOUND", 2),
    ("probe-access", _access_denied, "city: portal", "read access", 3),
    ("field-typo", _field_typo, "object: field ufCrm5_170912500",
     "perhaps ufCrm5_1709125001?", 2),
    ("id-field-not-the-methods", _id_field_typo, "city: mapping",
     'id_field = "ident" is not the id field of crm.item.list ("id")', 2),
    ("user-brief", _user_brief, "user: field EMAIL", "tick the user_basic (or user) scope", 3),
]
WARNINGS = [
    ("field-empty", _field_empty_everywhere, "violation: field PROPERTY_230",
     "none of the 30 rows read carry it"),
    ("no-rows", _empty_directory, "category: fields", "returned no rows"),
]


@pytest.mark.parametrize("change, name, words, code",
                         [case[1:] for case in FAILURES], ids=[case[0] for case in FAILURES])
def test_each_failure_is_named_with_a_fix_and_its_exit_code(world, change, name, words, code):
    change(world)

    report = world.check()

    item = report.item(name)
    assert item.status == FAIL and item.exit_code == code
    assert item.fix, "every failure says what to do"
    assert words in item.detail + " " + item.fix
    assert report.exit_code == code
    assert f"[FAIL] {name}" in report.render() and f"fix: {item.fix}" in report.render()
    assert world.portal.code not in json.dumps(report.to_dict(), ensure_ascii=False)


@pytest.mark.parametrize("change, name, words", [case[1:] for case in WARNINGS],
                         ids=[case[0] for case in WARNINGS])
def test_warnings_do_not_fail_the_check(world, change, name, words):
    change(world)

    report = world.check()

    item = report.item(name)
    assert item.status == WARN and words in item.detail and item.fix
    assert report.exit_code == 0


def test_a_dead_webhook_skips_the_probes(world):
    _bad_code(world)
    report = world.check()
    item = report.item("portal")  # one line for all five, not one each
    assert item.status == SKIP and item.detail.startswith(", ".join(DIRECTORIES) + " not probed")
    assert not [i for i in report.items if i.name.endswith(": portal")]


def test_the_model_of_a_referenced_directory_outside_the_run_is_checked(world):
    world.mapping["city"]["model"] = "Town"  # the built-in models have no Town

    report = world.check("object")  # object's city_id needs the cities' table

    item = report.item("city: model")
    assert item.status == FAIL and "have no class 'Town'" in item.detail
    assert "which [object] refers to" in item.detail
    assert report.exit_code == 2


def test_an_unusable_database_driver_keeps_the_checklist(world):
    _db_driver_missing(world)

    report = world.check()

    assert report.item("database").status == FAIL
    assert report.item("webhook").status == OK
    assert [report.item(f"{n}: portal").status for n in DIRECTORIES] == [OK] * 5
    assert "cannot use the database URL mysql+nodriver://root:***@" in report.render()


@pytest.mark.parametrize(("state", "fix"), [
    ("rest_on_plan", "move it to a commercial Bitrix24 plan"),
    ("overloaded", "contact Bitrix24 support"),
    ("owner_active", "create the webhook again as an active employee"),
], ids=["free-plan", "overload", "owner-deactivated"])
def test_a_refused_webhook_gets_the_fix_for_its_reason(world, state, fix):
    setattr(world.portal, state, state == "overloaded")
    item = world.check().item("webhook")
    assert item.status == FAIL and fix in item.fix and "copy the inbound webhook" not in item.fix


def test_settings_and_connection_problems_together_exit_2(world):
    _city_unconfigured(world)
    _db_down(world)
    assert world.check().exit_code == 2


def test_btxid_without_unique_index_is_a_warning_naming_duplicates(db_url, seeded, tmp_path):
    world = World(seeded, db_url, tmp_path)
    world.sql("DROP TABLE users",
              "CREATE TABLE users (id INTEGER PRIMARY KEY, btxid INTEGER, tg_id BIGINT, "
              "secret_key VARCHAR(64) NOT NULL, first_name VARCHAR(255), "
              "last_name VARCHAR(255), email VARCHAR(255), position VARCHAR(255), "
              "phone VARCHAR(64), is_active BOOLEAN NOT NULL)",
              "INSERT INTO users (id, btxid, secret_key, is_active) VALUES (1, 5, 'a', 1), "
              "(2, 5, 'b', 1), (3, 6, 'c', 1)")

    item = world.check().item("users.btxid unique")

    assert item.status == WARN
    assert "1 btxid value(s) already appear more than once" in item.detail
    assert item.fix == ("delete the repeated rows, then run: CREATE UNIQUE INDEX "
                        "ux_users_btxid ON users (btxid);")


def test_cli_check_writes_nothing_and_prints_one_json_object(capsys, monkeypatch, world):
    for key, value in {"BITRIX_WEBHOOK_URL": world.portal.webhook_url,
                       "DATABASE_URL": world.db_url,
                       "SYNC_MAPPING_FILE": str(write_mapping_toml(
                           world.tmp_path / "m.toml", world.mapping))}.items():
        monkeypatch.setenv(key, value)
    database = Path(world.db_url.removeprefix("sqlite:///"))
    before = database.read_bytes()

    code = cli.main(["--check", "--json"])

    out, err = capsys.readouterr()
    assert code == 0, out
    data = json.loads(out)
    assert data["ok"] is True and data["exit_code"] == 0
    assert {c["status"] for c in data["checks"]} == {OK}
    assert {"settings", "database", "webhook"} <= {c["name"] for c in data["checks"]}
    assert database.read_bytes() == before
    assert [r.method for r in world.portal.requests if not r.method.startswith(
        ("crm.item.", "lists.", "user.", "scope"))] == []
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://root:pw@127.0.0.1:9/none")
    assert cli.main(["--check"]) == 3
    out, _ = capsys.readouterr()
    assert "[FAIL] database: Cannot connect" in out and ":pw@" not in out


def test_check_on_mariadb_passes(mysql_url, tmp_path):
    with FakePortal() as portal:
        seed_portal(portal)
        report = World(portal, mysql_url, tmp_path).check()
    assert report.exit_code == 0, report.render()


def test_an_unfilled_reference_is_named_even_when_its_directory_is_not_checked(
        sqlite_url, tmp_path):
    with FakePortal() as portal:
        seed_portal(portal, plain_category=True)
        world = World(portal, sqlite_url, tmp_path)
        del world.mapping["violation"]["fields"]["PROPERTY_212"]

        report = world.check("violation")  # the categories are read only for their ids

    item = report.item("violation: reference category_id -> category")
    assert item.status == WARN and report.exit_code == 0
    assert "PROPERTY_212" in item.detail and 'PROPERTY_212 = "category_id"' in item.fix


def test_a_left_out_link_of_a_smart_process_is_named_and_a_filled_one_is_ok(
        seeded, sqlite_url, tmp_path):
    world = World(seeded, sqlite_url, tmp_path)
    del world.mapping["object"]["fields"]["parentId1036"]  # objects without their city
    world.mapping["object"].pop("references")

    report = world.check()

    item = report.item("object: reference city_id -> city")
    assert item.status == WARN and "parentId1036" in item.detail
    assert report.item("violation: reference category_id -> category").status == OK


def test_a_sync_holding_the_lock_of_the_database_is_said(seeded, db_url, tmp_path):
    """On MariaDB the lock is the server's GET_LOCK, on SQLite the lock file."""
    from app.db.run_lock import run_lock

    world = World(seeded, db_url, tmp_path)
    engine = make_engine(world.db_url)
    try:
        with engine.connect() as conn, run_lock(conn):
            report = world.check()
    finally:
        engine.dispose()

    item = report.item("sync now")
    assert item.status == WARN and report.exit_code == 0
    assert item.detail.startswith("a sync is running now")
    assert "sync now" not in [i.name for i in world.check().items]
