"""The lists family: universal lists (lists.get), their fields and elements.

lists.element.get, as ``RestService::getElement`` and ``Entity\\Element`` do
(modules/lists/lib/rest/restservice.php, modules/lists/lib/entity/element.php in
bitrix-core-business):

* without ``SELECT`` the select is fixed (``ID``, ``NAME``...) plus every field and property
  of the list, so every row carries everything (properties without a value are left out
  here, and every scalar is a string). The current docs (``bitrix24/b24restdocs``
  api-reference/lists/elements/lists-element-get.md, since 2025-11) give ``SELECT`` (``ID``,
  ``CODE``, ``NAME``, ``PROPERTY_<id>``...; "if no fields are specified, all available
  fields are returned"): a row then carries the selected keys only, and ``total`` is the
  same. ``lists_select_honoured = False`` is an older server, which ignores ``SELECT``
  (the CORE mirror's ``RestService::getElement`` never reads it);
* ``FILTER`` goes through ``IRestService::sanitizeFilter`` with the operators
  ``"" !% >= >< !>< > <= < % = * !`` and the fields of ``Element::getAvailableFields`` plus the
  list's own FIELD_IDs and ``PROPERTY_<CODE>``; the operator is every leading non-letter and
  is checked first: ERROR_ARGUMENT "Filter operation not allowed: !=" or "Filter field not
  allowed: FOO" with HTTP 400 (so ``!=ID`` is refused; ``!ID`` is the way);
* an empty result is ``[]`` without ``total``; ``start`` is rounded down to a multiple of 50,
  and one past the last page gives the first page again (CDBResult, paging.py);
  ``start=-1`` returns the first 50 rows (``nTopCount``), whose ``total`` is then 0;
* the default order is ``ID`` ascending.

Modification time (``RestService::getElement`` in modules/lists/lib/rest/restservice.php,
``Element::getAvailableFields`` in modules/lists/lib/entity/element.php):

* every element has ``TIMESTAMP_X`` on the portal's clock (stamped when stored without one
  and on every edit); ``FILTER`` accepts ``>=TIMESTAMP_X`` (and ``DATE_MODIFY_FROM``/
  ``DATE_MODIFY_TO``, CIBlockElement's aliases for ``>=``/``<=``) on every list;
* the value goes to ``CIBlockElement::GetList`` as it is, so the site format in the webhook
  user's local time works on every list; an ISO string is converted
  (``CRestUtil::unConvertDateTime``) only on a list that has ``TIMESTAMP_X`` among its
  fields, and then it is off by the user's zone (clock.py); anything else matches nothing;
* ``TIMESTAMP_X`` is in the answer only for a list that has it among its fields (the select
  is fixed to ID, NAME... plus the list's own fields), in the site format, user's time;
* lists.get shows each list's ``TIMESTAMP_X`` in the site format.

A portal whose plan has no Lists feature (``!\\CLists::isListFeatureEnabled(...)`` in the
newest ``RestService``) answers every lists method with ``AccessException('Available only
on extended plans')``: ACCESS_DENIED "Access denied! Available only on extended plans" with
HTTP 403 (modules/rest/lib/accessexception.php); lists.field.get and lists.element.get
check that the list exists first.
"""

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from app.testing.clock import (
    ClockOptions,
    filter_wall,
    portal_now,
    site_text,
    stamp_instant,
    stored_site_instant,
    strtotime,
    wall,
)
from app.testing.envelope import ApiError, MethodResult
from app.testing.filters import Moment, with_moments
from app.testing.methods import Handler
from app.testing.paging import query, start_of
from app.testing.php_query import as_list, int_or_none, items_of, upper_keys
from app.testing.store import Collection

_FIRST_VALUE_ROW = 311200
# getSanitizeFilter's operations and Element::getAvailableFields' fixed list.
ELEMENT_FILTER_OPERATIONS = ("", "!%", ">=", "><", "!><", ">", "<=", "<", "%", "=", "*", "!")
ELEMENT_FILTER_FIELDS = (
    "ID", "ACTIVE", "NAME", "TAGS", "XML_ID", "EXTERNAL_ID", "PREVIEW_TEXT",
    "PREVIEW_TEXT_TYPE", "PREVIEW_PICTURE", "DETAIL_TEXT", "DETAIL_TEXT_TYPE", "DETAIL_PICTURE",
    "CHECK_PERMISSIONS", "PERMISSIONS_BY", "CATALOG_TYPE", "MIN_PERMISSION",
    "SEARCHABLE_CONTENT", "SORT", "TIMESTAMP_X", "DATE_MODIFY_FROM", "DATE_MODIFY_TO",
    "MODIFIED_USER_ID", "MODIFIED_BY", "DATE_CREATE", "CREATED_USER_ID", "CREATED_BY",
    "DATE_ACTIVE_FROM", "DATE_ACTIVE_TO", "ACTIVE_DATE", "ACTIVE_FROM", "ACTIVE_TO",
    "SECTION_ID",
)
_LIST_STAMP = "01.03.2024 10:00:00"  # when the lists themselves were last changed
# FILTER keys CIBlockElement reads as a bound on TIMESTAMP_X.
_MODIFY_ALIASES = {"DATE_MODIFY_FROM": ">=TIMESTAMP_X", "DATE_MODIFY_TO": "<=TIMESTAMP_X"}


class ListsOptions(ClockOptions, Protocol):
    lists_on_plan: bool  # False: the portal's plan has no Lists feature
    lists_select_honoured: bool  # False: an older server that ignores SELECT


def _required(name: str) -> ApiError:
    return ApiError(
        400, "ERROR_REQUIRED_PARAMETERS_MISSING", f'Required parameter "{name}" is missing'
    )


class ListsApi:
    """Universal lists and their elements, answering lists.get, lists.field.get and .element.get."""

    scopes = ("lists",)

    def __init__(self, options: ListsOptions) -> None:
        self._options = options
        self._lists: dict[int, dict[str, Any]] = {}
        self._fields: dict[int, dict[str, Any] | None] = {}
        self._elements: dict[int, Collection] = {}
        self._value_row_id = _FIRST_VALUE_ROW

    def methods(self) -> dict[str, Handler]:
        return {
            "lists.get": self.lists_get,
            "lists.field.get": self.field_get,
            "lists.element.get": self.element_get,
        }

    # --- data -------------------------------------------------------------------------------

    def add_list(
        self,
        iblock_id: int,
        *,
        name: str,
        code: str | None = None,
        fields: Mapping[str, Mapping[str, Any]] | None = None,
        iblock_type_id: str = "lists",
    ) -> None:
        if iblock_id in self._lists:
            raise ValueError(f"list {iblock_id} already exists")
        self._lists[iblock_id] = {
            "ID": str(iblock_id),
            "TIMESTAMP_X": stored_site_instant(_LIST_STAMP, self._options),
            "IBLOCK_TYPE_ID": iblock_type_id,
            "LID": "s1",
            "CODE": code or "",
            "API_CODE": None,
            "NAME": name,
            "ACTIVE": "Y",
            "SORT": "500",
            "PICTURE": None,
            "DESCRIPTION": "",
            "DESCRIPTION_TYPE": "text",
            "VERSION": "1",
            "SOCNET_GROUP_ID": None,
        }
        descriptors = None
        if fields:
            descriptors = {}
            for field_id, descriptor in fields.items():
                descriptors[field_id] = {"FIELD_ID": field_id, **copy.deepcopy(descriptor)}
        self._fields[iblock_id] = descriptors
        self._elements[iblock_id] = Collection()

    def add_elements(self, iblock_id: int, elements: Iterable[Mapping[str, Any]]) -> list[int]:
        coll = self.collection(iblock_id, create=True)
        records = [self._normalize(dict(element)) for element in elements]
        return coll.add(records, "ID")

    def collection(self, iblock_id: int, *, create: bool = False) -> Collection:
        iblock_id = int(iblock_id)
        if iblock_id not in self._elements and create:
            self.add_list(iblock_id, name=f"List {iblock_id}")
        coll = self._elements.get(iblock_id)
        if coll is None:
            raise KeyError(f"unknown list {iblock_id}; call add_list")
        return coll

    def edited(self, record: dict[str, Any], changes: Mapping[str, Any], *,
               touch: bool = True) -> dict[str, Any]:
        if touch:
            record["TIMESTAMP_X"] = portal_now(self._options)
        record.update(changes)
        return self._normalize(record)

    def rendered(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return _render_element({k: v for k, v in record.items() if k != "TIMESTAMP_X"})

    def _normalize(self, record: dict[str, Any]) -> dict[str, Any]:
        record["TIMESTAMP_X"] = stamp_instant(record.get("TIMESTAMP_X"), self._options)
        # A property is stored as a map of value-row id to value, as lists.element.get shows it.
        for key in [k for k in record if k.startswith("PROPERTY_")]:
            value = record[key]
            if value is None or value == [] or value == {}:
                del record[key]
            elif isinstance(value, dict):
                record[key] = {str(row): _scalar(item) for row, item in value.items()}
            else:
                values = value if isinstance(value, list | tuple) else [value]
                record[key] = {str(self._next_value_row()): _scalar(v) for v in values}
        return record

    def _next_value_row(self) -> int:
        self._value_row_id += 1
        return self._value_row_id

    # --- methods ----------------------------------------------------------------------------

    def _iblock(self, params: Mapping[str, Any]) -> int:
        type_id = params.get("IBLOCK_TYPE_ID")
        if not type_id:
            raise _required("IBLOCK_TYPE_ID")
        raw_id, raw_code = params.get("IBLOCK_ID"), params.get("IBLOCK_CODE")
        if not raw_id and not raw_code:
            raise _required("IBLOCK_ID")
        for iblock_id, info in self._lists.items():
            if raw_id:
                same = int_or_none(raw_id) == iblock_id
            else:
                same = raw_code == info["CODE"]
            if same and info["IBLOCK_TYPE_ID"] == type_id:
                return iblock_id
        raise ApiError(400, "ERROR_IBLOCK_NOT_FOUND", "Iblock not found")

    def _feature_enabled(self) -> None:
        if not self._options.lists_on_plan:
            raise ApiError(403, "ACCESS_DENIED",
                           "Access denied! Available only on extended plans")

    def lists_get(self, params: dict[str, Any]) -> MethodResult:
        upper = upper_keys(params)
        type_id = upper.get("IBLOCK_TYPE_ID")
        if not type_id:
            raise _required("IBLOCK_TYPE_ID")
        self._feature_enabled()
        coll = Collection()
        rows = [
            {**info, "ID": iblock_id}
            for iblock_id, info in sorted(self._lists.items())
            if info["IBLOCK_TYPE_ID"] == type_id
        ]
        coll.insert(rows, "ID")
        spec = {}
        if upper.get("IBLOCK_ID"):
            spec["ID"] = upper["IBLOCK_ID"]
        elif upper.get("IBLOCK_CODE"):
            spec["CODE"] = upper["IBLOCK_CODE"]
        page, total, nxt = query(
            coll, spec, [], start_of(upper.get("START")), "ID", lambda name: name
        )
        result = [{**row, "ID": str(row["ID"]),
                   "TIMESTAMP_X": site_text(row["TIMESTAMP_X"], self._options)} for row in page]
        if not result:  # getLists: `if (empty($iblocks)) return [];`
            return MethodResult([], None, None, 0)
        return MethodResult(result, total, nxt, len(result))

    def field_get(self, params: dict[str, Any]) -> dict[str, Any]:
        upper = upper_keys(params)
        iblock_id = self._iblock(upper)
        self._feature_enabled()
        descriptors = self._descriptors(iblock_id)
        wanted = upper.get("FIELD_ID")
        if wanted:
            descriptors = {k: v for k, v in descriptors.items() if k == wanted}
        return copy.deepcopy(descriptors)

    def _descriptors(self, iblock_id: int) -> dict[str, Any]:
        given = self._fields[iblock_id]
        if given is not None:
            return given
        coll = self._elements[iblock_id]
        multiple = {
            key
            for record in coll.rows.values()
            for key, value in record.items()
            if key.startswith("PROPERTY_") and isinstance(value, dict) and len(value) > 1
        }
        descriptors: dict[str, Any] = {
            "NAME": {
                "FIELD_ID": "NAME",
                "SORT": 10,
                "NAME": "Название",
                "IS_REQUIRED": "Y",
                "MULTIPLE": "N",
                "DEFAULT_VALUE": "",
                "TYPE": "NAME",
            }
        }
        properties = sorted(
            (k for k in coll.keys if k.startswith("PROPERTY_")), key=lambda k: (len(k), k)
        )
        for position, key in enumerate(properties, start=2):
            descriptors[key] = {
                "FIELD_ID": key,
                "SORT": position * 10,
                "NAME": key,
                "IS_REQUIRED": "N",
                "MULTIPLE": "Y" if key in multiple else "N",
                "DEFAULT_VALUE": "",
                "TYPE": "S",
                "PROPERTY_TYPE": "S",
                "CODE": None,
                "ID": key.removeprefix("PROPERTY_"),
                "LINK_IBLOCK_ID": None,
            }
        return descriptors

    def element_get(self, params: dict[str, Any]) -> MethodResult:
        upper = upper_keys(params)
        iblock_id = self._iblock(upper)
        self._feature_enabled()
        raw_filter = upper.get("FILTER")
        spec: dict[str, Any] = {}
        if isinstance(raw_filter, dict | list):
            spec = {_MODIFY_ALIASES.get(k, k): v
                    for k, v in self._sanitized(iblock_id, raw_filter).items()}
        declared = "TIMESTAMP_X" in (self._fields[iblock_id] or {})
        options = self._options

        def moment(name: str, value: Any) -> Moment | None:
            if name.upper() != "TIMESTAMP_X":
                return None
            instant = strtotime(value, options.zone) if declared else None
            return Moment(filter_wall(value, options, instant),  # wall clocks (clock.py)
                          lambda stored: wall(stored, options.zone))

        if upper.get("ELEMENT_ID"):
            spec["=ID"] = upper["ELEMENT_ID"]
        if upper.get("ELEMENT_CODE"):
            spec["=CODE"] = upper["ELEMENT_CODE"]
        order = [
            (str(name).upper(), str(direction).lower() == "desc")
            for name, direction in items_of(upper.get("ELEMENT_ORDER"))
        ]
        rows, total, nxt = query(
            self._elements[iblock_id],
            with_moments(spec, moment),
            order,
            start_of(upper.get("START")),
            "ID",
            lambda name: name.upper(),
            past_end_is_first_page=True,
        )
        if not rows:  # getElement: `if ($elements) ... else return [];`
            return MethodResult([], None, None, 0)
        select = {str(name).upper() for name in as_list(upper.get("SELECT")) or [] if name}
        if not options.lists_select_honoured or "*" in select:
            select = set()
        result = [_render_element(self._shown(r, declared, select)) for r in rows]
        return MethodResult(result, 0 if total is None else total, nxt, len(rows))

    def _sanitized(self, iblock_id: int, raw_filter: Any) -> dict[str, Any]:
        """The FILTER as ``IRestService::sanitizeFilter`` lets it through, or ERROR_ARGUMENT."""
        allowed = set(ELEMENT_FILTER_FIELDS) | set(self._descriptors(iblock_id))
        allowed |= {
            f"PROPERTY_{d['CODE']}"
            for d in self._descriptors(iblock_id).values()
            if d.get("CODE")
        }
        spec: dict[str, Any] = {}
        for key, value in items_of(raw_filter):
            key = key.upper()
            match = re.match(r"([^a-zA-Z]*)(.*)", key, re.DOTALL)
            operation, name = match.group(1), match.group(2)
            if operation not in ELEMENT_FILTER_OPERATIONS:
                raise ApiError(400, "ERROR_ARGUMENT", f"Filter operation not allowed: {operation}")
            if name not in allowed:
                raise ApiError(400, "ERROR_ARGUMENT", f"Filter field not allowed: {name}")
            spec[key] = value
        return spec

    def _shown(self, record: Mapping[str, Any], declared: bool,
               select: set[str]) -> dict[str, Any]:
        shown = {k: v for k, v in record.items() if k != "TIMESTAMP_X"}
        if declared:
            shown["TIMESTAMP_X"] = site_text(record["TIMESTAMP_X"], self._options)
        if select:  # an empty SELECT is "every field"
            shown = {k: v for k, v in shown.items() if k in select}
        return shown


def _scalar(value: Any) -> Any:
    # lists.element.get renders every scalar as a string.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, int | float):
        return str(value)
    return value


def _render_element(record: Mapping[str, Any]) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, dict):
            rendered[name] = {row: _scalar(item) for row, item in value.items()}
        else:
            rendered[name] = _scalar(value)
    return rendered
