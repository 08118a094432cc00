"""The Bitrix24 client alone: failure table, paging, masking (responses-mocked HTTP)."""

from __future__ import annotations

import pytest
import requests
import responses

from app import errors
from app.bitrix.client import Bitrix24Client

WEBHOOK = "https://acme.bitrix24.ru/rest/1/t0pS3cretC0de/"
CODE = "t0pS3cretC0de"


def make_client(sleeps: list[float] | None = None, **kwargs) -> Bitrix24Client:
    sleeps = [] if sleeps is None else sleeps
    return Bitrix24Client(WEBHOOK, max_retries=2, sleep=sleeps.append, **kwargs)


def envelope(code: str, description: str = "") -> dict:
    return {"error": code, "error_description": description}


# (status, body, error class, words in our message, exit code it gives the run, retried?)
FAILURES = [
    pytest.param(401, envelope("INVALID_CREDENTIALS", "Invalid request credentials"),
                 errors.PortalAuthError, "rejected the webhook", 3, False, id="bad-webhook-code"),
    pytest.param(401, envelope("NO_AUTH_FOUND", "Wrong authorization data"),
                 errors.PortalAuthError, "BITRIX_WEBHOOK_URL", 3, False, id="no-auth"),
    pytest.param(400, envelope("INVALID_REQUEST", "Https required."),
                 errors.PortalAuthError, "must start with https://", 3, False,
                 id="https-required"),
    pytest.param(401, envelope("INVALID_REQUEST", "Https required."),
                 errors.PortalAuthError, "must start with https://", 3, False,
                 id="https-required-401"),
    pytest.param(503, envelope("OVERLOAD_LIMIT", "REST API is blocked due to overload."),
                 errors.PortalOverloadError, "contact Bitrix24 support", 3, False,
                 id="overload-limit"),
    # auth.php: what the webhook check finds comes with 401, whatever the docs say.
    pytest.param(401, envelope("OVERLOAD_LIMIT", "REST API is blocked due to overload."),
                 errors.PortalOverloadError, "contact Bitrix24 support", 3, False,
                 id="overload-limit-401"),
    pytest.param(401, envelope("ACCESS_DENIED", "REST is available only on commercial plans."),
                 errors.PortalPlanError, "plan does not allow REST", 3, False,
                 id="free-plan-401"),
    pytest.param(401, envelope("authorization_error", "Unable to authorize user"),
                 errors.PortalAuthError, "has been deactivated (fired) or has lost the rights",
                 3, False, id="owner-deactivated-401"),
    pytest.param(400, envelope("ERROR_CORE", "access_denied"),
                 errors.PortalMethodError, "Bitrix24 rejected", 1, False,
                 id="error-core-business-400"),
    pytest.param(404, envelope("ERROR_METHOD_NOT_FOUND", "Method not found!"),
                 errors.PortalMethodError, "does not know the method", 1, False,
                 id="unknown-method"),
    pytest.param(400, envelope("ACCESS_DENIED", "Access denied"),
                 errors.PortalMethodError, "needs read access", 1, False, id="access-denied"),
    pytest.param(401, envelope("insufficient_scope", "The request requires higher privileges"),
                 errors.PortalMethodError, "tick the needed scope", 1, False,
                 id="missing-scope-401"),
    pytest.param(403, envelope("insufficient_scope", "The request requires higher privileges"),
                 errors.PortalMethodError, "tick the needed scope", 1, False,
                 id="missing-scope-403"),
    pytest.param(400, envelope("INVALID_ARG_VALUE", "Invalid filter field"),
                 errors.PortalMethodError, "Bitrix24 rejected", 1, False, id="bad-params"),
    pytest.param(200, envelope("ERROR_IBLOCK_NOT_FOUND", "Iblock not found"),
                 errors.PortalMethodError, "ERROR_IBLOCK_NOT_FOUND", 1, False,
                 id="error-in-200"),
    pytest.param(503, envelope("QUERY_LIMIT_EXCEEDED", "Too many requests"),
                 errors.PortalRetriableError, "gave up after 3 attempts", 1, True,
                 id="rate-limited-forever"),
    pytest.param(500, envelope("INTERNAL_SERVER_ERROR", "Internal server error"),
                 errors.PortalRetriableError, "busy or failing", 1, True, id="internal-error"),
    pytest.param(502, "<html><h1>502 Bad Gateway</h1></html>",
                 errors.PortalUnreachableError, "non-JSON body", 3, True, id="html-502"),
    pytest.param(504, "<html><h1>504 Gateway Time-out</h1></html>",
                 errors.PortalUnreachableError, "gateway timeout", 3, True, id="html-504"),
    pytest.param(200, '{"result": [{"ID": "1"}', errors.PortalUnreachableError,
                 "every request failed", 3, True, id="broken-json"),
]


@pytest.mark.parametrize("status, body, error_class, words, exit_code, retried", FAILURES)
@responses.activate
def test_failure_table(status, body, error_class, words, exit_code, retried):
    kwargs = {"json": body} if isinstance(body, dict) else {
        "body": body, "content_type": "text/html"}
    responses.post(WEBHOOK + "crm.item.list", status=status, **kwargs)
    sleeps: list[float] = []

    with pytest.raises(error_class) as caught:
        make_client(sleeps).call("crm.item.list", {"entityTypeId": 1036})

    error = caught.value
    assert words in str(error)
    assert CODE not in str(error)
    assert error.exit_code == exit_code
    assert (len(sleeps) == 2) is retried  # two retries with max_retries=2, none otherwise
    if isinstance(body, dict):
        assert error.code == body["error"] and error.status == status


@pytest.mark.parametrize("status", [500, 200])
@responses.activate
def test_portal_database_failure_is_retried_once_then_fails_the_call(status):
    # restexception.php: an SQL failure is ERROR_CORE "SQL query error!" with HTTP 500.
    responses.post(WEBHOOK + "lists.element.get", status=status,
                   json=envelope("ERROR_CORE", "SQL query error!"))
    sleeps: list[float] = []

    client = Bitrix24Client(WEBHOOK, max_retries=6, sleep=sleeps.append)
    with pytest.raises(errors.PortalRetriableError) as caught:
        client.call("lists.element.get", {"IBLOCK_ID": 52})

    assert "own database failed on lists.element.get" in str(caught.value)
    assert len(sleeps) == 1  # once at most, not six times
    assert caught.value.exit_code == 1  # the directory fails, the run goes on


@responses.activate
def test_retry_then_success_returns_the_result():
    responses.post(WEBHOOK + "user.get", status=503,
                   json=envelope("QUERY_LIMIT_EXCEEDED", "Too many requests"))
    responses.post(WEBHOOK + "user.get", json={"result": [{"ID": "1"}], "total": 1})
    sleeps: list[float] = []

    assert make_client(sleeps).call("user.get")["result"] == [{"ID": "1"}]
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 0.5


@responses.activate
def test_backoff_grows_and_is_bounded():
    for _ in range(6):
        responses.post(WEBHOOK + "user.get", status=503, json=envelope("QUERY_LIMIT_EXCEEDED"))
    sleeps: list[float] = []
    client = Bitrix24Client(WEBHOOK, max_retries=5, backoff=1.0, max_backoff=4.0,
                            sleep=sleeps.append)

    with pytest.raises(errors.PortalRetriableError):
        client.call("user.get")

    caps = [1, 2, 4, 4, 4]
    assert len(sleeps) == 5
    assert all(cap / 2 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))


@responses.activate
def test_redirect_means_the_portal_moved():
    responses.post(WEBHOOK + "user.get", status=302,
                   headers={"Location": "https://new.bitrix24.ru/rest/1/t0pS3cretC0de/user.get"})

    with pytest.raises(errors.PortalAuthError) as caught:
        make_client().call("user.get")
    assert "update BITRIX_WEBHOOK_URL" in str(caught.value)
    assert CODE not in str(caught.value)


def test_unreachable_host_is_fatal_and_masked():
    client = Bitrix24Client("https://127.0.0.1:9/rest/1/t0pS3cretC0de/", max_retries=1,
                            sleep=lambda s: None, timeout=2)
    with pytest.raises(errors.PortalUnreachableError) as caught:
        client.call("user.get")
    assert caught.value.exit_code == 3
    assert "Connection refused" in str(caught.value)
    assert CODE not in str(caught.value)


@responses.activate
def test_connection_errors_from_requests_never_leak_the_url():
    responses.post(WEBHOOK + "user.get", body=requests.exceptions.ConnectionError(
        f"HTTPSConnectionPool: Max retries exceeded with url: /rest/1/{CODE}/user.get"))
    with pytest.raises(errors.PortalError) as caught:
        make_client().call("user.get")
    assert CODE not in str(caught.value) and CODE not in repr(caught.value.args)


@responses.activate
def test_pages_follow_next_until_done():
    page = [{"id": i} for i in range(50)]
    responses.post(WEBHOOK + "crm.item.list",
                   json={"result": {"items": page}, "total": 120, "next": 50})
    responses.post(WEBHOOK + "crm.item.list",
                   json={"result": {"items": page}, "total": 120, "next": 100})
    responses.post(WEBHOOK + "crm.item.list",
                   json={"result": {"items": page[:20]}, "total": 120})

    pages = list(make_client().list_pages("crm.item.list", {"entityTypeId": 1}))

    assert [len(p) for p in pages] == [50, 50, 20]


@responses.activate
def test_a_list_shorter_than_its_total_is_an_error():
    responses.post(WEBHOOK + "lists.element.get",
                   json={"result": [{"ID": str(i)} for i in range(50)], "total": 75, "next": 50})
    responses.post(WEBHOOK + "lists.element.get", json={"result": [], "total": 75})

    with pytest.raises(errors.IncompleteReadError, match="returned 50 rows but reported 75"):
        list(make_client().list_pages("lists.element.get", {"IBLOCK_ID": 1}))


def test_repr_masks_the_code():
    assert CODE not in repr(make_client())


def _requests_text(os_text: str) -> str:
    return (f"HTTPSConnectionPool(host='acme.bitrix24.ru', port=443): Max retries exceeded with "
            f"url: /rest/1/{CODE}/user.get (Caused by NewConnectionError('<urllib3.connection."
            f"HTTPSConnection object at 0x7f3a>: Failed to establish a new connection: "
            f"{os_text}'))")


# (what Linux says, what Windows says for the same failure, our label)
CONNECTION_WORDINGS = [
    pytest.param(_requests_text("[Errno 111] Connection refused"),
                 _requests_text("[WinError 10061] No connection could be made because the "
                                "target machine actively refused it"),
                 "Connection refused", id="refused"),
    pytest.param(_requests_text("[Errno 110] Connection timed out"),
                 _requests_text("[WinError 10060] A connection attempt failed because the "
                                "connected party did not properly respond after a period of "
                                "time, or established connection failed to respond"),
                 "connection timed out", id="connect-timeout"),
    pytest.param("HTTPSConnectionPool(host='acme.bitrix24.ru', port=443): Max retries exceeded "
                 "with url: /rest/1/t0pS3cretC0de/user.get (Caused by NameResolutionError(\"<"
                 "urllib3.connection.HTTPSConnection object at 0x7f3a>: Failed to resolve "
                 "'acme.bitrix24.ru' ([Errno -2] Name or service not known)\"))",
                 "HTTPSConnectionPool(host='acme.bitrix24.ru', port=443): Max retries exceeded "
                 "with url: /rest/1/t0pS3cretC0de/user.get (Caused by NameResolutionError(\"<"
                 "urllib3.connection.HTTPSConnection object at 0x7f3a>: Failed to resolve "
                 "'acme.bitrix24.ru' ([Errno 11001] getaddrinfo failed)\"))",
                 "host name not found (DNS)", id="dns"),
    pytest.param("('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
                 "('Connection aborted.', ConnectionResetError(10054, 'An existing connection "
                 "was forcibly closed by the remote host', None, 10054, None))",
                 "Connection reset", id="reset"),
]


@pytest.mark.parametrize("linux, windows, label", CONNECTION_WORDINGS)
def test_connection_errors_read_the_same_on_windows(linux, windows, label):
    messages = []
    for text in (linux, windows):
        with responses.RequestsMock() as mock:
            mock.post(WEBHOOK + "user.get", body=requests.exceptions.ConnectionError(text))
            with pytest.raises(errors.PortalUnreachableError) as caught:
                make_client().call("user.get")
        messages.append(str(caught.value))
        assert caught.value.exit_code == 3
    assert messages[0] == messages[1]
    assert f"cannot connect to the portal: {label} (every request failed" in messages[0]
    assert "BITRIX_WEBHOOK_URL" in messages[0]
    assert CODE not in messages[0] and "acme.bitrix24.ru" not in messages[0]
