"""The fake Bitrix24 portal over real HTTP: paging, filters, batch, limits, faults, seed data."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from app.testing.portal import FakePortal, RequestRecord, parse_php_query, self_signed_tls
from app.testing.seed import (
    CATEGORY_IBLOCK_ID,
    CITY_ENTITY_TYPE_ID,
    DEMO_MAPPING,
    OBJECT_ENTITY_TYPE_ID,
    VIOLATION_IBLOCK_ID,
    seed_portal,
)

OBJECTS = 120
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
TIME_KEYS = {
    "start",
    "finish",
    "duration",
    "processing",
    "date_start",
    "date_finish",
    "operating",
    "operating_reset_at",
}


@pytest.fixture(scope="module")
def live() -> Iterator[FakePortal]:
    """One seeded portal shared by the read-only tests of this module."""
    portal = FakePortal()
    seed_portal(portal, objects=OBJECTS)
    with portal:
        yield portal


@pytest.fixture
def fresh() -> Iterator[FakePortal]:
    """A small seeded portal for tests that change data or queue faults."""
    portal = FakePortal()
    seed_portal(portal)
    with portal:
        yield portal


def call(portal: FakePortal, method: str, params: Any = None, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("timeout", 60)
    return requests.post(portal.webhook_url + method, json=params or {}, **kwargs)


def items(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return response.json()["result"]["items"]


def object_ids(portal: FakePortal) -> list[int]:
    return [item["id"] for item in portal.records(f"crm:{OBJECT_ENTITY_TYPE_ID}")]


# --- paging ---------------------------------------------------------------------------------


def test_offset_pages_carry_total_and_next_until_the_last(live):
    everything = live.records(f"crm:{OBJECT_ENTITY_TYPE_ID}")

    first = call(live, "crm.item.list", {"entityTypeId": OBJECT_ENTITY_TYPE_ID})
    body = first.json()
    assert first.status_code == 200
    assert (body["total"], body["next"]) == (OBJECTS, 50)
    assert body["result"]["items"] == everything[:50]
    assert set(body["time"]) == TIME_KEYS

    last = call(live, "crm.item.list", {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "start": 100})
    body = last.json()
    assert body["total"] == OBJECTS and "next" not in body
    assert body["result"]["items"] == everything[100:]


def test_start_is_a_page_number_except_for_user_get(live):
    # getNavData: iNumPage = intval(start / 50) + 1; only user.get takes an exact offset.
    ids = object_ids(live)
    body = call(live, "crm.item.list", {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "start": 49}).json()
    assert [i["id"] for i in body["result"]["items"]] == ids[:50] and body["next"] == 50
    body = call(live, "crm.item.list", {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "start": 99}).json()
    assert [i["id"] for i in body["result"]["items"]] == ids[50:100] and body["next"] == 100

    params = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": VIOLATION_IBLOCK_ID, "start": 7}
    rows = call(live, "lists.element.get", params).json()["result"]
    assert rows == live.records(f"list:{VIOLATION_IBLOCK_ID}")

    users = [u["ID"] for u in live.records("user")]
    body = call(live, "user.get", {"start": 7}).json()
    assert [u["ID"] for u in body["result"]] == users[7:] and body["total"] == len(users)


def test_a_start_past_the_last_page_is_the_first_page_on_the_old_getlist_methods(live):
    # CDBResult::calculatePageNumber (modules/main/classes/general/dbresult.php): a page
    # number out of range falls back to page 1; the ORM methods (crm.item.list, user.get)
    # return nothing there.
    params = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": VIOLATION_IBLOCK_ID}
    first = call(live, "lists.element.get", {**params, "start": 0}).json()
    past = call(live, "lists.element.get", {**params, "start": 5000}).json()
    assert past["result"] == first["result"] and past["total"] == first["total"]
    departments = call(live, "department.get", {"start": 0}).json()
    assert call(live, "department.get", {"start": 5000}).json()["result"] == \
        departments["result"] != []
    body = call(live, "crm.item.list", {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "start": 5000})
    assert body.json()["result"]["items"] == [] and "next" not in body.json()
    assert call(live, "user.get", {"start": 5000}).json()["result"] == []


def test_start_minus_one_runs_no_count(live):
    ids = object_ids(live)
    body = call(live, "crm.item.list", {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "start": -1}).json()
    assert "total" not in body and "next" not in body
    assert [i["id"] for i in body["result"]["items"]] == ids[:50]
    types = call(live, "crm.type.list", {"start": -1}).json()
    assert "total" not in types and "next" not in types and len(types["result"]["types"]) == 2

    # user.get and lists.element.get: a page shows total 0; an empty result has no total.
    users = call(live, "user.get", {"start": -1}).json()
    assert users["total"] == 0 and len(users["result"]) == 15
    params = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": VIOLATION_IBLOCK_ID, "start": -1}
    elements = call(live, "lists.element.get", params).json()
    assert elements["total"] == 0 and len(elements["result"]) == 30
    for method, params in [
        ("user.get", {"FILTER": {">ID": 10**6}}),
        ("user.get", {"FILTER": {">ID": 10**6}, "start": -1}),
        ("lists.element.get", {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": VIOLATION_IBLOCK_ID,
                               "FILTER": {">ID": 10**6}}),
    ]:
        body = call(live, method, params).json()
        assert body["result"] == [] and "total" not in body, method
    empty = call(live, "crm.item.list",
                 {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "filter": {">id": 10**6}}).json()
    assert empty["total"] == 0


def test_keyset_walk_with_greater_than_id_reads_every_row_once(live):
    seen: list[int] = []
    last = 0
    while True:
        page = items(
            call(
                live,
                "crm.item.list",
                {
                    "entityTypeId": OBJECT_ENTITY_TYPE_ID,
                    "filter": {">id": last},
                    "order": {"id": "ASC"},
                    "select": ["id"],
                    "start": -1,
                },
            )
        )
        seen += [item["id"] for item in page]
        if len(page) < 50:
            break
        last = page[-1]["id"]

    assert seen == object_ids(live)
    assert all(set(item) == {"id"} for item in page)


# --- crm filters, order, errors -------------------------------------------------------------


def test_filters_combine_prefix_operators(live):
    ids = object_ids(live)
    everything = live.records(f"crm:{OBJECT_ENTITY_TYPE_ID}")
    city = next(i["parentId1036"] for i in everything if i["parentId1036"])

    def ids_for(flt: dict[str, Any]) -> list[int]:
        params = {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "filter": flt, "select": ["id"]}
        return [item["id"] for item in items(call(live, "crm.item.list", params))]

    assert ids_for({">=id": ids[3], "<id": ids[6]}) == ids[3:6]
    assert ids_for({"<=id": ids[1]}) == ids[:2]
    assert ids_for({"@id": [ids[7], ids[2], 999_999]}) == [ids[2], ids[7]]
    assert (
        ids_for({"parentId1036": city})
        == [i["id"] for i in everything if i["parentId1036"] == city][:50]
    )
    assert ids_for({"=parentId1036": None, "!title": "x"}) == [
        i["id"] for i in everything if i["parentId1036"] is None
    ]
    assert ids_for({"%title": "радуга"}) == [ids[3]]
    assert ids_for({"title": 'Склад ООО "Вектор & Ко"'}) == [ids[1]]
    assert ids_for({"!=id": ids[0], "<id": ids[3]}) == ids[1:3]


def test_descending_order_and_select(live):
    params = {
        "entityTypeId": OBJECT_ENTITY_TYPE_ID,
        "order": {"id": "DESC"},
        "select": ["id", "title", "parentId1036", "noSuchField"],
        "start": -1,
    }
    page = items(call(live, "crm.item.list", params))

    expected = list(reversed(live.records(f"crm:{OBJECT_ENTITY_TYPE_ID}")))[:50]
    assert page == [
        {"id": i["id"], "title": i["title"], "parentId1036": i["parentId1036"]} for i in expected
    ]


def test_crm_select_returns_id_only_when_selected(live):
    # Item::listAction: array_intersect_key($item, $select), unknown names dropped.
    params = {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "select": ["title"], "start": -1}
    assert all(set(item) == {"title"} for item in items(call(live, "crm.item.list", params)))


def test_get_query_string_uses_php_brackets(live):
    ids = object_ids(live)
    url = (
        f"{live.webhook_url}crm.item.list.json?entityTypeId={OBJECT_ENTITY_TYPE_ID}"
        f"&filter[%3Eid]={ids[-3]}&select[]=id&select[]=title&order[id]=ASC&start=-1"
    )
    body = requests.get(url, timeout=60).json()

    assert [i["id"] for i in body["result"]["items"]] == ids[-2:]
    assert set(body["result"]["items"][0]) == {"id", "title"}


def test_form_encoded_post_is_understood(live):
    ids = object_ids(live)
    form = {
        "entityTypeId": str(OBJECT_ENTITY_TYPE_ID),
        "filter[<id]": str(ids[2]),
        "select[0]": "id",
        "start": "0",
    }
    body = requests.post(live.webhook_url + "crm.item.list", data=form, timeout=60).json()

    assert body["result"]["items"] == [{"id": ids[0]}, {"id": ids[1]}]
    assert body["total"] == 2


def test_parse_php_query_builds_nested_values():
    assert parse_php_query("filter[%3E%3Did]=5&select[]=id&select[]=title&order[id]=ASC") == {
        "filter": {">=id": "5"},
        "select": ["id", "title"],
        "order": {"id": "ASC"},
    }


@pytest.mark.parametrize(
    ("params", "status", "body"),
    [
        (
            {"entityTypeId": 999},
            400,
            {"error": "NOT_FOUND", "error_description": "Smart process not found"},
        ),
        (
            {},
            400,
            {
                "error": "100",
                "error_description": "Could not find value for parameter {entityTypeId}",
            },
        ),
        (
            {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "order": {"id": "UP"}},
            400,
            {
                "error": "INVALID_ARG_VALUE",
                "error_description": "Invalid order: allowed sort directions are ASC, DESC. "
                "But got 'UP' for field 'id'",
            },
        ),
        (
            {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "order": {"nope": "ASC"}},
            400,
            {
                "error": "INVALID_ARG_VALUE",
                "error_description": "Invalid order: field 'nope' is not allowed in order",
            },
        ),
        (
            {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "filter": {">ufCrm5_1700000000": 1}},
            400,
            {
                "error": "INVALID_ARG_VALUE",
                "error_description": "Invalid filter: field 'ufCrm5_1700000000' is not allowed "
                "in filter",
            },
        ),
    ],
    ids=["unknown-type", "missing-type", "bad-direction", "bad-order-field", "bad-filter-field"],
)
def test_crm_item_list_errors(live, params, status, body):
    response = call(live, "crm.item.list", params)

    assert (response.status_code, response.json()) == (status, body)


def test_crm_item_get_fields_and_types(live):
    first = live.records(f"crm:{OBJECT_ENTITY_TYPE_ID}")[0]

    got = call(live, "crm.item.get", {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "id": first["id"]})
    assert got.json()["result"] == {"item": first}
    missing = call(live, "crm.item.get", {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "id": 7})
    assert (missing.status_code, missing.json()["error"]) == (400, "NOT_FOUND")

    fields = call(live, "crm.item.fields", {"entityTypeId": OBJECT_ENTITY_TYPE_ID}).json()
    parent = fields["result"]["fields"]["parentId1036"]
    assert (parent["type"], parent["title"], parent["settings"]) == (
        "crm_entity",
        "Город",
        {"parentEntityTypeId": CITY_ENTITY_TYPE_ID},
    )
    assert fields["result"]["fields"]["ufCrm5_1709125001"]["title"] == "Адрес объекта"

    types = call(live, "crm.type.list").json()
    assert [(t["id"], t["entityTypeId"], t["title"]) for t in types["result"]["types"]] == [
        (3, 1036, "Города"),
        (5, 1040, "Объекты"),
    ]
    assert types["total"] == 2


# --- lists, users, departments --------------------------------------------------------------


def test_lists_element_get_returns_strings_and_property_maps(live):
    params = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": VIOLATION_IBLOCK_ID}
    body = call(live, "lists.element.get", params).json()

    rows = body["result"]
    assert body["total"] == 30 and len(rows) == 30 and "next" not in body
    first = rows[0]
    assert isinstance(first["ID"], str) and first["ID"] == "40917"
    assert first["NAME"] == "Отсутствует ограждение котлована"
    for name in ("PROPERTY_212", "PROPERTY_216", "PROPERTY_230"):
        (row_id, value), *rest = first[name].items()
        assert rest == [] and row_id.isdigit() and isinstance(value, str)
    assert next(iter(first["PROPERTY_230"].values())).endswith(".00")
    categories = {e["ID"] for e in live.records(f"list:{CATEGORY_IBLOCK_ID}")}
    assert {next(iter(r["PROPERTY_212"].values())) for r in rows} <= categories
    assert rows == live.records(f"list:{VIOLATION_IBLOCK_ID}")


def test_lists_element_get_filters_and_orders_by_id(live):
    ids = [e["ID"] for e in live.records(f"list:{VIOLATION_IBLOCK_ID}")]
    params = {
        "IBLOCK_TYPE_ID": "lists",
        "IBLOCK_ID": VIOLATION_IBLOCK_ID,
        "FILTER": {">ID": ids[24]},
        "ELEMENT_ORDER": {"ID": "desc"},
        "SELECT": ["ID", "NAME"],
    }
    answer = call(live, "lists.element.get", params).json()

    everything = list(reversed(live.records(f"list:{VIOLATION_IBLOCK_ID}")[25:]))
    assert [r["ID"] for r in everything] == list(reversed(ids[25:]))
    # SELECT is honoured (docs since 2025-11): the selected keys only, the same total.
    assert answer["result"] == [{"ID": r["ID"], "NAME": r["NAME"]} for r in everything]
    assert answer["total"] == len(everything)
    # An older server ignores it: its select is fixed and adds every field and property.
    live.lists_select_honoured = False
    try:
        older = call(live, "lists.element.get", params).json()
    finally:  # the portal is the module's: later tests need the current server back
        live.lists_select_honoured = True
    assert (older["result"], older["total"]) == (everything, len(everything))
    ranged = {**params, "FILTER": {"><ID": [ids[2], ids[4]], "!%NAME": "котлован"}}
    got = call(live, "lists.element.get", ranged).json()["result"]
    assert {r["ID"] for r in got} <= set(ids[2:5]) and got


@pytest.mark.parametrize(
    ("flt", "description"),
    [
        ({"!=ID": 5}, "Filter operation not allowed: !="),
        ({"@ID": [5]}, "Filter operation not allowed: @"),
        ({">ID": 5, "UF_NOPE": 1}, "Filter field not allowed: UF_NOPE"),
        ({"iblock_section_id": 1}, "Filter field not allowed: IBLOCK_SECTION_ID"),
    ],
    ids=["not-equal", "in", "unknown-field", "section-field"],
)
def test_lists_element_get_filter_is_sanitized(live, flt, description):
    # IRestService::sanitizeFilter with the operations of RestService::getSanitizeFilter.
    params = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": VIOLATION_IBLOCK_ID, "FILTER": flt}
    response = call(live, "lists.element.get", params)

    assert (response.status_code, response.json()) == (
        400, {"error": "ERROR_ARGUMENT", "error_description": description})
    allowed = {"!ID": 1, "%NAME": "a", "PROPERTY_212": "1", "TIMESTAMP_X": "", "*NAME": "b"}
    assert call(live, "lists.element.get", {**params, "FILTER": allowed}).status_code == 200


@pytest.mark.parametrize(
    ("params", "body"),
    [
        (
            {"IBLOCK_ID": VIOLATION_IBLOCK_ID},
            {
                "error": "ERROR_REQUIRED_PARAMETERS_MISSING",
                "error_description": 'Required parameter "IBLOCK_TYPE_ID" is missing',
            },
        ),
        (
            {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": 4242},
            {"error": "ERROR_IBLOCK_NOT_FOUND", "error_description": "Iblock not found"},
        ),
    ],
    ids=["missing-type", "unknown-iblock"],
)
def test_lists_element_get_errors(live, params, body):
    response = call(live, "lists.element.get", params)

    assert (response.status_code, response.json()) == (400, body)


def test_lists_get_and_field_get_describe_the_lists(live):
    lists = call(live, "lists.get", {"IBLOCK_TYPE_ID": "lists"}).json()["result"]
    assert [(row["ID"], row["NAME"]) for row in lists] == [
        ("48", "Категории нарушений"),
        ("52", "Нарушения"),
    ]
    fields = call(
        live, "lists.field.get", {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": VIOLATION_IBLOCK_ID}
    ).json()["result"]
    assert list(fields) == ["NAME", "PROPERTY_212", "PROPERTY_216", "PROPERTY_230"]
    assert fields["PROPERTY_212"]["LINK_IBLOCK_ID"] == "48"
    assert fields["PROPERTY_216"]["DISPLAY_VALUES_FORM"] == {
        "1671": "Критическое",
        "1673": "Значительное",
        "1675": "Незначительное",
    }


def test_user_get_includes_the_fired_user_unless_filtered(live):
    everyone = call(live, "user.get").json()
    rows = everyone["result"]
    assert everyone["total"] == 15
    fired = [row for row in rows if row["ACTIVE"] is False]
    assert [(u["ID"], u["NAME"], u["LAST_NAME"]) for u in fired] == [("44", "Ольга", "Петрова")]
    assert rows[1]["UF_DEPARTMENT"] == [1, 5]
    assert all(isinstance(row["ID"], str) for row in rows)

    active = call(live, "user.get", {"filter": {"ACTIVE": True}}).json()["result"]
    assert [row["ID"] for row in active] == [row["ID"] for row in rows if row["ACTIVE"]]

    later = call(live, "user.get", {"FILTER": {">ID": 27}, "sort": "ID", "order": "DESC"})
    assert [row["ID"] for row in later.json()["result"]] == [
        row["ID"] for row in reversed(rows) if int(row["ID"]) > 27
    ]
    assert call(live, "user.fields").json()["result"]["NAME"] == "Имя"
    # userGet has no select: every field the scope allows comes back.
    assert call(live, "user.get", {"select": ["ID"]}).json()["result"] == rows


def test_department_get_takes_plain_top_level_filters(live):
    everything = call(live, "department.get").json()["result"]
    assert everything[:2] == [
        {"ID": "1", "NAME": "ООО «СтройКонтроль»", "SORT": 500, "UF_HEAD": "1"},
        {"ID": "5", "NAME": "Отдел нормативно-справочной информации", "SORT": 500, "PARENT": "1"},
    ]
    children = call(live, "department.get", {"PARENT": 1}).json()["result"]
    assert [d["ID"] for d in children] == ["5", "7"]
    # department.get has no >ID filter: the key is ignored and every department comes back.
    assert call(live, "department.get", {"filter": {">ID": 5}}).json()["result"] == everything


# --- auth and routing -----------------------------------------------------------------------


def test_wrong_code_unknown_method_and_bad_paths(live):
    bad = live.webhook_url.replace(live.code, "Wr0ngSecretCode77")
    response = requests.post(bad + "user.get", json={}, timeout=60)
    assert (response.status_code, response.json()) == (
        401,
        {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"},
    )

    not_found = {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}
    response = call(live, "crm.item.lisst")
    assert (response.status_code, response.json()) == (404, not_found)
    base = live.webhook_url.split("/rest/")[0]
    response = requests.post(f"{base}/rest/{live.code}/user.get", json={}, timeout=60)
    assert (response.status_code, response.json()) == (404, not_found)
    response = requests.post(f"{base}/rest/user.get", json={}, timeout=60)
    assert (response.status_code, response.json()["error"]) == (401, "NO_AUTH_FOUND")


def test_scope_method_and_missing_scope():
    with FakePortal(scopes=("crm",)) as portal:
        assert call(portal, "scope").json()["result"] == ["crm"]
        response = call(portal, "user.get")
        assert (response.status_code, response.json()["error"]) == (401, "insufficient_scope")
        body = call(portal, "batch", {"cmd": {"u": "user.get", "s": "scope"}}).json()["result"]
        assert body["result_error"]["u"]["error"] == "insufficient_scope"
        assert body["result"] == {"s": ["crm"]}


@pytest.mark.parametrize(
    ("state", "error", "description"),
    [
        ({"https_required": True}, "INVALID_REQUEST", "Https required."),
        ({"overloaded": True}, "OVERLOAD_LIMIT", "REST API is blocked due to overload."),
        ({"rest_on_plan": False}, "ACCESS_DENIED", "REST is available only on commercial plans."),
        ({"owner_active": False}, "authorization_error", "Unable to authorize user"),
    ],
    ids=["http", "overload", "free-plan", "owner-deactivated"],
)
def test_webhook_check_errors_come_with_http_401(fresh, state, error, description):
    # Auth::onRestCheckAuth (modules/rest/lib/apauth/auth.php) fails with an OAuthException.
    for name, value in state.items():
        setattr(fresh, name, value)
    for method in ("user.get", "batch"):
        response = call(fresh, method, {"cmd": {"s": "scope"}} if method == "batch" else {})
        assert (response.status_code, response.json()) == (
            401, {"error": error, "error_description": description}), method


def test_lists_on_a_plan_without_the_feature_are_access_denied_with_403(fresh):
    # RestService (modules/lists/lib/rest/restservice.php) throws
    # AccessException('Available only on extended plans') (modules/rest/lib/accessexception.php).
    fresh.lists_on_plan = False
    refused = {"error": "ACCESS_DENIED",
               "error_description": "Access denied! Available only on extended plans"}
    known = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": VIOLATION_IBLOCK_ID}
    for method in ("lists.get", "lists.field.get", "lists.element.get"):
        response = call(fresh, method, known)
        assert (response.status_code, response.json()) == (403, refused), method
    # The list's existence is checked first.
    response = call(fresh, "lists.element.get", {**known, "IBLOCK_ID": 999})
    assert response.json()["error"] == "ERROR_IBLOCK_NOT_FOUND"
    assert call(fresh, "user.get").status_code == 200


def test_https_is_enough_for_a_portal_that_requires_it(tmp_path):
    context, pem = self_signed_tls(tmp_path)
    with FakePortal(ssl_context=context, https_required=True) as portal:
        response = requests.post(portal.webhook_url + "scope", json={}, verify=str(pem),
                                 timeout=5)
        assert response.status_code == 200


def test_crm_type_list_needs_a_crm_admin():
    with FakePortal(crm_admin=False) as portal:
        seed_portal(portal, objects=3)
        response = call(portal, "crm.type.list")
        assert (response.status_code, response.json()) == (
            400,
            {"error": "ACCESS_DENIED", "error_description": "Access denied"},
        )
        assert len(items(call(portal, "crm.item.list", {"entityTypeId": 1040}))) == 3


# --- batch ----------------------------------------------------------------------------------


def chained_pages(count: int, first_after: int = 0) -> dict[str, str]:
    base = f"crm.item.list?entityTypeId={OBJECT_ENTITY_TYPE_ID}&order[id]=ASC&select[]=id&start=-1"
    commands = {"p0": f"{base}&filter[%3Eid]={first_after}"}
    for index in range(1, count):
        commands[f"p{index}"] = f"{base}&filter[%3Eid]=$result[p{index - 1}][items][49][id]"
    return commands


def test_batch_chains_keyset_pages_through_result_references(live):
    response = call(live, "batch", {"cmd": chained_pages(3), "halt": 1})
    body = response.json()["result"]

    ids = object_ids(live)
    assert response.status_code == 200
    assert [[i["id"] for i in body["result"][f"p{n}"]["items"]] for n in range(3)] == [
        ids[:50],
        ids[50:100],
        ids[100:],
    ]
    assert body["result_error"] == [] and body["result_next"] == []
    assert body["result_total"] == []  # start=-1: crm.item.list runs no count
    assert set(body["result_time"]) == {"p0", "p1", "p2"}
    assert set(body["result_time"]["p1"]) == TIME_KEYS
    last = live.requests[-1]
    assert last == RequestRecord("batch", last.params, 200, OBJECTS, last.at)


def test_a_busy_portal_reports_its_time_in_the_batch_answer(fresh):
    # busy_row_cost: what the portal's clock says a batch took (time.duration, processing),
    # which a reader uses to keep batches inside the cloud's 60 s cut.
    fresh.busy_row_cost = 2.0
    envelope = call(fresh, "batch", {"cmd": chained_pages(1), "halt": 1}).json()

    rows = len(envelope["result"]["result"]["p0"]["items"])
    assert rows > 0
    assert envelope["time"]["duration"] >= 2.0 * rows
    assert envelope["time"]["processing"] >= 2.0 * rows


def test_batch_reference_stops_at_the_first_missing_key(live, request):
    # CRestUtil::processBatchElement: the deepest value reached replaces a whole-value reference.
    seen: list[Any] = []
    request.addfinalizer(live.hook("scope", lambda original: lambda params: seen.append(params)
                                   or []))
    cmd = {
        **chained_pages(3),
        "short": "scope?v=$result[p2][items][49][id]",
        "unrun": "scope?v=$result[nothere][items][49][id]",
        "number": "scope?v=id-$result[p0][items][0][id]%20x",
        "greedy": "scope?v=id-$result[p0][items][0][id]-x",
        "array": "scope?v=x$result[p2][items]",
        "total": "scope?v=$total[p0]",
    }
    body = call(live, "batch", {"cmd": cmd}).json()["result"]

    assert not body["result_error"]
    ids = object_ids(live)
    short, unrun, number, greedy, array, total = (params["v"] for params in seen)
    assert [item["id"] for item in short] == ids[100:]
    assert set(unrun) == {"p0", "p1", "p2", "short"}
    assert number == f"id-{ids[0]} x"
    assert greedy == f"id-{ids[0]}"  # the reference runs to the next space: "-x" goes too
    assert array == "x$result[p2][items]"  # not a string: left as it was
    assert total == {}  # start=-1 gave p0 no total: the walk stops at the (empty) total map

    # A keyset command chained past the short page compares >id with an array: no rows.
    past = call(live, "batch", {"cmd": chained_pages(4)}).json()["result"]
    assert past["result"]["p3"]["items"] == []


def test_batch_numeric_labels_come_back_as_lists(live):
    cmd = [
        f"crm.item.list?entityTypeId={CITY_ENTITY_TYPE_ID}&select[]=title&start=-1",
        "department.get?ID=7",
    ]
    body = call(live, "batch", {"cmd": cmd}).json()["result"]

    cities = live.records(f"crm:{CITY_ENTITY_TYPE_ID}")
    assert body["result"] == [
        {"items": [{"title": c["title"]} for c in cities]},
        [{"ID": "7", "NAME": "Инспекция ОТ и ПБ", "SORT": 500, "PARENT": "1", "UF_HEAD": "27"}],
    ]
    assert body["result_total"] == {"1": 1}  # command 0 (start=-1) has no total
    assert isinstance(body["result_time"], list) and len(body["result_time"]) == 2


def test_batch_halt_stops_at_the_first_failure(live):
    cmd = {
        "bad": "lists.element.get?IBLOCK_TYPE_ID=lists&IBLOCK_ID=4242",
        "deps": "department.get?PARENT=1",
    }
    halted = call(live, "batch", {"cmd": cmd, "halt": 1})
    assert halted.status_code == 200
    assert halted.json()["result"] == {
        "result": [],
        "result_error": {
            "bad": {"error": "ERROR_IBLOCK_NOT_FOUND", "error_description": "Iblock not found"}
        },
        "result_total": [],
        "result_next": [],
        "result_time": [],
    }

    go_on = call(live, "batch", {"cmd": cmd, "halt": 0}).json()["result"]
    assert [d["ID"] for d in go_on["result"]["deps"]] == ["5", "7"]
    assert list(go_on["result_error"]) == ["bad"] and go_on["result_total"] == {"deps": 2}

    # halt follows PHP truthiness: the form value "false" is a non-empty string, so true.
    form = {f"cmd[{label}]": call_ for label, call_ in cmd.items()} | {"halt": "false"}
    as_form = requests.post(live.webhook_url + "batch", data=form, timeout=60).json()["result"]
    assert as_form["result"] == [] and list(as_form["result_error"]) == ["bad"]


def test_batch_limits_and_nesting(live):
    # methodsBatch: commands past the 50th fail one by one; the batch itself is HTTP 200.
    too_many = {f"c{n}": "scope" for n in range(52)}
    response = call(live, "batch", {"cmd": too_many})
    body = response.json()["result"]
    assert response.status_code == 200 and len(body["result"]) == 50
    exceeded = {"error": "ERROR_BATCH_LENGTH_EXCEEDED",
                "error_description": "Max batch length exceeded"}
    assert body["result_error"] == {"c50": exceeded, "c51": exceeded}
    halted = call(live, "batch", {"cmd": too_many, "halt": 1}).json()["result"]
    assert list(halted["result_error"]) == ["c50"]

    nested = call(live, "batch", {"cmd": {"a": "scope", "b": "batch?cmd[x]=scope"}})
    assert (nested.status_code, nested.json()) == (
        405,
        {
            "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
            "error_description": "Method is not allowed for batch usage",
        },
    )


# --- limits ---------------------------------------------------------------------------------


def test_leaky_bucket_rejects_a_burst_and_admits_a_paced_client():
    now = [0.0]  # the bucket's clock: time passes only where the test says so
    with FakePortal(rate_limit=2.0, burst=5, bucket_clock=lambda: now[0]) as portal:
        statuses = [call(portal, "scope").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [503]
        assert call(portal, "scope").json() == {
            "error": "QUERY_LIMIT_EXCEEDED",
            "error_description": "Too many requests",
        }
        now[0] += 0.5  # one slot drains at 2 per second
        assert [call(portal, "scope").status_code for _ in range(2)] == [200, 503]

    with FakePortal(rate_limit=50.0, burst=2, bucket_clock=lambda: now[0]) as portal:
        paced = []
        for _ in range(8):
            paced.append(call(portal, "batch", {"cmd": {f"c{n}": "scope" for n in range(20)}}))
            now[0] += 0.03  # a batch (one request, however many commands) every 30 ms
        assert [r.status_code for r in paced] == [200] * 8
        # The same requests without the pauses overflow the bucket of two.
        assert [call(portal, "scope").status_code for _ in range(3)] == [200, 200, 503]


def test_operating_limit_blocks_only_the_expensive_method():
    with FakePortal(row_cost=0.001, operating_limit=0.08) as portal:
        seed_portal(portal, objects=60)
        page = {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "start": -1}
        before = time.time()
        first, second = call(portal, "crm.item.list", page), call(portal, "crm.item.list", page)
        after = time.time()
        assert first.json()["time"]["operating"] == pytest.approx(0.05)
        assert second.json()["time"]["operating"] == pytest.approx(0.10)
        # The window closes 600 s after the first call was billed.
        reset_at = second.json()["time"]["operating_reset_at"]
        assert int(before) + 600 <= reset_at <= int(after) + 600

        blocked = call(portal, "crm.item.list", page)
        assert (blocked.status_code, blocked.json()) == (
            429,
            {
                "error": "OPERATION_TIME_LIMIT",
                "error_description": "Method is blocked due to operation time limit.",
            },
        )
        assert call(portal, "user.get").status_code == 200


# --- injected faults ------------------------------------------------------------------------


def test_json_fault_is_served_once_then_the_real_answer(fresh):
    fresh.fail("crm.item.list", status=503, error="QUERY_LIMIT_EXCEEDED", description="Too many")
    params = {"entityTypeId": CITY_ENTITY_TYPE_ID}

    failed = call(fresh, "crm.item.list", params)
    assert (failed.status_code, failed.json()) == (
        503,
        {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many"},
    )
    assert call(fresh, "crm.item.list", params).status_code == 200
    assert [(r.method, r.status) for r in fresh.requests] == [
        ("crm.item.list", 503),
        ("crm.item.list", 200),
    ]


def test_fault_for_a_command_lands_in_result_error(fresh):
    fresh.fail("department.get", status=500, error="INTERNAL_SERVER_ERROR", description="Boom")
    body = call(fresh, "batch", {"cmd": {"d": "department.get", "s": "scope"}}).json()["result"]

    assert body["result_error"] == {
        "d": {"error": "INTERNAL_SERVER_ERROR", "error_description": "Boom"}
    }
    assert list(body["result"]) == ["s"]


def test_star_fault_and_raw_html_body(fresh):
    fresh.fail_raw("*", status=502, body=NGINX_502, times=2)

    for method in ("user.get", "batch"):
        response = call(fresh, method)
        assert (response.status_code, response.text) == (502, NGINX_502)
        assert response.headers["Content-Type"].startswith("text/html")
    assert call(fresh, "user.get").status_code == 200


def test_dropped_connection_and_stall(fresh):
    fresh.drop_connection("user.get")
    with pytest.raises(requests.ConnectionError):
        call(fresh, "user.get")
    assert call(fresh, "user.get").status_code == 200

    fresh.stall("scope", seconds=30)  # far longer than the client waits
    with pytest.raises(requests.Timeout):
        call(fresh, "scope", timeout=0.2)
    assert [r.status for r in fresh.requests] == [0, 200, 200]


def test_a_held_answer_goes_out_when_released_and_batch_commands_pass(fresh):
    held = fresh.hold("scope")
    inside = call(fresh, "batch", {"cmd": {"s": "scope"}}).json()["result"]
    assert inside["result"] == {"s": list(fresh.scopes)}  # a command in a batch is not held

    answers: list[requests.Response] = []
    caller = threading.Thread(target=lambda: answers.append(call(fresh, "scope", timeout=60)))
    caller.start()
    assert held.arrived.wait(60)
    assert (held.waiting, answers) == (1, [])
    held.release()
    caller.join(60)
    assert [a.json()["result"] for a in answers] == [list(fresh.scopes)]
    assert held.waiting == 0
    assert call(fresh, "scope").status_code == 200  # one call was held, the next is not


def test_database_failure_is_error_core_with_http_500(fresh):
    # RestException::initFromException: an SqlException becomes ERROR_CORE, STATUS_INTERNAL.
    fresh.fail_database(
        "lists.element.get", when=lambda p: str(p.get("IBLOCK_ID")) == str(VIOLATION_IBLOCK_ID))
    broken = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": VIOLATION_IBLOCK_ID}
    healthy = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": CATEGORY_IBLOCK_ID}
    sql_error = {"error": "ERROR_CORE", "error_description": "SQL query error!"}

    for _ in range(2):  # for good, not once
        response = call(fresh, "lists.element.get", broken)
        assert (response.status_code, response.json()) == (500, sql_error)
    assert call(fresh, "lists.element.get", healthy).status_code == 200
    cmd = {"bad": f"lists.element.get?IBLOCK_TYPE_ID=lists&IBLOCK_ID={VIOLATION_IBLOCK_ID}",
           "good": f"lists.element.get?IBLOCK_TYPE_ID=lists&IBLOCK_ID={CATEGORY_IBLOCK_ID}"}
    body = call(fresh, "batch", {"cmd": cmd}).json()["result"]
    assert body["result_error"] == {"bad": sql_error} and list(body["result"]) == ["good"]


def test_legacy_query_error_is_plain_text_and_takes_the_batch_down(fresh):
    # CDatabase::Query: setStatus('500 Internal Server Error'); die("Query Error!").
    fresh.fail_database("department.get", legacy=True, times=1)
    body = call(fresh, "batch", {"cmd": {"d": "department.get", "s": "scope"}})
    assert (body.status_code, body.text) == (500, "Query Error!")
    assert call(fresh, "department.get").status_code == 200


def test_a_request_running_past_the_cut_gets_a_gateway_timeout():
    # Cloud portals cut a request at 60 s (docs: settings/performance/limits.md); a test sets
    # a short cut. The fake's front end answers 504 with an nginx page, or drops the line.
    with FakePortal(request_cut=0.2) as portal:
        portal.stall("scope", seconds=5)
        response = call(portal, "scope")
        assert response.status_code == 504 and "504 Gateway Time-out" in response.text
        assert response.headers["Content-Type"].startswith("text/html")
        assert call(portal, "scope").status_code == 200

        portal.cut_answer = "drop"
        portal.stall("scope", seconds=5)
        with pytest.raises(requests.ConnectionError):
            call(portal, "scope")
        portal.stall("scope", seconds=0.1)
        assert call(portal, "scope").status_code == 200  # under the cut: answered


# --- data changes and seed data -------------------------------------------------------------


def test_update_and_delete_show_up_in_the_next_answer(fresh):
    city = fresh.records(f"crm:{CITY_ENTITY_TYPE_ID}")[0]
    fresh.update_record(f"crm:{CITY_ENTITY_TYPE_ID}", city["id"], title="Москва-Сити")
    fresh.update_record("user", 44, ACTIVE="Y")
    fresh.delete_record(f"list:{CATEGORY_IBLOCK_ID}", 3301)

    got = call(fresh, "crm.item.get", {"entityTypeId": CITY_ENTITY_TYPE_ID, "id": city["id"]})
    item = got.json()["result"]["item"]
    assert item["title"] == "Москва-Сити" and item["updatedTime"] > city["updatedTime"]
    users = call(fresh, "user.get", {"FILTER": {"ID": 44}}).json()["result"]
    assert [(u["ID"], u["ACTIVE"]) for u in users] == [("44", True)]
    params = {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": CATEGORY_IBLOCK_ID}
    assert "3301" not in [
        e["ID"] for e in call(fresh, "lists.element.get", params).json()["result"]
    ]


def test_seed_data_is_deterministic_sparse_and_tricky():
    first, second = FakePortal(), FakePortal()
    info = seed_portal(first, seed=7)
    seed_portal(second, seed=7)

    for collection in ("crm:1036", "crm:1040", "list:48", "list:52", "user", "department"):
        assert first.records(collection) == second.records(collection)
    assert info.counts == {
        "city": 8,
        "object": 40,
        "category": 6,
        "violation": 30,
        "user": 15,
        "department": 4,
    }
    assert info.object_ids[-1] - info.object_ids[0] > len(info.object_ids)
    assert info.fired_user_id == 44 and len(info.objects_without_city) == 3
    titles = " ".join(i["title"] for i in first.records("crm:1040"))
    for tricky in ("«", '"', "&", "<", "🌈"):
        assert tricky in titles
    # Every mapped Bitrix field exists in the seeded records.
    collection_of = {
        "city": "crm:1036",
        "object": "crm:1040",
        "category": "list:48",
        "violation": "list:52",
        "user": "user",
    }
    for name, spec in DEMO_MAPPING.items():
        record = first.records(collection_of[name])[0]
        assert set(spec["fields"]) <= set(record), name


@pytest.mark.slow
def test_fifty_thousand_objects_page_right_near_the_end():
    # How fast the fake seeds and pages this many is measured by `python -m benchmarks`.
    portal = FakePortal()
    info = seed_portal(portal, objects=50_000)
    assert len(info.object_ids) == 50_000

    with portal:
        near_end = info.object_ids[-120]
        params = {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "filter": {">id": near_end}, "start": 0}
        body = call(portal, "crm.item.list", params).json()
    assert (body["total"], body["next"]) == (119, 50)
    assert body["result"]["items"][0]["id"] == info.object_ids[-119]
    assert [i["id"] for i in body["result"]["items"]] == list(info.object_ids[-119:-69])


def test_webhook_url_needs_a_running_portal():
    portal = FakePortal(user_id=7, code="anotherCode42")
    with pytest.raises(RuntimeError, match="not running"):
        _ = portal.webhook_url
    with portal:
        assert portal.webhook_url.endswith("/rest/7/anotherCode42/")


def test_fifty_connections_at_once_are_taken_while_the_portal_is_busy():
    # Like a real portal's nginx, the fake takes a burst of 50 parallel connections even
    # before its accept loop gets to them; socketserver's backlog of 5 dropped the rest
    # (their clients retried a second later, or gave up: "Connection closed").
    import select
    import socket

    from app.testing.server import _Handler, _Server

    server = _Server(("127.0.0.1", 0), _Handler)  # listening; nothing accepts yet
    clients = [socket.socket() for _ in range(50)]
    try:
        for client in clients:
            client.setblocking(False)
            client.connect_ex(server.server_address)
        connected: set[socket.socket] = set()
        deadline = time.monotonic() + 5  # a safety net: the assertion is on the count
        while len(connected) < len(clients) and time.monotonic() < deadline:
            _, writable, _ = select.select([], [c for c in clients if c not in connected],
                                           [], 0.1)
            connected.update(c for c in writable if c.getsockopt(socket.SOL_SOCKET,
                                                                  socket.SO_ERROR) == 0)
        assert len(connected) == len(clients)
    finally:
        for client in clients:
            client.close()
        server.server_close()
