"""A real parent project: its own class names and schema, syncers configured in code,
the mini-app's own columns, and setup problems told together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from app.commands.check import run_check
from app.config import load_settings
from app.db.connect import make_engine
from app.syncers import SYNCERS
from app.syncers.city_syncer import CitySyncer
from app.syncers.user_syncer import UserSyncer
from tests.conftest import copy_project, run_cli, sync, write_mapping_toml

ROOT = Path(__file__).resolve().parent.parent

PARENT_DATABASE = '''
from sqlalchemy.orm import declarative_base
Base = declarative_base()
'''

# The mini-app's own models: other class and table names, is_active nowhere (Site marks
# removed rows in its own column), and a Base from a sibling module.
PARENT_MODELS = '''
from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String
from database import Base


class Town(Base):
    __tablename__ = "town"
    id = Column(Integer, primary_key=True)
    btxid = Column(Integer, unique=True)
    name = Column(String(120), nullable=False)


class Site(Base):
    __tablename__ = "site"
    id = Column(Integer, primary_key=True)
    btxid = Column(Integer, unique=True)
    title = Column(String(255), nullable=False)
    town_id = Column(Integer, ForeignKey("town.id"))
    enabled = Column(Boolean, nullable=False, default=True)


class TgUser(Base):
    __tablename__ = "tg_user"
    id = Column(Integer, primary_key=True)
    btxid = Column(Integer, unique=True)
    tg_id = Column(BigInteger, unique=True)
    secret_key = Column(String(64), nullable=False)
    full_name = Column(String(255))
'''

# The same models in one file, for MODELS_MODULE and for creating the tables here.
STANDALONE_MODELS = PARENT_MODELS.replace("from database import Base", PARENT_DATABASE)

PARENT_MAPPING = {
    "city": {"model": "Town", "params": {"entityTypeId": 1036}, "fields": {"title": "name"}},
    "object": {"model": "Site", "params": {"entityTypeId": 1040},
               "fields": {"title": "title", "parentId1036": "town_id"},
               "references": {"town_id": "city"}, "active_column": "enabled"},
    "user": {"model": "TgUser", "fields": {"LAST_NAME": "full_name"}},
}

# What a user adds to the shipped city_syncer.py, the original design's way: three
# overridden methods. They point the cities at the categories' universal list, which
# the declaration knows nothing about.
CITY_SYNCER_OVERRIDES = '''
    def get_bitrix_method(self) -> str:
        return "lists.element.get"

    def get_bitrix_params(self) -> dict:
        return {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": 48}

    def get_field_map(self) -> dict:
        return {"NAME": "name"}
'''


def run(project: Path, *argv: str, cwd: Path) -> tuple[int, dict, str]:
    """`python <project>/cli.py ARGV --json` in a fresh process: exit code, JSON, stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITRIX", "MYSQL"))}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, str(project / "cli.py"), *argv, "--json"],
                            cwd=cwd, capture_output=True, text=True, encoding="utf-8",
                            timeout=120, env=env)
    return result.returncode, json.loads(result.stdout), result.stderr


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def check_items(data: dict) -> dict[str, dict]:
    return {item["name"]: item for item in data["checks"]}


def keys_from(mapping_item: dict, where: str) -> list[str]:
    """The mapping keys a --check "<name>: mapping" item says came from `where`."""
    origin = mapping_item["detail"].splitlines()[1]  # "method, params from X; fields from Y"
    found = [part.split(" from ", 1) for part in origin.split("; ")]
    return next((keys.split(", ") for keys, source in found if source == where), [])


@pytest.fixture
def parent_db(mysql_url):
    """The MariaDB test database holding only the parent's own tables (and ours, emptied)."""
    engine = make_engine(mysql_url)
    namespace: dict = {}
    exec(STANDALONE_MODELS, namespace)
    namespace["Base"].metadata.create_all(engine)
    yield engine
    namespace["Base"].metadata.drop_all(engine)
    engine.dispose()


@pytest.mark.slow
def test_parent_models_without_is_active_and_other_class_names(seeded, parent_db, mysql_url,
                                                               tmp_path):
    """MiniApps/.env + MiniApps/models.py + MiniApps/bitrix-sync/, run from elsewhere."""
    parent = tmp_path / "MiniApps"
    project = copy_project(parent / "bitrix-sync", "cli.py")
    (parent / "database.py").write_text(PARENT_DATABASE, encoding="utf-8")
    (parent / "models.py").write_text(PARENT_MODELS, encoding="utf-8")
    (parent / ".env").write_text(f"BITRIX_WEBHOOK_URL={seeded.webhook_url}\n"
                                 f"DATABASE_URL={mysql_url}\nLOG_LEVEL=INFO\n", encoding="utf-8")
    write_mapping_toml(project / "mapping.toml", PARENT_MAPPING)
    with parent_db.begin() as conn:
        conn.execute(text("INSERT INTO tg_user (btxid, tg_id, secret_key, full_name) "
                          "VALUES (1, 555, 'keep-this-key-123', 'old')"))
    names = ("city", "object", "user")
    unmarked = (("city", "town"), ("user", "tg_user"))  # the tables without is_active

    code, check, _ = run(project, "--check", "--sync", *names, cwd=tmp_path)

    assert code == 0, check
    items = check_items(check)
    for name, model, table in (("city", "Town", "town"), ("object", "Site", "site"),
                               ("user", "TgUser", "tg_user")):
        assert items[f"{name}: model"]["status"] == "ok"
        assert items[f"{name}: model"]["detail"] == (
            f"class {model} from {parent / 'models.py'}, table {table} (the class name from "
            f"[{name}] of {project / 'mapping.toml'})")
    for name, table in unmarked:
        assert items[f"{name}: deactivation"]["status"] == "warn"
        assert (f"table {table} has no is_active column, so records removed in Bitrix24 are "
                "left as they are") in items[f"{name}: deactivation"]["detail"]
    assert "object: deactivation" not in items  # Site names its own column

    # --verbose: the INFO lines (which models, the notices) are on the console only with it
    code, report, log = run(project, "--sync", *names, "--verbose", cwd=tmp_path)

    assert code == 0, log
    assert f"Using models from parent project {parent / 'models.py'}" in log
    cities, sites = seeded.records("crm:1036"), seeded.records("crm:1040")
    assert report["directories"]["city"]["created"] == len(cities)
    assert report["directories"]["object"]["created"] == len(sites)
    for name, table in unmarked:
        note = f"table {table} has no is_active column"
        assert [n for n in report["directories"][name]["notices"] if note in n]
        assert log.count(note) == 1  # said once per directory
    assert "notices" not in report["directories"]["object"]
    linked = rows(parent_db, "SELECT COUNT(*) FROM site s JOIN town t ON t.id = s.town_id")
    assert linked == [(sum(1 for i in sites if i.get("parentId1036")),)]
    assert rows(parent_db, "SELECT tg_id, secret_key FROM tg_user WHERE btxid = 1") == [
        (555, "keep-this-key-123")]

    # Removed in Bitrix24: the city stays as it is (nothing to mark it with), the site
    # is marked in its own column.
    gone_city, gone_site = cities[0], sites[0]
    seeded.delete_record("crm:1036", gone_city["id"])
    seeded.delete_record("crm:1040", gone_site["id"])
    code, report, log = run(project, "--sync", "city", "object", cwd=tmp_path)

    assert code == 0, log
    city, site = report["directories"]["city"], report["directories"]["object"]
    assert (city["deactivated"], city["status"], city["mode"]) == (0, "ok", "incremental")
    assert (site["deactivated"], site["status"]) == (1, "ok")
    assert rows(parent_db, f"SELECT name FROM town WHERE btxid = {gone_city['id']}") == [
        (gone_city["title"],)]
    assert rows(parent_db, "SELECT COUNT(*) FROM town") == [(len(cities),)]
    assert rows(parent_db, "SELECT btxid FROM site WHERE NOT enabled") == [(gone_site["id"],)]


def test_an_active_column_the_table_lacks_is_a_setup_error(seeded, db, db_url, tmp_path,
                                                           mapping):
    mapping["city"]["active_column"] = "enabled"

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.exit_code == 2
    assert "table 'cities'" in report.fatal and "has no column 'enabled'" in report.fatal
    assert rows(db, "SELECT COUNT(*) FROM users") == [(0,)]


def test_parent_models_in_process(seeded, db, db_url, tmp_path):
    """The parent's models through MODELS_MODULE, on SQLite and MariaDB."""
    models = tmp_path / "mini_app_models.py"
    models.write_text(STANDALONE_MODELS, encoding="utf-8")
    namespace: dict = {}
    exec(STANDALONE_MODELS, namespace)
    namespace["Base"].metadata.create_all(db)
    env = {"MODELS_MODULE": str(models)}
    first = sync(seeded, db_url, tmp_path, PARENT_MAPPING, "city", env=env)
    removed = seeded.records("crm:1036")[0]
    seeded.delete_record("crm:1036", removed["id"])

    second = sync(seeded, db_url, tmp_path, PARENT_MAPPING, "city", env=env)

    assert (first.exit_code, second.exit_code) == (0, 0), first.fatal
    stats = second.directories["city"]
    assert (stats.deactivated, stats.created, len(stats.notices)) == (0, 0, 1)
    assert "city: table town has no is_active column" in second.render_table()
    assert second.to_dict()["directories"]["city"]["notices"] == stats.notices
    assert rows(db, f"SELECT name FROM town WHERE btxid = {removed['id']}") == [
        (removed["title"],)]
    namespace["Base"].metadata.drop_all(db)


def test_a_model_class_the_models_lack_is_named(seeded, db, db_url, tmp_path, mapping):
    mapping["city"]["model"] = "Town"

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.exit_code == 2
    assert "have no class 'Town' (the model of [city], from [city] in mapping.toml)" \
        in report.fatal
    assert "ViolationCategory" in report.fatal  # the classes it does have are listed


@pytest.mark.slow
def test_city_syncer_configured_in_code_drives_the_sync(seeded, mysql_url, tmp_path):
    project = copy_project(tmp_path / "bitrix-sync", "cli.py")
    city_syncer = project / "app" / "syncers" / "city_syncer.py"
    city_syncer.write_text(city_syncer.read_text(encoding="utf-8") + CITY_SYNCER_OVERRIDES,
                           encoding="utf-8")
    (project / ".env").write_text(f"BITRIX_WEBHOOK_URL={seeded.webhook_url}\n"
                                  f"DATABASE_URL={mysql_url}\n", encoding="utf-8")

    code, report, log = run(project, "--sync", "city", cwd=tmp_path)

    assert code == 0, log
    categories = seeded.records("list:48")
    assert report["directories"]["city"]["created"] == len(categories)
    engine = make_engine(mysql_url)
    assert rows(engine, "SELECT btxid, name FROM cities ORDER BY btxid") == [
        (int(c["ID"]), c["NAME"]) for c in categories]
    engine.dispose()

    code, check, _ = run(project, "--check", "--sync", "city", cwd=tmp_path)

    assert code == 0, check
    item = check_items(check)["city: mapping"]
    assert item["detail"].startswith(
        "lists.element.get(IBLOCK_TYPE_ID=lists, IBLOCK_ID=48) -> City: name")
    where = "app/syncers/city_syncer.py"
    for key, hook in (("method", "get_bitrix_method"), ("params", "get_bitrix_params"),
                      ("fields", "get_field_map")):
        assert keys_from(item, f"CitySyncer.{hook}() in {where}") == [key]
    assert check_items(check)["city: model"]["detail"].endswith(
        "(the class name is the built-in default)")

    # A mapping.toml section wins over the code, key by key.
    write_mapping_toml(project / "mapping.toml", {"city": {"params": {"IBLOCK_ID": 52}}})
    code, check, _ = run(project, "--check", "--sync", "city", cwd=tmp_path)

    assert code == 0, check
    items = check_items(check)
    assert items["city: mapping"]["detail"].startswith(
        "lists.element.get(IBLOCK_TYPE_ID=lists, IBLOCK_ID=52)")
    assert keys_from(items["city: mapping"], f"[city] of {project / 'mapping.toml'}") == [
        "params"]
    assert items["city: portal"]["detail"] == \
        f"lists.element.get answers: {len(seeded.records('list:52'))} records"


class CodedCitySyncer(CitySyncer):
    def get_bitrix_params(self) -> dict:
        return {"entityTypeId": 1036}

    def get_field_map(self) -> dict:
        return {"title": "name"}


def test_precedence_file_then_code_then_defaults(seeded, db, db_url, tmp_path, monkeypatch):
    monkeypatch.setitem(SYNCERS, "city", CodedCitySyncer)
    here = "CodedCitySyncer.{}() in tests/test_parent_project.py"

    coded = CodedCitySyncer().mapping
    filed = CodedCitySyncer({"fields": {"NAME": "name"}}, source="m.toml").mapping

    assert (coded.method, coded.params, coded.fields) == (
        "crm.item.list", {"entityTypeId": 1036}, {"title": "name"})
    assert coded.source("params") == here.format("get_bitrix_params")
    assert coded.source("method") == "built-in defaults (CodedCitySyncer in " \
                                     "tests/test_parent_project.py)"
    assert filed.fields == {"NAME": "name"}
    assert filed.source("fields") == "[city] in m.toml"
    assert filed.params == {"entityTypeId": 1036}

    report = sync(seeded, db_url, tmp_path, {}, "city")  # no mapping.toml at all

    assert report.exit_code == 0, report.render_table()
    assert rows(db, "SELECT COUNT(*) FROM cities") == [(len(seeded.records("crm:1036")),)]


def test_a_mapping_onto_tg_id_is_refused_before_any_write(capsys, seeded, mysql_url, tmp_path,
                                                          mapping):
    mapping["user"]["fields"]["UF_TELEGRAM"] = "tg_id"
    path = write_mapping_toml(tmp_path / "mapping.toml", mapping)
    engine = make_engine(mysql_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (btxid, tg_id, secret_key, first_name) "
                          "VALUES (1, 555, 'keep-this-key-123', 'old')"))

    code, out, _ = run_cli(capsys, "--json", "--webhook-url", seeded.webhook_url,
                           "--env-file", str(write_env(tmp_path, mysql_url, path)))

    assert code == 2
    fatal = json.loads(out)["fatal"]
    assert "Directory 'user' may not write tg_id: it belongs to the mini-app" in fatal
    assert f'remove fields: UF_TELEGRAM = "tg_id" from [user] in {path}' in fatal
    assert rows(engine, "SELECT tg_id, secret_key, first_name FROM users") == [
        (555, "keep-this-key-123", "old")]
    assert rows(engine, "SELECT COUNT(*) FROM cities") == [(0,)]
    engine.dispose()


def write_env(tmp_path: Path, db_url: str, mapping_file: Path) -> Path:
    path = tmp_path / "test.env"
    path.write_text(f"DATABASE_URL={db_url}\nSYNC_MAPPING_FILE={mapping_file}\n",
                    encoding="utf-8")
    return path


class KeyWritingUserSyncer(UserSyncer):
    def get_field_map(self) -> dict:
        return {**super().get_field_map(), "XML_ID": "secret_key"}


def test_a_protected_column_in_code_is_refused_naming_the_method(
        seeded, db, db_url, tmp_path, mapping, monkeypatch):
    monkeypatch.setitem(SYNCERS, "user", KeyWritingUserSyncer)
    del mapping["user"]  # the code is the user directory's mapping

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.exit_code == 2
    assert ('may not write secret_key: it belongs to the mini-app and is never taken from '
            'Bitrix24; remove fields: XML_ID = "secret_key" from '
            'KeyWritingUserSyncer.get_field_map() in tests/test_parent_project.py') \
        in report.fatal
    assert rows(db, "SELECT COUNT(*) FROM cities") == [(0,)]


def test_setup_problems_of_every_directory_come_together(seeded, db, db_url, tmp_path,
                                                         mapping):
    del mapping["city"]["params"]  # mapping: no entityTypeId
    mapping["object"]["model"] = "Site"  # model: no such class
    mapping["category"]["fields"]["PROPERTY_201"] = "abbreviation"  # the model lacks it
    mapping["user"]["fields"]["UF_TELEGRAM"] = "tg_id"  # a protected column
    with db.begin() as conn:
        conn.execute(text("ALTER TABLE violations DROP COLUMN fine"))  # the table lacks it

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.exit_code == 2
    lines = report.fatal.splitlines()
    assert lines[0] == "The setup has problems; nothing was written:"
    for words in ("Directory 'city' is not configured: set params.entityTypeId",
                  "have no class 'Site' (the model of [object]",
                  "model ViolationCategory (table 'violation_categories', built-in "
                  "app/db/models.py) has no column 'abbreviation'",
                  "table 'violations' has no column 'fine'; add it with: ALTER TABLE",
                  "Directory 'user' may not write tg_id"):
        assert sum(words in line for line in lines) == 1, (words, report.fatal)
    assert len(lines) == 6
    assert rows(db, "SELECT COUNT(*) FROM users") == [(0,)]


def test_an_id_field_other_than_the_methods_own_is_refused_before_any_write(
        seeded, db, db_url, tmp_path, mapping):
    """btxid from one field, removals counted by the method's id: refused (issue 16 §6)."""
    mapping["category"]["id_field"] = "XML_ID"
    mapping["city"]["id_field"] = "id"  # the method's own id: fine

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.exit_code == 2
    lines = report.fatal.splitlines()
    assert len(lines) == 2 and lines[0] == "The setup has problems; nothing was written:"
    assert lines[1] == (
        "  - directory 'category': id_field = \"XML_ID\" is not the id field of "
        "lists.element.get (\"ID\"). Paging, the by-id checks and the removal counts use "
        "\"ID\", so a btxid from another field would be compared with other numbers. Remove "
        "id_field ([category] in mapping.toml): the id is found by itself; or set "
        "id_field = \"ID\"")
    assert rows(db, "SELECT COUNT(*) FROM cities") == [(0,)]


def test_a_referenced_directory_s_missing_model_stops_the_run_before_any_write(
        seeded, db, db_url, tmp_path, mapping):
    """--sync category object reads city's table for object's references: its model counts."""
    mapping["city"]["model"] = "Town"  # the built-in models have no Town

    report = sync(seeded, db_url, tmp_path, mapping, "category", "object")

    assert report.exit_code == 2
    assert "have no class 'Town' (the model of [city], which [object] refers to, from " \
           "[city] in mapping.toml)" in report.fatal
    assert rows(db, "SELECT COUNT(*) FROM violation_categories") == [(0,)]


# The mini-app's users table as the original design has it, without is_active.
MINI_USERS = '''
from sqlalchemy import BigInteger, Column, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()


class TgUser(Base):
    __tablename__ = "tg_user"
    id = Column(Integer, primary_key=True)
    btxid = Column(Integer, unique=True)
    tg_id = Column(BigInteger, unique=True)
    secret_key = Column(String(64), nullable=False)
    first_name = Column(String(255))
    last_name = Column(String(255))
    email = Column(String(255))
    position = Column(String(255))
    phone = Column(String(255))
'''


def test_a_users_table_without_is_active_syncs_with_the_built_in_fields(
        seeded, db, db_url, tmp_path):
    """The built-in user fields write ACTIVE into is_active; a table without it still syncs."""
    models = tmp_path / "mini_users.py"
    models.write_text(MINI_USERS, encoding="utf-8")
    namespace: dict = {}
    exec(MINI_USERS, namespace)
    namespace["Base"].metadata.create_all(db)
    with db.begin() as conn:
        conn.execute(text("INSERT INTO tg_user (btxid, tg_id, secret_key, first_name) "
                          "VALUES (1, 555, 'keep-this-key-123', 'old')"))

    report = sync(seeded, db_url, tmp_path, {"user": {"model": "TgUser"}}, "user",
                  env={"MODELS_MODULE": str(models)})

    assert report.exit_code == 0, report.fatal
    users = seeded.records("user")
    assert report.directories["user"].created == len(users) - 1
    assert any("table tg_user has no is_active column" in n
               for n in report.directories["user"].notices)
    assert rows(db, "SELECT COUNT(*) FROM tg_user") == [(len(users),)]
    assert rows(db, "SELECT tg_id, secret_key FROM tg_user WHERE btxid = 1") == [
        (555, "keep-this-key-123")]

    env = {"BITRIX_WEBHOOK_URL": seeded.webhook_url, "DATABASE_URL": db_url,
           "MODELS_MODULE": str(models), "SYNC_MAPPING_FILE": str(write_mapping_toml(
               tmp_path / "mapping.toml", {"user": {"model": "TgUser"}}))}
    check = run_check(lambda: load_settings(environ=env, project_dir=tmp_path / "p"), ("user",))

    assert check.exit_code == 0, check.render()
    assert check.item("user: deactivation").status == "warn"
    namespace["Base"].metadata.drop_all(db)


@pytest.mark.slow
def test_the_parent_folder_shadows_none_of_our_modules(seeded, parent_db, mysql_url, tmp_path):
    """The parent's own `app` package and a module named like the MySQL driver (imported only
    when the engine is made, after the parent's models) stay behind ours."""
    parent = tmp_path / "MiniApps"
    project = copy_project(parent / "bitrix-sync", "cli.py")
    (parent / "database.py").write_text(PARENT_DATABASE, encoding="utf-8")
    (parent / "models.py").write_text(PARENT_MODELS, encoding="utf-8")
    for module in (parent / "app" / "__init__.py", parent / "app" / "report.py",
                   parent / "pymysql.py"):
        module.parent.mkdir(exist_ok=True)
        module.write_text('raise ImportError("the parent\'s module was imported")\n',
                          encoding="utf-8")
    (parent / ".env").write_text(f"BITRIX_WEBHOOK_URL={seeded.webhook_url}\n"
                                 f"DATABASE_URL={mysql_url}\n", encoding="utf-8")
    write_mapping_toml(project / "mapping.toml", PARENT_MAPPING)

    code, report, log = run(project, "--sync", "city", cwd=tmp_path)

    assert code == 0, log
    assert "the parent's module was imported" not in log
    assert rows(parent_db, "SELECT COUNT(*) FROM town") == [(len(seeded.records("crm:1036")),)]
