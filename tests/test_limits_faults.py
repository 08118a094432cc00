"""Rate limits, operating-time budget and faults end to end: fake portal, real databases."""

from __future__ import annotations

import math
import re
import threading

import pytest
from sqlalchemy import text

from app.bitrix.client import Bitrix24Client
from app.bitrix.limits import OperatingBudget, RateLimiter
from app.db.models import City
from app.report import DirectoryStatus, SyncReport
from app.sync import directory
from app.sync.runner import RunOptions, run_sync
from app.sync.writer import Prepared, TableWriter
from app.testing.envelope import GATEWAY_TIMEOUT_PAGE
from app.testing.portal import FakePortal
from app.testing.seed import seed_portal
from tests.conftest import hook_method, settings_for, sync

OK, FAILED = DirectoryStatus.OK, DirectoryStatus.FAILED

COUNTS = {"city": "crm:1036", "object": "crm:1040", "category": "list:48",
          "violation": "list:52", "user": "user"}


def snapshot(db) -> dict[str, list[tuple]]:
    with db.connect() as conn:
        return {table: [tuple(r) for r in conn.execute(text(
            f"SELECT btxid, name, is_active FROM {table} ORDER BY btxid"))]
            for table in ("cities", "objects", "violation_categories", "violations")}


@pytest.fixture
def big(portal: FakePortal) -> FakePortal:
    """Enough rows that every directory needs batches, and objects split into chains."""
    seed_portal(portal, cities=120, objects=5600, categories=60, violations=700, users=300)
    return portal


def assert_complete_and_stable(report: SyncReport, portal, db, db_url, tmp_path, mapping):
    """The run loaded everything, and a fault-free run afterwards has nothing to change."""
    assert report.ok, report.render_table()
    for name, collection in COUNTS.items():
        stats = report.directories[name]
        assert stats.complete and stats.fetched == len(portal.records(collection)), name
    before = snapshot(db)
    again = sync(portal, db_url, tmp_path, mapping)
    assert again.ok
    assert (again.totals["created"], again.totals["updated"], again.totals["deactivated"]) \
        == (0, 0, 0)
    assert snapshot(db) == before


@pytest.mark.slow
def test_full_sync_stays_within_the_request_budget(big, db, db_url, tmp_path, mapping):
    report = sync(big, db_url, tmp_path, mapping)

    records = sum(len(big.records(c)) for c in COUNTS.values())
    assert report.ok and report.totals["created"] == records
    assert big.request_count <= math.ceil(records / 2500) + 10
    assert all(r.status == 200 for r in big.requests)


def test_matching_limits_never_meet_query_limit_exceeded(big, db, db_url, tmp_path, mapping):
    # After the first batch (every list's first page), the objects' parts and the other
    # lists' chains are all sent at once: more than the burst of 3 without the limiter.
    big.rate_limit, big.burst = 20.0, 3

    report = sync(big, db_url, tmp_path, mapping,
                  env={"BITRIX_RATE_LIMIT": "20", "BITRIX_RATE_BURST": "3"})

    assert report.ok
    assert big.request_count >= 5
    assert [r for r in big.requests if r.status == 503] == []


def test_without_the_limiter_the_same_bucket_overflows():
    # The contrast that makes the test above meaningful: five directories read at once.
    now = [0.0]  # the bucket drains only while a client waits before its retry

    def wait(seconds: float) -> None:
        now[0] += seconds

    with FakePortal(rate_limit=5.0, burst=3, bucket_clock=lambda: now[0]) as portal:
        client = Bitrix24Client(portal.webhook_url, backoff=0.01, max_retries=10, sleep=wait)
        answers: list[dict] = []
        threads = [threading.Thread(target=lambda: answers.append(client.call("user.get")))
                   for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        client.close()
        statuses = [r.status for r in portal.requests]
    assert statuses[:3] == [200] * 3 and statuses[3] == 503  # the fourth at once overflows
    assert len(answers) == 6  # retries got every call through in the end


def test_rate_limiter_paces_requests_like_the_portal():
    clock = [0.0]
    limiter = RateLimiter(2.0, 5, clock=lambda: clock[0], sleep=lambda s: None)

    waits = [limiter.reserve() for _ in range(8)]

    # A burst of four (one slot kept as headroom), then one every half second.
    assert waits == [0, 0, 0, 0, 0.5, 1.0, 1.5, 2.0]
    clock[0] = 10.0
    assert limiter.reserve() == 0
    limiter.saturate()  # the portal said the bucket is full: wait for slots to drain
    assert [limiter.reserve(), limiter.reserve()] == [pytest.approx(0.5), pytest.approx(1.0)]


def test_operating_budget_slows_down_before_it_is_spent():
    now = [1000.0]
    budget = OperatingBudget(clock=lambda: now[0])
    budget.observe("crm.item.list", {"operating": 100.0, "operating_reset_at": 1030})
    assert budget.pause_before(("batch", "crm.item.list")) == 0

    budget.observe("crm.item.list", {"operating": 400.0, "operating_reset_at": 1030})
    assert budget.pause_before(("batch", "crm.item.list")) == 30.0
    assert budget.pause_before(("crm.item.list",)) == 0  # re-learnt from the next answer

    budget.observe("batch", {"operating": 480.5, "operating_reset_at": 1200})
    assert budget.blocked_wait("batch") == 200.0
    assert budget.blocked_wait("batch") == 60.0  # nothing known: the bounded default


def chained(params: dict) -> bool:
    """A chained page's command: uncounted (start=-1) and ascending (the highest id's command
    is uncounted too, but descending)."""
    return str(params.get("start")) == "-1" and "ASC" in str(params.get("order"))


def first_page(params: dict) -> bool:
    return str(params.get("start")) == "0"


FAULTS = [
    pytest.param(lambda p: p.fail("batch", status=503, error="QUERY_LIMIT_EXCEEDED",
                                  description="Too many requests", times=3),
                 id="503-query-limit"),
    pytest.param(lambda p: p.fail("batch", status=500, error="INTERNAL_SERVER_ERROR", times=2),
                 id="500"),
    pytest.param(lambda p: p.fail_raw("batch", status=502, body="<html>502 Bad Gateway</html>",
                                      times=2), id="html-502"),
    pytest.param(lambda p: p.drop_connection("batch", times=2), id="dropped-connection"),
    pytest.param(lambda p: p.hold("batch"), id="timeout"),  # held until the test ends
    # Two chained pages further on, inside batches of the objects' parts.
    pytest.param(lambda p: p.fail("crm.item.list", status=500, error="INTERNAL_SERVER_ERROR",
                                  skip=3, times=2, when=chained), id="command-in-batch"),
    # The users' first page rides in the first batch: its command fails, and so does the
    # plain call that asks for it again.
    pytest.param(lambda p: p.fail("user.get", status=503, error="QUERY_LIMIT_EXCEEDED",
                                  times=2, when=first_page), id="503-plain-call"),
    pytest.param(lambda p: p.fail("user.get", status=503, error="QUERY_LIMIT_EXCEEDED",
                                  times=1, when=first_page), id="503-first-page-in-batch"),
]


@pytest.mark.slow
@pytest.mark.parametrize("inject", FAULTS)
def test_faults_end_in_the_fault_free_state(inject, big, db, db_url, tmp_path, mapping, caplog):
    inject(big)
    client = Bitrix24Client(big.webhook_url, backoff=0.01, max_retries=4, timeout=1.0)

    report = sync(big, db_url, tmp_path, mapping, client=client)

    assert_complete_and_stable(report, big, db, db_url, tmp_path, mapping)
    retries = [r for r in caplog.records if r.levelname == "WARNING" and "retry" in r.message]
    assert retries, "each retry is logged"
    assert all(big.code not in r.getMessage() for r in caplog.records)
    client.close()


@pytest.mark.slow
def test_operation_time_limit_waits_for_the_budget_then_goes_on(big, db, db_url, tmp_path,
                                                                mapping, caplog):
    big.latency = 0.001
    big.operating_limit = 0.0  # every second call of a method is blocked

    waits: list[float] = []

    def pass_time(seconds: float) -> None:
        waits.append(seconds)
        big.reset_limits()  # the window has moved on while we waited

    # Threads share the blocked method, so one call may meet several blocks in a row.
    client = Bitrix24Client(big.webhook_url, backoff=0.01, max_retries=2, sleep=pass_time,
                            operating_wait_budget=1e6)

    report = sync(big, db_url, tmp_path, mapping, client=client)

    big.operating_limit = None
    assert any(r.status == 429 for r in big.requests)
    assert waits and all(1.0 <= w <= 600.0 for w in waits)
    assert any("OPERATION_TIME_LIMIT" in r.getMessage() for r in caplog.records)
    assert_complete_and_stable(report, big, db, db_url, tmp_path, mapping)
    client.close()


def test_overload_limit_fails_the_run_at_once(big, db, db_url, tmp_path, mapping):
    big.fail("*", status=503, error="OVERLOAD_LIMIT", description="REST API is blocked",
             times=1000)
    waits: list[float] = []
    client = Bitrix24Client(big.webhook_url, max_retries=3, sleep=waits.append)

    report = sync(big, db_url, tmp_path, mapping, client=client)

    assert waits == []  # no backoff, no pause: the run ends at the first refusal
    assert report.exit_code == 3
    assert "contact Bitrix24 support" in report.fatal
    # No retries: at most one refused request per directory read in parallel.
    assert len(big.requests) <= len(COUNTS)
    with db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM objects")).scalar() == 0


@pytest.mark.parametrize(("state", "words"), [
    ("overloaded", "contact Bitrix24 support"),
    ("rest_on_plan", "plan does not allow REST"),
    ("owner_active", "has been deactivated (fired) or has lost the rights"),
], ids=["overload-limit", "free-plan", "owner-deactivated"])
def test_webhook_check_refusals_with_http_401_end_the_run(seeded, db, db_url, tmp_path, mapping,
                                                          state, words):
    # auth.php: OVERLOAD_LIMIT, the plan's ACCESS_DENIED and authorization_error come as 401.
    setattr(seeded, state, state == "overloaded")
    waits: list[float] = []
    client = Bitrix24Client(seeded.webhook_url, max_retries=3, sleep=waits.append)

    report = sync(seeded, db_url, tmp_path, mapping, client=client)

    assert {r.status for r in seeded.requests} == {401}
    assert waits == [] and report.exit_code == 3
    assert words in report.fatal and "code may be wrong" not in report.fatal
    with db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM cities")).scalar() == 0
    client.close()


def test_a_plan_without_lists_fails_the_list_directories_with_the_plan_as_the_reason(
        seeded, db, db_url, tmp_path, mapping):
    seeded.lists_on_plan = False  # ACCESS_DENIED "Access denied! Available only on extended plans"

    report = sync(seeded, db_url, tmp_path, mapping)

    assert report.exit_code == 1 and report.fatal is None
    for name in ("category", "violation"):
        stats = report.directories[name]
        assert stats.status == FAILED
        assert "plan does not include lists.element.get" in stats.message
        assert "needs read access" not in stats.message
    assert all(report.directories[n].status == OK for n in ("city", "object", "user"))
    with db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM cities")).scalar() == \
            len(seeded.records("crm:1036"))


@pytest.mark.parametrize("first_page_works", [False, True], ids=["first-page", "in-batch"])
def test_a_list_whose_database_keeps_failing_fails_alone_and_soon(big, db, db_url, tmp_path,
                                                                  mapping, first_page_works):
    # ERROR_CORE "SQL query error!" (HTTP 500) for the violations list, for good.
    iblock = str(mapping["violation"]["params"]["IBLOCK_ID"])
    big.fail_database("lists.element.get", when=lambda p: str(p.get("IBLOCK_ID")) == iblock
                      and not (first_page_works and str(p.get("start")) == "0"))
    waits: list[float] = []
    client = Bitrix24Client(big.webhook_url, max_retries=6, sleep=waits.append)

    report = sync(big, db_url, tmp_path, mapping, client=client)

    violation = report.directories["violation"]
    assert (violation.status, violation.complete, violation.deactivated) == (FAILED, False, 0)
    assert "own database failed on lists.element.get" in violation.message
    assert all(report.directories[n].status == OK for n in COUNTS if n != "violation")
    assert report.exit_code == 1
    # Retried once at most: the run's waits stay far inside 30 s, whatever max_retries says.
    assert sum(waits) < 30 and len(waits) <= 2
    # The list's own calls (plain, or commands inside a batch), not an id that holds "52".
    tried = [r for r in big.requests if str(r.params.get("IBLOCK_ID")) == iblock
             or re.search(rf"IBLOCK_ID={iblock}\b", str(r.params.get("cmd", "")))]
    assert len(tried) <= 3
    with db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM objects")).scalar() == \
            len(big.records("crm:1040"))
    client.close()


def test_batches_the_portal_cuts_off_are_sent_again_in_halves(portal, db, db_url, tmp_path,
                                                              mapping):
    # 3,000 cities: the first page and the highest id in one batch, then the rest split at
    # once into two parts of 30 chained pages, a batch each. The portal's front end answers
    # 504 to every batch of more than 10 commands.
    seed_portal(portal, cities=3000)
    portal.fail_raw("batch", status=504, body=GATEWAY_TIMEOUT_PAGE, times=None,
                    when=lambda params: len(params.get("cmd") or {}) > 10)
    client = Bitrix24Client(portal.webhook_url, backoff=0.01, max_retries=2)

    report = sync(portal, db_url, tmp_path, mapping, "city", client=client)

    assert report.ok and report.directories["city"].complete
    with db.connect() as conn:
        stored = {r[0] for r in conn.execute(text("SELECT btxid FROM cities"))}
    assert stored == {c["id"] for c in portal.records("crm:1036")} and len(stored) == 3000
    sizes = [(len(r.params["cmd"]), r.status) for r in portal.requests if r.method == "batch"]
    assert sizes[0] == (2, 200)
    # Cut at 30 (a part sent after that goes at 15), at 15 again, then at most 8 commands a
    # batch for the rest of the list: the smaller size is kept, no batch is cut off again.
    last_cut = max(i for i, (_, status) in enumerate(sizes) if status == 504)
    cut = [size for size, status in sizes if status == 504]
    assert cut[0] == 30 and set(cut) == {15, 30}
    assert {status for _, status in sizes[last_cut + 1:]} == {200}
    assert max(size for size, _ in sizes[last_cut + 1:]) <= 8
    client.close()


def test_a_first_batch_the_portal_cuts_off_is_asked_for_as_plain_calls(seeded, db, db_url,
                                                                       tmp_path, mapping,
                                                                       caplog):
    # Every list's first page and highest id ride in one batch of ten commands; the portal's
    # front end gives up on batches of more than four. Each list asks for its first page
    # alone, as before it had a batch to ride in, instead of the run failing.
    seeded.cut_off_batches(more_than=4)
    client = Bitrix24Client(seeded.webhook_url, backoff=0.01, max_retries=2)

    report = sync(seeded, db_url, tmp_path, mapping, client=client)

    assert report.ok, report.render_table()
    for name, collection in COUNTS.items():
        assert report.directories[name].fetched == len(seeded.records(collection)), name
    cut = [r for r in seeded.requests if r.status == 504]
    assert [len(r.params["cmd"]) for r in cut] == [10]  # cut once, never sent again whole
    assert sorted(r.method for r in seeded.requests if r.status == 200) == sorted(
        ["crm.item.list", "crm.item.list", "lists.element.get", "lists.element.get",
         "user.get"])
    told = [r for r in caplog.records if "in the first batch" in r.getMessage()]
    assert len(told) == 1, told  # one batch cut off: one warning, not one per list
    client.close()


@pytest.mark.slow
def test_incomplete_read_upserts_what_arrived_and_deactivates_nothing(
        big, db, db_url, tmp_path, mapping):
    assert sync(big, db_url, tmp_path, mapping, "city", "object").ok
    for item in big.records("crm:1040")[:10]:
        big.delete_record("crm:1040", item["id"])
    big.fail("crm.item.list", status=500, error="INTERNAL_SERVER_ERROR", skip=30, times=1000)
    client = Bitrix24Client(big.webhook_url, backoff=0.01, max_retries=2)

    report = sync(big, db_url, tmp_path, mapping, "object", client=client, full=True)

    stats = report.directories["object"]
    assert (stats.status, stats.complete, stats.deactivated) == (FAILED, False, 0)
    assert "read incomplete, nothing deactivated" in stats.message
    assert report.exit_code == 1
    with db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM objects WHERE NOT is_active")).scalar() == 0
    client.close()


def test_stop_request_rolls_back_and_ends_the_readers(big, db, db_url, tmp_path, mapping,
                                                      monkeypatch):
    monkeypatch.setattr(directory, "WRITE_BATCH", 1000)  # rows written before the stop
    stop = threading.Event()

    def progress(directory, phase, rows):
        if directory == "object" and phase == "reading" and rows >= 1000:
            stop.set()

    settings = settings_for(big, db_url, tmp_path)
    report = run_sync(settings, RunOptions(), overrides=mapping, stop_event=stop,
                      progress=progress)

    assert report.directories["city"].status == OK
    assert report.directories["object"].message == "stopped; changes rolled back"
    with db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM objects")).scalar() == 0
    readers = [t for t in threading.enumerate() if t.name.startswith("read-")]
    for reader in readers:
        reader.join(60)
    assert [t.name for t in readers if t.is_alive()] == [], "background readers did not stop"


def test_bad_records_in_the_middle_of_a_chunk_fail_alone(db):
    table = City.__table__
    records = [Prepared(i, {"name": f"Город {i}"}) for i in range(1, 1001)]
    records[899] = Prepared(900, {"name": None})  # NOT NULL
    report = SyncReport()
    with db.connect() as conn:
        transaction = conn.begin()
        writer = TableWriter(conn, table, directory="city", columns=["name"],
                             active_column="is_active", new_row_defaults=dict, report=report)
        writer.load_existing()
        # Someone else stored btxid 437 after we looked: its insert breaks the unique key.
        conn.execute(table.insert().values(btxid=437, name="Чужой"))
        writer.write(records)
        transaction.commit()

    assert report.directories["city"].created == 998
    assert sorted(i.btxid for i in report.issues) == [437, 900]
    assert all("the database refused the record" in i.message for i in report.issues)
    with db.connect() as conn:
        stored = conn.execute(text("SELECT btxid, name FROM cities ORDER BY btxid")).all()
    assert [b for b, _ in stored] == [i for i in range(1, 1001) if i != 900]
    assert (437, "Чужой") in [tuple(r) for r in stored]


def test_clients_of_one_portal_share_the_limiter_set_for_it():
    from app.bitrix.limits import limiter_for, use_limits

    shared = use_limits("https://acme.bitrix24.ru/rest/1/c0de1234/", 2, 50)

    assert Bitrix24Client("https://acme.bitrix24.ru/rest/7/other5678/").limiter is shared
    assert limiter_for("https://elsewhere.bitrix24.ru/rest/1/c0de1234/") is None
    enterprise = use_limits("https://acme.bitrix24.ru/rest/1/c0de1234/", 5, 250)
    assert enterprise is not shared and (enterprise.rate, enterprise.burst) == (5, 250)


def test_stop_while_waiting_for_a_slow_page_does_not_wait_for_it(portal, db, db_url, tmp_path,
                                                                  mapping):
    seed_portal(portal, objects=600)  # only the objects need more than their first page
    # The first batch (every list's first page) is answered; the next one, the rest of the
    # objects, is kept back until the test ends.
    held = portal.hold("batch", skip=1)
    stop = threading.Event()
    batch_arrived = []

    def progress(directory, phase, rows):
        if directory == "object" and phase == "reading" and not batch_arrived:
            # The first page is in and the batch for the rest is on the portal, unanswered.
            batch_arrived.append(held.arrived.wait(60))
            stop.set()

    report = run_sync(settings_for(portal, db_url, tmp_path), RunOptions(), overrides=mapping,
                      stop_event=stop, progress=progress)

    assert batch_arrived == [True]
    assert held.waiting == 1  # the run ended while the page was still on its way
    held.release()
    assert report.directories["city"].status == OK
    assert report.directories["object"].message == "stopped; changes rolled back"
    with db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM objects")).scalar() == 0


def resync_with_hook(portal, db_url, tmp_path, mapping, name, method, change):
    """Read one directory again in full while `change` hooks every call of `method`; its stats."""
    hook_method(portal, method, change)
    return sync(portal, db_url, tmp_path, mapping, name, full=True).directories[name]


def active_btxids(db, table: str) -> list[int]:
    with db.connect() as conn:
        return [r[0] for r in conn.execute(text(
            f"SELECT btxid FROM {table} WHERE is_active ORDER BY btxid"))]


def test_a_chained_page_cut_short_fails_the_directory(portal, db, db_url, tmp_path, mapping):
    seed_portal(portal, cities=300)
    assert sync(portal, db_url, tmp_path, mapping, "city").ok
    stored = active_btxids(db, "cities")

    def cut_third_chained_page(call, params, answer):
        if call == 5:  # the first page and the highest id, then chained pages one, two, three
            answer.result["items"].pop()
        return answer

    stats = resync_with_hook(portal, db_url, tmp_path, mapping, "city",
                             "crm.item.list", cut_third_chained_page)

    assert (stats.status, stats.complete, stats.deactivated) == (FAILED, False, 0)
    assert "returned 199 rows but reported 300" in stats.message
    assert active_btxids(db, "cities") == stored


def test_rows_deleted_during_a_keyset_read_still_make_it_complete(portal, db, db_url, tmp_path,
                                                                  mapping):
    seed_portal(portal, cities=300)
    assert sync(portal, db_url, tmp_path, mapping, "city").ok
    doomed = [c["id"] for c in portal.records("crm:1036")[120:130]]

    def delete_after_the_first_page(call, params, answer):
        if call == 1:
            for record_id in doomed:
                portal.delete_record("crm:1036", record_id)
        return answer

    stats = resync_with_hook(portal, db_url, tmp_path, mapping, "city",
                             "crm.item.list", delete_after_the_first_page)

    assert (stats.status, stats.complete, stats.fetched, stats.deactivated) == (OK, True, 290, 10)


USERS_BY_OFFSET = {"FILTER": {">ID": 0}}  # the filter bounds the id itself: read by offset
# The fields these bare users carry: a mapped field no record has makes "ok_with_warnings".
USER_FIELDS = {"NAME": "first_name", "ACTIVE": "is_active"}


def test_an_offset_read_that_keeps_shifting_deactivates_nothing(portal, db, db_url, tmp_path,
                                                               mapping):
    portal.add_users([{"ID": i, "NAME": f"U{i}", "ACTIVE": True} for i in range(1, 121)])
    mapping["user"]["params"] = USERS_BY_OFFSET
    mapping["user"]["fields"] = USER_FIELDS
    assert sync(portal, db_url, tmp_path, mapping, "user").ok
    leaving = iter(range(120, 100, -1))

    def edit_after_each_first_page(call, params, answer):
        if str(params.get("start")) == "0":  # HR keeps editing: a user leaves on every pass
            portal.delete_record("user", next(leaving))
        return answer

    stats = resync_with_hook(portal, db_url, tmp_path, mapping, "user",
                             "user.get", edit_after_each_first_page)

    assert (stats.status, stats.complete, stats.deactivated) == (FAILED, False, 0)
    assert "while it was read page by page, twice" in stats.message
    assert active_btxids(db, "users") == list(range(1, 121))


def test_an_offset_read_that_shifted_once_is_read_again(portal, db, db_url, tmp_path, mapping):
    portal.add_users([{"ID": i, "NAME": f"U{i}", "ACTIVE": True} for i in range(1, 121)])
    mapping["user"]["params"] = USERS_BY_OFFSET
    mapping["user"]["fields"] = USER_FIELDS
    assert sync(portal, db_url, tmp_path, mapping, "user").ok

    def edit_after_the_first_page(call, params, answer):
        if call == 1:  # one user leaves while the rest is read: every later row moves up
            portal.delete_record("user", 110)
        return answer

    stats = resync_with_hook(portal, db_url, tmp_path, mapping, "user",
                             "user.get", edit_after_the_first_page)

    assert (stats.status, stats.complete) == (OK, True)
    # User 110 was read before it left, so it stays active until the next run.
    assert active_btxids(db, "users") == list(range(1, 121))
    report = sync(portal, db_url, tmp_path, mapping, "user")
    assert report.directories["user"].deactivated == 1 and report.exit_code == 0
    assert 110 not in active_btxids(db, "users")


def test_an_offset_read_of_a_steady_list_is_complete(portal, db, db_url, tmp_path, mapping):
    # More than 1,200 rows read by whole pages of 50 (start = 0, 50, 100, ...).
    portal.add_users([{"ID": i, "NAME": f"U{i}", "ACTIVE": True} for i in range(1, 1261)])
    mapping["user"]["params"] = USERS_BY_OFFSET
    mapping["user"]["fields"] = USER_FIELDS
    assert sync(portal, db_url, tmp_path, mapping, "user").ok
    portal.delete_record("user", 7)
    portal.reset_stats()

    report = sync(portal, db_url, tmp_path, mapping, "user")

    stats = report.directories["user"]
    assert report.exit_code == 0
    assert (stats.status, stats.complete, stats.fetched, stats.deactivated) == (OK, True, 1259, 1)
    assert active_btxids(db, "users") == [i for i in range(1, 1261) if i != 7]
    with db.connect() as conn:
        assert conn.execute(text("SELECT is_active FROM users WHERE btxid = 7")).scalar() == 0
    commands = [c for r in portal.requests if r.method == "batch" for c in r.params["cmd"].values()]
    # #7 is asked for by id before it is deactivated (an offset read can skip a live row).
    probes = [c for c in commands if "FILTER[ID][" in c]
    assert len(probes) == 1 and "FILTER[ID][0]=7&" in probes[0]
    # The first page (start = 0) rides in a batch too, beside any other list's.
    starts = sorted(int(c.rsplit("start=", 1)[1]) for c in commands if c not in probes)
    assert starts == list(range(0, 1259, 50))
