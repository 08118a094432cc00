"""FakePortal: an in-memory Bitrix24 portal served over real HTTP for tests, benchmark and demo.

The fake answers the REST methods a directory sync uses with the envelopes, paging, errors and
limits described in BITRIX24.md; where the real portal's behaviour is undocumented, the module
that implements it says which choice it makes. Its parts, each in its own module:

* php_query   - PHP's view of request parameters (bracket keys, arrays, numeric strings);
* store       - one directory's records, sorted by id;
* filters     - Bitrix filter keys compiled to predicates;
* paging      - filter, order and page a collection (``start``, ``total``, ``next``);
* envelope    - results, errors, the ``time`` block and the HTTP reply;
* methods     - the method table: names, scopes, handlers;
* crm, lists, users, departments - one class per API family, registering its methods;
* batch       - the ``batch`` method and its ``$result[...]`` references;
* limits      - the leaky bucket and per-method operating time;
* faults      - injected errors, broken bodies, dropped connections and stalls;
* dispatch    - one request to an answer: route, auth, limits, faults, scope, billing;
* server      - the HTTP(S) server on loopback and a self-signed certificate.

A new REST method goes into its family's ``methods()``; a new family is a class with
``scopes`` and ``methods()`` registered in ``FakePortal.__init__``.
"""

import copy
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from app.testing.basic import BasicApi
from app.testing.crm import CrmApi
from app.testing.departments import DepartmentsApi
from app.testing.dispatch import Dispatcher, RequestRecord
from app.testing.envelope import (
    GATEWAY_TIMEOUT_PAGE,
    LEGACY_QUERY_ERROR,
    PORTAL_TZ,
    Reply,
    sql_error,
)
from app.testing.faults import Fault, Hold, Match
from app.testing.lists import ListsApi
from app.testing.methods import Handler, MethodTable, normalize_method
from app.testing.php_query import parse_php_query
from app.testing.server import PortalServer, self_signed_tls
from app.testing.store import Collection
from app.testing.users import UsersApi

__all__ = ["PORTAL_TZ", "FakePortal", "RequestRecord", "parse_php_query", "self_signed_tls"]


class _Family(Protocol):
    """What an API family does for update_record() and records()."""

    def edited(self, record: dict[str, Any], changes: Mapping[str, Any], *,
               touch: bool = True) -> dict[str, Any]:
        """The stored record with ``changes`` applied and normalized; ``touch`` stamps the
        change with the portal's time, as the portal does."""
        ...

    def rendered(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """The stored record shaped as the family's list method returns it."""
        ...


class FakePortal:
    """In-memory Bitrix24 portal answering the REST API over HTTP on localhost."""

    def __init__(
        self,
        *,
        user_id: int = 1,
        code: str = "fakeSecretCode0123",
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        row_cost: float = 0.0,
        busy_row_cost: float = 0.0,
        rate_limit: float | None = None,
        burst: float | None = None,
        operating_limit: float | None = None,
        scopes: Iterable[str] = ("crm", "lists", "user", "department", "basic"),
        crm_admin: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        bucket_clock: Callable[[], float] = time.monotonic,
        https_required: bool = False,
        request_cut: float | None = 60.0,
        cut_answer: str = "504",
        clock_offset: float = 0.0,
        site_format: str = "DD.MM.YYYY HH:MI:SS",
        user_zone_offset: int = 0,
        zone: tzinfo | str = PORTAL_TZ,
    ) -> None:
        # The parts read these knobs live: tests change them on a running portal.
        self.user_id = user_id
        self.code = code
        self.host = host
        self.port = port
        self.latency = latency
        self.row_cost = row_cost
        # Seconds a row of a batch adds to the portal's own account of the answer (its `time`
        # block: duration, processing) without the answer waiting for them: a busy portal as
        # its clock tells it, so no test depends on how loaded this machine is.
        self.busy_row_cost = busy_row_cost
        self.rate_limit = rate_limit
        self.burst = burst
        self.operating_limit = operating_limit
        self.scopes = tuple(scopes)
        self.crm_admin = crm_admin
        # Serve HTTPS with this server-side context (clients that insist on https://).
        self.ssl_context = ssl_context
        # The real portal refuses plain http; tests run on http unless they ask otherwise.
        self.https_required = https_required
        # Webhook states a test switches on (see dispatch.py for the answers they give).
        self.overloaded = False  # blocked by Bitrix24 support
        self.rest_on_plan = True  # False: a free plan without REST
        self.owner_active = True  # False: the webhook's owner was deactivated
        self.lists_on_plan = True  # False: a plan without the Lists feature (lists.py)
        self.lists_select_honoured = True  # False: an older server ignoring SELECT (lists.py)
        self.user_get_takes_iso = True  # False: user.get reads TIMESTAMP_X in the site format
        # Seconds after which the cloud's front end cuts a request ("504" page or "drop").
        self.request_cut = request_cut
        self.cut_answer = cut_answer
        # The portal's clock minus ours (seconds), its culture's date format and the webhook
        # user's personal time zone minus the portal's (seconds); see clock.py.
        self.clock_offset = clock_offset
        self.site_format = site_format
        self.user_zone_offset = user_zone_offset
        # The portal's time zone: a fixed offset, or an IANA name ("Europe/Berlin") whose
        # daylight saving time moves its wall clock (clock.py).
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone

        self._lock = threading.RLock()
        self._server: PortalServer | None = None
        self._crm = CrmApi(self)
        self._lists = ListsApi(self)
        self._users = UsersApi(self)
        self._departments = DepartmentsApi()
        self._methods = MethodTable()
        for api in (self._crm, self._lists, self._users, self._departments, BasicApi(self)):
            self._methods.register(api.scopes, api.methods())
        # The leaky bucket's clock (seconds): a test passes its own to pace without sleeping.
        self._calls = Dispatcher(self, self._methods, self._lock, bucket_clock)
        self._holds: list[Hold] = []

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> "FakePortal":
        """Bind the socket and serve requests from a background daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakePortal is already running")
        self._server = PortalServer(self.host, self.port, self._respond, self.ssl_context)
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        with self._lock:
            for hold in self._holds:
                hold.release()
        server.stop()
        self._server = None

    def __enter__(self) -> "FakePortal":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def serves_https(self) -> bool:
        return self.ssl_context is not None

    @property
    def webhook_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakePortal is not running; call start() first")
        host, port = self._server.address
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{port}/rest/{self.user_id}/{self.code}/"

    def _respond(self, raw_path: str, body: bytes, content_type: str) -> Reply:
        return self._calls.respond(raw_path, body, content_type)

    # --- data -------------------------------------------------------------------------------

    def add_smart_process(
        self,
        entity_type_id: int,
        *,
        type_id: int,
        title: str,
        fields: Mapping[str, Mapping[str, Any]] | None = None,
        code: str = "",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        """Register a smart process; ``fields`` are crm.item.fields descriptors by name.

        ``options`` overrides keys of the crm.type.list row, e.g. ``{"isStagesEnabled": "Y"}``.
        """
        with self._lock:
            self._crm.add_smart_process(
                entity_type_id, type_id=type_id, title=title, fields=fields, code=code,
                options=options,
            )

    def add_items(self, entity_type_id: int, items: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store smart-process items (camelCase), registering an unknown type; returns ids."""
        with self._lock:
            return self._crm.add_items(entity_type_id, items)

    def add_list(
        self,
        iblock_id: int,
        *,
        name: str,
        code: str | None = None,
        fields: Mapping[str, Mapping[str, Any]] | None = None,
        iblock_type_id: str = "lists",
    ) -> None:
        """Register a universal list; ``fields`` are lists.field.get descriptors by FIELD_ID."""
        with self._lock:
            self._lists.add_list(
                iblock_id, name=name, code=code, fields=fields, iblock_type_id=iblock_type_id
            )

    def add_elements(self, iblock_id: int, elements: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store list elements (UPPERCASE keys; ``PROPERTY_<n>`` as scalar, list or row map)."""
        with self._lock:
            return self._lists.add_elements(iblock_id, elements)

    def add_users(self, users: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store users (``ACTIVE`` becomes a boolean, ``UF_DEPARTMENT`` a list of ints)."""
        with self._lock:
            return self._users.add_users(users)

    def add_departments(self, departments: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store departments (``PARENT`` and ``UF_HEAD`` as ids, absent for none)."""
        with self._lock:
            return self._departments.add_departments(departments)

    def update_record(self, collection: str, record_id: int, *, touch: bool = True,
                      **changes: Any) -> None:
        """Change fields of one stored record (``"crm:<id>"``, ``"list:<id>"``, ``"user"``...).

        The change is stamped with the portal's time (``updatedTime``, ``TIMESTAMP_X``) unless
        ``touch`` is False: a change the portal did not stamp, which only a full read sees.
        """
        with self._lock:
            family, coll, id_key = self._collection(collection)
            record_id = int(record_id)
            if record_id not in coll.rows:
                raise KeyError(f"{collection} has no record {record_id}")
            if id_key in changes:
                raise ValueError(f"the {id_key} of a record cannot change")
            coll.replace(record_id, family.edited(dict(coll.rows[record_id]), changes,
                                                  touch=touch))

    def records(self, collection: str) -> list[dict[str, Any]]:
        """Copies of every record in id order, shaped as the REST API returns them."""
        with self._lock:
            family, coll, _ = self._collection(collection)
            return copy.deepcopy([family.rendered(record) for record in coll.in_order()])

    def delete_record(self, collection: str, record_id: int) -> None:
        with self._lock:
            _, coll, _ = self._collection(collection)
            if int(record_id) not in coll.rows:
                raise KeyError(f"{collection} has no record {record_id}")
            coll.remove(int(record_id))

    def import_items(self, entity_type_id: int, items: Iterable[Mapping[str, Any]]
                     ) -> list[int]:
        """crm.item.import: items added with new ids and the stamps given (crm.py)."""
        with self._lock:
            return self._crm.import_items(entity_type_id, items)

    def recycle(self, entity_type_id: int, item_id: int) -> None:
        """Delete a smart-process item to the recycle bin (it can be restored)."""
        with self._lock:
            self._crm.recycle(int(entity_type_id), int(item_id))

    def restore(self, entity_type_id: int, item_id: int) -> int:
        """Restore a recycled item: it comes back with a new id and its old stamps (crm.py);
        returns the new id."""
        with self._lock:
            return self._crm.restore(int(entity_type_id), int(item_id))

    def _collection(self, collection: str) -> tuple[_Family, Collection, str]:
        """The family, records and id key named ``crm:<entityTypeId>``, ``list:<iblockId>``,
        ``user`` or ``department``."""
        kind, _, number = collection.partition(":")
        if kind == "crm" and number:
            return self._crm, self._crm.collection(int(number)), "id"
        if kind == "list" and number:
            return self._lists, self._lists.collection(int(number)), "ID"
        if collection == "user":
            return self._users, self._users.collection, "ID"
        if collection == "department":
            return self._departments, self._departments.collection, "ID"
        raise KeyError(f"unknown collection {collection!r}")

    # --- faults -----------------------------------------------------------------------------

    def hook(self, method: str, wrap: Callable[[Handler], Handler]) -> Callable[[], None]:
        """Serve `method` (in a batch too) through `wrap(original handler)`; returns the undo.

        How a test makes the portal answer in ways its data alone would not.
        """
        name = normalize_method(method)
        scopes, original = self._methods[name]
        self._methods[name] = (scopes, wrap(original))

        def undo() -> None:
            self._methods[name] = (scopes, original)

        return undo

    def fail(
        self,
        method: str,
        *,
        status: int,
        error: str,
        description: str = "",
        times: int | None = 1,
        skip: int = 0,
        when: Match | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls with a JSON error, after ``skip`` good ones.

        ``times=None`` fails every matching call; ``when(params)`` picks the calls by their
        parameters. Inside a batch a failing command gets its error in ``result_error``
        (``skip`` picks which command of a chain fails).
        """
        self._queue(
            Fault(
                normalize_method(method),
                "fail",
                times,
                status=status,
                error=error,
                description=description,
                skip=skip,
                when=when,
            )
        )

    def fail_database(
        self,
        method: str,
        *,
        times: int | None = None,
        when: Match | None = None,
        legacy: bool = False,
    ) -> None:
        """The portal's database fails for ``method``: ERROR_CORE "SQL query error!" (HTTP 500),
        or with ``legacy`` the plain-text 500 "Query Error!" of old CDatabase code, which takes
        a whole batch down (see envelope.py for the sources)."""
        if legacy:
            self._queue(Fault(normalize_method(method), "raw", times, status=500,
                              body=LEGACY_QUERY_ERROR, when=when))
            return
        error = sql_error()
        self.fail(method, status=error.status, error=error.code,
                  description=error.description, times=times, when=when)

    def fail_raw(self, method: str, *, status: int, body: str | bytes, times: int | None = 1,
                 when: Match | None = None) -> None:
        """Answer the next ``times`` matching calls with a non-JSON body (e.g. an nginx page)."""
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self._queue(Fault(normalize_method(method), "raw", times, status=status, body=raw,
                          when=when))

    def cut_off_batches(self, *, more_than: int | None = None, when: Match | None = None
                        ) -> None:
        """The front end gives up (504, its HTML page) on every batch of more than
        `more_than` commands, or every batch `when` matches, from now on."""
        def big(params: dict[str, Any]) -> bool:
            return more_than is not None and len(params.get("cmd") or {}) > more_than

        self.fail_raw("batch", status=504, body=GATEWAY_TIMEOUT_PAGE, times=None,
                      when=when or big)

    def drop_connection(self, method: str, *, times: int = 1) -> None:
        """Close the socket without any HTTP answer on the next ``times`` matching calls."""
        self._queue(Fault(normalize_method(method), "drop", times))

    def stall(self, method: str, *, seconds: float, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` matching calls."""
        self._queue(Fault(normalize_method(method), "stall", times, seconds=seconds))

    def hold(self, method: str, *, times: int = 1, skip: int = 0, limit: float = 60.0) -> Hold:
        """Keep back the answers to the next ``times`` matching HTTP calls, after ``skip``
        answered ones, until the returned hold is released (at most ``limit`` seconds; stop()
        releases every hold). A command inside a batch cannot be held: hold the batch."""
        hold = Hold(limit)
        self._queue(Fault(normalize_method(method), "hold", times, skip=skip, hold=hold))
        with self._lock:
            self._holds.append(hold)
        return hold

    def _queue(self, fault: Fault) -> None:
        with self._lock:
            self._calls.faults.add(fault)

    # --- accounting -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._calls.log)

    def calls(self, method: str) -> list[dict[str, Any]]:
        """The params of every call of `method` the portal was asked, batch commands included."""
        found = []
        for request in self.requests:
            if request.method == method:
                found.append(request.params)
            elif request.method == "batch":
                for command in request.params["cmd"].values():
                    path, _, query = command.partition("?")
                    if normalize_method(path) == method:
                        found.append(parse_php_query(query))
        return found

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._calls.log)

    def reset_stats(self) -> None:
        with self._lock:
            self._calls.log.clear()

    def reset_limits(self) -> None:
        """Empty the leaky bucket and the operating-time windows."""
        with self._lock:
            self._calls.bucket.reset()
            self._calls.operating.reset()
