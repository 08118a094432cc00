"""Everything we know about each Bitrix24 list method, in one profile per method.

Every other module asks `profile(method)`; nothing else names a method to decide how it is
read, filtered, counted, described or checked. Sources (Bitrix's server code; mirrors
``avshatalov48/bitrix-core-business`` = CORE and ``avshatalov48/bitrix24-core-corp`` = CORP):

* Keyset paging (`>id` filter, id order, ``start=-1``): crm.item.list and crm.type.list
  (CORP crm/lib/controller/item.php, type.php: ORM ``filter``/``order``), user.get
  (CORE rest/lib/api/user.php ``User::userGet``: top-level ``sort``/``order``, ``FILTER``),
  lists.element.get (CORE lists/lib/rest/restservice.php ``getElement``: ``ELEMENT_ORDER``,
  ``FILTER``) and the legacy crm.*.list methods (CORP crm/classes/general/restservice.php
  ``CCrmRestProxyBase::getList``: ``order``, ``filter``). department.get and any method not
  listed are read by offset (``start``).
* Reads by id: crm.item.list takes the ORM ``@id`` (IN); user.get turns an ``ID`` array into
  ints and the ORM reads it as IN (``prepareUserValue``, CORE rest/lib/api/user.php);
  lists.element.get passes an ``ID`` array on to ``CIBlockElement::GetList``, whose filter
  reads it as IN (``CAllIBlockElement::MkFilter``, CORE iblock/classes/general/iblockelement.php).
* ``select`` is honoured by crm.item.list (``Item::listAction`` cuts each item to it, CORP
  crm/lib/controller/item.php) and by the legacy crm.*.list methods
  (``CCrmRestProxyBase::internalizeSelectFields``, CORP crm/classes/general/restservice.php;
  commit 217a5de). lists.element.get takes ``SELECT`` (``ID``, ``NAME``, ``PROPERTY_<id>``...)
  in the current docs (``bitrix24/b24restdocs`` api-reference/lists/elements/
  lists-element-get.md, since 2025-11); an older server builds a fixed select plus every
  field and property (CORE lists/lib/rest/restservice.php) and ignores it, which costs
  nothing but the bytes. user.get selects what the scope allows; department.get has none;
  crm.type.list's is undocumented. Not sent to those.
* Modification-time fields: see app/bitrix/changes.py for how each is bounded.
  crm.activity.list has no DATE_MODIFY (its field is LAST_UPDATED, ``CCrmActivity::GetFields``,
  CORP crm/classes/general/crm_activity.php), which no read has proved yet: read in full.
* Fields methods: --check describes the rows of crm.item.list (crm.item.fields),
  lists.element.get (lists.field.get) and user.get (user.fields); the legacy crm.*.fields
  and department.fields are not asked (as before: --check compares with the rows only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Paging(StrEnum):
    KEYSET = "keyset"
    OFFSET = "offset"


class Order(StrEnum):
    """How a method is asked for id order."""

    ORDER = "order"  # order={ID: ASC}
    SORT = "sort"  # sort=ID&order=ASC (user.get, department.get)
    ELEMENT_ORDER = "element_order"  # ELEMENT_ORDER={ID: ASC} (lists.element.get)
    NONE = "none"  # the method cannot be asked for an order


@dataclass(frozen=True)
class ChangeField:
    """The field a method's filter bounds by modification time, and how it reads the value."""

    name: str
    site_format: bool  # the site format in the webhook user's local time (else ISO 8601)
    shifted: bool  # the server moves an ISO bound by the user's zone difference
    iso_too: bool = False  # ISO 8601 is read as well, when the site format is not known

    def as_iso(self) -> ChangeField:
        """The same field bounded in ISO 8601, moved back by the user's zone difference."""
        return ChangeField(self.name, site_format=False, shifted=True)


@dataclass(frozen=True, kw_only=True)
class MethodProfile:
    """One list method. Every field is given for every method: no defaults to forget."""

    name: str
    paging: Paging
    id_field: str
    rows_key: str | None  # crm.item.list wraps rows in {"items": [...]}
    filter_key: str
    order: Order
    id_list_key: str | None  # the filter key that takes a list of ids (None: cannot)
    honours_select: bool
    select_key: str  # the name of its select param ("select", lists.element.get's "SELECT")
    change: ChangeField | None  # None: no proven modification-time filter, read in full
    required_params: Mapping[str, str]  # param -> what the user should look up
    scopes: tuple[str, ...]  # any one of them lets the webhook call the method
    fields_method: str | None  # the method that describes the rows' fields
    fields_params: tuple[str, ...]  # the params it takes from the list's own
    top_level_filter: bool  # the filter may be given as top-level params (user.get)
    reserved_params: frozenset[str]  # top-level params that are not filters (upper case)
    active_field: str | None  # a field that says whether the record is active (counted)

    @property
    def keyset(self) -> bool:
        return self.paging is Paging.KEYSET


USER_SCOPES = ("user", "user_basic", "user_brief")
_LEGACY_CRM = ("deal", "lead", "contact", "company", "quote", "invoice", "activity",
               "product", "requisite")
_NONE: Mapping[str, str] = MappingProxyType({})


def _profile(name: str, paging: Paging, **given) -> MethodProfile:
    base = dict(id_field="ID", rows_key=None, filter_key="filter", order=Order.ORDER,
                id_list_key=None, honours_select=False, select_key="select", change=None,
                required_params=_NONE,
                scopes=(name.split(".", 1)[0],), fields_method=None, fields_params=(),
                top_level_filter=False, reserved_params=frozenset(), active_field=None)
    return MethodProfile(name=name, paging=paging, **{**base, **given})


_PROFILES: dict[str, MethodProfile] = {p.name: p for p in (
    _profile("crm.item.list", Paging.KEYSET, id_field="id", rows_key="items",
             id_list_key="@id", honours_select=True,
             change=ChangeField("updatedTime", site_format=False, shifted=True),
             required_params=MappingProxyType(
                 {"entityTypeId": "the smart process's entityTypeId"}),
             fields_method="crm.item.fields", fields_params=("entityTypeId",)),
    _profile("crm.type.list", Paging.KEYSET, id_field="id", rows_key="types"),
    _profile("user.get", Paging.KEYSET, filter_key="FILTER", order=Order.SORT,
             # ISO as well: docs api-reference/user/user-get.md (bitrix24/b24restdocs)
             id_list_key="ID", change=ChangeField("TIMESTAMP_X", site_format=True,
                                                  shifted=False, iso_too=True),
             scopes=USER_SCOPES, fields_method="user.fields", top_level_filter=True,
             reserved_params=frozenset({"SORT", "ORDER", "START", "FILTER", "SELECT",
                                        "ADMIN_MODE", "IMAGE_RESIZE"}),
             # prepareUserValue: anything but 'N' and empty is 'Y' (CORE rest/lib/api/user.php)
             active_field="ACTIVE"),
    _profile("lists.element.get", Paging.KEYSET, filter_key="FILTER",
             order=Order.ELEMENT_ORDER, id_list_key="ID", honours_select=True,
             select_key="SELECT",
             change=ChangeField("TIMESTAMP_X", site_format=True, shifted=False),
             required_params=MappingProxyType({
                 "IBLOCK_TYPE_ID": "the list type, usually \"lists\"",
                 "IBLOCK_ID": "the universal list's id"}),
             fields_method="lists.field.get", fields_params=("IBLOCK_TYPE_ID", "IBLOCK_ID")),
    _profile("department.get", Paging.OFFSET, order=Order.SORT),
    *(_profile(f"crm.{entity}.list", Paging.KEYSET, honours_select=True,
               change=None if entity == "activity" else ChangeField(
                   "DATE_MODIFY", site_format=False, shifted=False))
      for entity in _LEGACY_CRM),
)}


def profile(method: str) -> MethodProfile:
    """The method's profile; a method we know nothing about is read by offset as it is."""
    name = method.strip().lower()
    known = _PROFILES.get(name)
    if known is not None:
        return known
    prefix = name.split(".", 1)[0]
    return _profile(name, Paging.OFFSET, order=Order.NONE,
                    scopes=USER_SCOPES if prefix == "user" else (prefix,))


def known_profiles() -> list[MethodProfile]:
    return list(_PROFILES.values())
