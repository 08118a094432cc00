"""The database gets what it can hold: strict SQL mode always, values checked against
max_allowed_packet before they are sent, and a bad value fails its record alone."""

from __future__ import annotations

import textwrap
from urllib.parse import quote

import pytest
from sqlalchemy import text

from app.db.connect import STRICT_MODE, make_engine
from app.testing.seed import CITY_ENTITY_TYPE_ID, CITY_REGION_FIELD, seed_portal
from tests.conftest import sync
from tests.ops_helpers import execute, query, scalar

CITIES = f"crm:{CITY_ENTITY_TYPE_ID}"


def non_strict(url: str, modes: str = "") -> str:
    """The URL with every new session set to `modes` first, like a server whose default
    sql_mode is not strict (pymysql runs init_command as it connects)."""
    return f"{url}&init_command={quote(f'SET SESSION sql_mode = {modes!r}')}"


@pytest.mark.parametrize("modes", ["", "NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO"])
def test_a_session_set_to_non_strict_mode_still_gets_strict(mysql_url, modes):
    url = non_strict(mysql_url, modes)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            mode = conn.execute(text("SELECT @@SESSION.sql_mode")).scalar()
    finally:
        engine.dispose()
    # The server keeps the session's own modes and adds ours (in its own order).
    assert set(mode.split(",")) == {m for m in modes.split(",") if m} | {STRICT_MODE}


def test_an_already_strict_session_is_left_as_it_is(mysql_url):
    engine = make_engine(non_strict(mysql_url, f"{STRICT_MODE},NO_ENGINE_SUBSTITUTION"))
    try:
        with engine.connect() as conn:
            mode = conn.execute(text("SELECT @@SESSION.sql_mode")).scalar()
    finally:
        engine.dispose()
    assert mode == f"{STRICT_MODE},NO_ENGINE_SUBSTITUTION"


def test_an_out_of_range_id_fails_alone_on_a_non_strict_server(seeded, mysql_url, tmp_path,
                                                               mapping):
    # Non-strict, MySQL would store 2^31+10 in the INT column as 2147483647, silently.
    big = 2**31 + 10
    seeded.add_items(CITY_ENTITY_TYPE_ID, [{"id": big, "title": "Новый город"}])
    report = sync(seeded, non_strict(mysql_url), tmp_path, mapping, "city")
    assert report.exit_code == 1
    [issue] = report.issues
    assert (issue.directory, issue.btxid, issue.field) == ("city", big, "btxid")
    assert "Out of range value for column 'btxid'" in issue.message
    assert report.directories["city"].created == 8
    assert scalar(mysql_url, "SELECT COUNT(*) FROM cities") == 8
    assert scalar(mysql_url, "SELECT MAX(btxid) FROM cities") < 2**31 - 1

    # The next run reports it again and changes nothing else; gone from the portal, it is fine.
    again = sync(seeded, non_strict(mysql_url), tmp_path, mapping, "city")
    assert (again.exit_code, len(again.issues), again.directories["city"].unchanged) == (1, 1, 8)
    seeded.delete_record(CITIES, big)
    assert sync(seeded, non_strict(mysql_url), tmp_path, mapping, "city").exit_code == 0


def test_a_text_longer_than_the_real_column_fails_alone_on_a_non_strict_server(
        seeded, mysql_url, tmp_path, mapping):
    # The model says 255; the table is narrower (a parent project's migration, say).
    execute(mysql_url, "ALTER TABLE cities MODIFY name VARCHAR(40) NOT NULL")
    [first, second, *_] = seeded.records(CITIES)
    seeded.update_record(CITIES, second["id"], title="Г" * 41)
    report = sync(seeded, non_strict(mysql_url), tmp_path, mapping, "city")
    assert report.exit_code == 1
    [issue] = report.issues
    assert (issue.directory, issue.btxid, issue.field) == ("city", second["id"], "name")
    assert "Data too long for column 'name'" in issue.message
    names = {r["btxid"]: r["name"] for r in query(mysql_url, "SELECT btxid, name FROM cities")}
    assert len(names) == 7 and second["id"] not in names
    assert names[first["id"]] == first["title"]


PARENT_MODELS = textwrap.dedent("""
    from sqlalchemy import Boolean, Column, Integer, String
    from sqlalchemy.dialects.mysql import LONGTEXT
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()


    class City(Base):
        __tablename__ = "cities"
        id = Column(Integer, primary_key=True, autoincrement=True)
        btxid = Column(Integer, unique=True)
        is_active = Column(Boolean, nullable=False, default=True)
        name = Column(String(255), nullable=False)
        note = Column(LONGTEXT)
""")


@pytest.mark.slow
def test_a_value_over_max_allowed_packet_fails_alone_and_the_connection_survives(
        seeded, mysql_url, tmp_path, mapping):
    # A parent project whose cities have a LONGTEXT column: the model sets no length, so
    # only the server's packet limit stands between a huge value and a dropped connection.
    (tmp_path / "models.py").write_text(PARENT_MODELS, encoding="utf-8")
    execute(mysql_url, "ALTER TABLE cities ADD COLUMN note LONGTEXT NULL")
    mapping["city"]["fields"][CITY_REGION_FIELD] = "note"
    limit = scalar(mysql_url, "SELECT @@max_allowed_packet")
    cities = seeded.records(CITIES)
    huge = cities[3]["id"]  # in the middle: the rows after it go over the same connection
    seeded.update_record(CITIES, huge, **{CITY_REGION_FIELD: "x" * limit})

    report = sync(seeded, mysql_url, tmp_path, mapping, "city")
    assert report.exit_code == 1, report.to_dict()
    [issue] = report.issues
    assert (issue.directory, issue.btxid, issue.field) == ("city", huge, "note")
    assert issue.message.startswith(f"note is too big for the database: {limit + 2:,} bytes")
    assert "max_allowed_packet" in issue.message
    assert report.directories["city"].created == 7
    stored = query(mysql_url, "SELECT btxid, LENGTH(note) AS size FROM cities ORDER BY btxid")
    assert [r["btxid"] for r in stored] == [c["id"] for c in cities if c["id"] != huge]

    # Back to a normal size, it lands; the run after that changes nothing.
    seeded.update_record(CITIES, huge, **{CITY_REGION_FIELD: "обычное описание"})
    assert sync(seeded, mysql_url, tmp_path, mapping, "city").exit_code == 0
    assert scalar(mysql_url, f"SELECT note FROM cities WHERE btxid = {huge}") == \
        "обычное описание"
    last = sync(seeded, mysql_url, tmp_path, mapping, "city")
    city = last.directories["city"]
    assert (last.exit_code, city.created, city.updated) == (0, 0, 0)


def test_a_directory_that_waits_on_the_portal_outlives_a_short_wait_timeout(
        portal, mysql_url, tmp_path, mapping):
    # A host that closes connections idle for 1 s (wait_timeout, as pymysql's init_command
    # sets it for every new session); the objects' chained pages come 3 s late, while the
    # objects' connection waits for them with its transaction open.
    seed_portal(portal, objects=2600)
    url = f"{mysql_url}&init_command={quote('SET SESSION wait_timeout = 1')}"
    portal.stall("batch", seconds=3)

    report = sync(portal, url, tmp_path, mapping, "city", "object")

    assert report.exit_code == 0, report.render_table()
    assert scalar(mysql_url, "SELECT COUNT(*) FROM objects") == 2600


def test_a_row_near_max_allowed_packet_is_measured_exactly(mysql_url):
    # The guard's quick bound (four bytes a character) overshoots a row of two-byte letters
    # or escaped quotes; such a row is measured exactly: at the limit it goes in, two bytes
    # over it fails alone, and the rows around it are written.
    from app.db.models import City
    from app.report import SyncReport
    from app.sync.writer import Prepared, TableWriter

    room = 64 * 1024  # the statement around the row
    limit = room + (2 * 200 + 2) + (len("name") + 8) + (len("True") + 2) + (len("is_active") + 8)
    report = SyncReport()
    db = make_engine(mysql_url)
    with db.connect() as conn:
        transaction = conn.begin()
        writer = TableWriter(conn, City.__table__, directory="city", columns=["name"],
                             active_column="is_active", new_row_defaults=dict, report=report)
        writer.load_existing()
        writer.max_packet = limit
        writer.write([Prepared(1, {"name": "Ж" * 200}), Prepared(2, {"name": "'" * 201}),
                      Prepared(3, {"name": "'" * 200}), Prepared(4, {"name": "Ж" * 201}),
                      Prepared(5, {"name": "x" * 255})])
        transaction.commit()
    db.dispose()

    assert [(i.btxid, i.field) for i in report.issues] == [(2, "name"), (4, "name")]
    assert report.issues[0].message.startswith("name is too big for the database: 404 bytes")
    stored = query(mysql_url, "SELECT btxid, name FROM cities ORDER BY btxid")
    assert [(r["btxid"], len(r["name"])) for r in stored] == [(1, 200), (3, 200), (5, 255)]


@pytest.mark.parametrize("modes", ["", "NO_BACKSLASH_ESCAPES"])
def test_text_the_sql_quotes_around_comes_back_as_it_went(mysql_url, modes):
    # New rows go as multi-row INSERT text: every character SQL or the driver treats
    # specially must come back unchanged, also on a server that doubles quotes instead
    # of escaping them.
    from app.db.models import City
    from app.report import SyncReport
    from app.sync.writer import Prepared, TableWriter

    names = ["100%", "%s", "%(name)s", "a'b", 'q"q', "back\\slash", "nul\0x", "new\nline\r",
             "\x1a", "Ж😀", "\\'); DROP TABLE cities; --", "'); DROP TABLE cities; --"]
    db = make_engine(non_strict(mysql_url, modes))
    report = SyncReport()
    with db.connect() as conn:
        transaction = conn.begin()
        writer = TableWriter(conn, City.__table__, directory="city", columns=["name"],
                             active_column="is_active", new_row_defaults=dict, report=report)
        writer.load_existing()
        writer.write([Prepared(i, {"name": name}) for i, name in enumerate(names, 1)])
        transaction.commit()
    db.dispose()

    assert report.issues == []
    stored = query(mysql_url, "SELECT btxid, name, is_active FROM cities ORDER BY btxid")
    assert [(r["btxid"], r["name"], r["is_active"]) for r in stored] == \
        [(i, name, 1) for i, name in enumerate(names, 1)]


def test_tls_asked_for_in_the_url_is_still_required(mysql_url):
    # Connections share one TLS context when the URL says nothing about TLS (connect.py);
    # a URL's own TLS settings still go to PyMySQL as they are. The test server has no
    # certificate from a public CA (or no TLS at all), so a verified TLS session fails.
    import certifi

    from app.db.connect import check_connection
    from app.errors import DatabaseError

    plain = make_engine(mysql_url)
    verified = make_engine(f"{mysql_url}&ssl_ca={quote(certifi.where())}&ssl_verify_cert=true")
    try:
        check_connection(plain)
        with plain.connect() as one, plain.connect() as two:
            assert [c.execute(text("SELECT 1")).scalar() for c in (one, two)] == [1, 1]
        with pytest.raises(DatabaseError):
            check_connection(verified)
    finally:
        plain.dispose()
        verified.dispose()


def test_the_database_tls_context_made_ahead_is_the_one_every_connection_takes(
        mysql_url, sqlite_url, monkeypatch):
    # A run has PyMySQL's "preferred" TLS context made in the background while it sets
    # itself up (connect.prepare_tls); the connections then take that one, made once.
    import threading

    from app.db import connect

    monkeypatch.setattr(connect, "_preferred", [])
    connect.prepare_tls(sqlite_url)  # another driver, and the URL's own TLS settings:
    connect.prepare_tls(f"{mysql_url}&ssl_disabled=true")  # not this context
    assert not [t for t in threading.enumerate() if t.name == "db-tls-context"]

    connect.prepare_tls(mysql_url)
    for thread in threading.enumerate():
        if thread.name == "db-tls-context":
            thread.join(10)
    assert len(connect._preferred) == 1  # made before any connection asked for it
    made = connect._preferred[0]

    engine = make_engine(mysql_url)
    try:
        with engine.connect() as one, engine.connect() as two:
            assert one.connection.dbapi_connection.ctx is made
            assert two.connection.dbapi_connection.ctx is made
    finally:
        engine.dispose()
    assert connect._preferred == [made]
