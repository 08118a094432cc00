"""Reading strategies against the fake portal: keyset chains in batch, split ranges, offset."""

from __future__ import annotations

import math

import pytest

from app import errors
from app.bitrix.client import Bitrix24Client, php_query
from app.bitrix.grouped import batch_in_groups
from app.bitrix.methods import profile as list_method
from app.bitrix.reading import ListQuery, ListReader
from app.testing.portal import FakePortal, self_signed_tls
from tests.conftest import hook_method


def make_client(portal: FakePortal, **kwargs) -> Bitrix24Client:
    return Bitrix24Client(portal.webhook_url, backoff=0.01, max_retries=3, **kwargs)


def read_all(portal: FakePortal, method: str, params: dict, *, on_first=None, **kwargs):
    """Every row the reader emits, in arrival order; `on_first` runs after the first page."""
    rows: list[dict] = []

    def emit(page):
        if not rows and on_first is not None:
            on_first()
        rows.extend(page)

    ListReader(make_client(portal), method, params, **kwargs).read(emit)
    return rows


def ids(rows: list[dict], key: str = "id") -> list[int]:
    return sorted(int(r[key]) for r in rows)


def sparse_items(portal: FakePortal, count: int, entity_type_id: int = 1040) -> list[int]:
    # Gaps in ids, as on a real portal with deletions.
    return portal.add_items(entity_type_id, [{"id": 10 + i * 3 + i % 2, "title": f"Item {i}"}
                                              for i in range(count)])


def batch_commands(portal: FakePortal) -> list[dict]:
    return [r.params["cmd"] for r in portal.requests if r.method == "batch"]


@pytest.mark.parametrize("method, keyset, id_field, order_style", [
    ("crm.item.list", True, "id", "order"),
    ("crm.type.list", True, "id", "order"),
    ("user.get", True, "ID", "sort"),
    ("lists.element.get", True, "ID", "element_order"),
    ("crm.deal.list", True, "ID", "order"),
    ("CRM.Company.List", True, "ID", "order"),
    ("department.get", False, "ID", "sort"),
    ("crm.status.list", False, "ID", "none"),
    ("some.unknown.list", False, "ID", "none"),
])
def test_strategy_is_chosen_per_method(method, keyset, id_field, order_style):
    spec = list_method(method)
    assert (spec.keyset, spec.id_field, spec.order) == (keyset, id_field, order_style)


def test_keyset_keeps_the_users_filter_and_select():
    query = ListQuery("crm.item.list", {"entityTypeId": 1040, "filter": {"=stageId": "NEW"},
                                        "select": ["title"], "order": {"title": "DESC"},
                                        "start": 100})
    params = query.keyset_params(after=77, before=500)
    assert params == {"entityTypeId": 1040, "filter": {"=stageId": "NEW", ">id": 77, "<id": 500},
                      "select": ["title", "id"], "order": {"id": "ASC"}, "start": -1}


@pytest.mark.parametrize("method, params, select", [
    ("crm.item.list", {"entityTypeId": 1040}, ["id", "title", "parentId1036"]),
    ("crm.deal.list", {}, ["ID", "title", "parentId1036"]),
    ("crm.item.list", {"entityTypeId": 1040, "select": ["*"]}, ["*"]),  # the user's own
    ("lists.element.get", {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": 52}, None),
    ("user.get", {}, None),
    ("department.get", {}, None),
    ("crm.type.list", {}, None),
], ids=["crm-item", "legacy-crm", "own-select", "lists", "user", "department", "crm-type"])
def test_only_the_mapped_fields_are_asked_for_where_select_works(method, params, select):
    query = ListQuery(method, params, fields=["title", "parentId1036"])
    pages = (query.keyset_params(after=5) if query.spec.keyset else query.offset_params(50),
             query.offset_params(0))
    for page in pages:
        assert page.get("select") == select
    assert "select" not in ListQuery(method, {k: v for k, v in params.items()
                                              if k != "select"}).offset_params(0)


def test_user_get_filter_at_the_top_level_stays_there():
    query = ListQuery("user.get", {"ACTIVE": True, "ADMIN_MODE": 1})
    params = query.keyset_params(after=5)
    assert params == {"ACTIVE": True, "ADMIN_MODE": 1, ">ID": 5, "sort": "ID", "order": "ASC",
                      "start": -1}


@pytest.mark.parametrize("params", [
    {"filter": {">id": 100}},
    {"filter": {"LOGIC": "OR", "=stageId": "NEW", "=title": "x"}},
], ids=["own-id-bound", "logic-or"])
def test_a_filter_the_keyset_would_change_falls_back_to_offset(params):
    assert ListQuery("crm.item.list", {"entityTypeId": 1, **params}).spec.keyset is False


def test_batch_commands_are_php_query_strings():
    from app.bitrix.client import BatchRef

    text = php_query({"filter": {">ID": BatchRef("$result[p0][49][ID]"), "NAME": "a&b"},
                      "select": ["ID", "NAME"], "ACTIVE": True})
    assert text == ("filter[%3EID]=$result[p0][49][ID]&filter[NAME]=a%26b"
                    "&select[0]=ID&select[1]=NAME&ACTIVE=1")


def test_one_page_list_takes_one_plain_call(portal):
    sparse_items(portal, 30)

    rows = read_all(portal, "crm.item.list", {"entityTypeId": 1040})

    assert len(rows) == 30
    assert [r.method for r in portal.requests] == ["crm.item.list"]


def test_keyset_chain_reads_2500_rows_per_request(portal):
    expected = sparse_items(portal, 1234)

    rows = read_all(portal, "crm.item.list", {"entityTypeId": 1040})

    assert ids(rows) == expected  # every row exactly once
    assert [r.method for r in portal.requests] == ["crm.item.list", "batch"]
    (commands,) = batch_commands(portal)
    # 1,184 rows after the first page: 23 full pages and the short one that ends the chain.
    assert len(commands) == 24 and "p0" in commands
    assert "filter[%3Eid]=$result[p0][items][49][id]" in commands["p1"]


def test_big_list_is_split_into_parallel_chains(portal):
    expected = sparse_items(portal, 6000)

    rows = read_all(portal, "crm.item.list", {"entityTypeId": 1040})

    assert ids(rows) == expected
    # The id range was split into spans, each counted by its first command (start=0) and
    # read by its own chain; the last span is open-ended (rows added meanwhile are read).
    counts = [c for batch in batch_commands(portal) for c in batch.values() if "start=0" in c]
    assert len(counts) >= 2
    assert sum("filter[%3Cid]" not in c for c in counts) == 1
    # The budget: the first page, the highest id, then about 2,500 rows a request.
    assert portal.request_count <= 2 + math.ceil(len(expected) / 2500)


@pytest.mark.slow
@pytest.mark.parametrize("layout", [
    pytest.param([*range(1, 50_000), 10_000_000], id="one-far-id"),
    pytest.param([*range(1, 49_001), *range(10_000_000, 10_001_000)], id="far-block"),
    pytest.param(list(range(1, 50_001)), id="even"),
])
def test_uneven_ids_stay_within_the_request_budget(portal, layout):
    portal.add_items(1040, [{"id": i, "title": "t"} for i in layout])

    rows = read_all(portal, "crm.item.list", {"entityTypeId": 1040})

    assert ids(rows) == layout
    # The request budget of a full read: at most ceil(N / 2,500) + 10 requests.
    assert portal.request_count <= math.ceil(len(layout) / 2500) + 10


def test_chain_cut_short_mid_batch_ignores_the_rest(portal):
    expected = sparse_items(portal, 2000)
    doomed = expected[1000:1500]

    def delete_some():  # after the first page: the planned batch now ends early
        for record_id in doomed:
            portal.delete_record("crm:1040", record_id)

    rows = read_all(portal, "crm.item.list", {"entityTypeId": 1040}, on_first=delete_some)

    # Commands after the short page point at a missing row; their answers are dropped.
    assert ids(rows) == sorted(set(expected) - set(doomed))
    # The first page, one chain batch and one batch that confirms the chain's end.
    assert portal.request_count <= 3


def test_failing_command_inside_a_batch_is_retried_from_the_last_good_id(portal):
    expected = sparse_items(portal, 1000)
    # The plain first call and four chained commands pass, the fifth fails.
    portal.fail("crm.item.list", status=500, error="INTERNAL_SERVER_ERROR", skip=5)

    rows = read_all(portal, "crm.item.list", {"entityTypeId": 1040})

    assert ids(rows) == expected
    first, retry = batch_commands(portal)
    last_good = expected[50 + 4 * 50 - 1]
    assert f"filter[%3Eid]={last_good}&" in retry["p0"]
    # Not refetched from the start: the portal served each row about once.
    assert sum(r.rows for r in portal.requests) <= 1000 + 50


def test_a_page_without_any_usable_id_ends_the_read_after_what_arrived(portal):
    expected = sparse_items(portal, 300)

    def no_ids_after_the_first_page(call, params, answer):
        if call > 1:
            for item in answer.result["items"]:
                item["id"] = None
        return answer

    hook_method(portal, "crm.item.list", no_ids_after_the_first_page)
    rows: list[dict] = []
    with pytest.raises(errors.IncompleteReadError, match="50 rows without a usable id"):
        ListReader(make_client(portal), "crm.item.list", {"entityTypeId": 1040}).read(
            rows.extend)
    # The first page was handed over; the read stops at the page it cannot go past (one
    # error for the directory, not fifty record errors).
    assert ids(rows) == expected[:50]


def test_a_command_that_keeps_failing_fails_the_read(portal):
    sparse_items(portal, 300)
    portal.fail("crm.item.list", status=500, error="INTERNAL_SERVER_ERROR", skip=2, times=100)
    rows: list[dict] = []

    with pytest.raises(errors.PortalRetriableError, match="gave up after 4 attempts"):
        ListReader(make_client(portal), "crm.item.list", {"entityTypeId": 1040}).read(rows.extend)
    assert len(rows) == 100  # what arrived before the failure is handed over


def test_method_error_inside_a_batch_fails_at_once(portal):
    sparse_items(portal, 300)
    portal.fail("crm.item.list", status=400, error="ACCESS_DENIED", skip=1)

    with pytest.raises(errors.PortalMethodError, match="needs read access"):
        read_all(portal, "crm.item.list", {"entityTypeId": 1040})
    assert [r.method for r in portal.requests] == ["crm.item.list", "batch"]


def test_users_filter_is_merged_not_replaced(portal):
    portal.add_users([{"ID": i, "NAME": f"U{i}", "ACTIVE": i % 3 != 0} for i in range(1, 401)])
    active = [i for i in range(1, 401) if i % 3 != 0]

    top = read_all(portal, "user.get", {"ACTIVE": True})
    nested = read_all(portal, "user.get", {"FILTER": {"ACTIVE": True}})

    assert ids(top, "ID") == active
    assert ids(nested, "ID") == active
    assert "batch" in [r.method for r in portal.requests]


def test_list_elements_are_read_by_keyset(portal):
    expected = portal.add_elements(52, [{"NAME": f"V{i}"} for i in range(777)])

    rows = read_all(portal, "lists.element.get", {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": 52})

    assert ids(rows, "ID") == expected
    assert [r.method for r in portal.requests] == ["lists.element.get", "batch"]
    assert "ELEMENT_ORDER[ID]=ASC" in batch_commands(portal)[0]["p0"]


def test_methods_without_keyset_use_offset_batches(portal):
    expected = portal.add_departments([{"NAME": f"D{i}"} for i in range(230)])
    portal.fail("department.get", status=500, error="INTERNAL_SERVER_ERROR", skip=3)

    rows = read_all(portal, "department.get", {})

    assert ids(rows, "ID") == expected
    # first page, one batch of four offsets, one retry of the failed offset alone
    assert [r.method for r in portal.requests] == ["department.get", "batch", "batch"]
    assert len(batch_commands(portal)[1]) == 1


def test_method_error_in_an_offset_batch_fails_at_once(portal):
    portal.add_departments([{"NAME": f"D{i}"} for i in range(120)])
    portal.fail("department.get", status=400, error="ACCESS_DENIED", skip=1)

    with pytest.raises(errors.PortalMethodError, match="needs read access"):
        read_all(portal, "department.get", {})
    assert [r.method for r in portal.requests] == ["department.get", "batch"]  # no retry


def test_offset_read_shorter_than_its_total_is_incomplete(portal):
    portal.add_departments([{"NAME": f"D{i}"} for i in range(30)])

    def report_more(call, params, answer):
        answer.total = 45  # one page, no `next`, yet the portal counts 45
        return answer

    hook_method(portal, "department.get", report_more)

    with pytest.raises(errors.IncompleteReadError, match="returned 30 rows but reported 45"):
        read_all(portal, "department.get", {})


def test_offset_page_cut_short_before_the_last_is_incomplete(portal):
    portal.add_departments([{"NAME": f"D{i}"} for i in range(120)])

    def cut_the_second_page(call, params, answer):
        if str(params.get("start")) == "50":  # every time: the second pass too
            del answer.result[30:]
        return answer

    hook_method(portal, "department.get", cut_the_second_page)

    with pytest.raises(errors.IncompleteReadError,
                       match=r"twice \(the page at start=50 had 30 rows, and 20 followed\)"):
        read_all(portal, "department.get", {})


def test_offset_pages_are_whole_pages_newest_first(portal):
    expected = portal.add_departments([{"NAME": f"D{i}"} for i in range(230)])

    rows = read_all(portal, "department.get", {"sort": "NAME", "order": "ASC"})

    assert [int(r["ID"]) for r in rows] == sorted(expected, reverse=True)
    first, = [r.params for r in portal.requests if r.method == "department.get"]
    assert (first["sort"], first["order"], first["start"]) == ("ID", "DESC", 0)
    commands = list(batch_commands(portal)[0].values())
    assert [c.rsplit("start=", 1)[1] for c in commands] == ["50", "100", "150", "200"]
    assert all("sort=ID&order=DESC" in c for c in commands)


def change_on_first_pass(portal: FakePortal, changes: dict) -> None:
    """Run `changes[start]()` just before the first pass reads the page at `start`."""
    done: set[str] = set()

    def wrap(original):
        def hooked(params):
            start = str(params.get("start"))
            if start in changes and start not in done:
                done.add(start)
                changes[start]()
            return original(params)
        return hooked

    portal.hook("department.get", wrap)


def test_offset_read_that_shifted_is_read_once_more(portal):
    made = portal.add_departments([{"NAME": f"D{i}"} for i in range(180)])
    # Newest first: deleting one of the first page's rows moves every later row up one.
    change_on_first_pass(portal,
                         {"50": lambda: portal.delete_record("department", made[-10])})

    rows = read_all(portal, "department.get", {})

    assert ids(rows, "ID") == sorted(made)  # the deleted row was read before it went
    assert len(rows) == len({r["ID"] for r in rows})
    assert [r.method for r in portal.requests] == ["department.get", "batch"] * 2


def test_offset_read_with_a_row_added_and_one_deleted_is_read_once_more(portal):
    # The first and the last page count the same; the pages between do not, and the added
    # row (the highest id, so first) repeats a row across a boundary.
    made = portal.add_departments([{"NAME": f"D{i}"} for i in range(180)])
    change_on_first_pass(portal, {
        "50": lambda: portal.delete_record("department", made[-10]),
        "100": lambda: portal.add_departments([{"NAME": "new"}]),
    })

    rows = read_all(portal, "department.get", {})

    assert set(made) <= {int(r["ID"]) for r in rows}
    assert [r.method for r in portal.requests] == ["department.get", "batch"] * 2


def test_offset_read_of_a_list_that_shrank_past_a_page_is_read_once_more(portal):
    # 180 rows, then 40 of the first page's go before the page at 150 is read: that page
    # now lies past the last one, and the old GetList methods answer it with the first
    # page again (CDBResult), which must not pass for the end of the list.
    made = portal.add_departments([{"NAME": f"D{i}"} for i in range(180)])
    change_on_first_pass(portal, {"50": lambda: [
        portal.delete_record("department", i) for i in made[-45:-5]]})

    rows = read_all(portal, "department.get", {})

    assert {int(r["ID"]) for r in rows} == set(made)  # every row, the deleted ones read first
    assert [r.method for r in portal.requests] == ["department.get", "batch"] * 2


def test_offset_read_that_keeps_shifting_is_incomplete(portal):
    made = portal.add_departments([{"NAME": f"D{i}"} for i in range(180)])
    victims = iter(made[-20:])

    def change(call, params, answer):
        if str(params.get("start")) == "0":
            portal.delete_record("department", next(victims))
        return answer

    hook_method(portal, "department.get", change)

    with pytest.raises(errors.IncompleteReadError, match=r"twice \(the total went from"):
        read_all(portal, "department.get", {})


def test_user_get_forced_onto_offset_pages_by_fifty(portal):
    portal.add_users([{"NAME": f"U{i}"} for i in range(120)])

    rows = read_all(portal, "user.get", {"FILTER": {">ID": 0}})

    assert len(rows) == 120 and len({r["ID"] for r in rows}) == 120
    starts = [c.rsplit("start=", 1)[1] for c in batch_commands(portal)[0].values()]
    assert starts == ["50", "100"]


@pytest.mark.parametrize("cut", ["504", "drop", "client-timeout"])
def test_an_offset_batch_cut_off_is_sent_again_in_halves(cut):
    # 2,000 departments: 39 offset pages in one batch. The front end gives up on it (its
    # model takes 0.39 s against a cut at 0.3 s; halves take 0.2 s), or our BITRIX_TIMEOUT
    # does: the portal holds that answer back until the test ends, and answers the halves
    # at once, so no timing on a loaded machine decides the outcome.
    client_timeout = cut == "client-timeout"
    with FakePortal(row_cost=0.0 if client_timeout else 0.0002,
                    request_cut=None if client_timeout else 0.3,
                    cut_answer="504" if client_timeout else cut) as portal:
        made = portal.add_departments([{"NAME": f"D{i}"} for i in range(2000)])
        if client_timeout:
            portal.hold("batch", times=1)
        client = Bitrix24Client(portal.webhook_url, backoff=0.01, max_retries=2,
                                timeout=2.0 if client_timeout else 60)
        rows: list[dict] = []
        reader = ListReader(client, "department.get", {})

        summary = reader.read(rows.extend)

        assert ids(rows, "ID") == sorted(made)
        assert reader.batch_commands == 19  # the smaller size is kept for this list
        # Shrinking the batches used to forget the read's start on the portal's clock, so
        # the read left no state and the next one was full again.
        assert summary.started is not None and summary.complete
        sizes = [len(r.params["cmd"]) for r in portal.requests if r.method == "batch"]
        assert sizes[0] == 39 and sorted(sizes[1:]) == [19, 20]
        client.close()


def test_grouped_commands_stay_together_when_a_batch_is_cut_off(portal):
    """The opening batch of an incremental run: a group's commands refer to each other
    ($result[n0]), so a cut-off batch is halved between groups, never inside one, and more
    than 50 commands are split the same way before anything is sent."""
    first = portal.add_items(1036, [{"title": f"Город {i}"} for i in range(5)])[0]
    portal.cut_off_batches(more_than=20)
    query = ListQuery("crm.item.list", {"entityTypeId": 1036})
    commands, groups = {}, []
    for g in range(6):  # six groups of ten commands: 60
        labels = [f"n{g}", *(f"a{g}x{i}" for i in range(9))]
        commands[labels[0]] = ("crm.item.list", query.keyset_params(start=0))
        anchor = ListQuery("crm.item.list", query.with_filter({"=id": query.first_id_ref(
            labels[0])}))
        commands.update({label: ("crm.item.list", anchor.keyset_params(start=0))
                         for label in labels[1:]})
        groups.append(labels)

    result = batch_in_groups(make_client(portal), commands, groups)

    assert not result.errors and set(result.results) == set(commands)
    assert all(result.results[label]["items"][0]["id"] == first
               for group in groups for label in group[1:])
    batches = [(len(r.params["cmd"]), r.status) for r in portal.requests if r.method == "batch"]
    assert batches == [(50, 504), (20, 200), (30, 504), (10, 200), (20, 200), (10, 200)]
    assert isinstance(result.time, dict)


def test_fake_portal_serves_https(tmp_path, monkeypatch):
    context, cert = self_signed_tls(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with FakePortal(ssl_context=context) as secure:
        secure.add_items(1036, [{"title": "Москва"}])
        assert secure.webhook_url.startswith("https://127.0.0.1:")
        client = Bitrix24Client(secure.webhook_url)

        assert client.call("crm.item.list", {"entityTypeId": 1036})["total"] == 1
        client.close()


def test_slow_batches_are_made_smaller(portal, monkeypatch, caplog):
    from app.bitrix.paging import keyset

    monkeypatch.setattr(keyset, "split_min_pages", lambda most: 1000)  # one chain, batch by batch
    expected = sparse_items(portal, 6000)
    # The portal's own `time.duration` says how long each batch took, not this machine's
    # load: 0.9 s a page of 50 rows (50 pages: 45 s), with no real waiting.
    portal.busy_row_cost = 0.9 / 50

    rows = read_all(portal, "crm.item.list", {"entityTypeId": 1040})

    assert ids(rows) == expected
    sizes = [len(c) for c in batch_commands(portal)]
    assert sizes[0] == 50 and max(sizes[1:]) <= 25  # every batch after the slow one is halved
    assert "a batch of 50 pages took 45 s" in caplog.text
    assert "using 25 pages per batch" in caplog.text


def test_a_portal_that_ignores_the_id_filter_fails_the_read_instead_of_looping(portal):
    sparse_items(portal, 300)
    first: list = []

    def first_page_again(call, params, answer):  # as if the `>id` bound were not there
        if not first:
            first.append(answer)
        return first[0]

    hook_method(portal, "crm.item.list", first_page_again)
    rows: list[dict] = []

    with pytest.raises(errors.IncompleteReadError, match="ignored the id filter"):
        ListReader(make_client(portal), "crm.item.list", {"entityTypeId": 1040}).read(rows.extend)
    assert len(rows) == 50  # the first page; its repeats are not handed over
    assert portal.request_count <= 2  # it stopped at the first repeat, no loop


def test_records_are_asked_by_id_with_the_filter_kept(portal):
    made = portal.add_items(1040, [{"title": "NEW" if i % 2 else "old"} for i in range(6)])
    query = ListQuery("crm.item.list", {"entityTypeId": 1040,
                                        "filter": {"LOGIC": "OR", "=title": "NEW"}})
    params = query.by_ids_params(made[:4])

    answer = make_client(portal).call("crm.item.list", params)

    # The OR group stays apart from the id list: only the asked ids that match it come.
    assert sorted(r["id"] for r in answer["result"]["items"]) == [made[1], made[3]]
    assert ListQuery("department.get").by_ids_params([1]) is None
    assert ListQuery("crm.status.list").by_ids_params([1]) is None
