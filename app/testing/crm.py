"""The crm family: smart processes (crm.type.*) and their items (crm.item.*).

Items carry ``createdTime`` and ``updatedTime`` on the portal's clock: an item stored without
them gets the current time, and an edit moves ``updatedTime`` forward. A filter on a
datetime field (``>=updatedTime``...) is read as the server reads it
(``Base::prepareDateTimeFieldsForFilter`` in crm/lib/controller/base.php, mirror
``avshatalov48/bitrix24-core-corp`` → ``CRestUtil::unConvertDateTime``, see clock.py): anything
strtotime parses, written as the server's wall clock at that instant and shifted by the
webhook user's zone, then compared with the stored wall clock (in a zone with daylight
saving time an instant before the autumn switch reads later than the repeated hour); a value
it cannot parse matches no items (and is no error).

Records that appear without a fresh stamp (mirror ``avshatalov48/bitrix24-core-corp``):

* an item moved to the recycle bin and restored is a *new* item: ``DynamicController::recover``
  (modules/crm/lib/recycling/dynamiccontroller.php) unsets ``ID`` and adds the stored fields
  again, so the item gets the next autoincrement id, and ``Restore::processFieldsBeforeSave``
  (modules/crm/lib/Service/Operation/Restore.php) sets ``createdTime``/``updatedTime``
  back to the stored values on purpose;
* ``crm.item.import`` lets an administrator set the system date fields (docs
  ``bitrix24/b24restdocs`` api-reference/crm/universal/import/crm-item-import.md): the
  item gets a new id and whatever ``updatedTime`` the import gave.
"""

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from app.testing.clock import iso, portal_now, text_wall
from app.testing.envelope import ApiError, MethodResult
from app.testing.filters import Moment, with_moments
from app.testing.methods import Handler
from app.testing.options import PortalOptions
from app.testing.paging import Order, query, start_of
from app.testing.php_query import as_list, int_or_none, items_of
from app.testing.store import Collection

_BASE_TITLES: dict[str, tuple[str, str]] = {
    "id": ("integer", "ID"),
    "xmlId": ("string", "Внешний код"),
    "title": ("string", "Название"),
    "createdBy": ("user", "Кем создан"),
    "updatedBy": ("user", "Кем изменён"),
    "movedBy": ("user", "Кем перемещён"),
    "createdTime": ("datetime", "Дата создания"),
    "updatedTime": ("datetime", "Дата изменения"),
    "movedTime": ("datetime", "Дата перемещения"),
    "categoryId": ("crm_category", "Воронка"),
    "stageId": ("crm_status", "Стадия"),
    "previousStageId": ("crm_status", "Предыдущая стадия"),
    "begindate": ("date", "Дата начала"),
    "closedate": ("date", "Дата завершения"),
    "opened": ("boolean", "Доступен для всех"),
    "assignedById": ("user", "Ответственный"),
    "observers": ("user", "Наблюдатели"),
    "lastActivityTime": ("datetime", "Последняя активность"),
}
# Fields every smart process has, whether or not a stored item carries them.
_ALWAYS_KNOWN = frozenset(_BASE_TITLES) | {"entityTypeId"}
_TYPE_STAMP = "2024-02-28T18:04:12+03:00"


class CrmApi:
    """Smart processes and their items, answering crm.type.* and crm.item.*."""

    scopes = ("crm",)

    def __init__(self, options: PortalOptions) -> None:
        self._options = options
        self._types: dict[int, dict[str, Any]] = {}
        self._fields: dict[int, dict[str, Any] | None] = {}
        self._items: dict[int, Collection] = {}
        self._bin: dict[tuple[int, int], dict[str, Any]] = {}  # (type, old id) -> stored item

    def methods(self) -> dict[str, Handler]:
        return {
            "crm.item.list": self.item_list,
            "crm.item.get": self.item_get,
            "crm.item.fields": self.item_fields,
            "crm.type.list": self.type_list,
            "crm.type.getbyentitytypeid": self.type_get_by_entity_type_id,
        }

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
        if entity_type_id in self._types:
            raise ValueError(f"smart process {entity_type_id} already exists")
        user_id = self._options.user_id
        self._types[entity_type_id] = {
            "id": type_id,
            "title": title,
            "code": code,
            "createdBy": user_id,
            "entityTypeId": entity_type_id,
            "customSectionId": None,
            "isCategoriesEnabled": "N",
            "isStagesEnabled": "N",
            "isBeginCloseDatesEnabled": "Y",
            "isClientEnabled": "N",
            "isUseInUserfieldEnabled": "Y",
            "isLinkWithProductsEnabled": "N",
            "isMycompanyEnabled": "N",
            "isDocumentsEnabled": "N",
            "isSourceEnabled": "N",
            "isObserversEnabled": "Y",
            "isRecyclebinEnabled": "Y",
            "isAutomationEnabled": "Y",
            "isBizProcEnabled": "N",
            "isSetOpenPermissions": "Y",
            "isPaymentsEnabled": "N",
            "isCountersEnabled": "N",
            "createdTime": _TYPE_STAMP,
            "updatedTime": _TYPE_STAMP,
            "updatedBy": user_id,
            **(options or {}),
        }
        self._fields[entity_type_id] = copy.deepcopy(dict(fields)) if fields else None
        self._items[entity_type_id] = Collection()

    def add_items(self, entity_type_id: int, items: Iterable[Mapping[str, Any]]) -> list[int]:
        coll = self.collection(entity_type_id, create=True)
        now = iso(portal_now(self._options), self._options.zone)
        records = [{"createdTime": now, "updatedTime": now, **item,
                    "entityTypeId": entity_type_id} for item in items]
        return coll.add(records, "id")

    def import_items(self, entity_type_id: int, items: Iterable[Mapping[str, Any]]) -> list[int]:
        """crm.item.import: new ids, and the stamps the import gives (else the current time)."""
        return self.add_items(entity_type_id, [{k: v for k, v in item.items() if k != "id"}
                                               for item in items])

    def recycle(self, entity_type_id: int, item_id: int) -> None:
        """Move an item to the recycle bin: it leaves the lists, its fields are kept."""
        coll = self.collection(entity_type_id)
        self._bin[(entity_type_id, item_id)] = dict(coll.rows[item_id])
        coll.remove(item_id)

    def restore(self, entity_type_id: int, item_id: int) -> int:
        """Restore an item from the recycle bin: a new id, the old stamps (see above)."""
        stored = self._bin.pop((entity_type_id, item_id))
        stored.pop("id")
        return self.collection(entity_type_id).add([stored], "id")[0]

    def collection(self, entity_type_id: int, *, create: bool = False) -> Collection:
        entity_type_id = int(entity_type_id)
        if entity_type_id not in self._items and create:
            # Tests may add items straight away; the type gets the next free smart-process id.
            type_id = max((row["id"] for row in self._types.values()), default=0) + 1
            self.add_smart_process(entity_type_id, type_id=type_id, title=f"SPA {entity_type_id}")
        coll = self._items.get(entity_type_id)
        if coll is None:
            raise KeyError(f"unknown smart process {entity_type_id}; call add_smart_process")
        return coll

    def edited(self, record: dict[str, Any], changes: Mapping[str, Any], *,
               touch: bool = True) -> dict[str, Any]:
        if touch:  # the portal stamps every edit; touch=False is a change it did not stamp
            record["updatedTime"] = iso(portal_now(self._options), self._options.zone)
        record.update(changes)
        return record

    @staticmethod
    def rendered(record: Mapping[str, Any]) -> Mapping[str, Any]:
        return record

    # --- parameters -------------------------------------------------------------------------

    def _entity_type(self, params: Mapping[str, Any]) -> int:
        raw = params.get("entityTypeId")
        if raw is None or raw == "":
            raise ApiError(400, "100", "Could not find value for parameter {entityTypeId}")
        number = int_or_none(raw)
        if number is None:
            raise ApiError(
                400,
                "100",
                f"Invalid value {raw} to match with parameter {{entityTypeId}}. "
                "Should be value of type int",
            )
        if number not in self._types:
            raise ApiError(400, "NOT_FOUND", "Smart process not found")
        return number

    def _known(self, entity_type_id: int) -> set[str]:
        given = self._fields[entity_type_id] or {}
        return set(given) | self._items[entity_type_id].keys | _ALWAYS_KNOWN

    @staticmethod
    def _order(order: Any, known: set[str]) -> Order:
        spec: Order = []
        for name, direction in items_of(order):
            upper = str(direction).upper()
            if upper not in ("ASC", "DESC"):
                raise ApiError(
                    400,
                    "INVALID_ARG_VALUE",
                    "Invalid order: allowed sort directions are ASC, DESC. "
                    f"But got '{direction}' for field '{name}'",
                )
            if name not in known:
                raise ApiError(
                    400,
                    "INVALID_ARG_VALUE",
                    f"Invalid order: field '{name}' is not allowed in order",
                )
            spec.append((name, upper == "DESC"))
        return spec

    @staticmethod
    def _select(
        record: Mapping[str, Any], select: list[Any] | None, known: set[str]
    ) -> dict[str, Any]:
        """The item cut to ``select``, as ``Item::listAction`` does (CORP
        modules/crm/lib/controller/item.php): names the type does not know are dropped and the
        output is ``array_intersect_key($item, $select)``, so ``id`` comes back only when it is
        selected. ``*`` selects everything, ``UF_*`` the user fields."""
        if not select or "*" in select:
            return dict(record)
        chosen: dict[str, Any] = {}
        for name in (str(item) for item in select):
            if name in ("UF_*", "ufCrm*"):
                chosen.update({k: v for k, v in record.items() if k.startswith("ufCrm")})
            elif name in record:
                chosen[name] = record[name]
            elif name in known:
                chosen[name] = None
        return chosen

    # --- crm.item.* -------------------------------------------------------------------------

    def item_list(self, params: dict[str, Any]) -> MethodResult:
        entity_type_id = self._entity_type(params)
        known = self._known(entity_type_id)

        def resolve(name: str) -> str:
            if name not in known:
                raise ApiError(
                    400,
                    "INVALID_ARG_VALUE",
                    f"Invalid filter: field '{name}' is not allowed in filter",
                )
            return name

        order = self._order(params.get("order"), known)
        select = as_list(params.get("select"))
        dates = self._datetime_fields(entity_type_id)
        user_offset, zone = self._options.user_zone_offset, self._options.zone

        def stored_wall(value: Any) -> float | None:
            return text_wall(value, zone) if isinstance(value, str) else None

        def moment(name: str, value: Any) -> Moment | None:
            if name not in dates:
                return None
            at = stored_wall(value)  # the server's wall clock at that instant (clock.py)
            return Moment(None if at is None else at - user_offset, stored_wall)

        rows, total, nxt = query(
            self._items[entity_type_id],
            with_moments(params.get("filter"), moment),
            order,
            start_of(params.get("start")),
            "id",
            resolve,
        )
        items = [self._select(row, select, known) for row in rows]
        return MethodResult({"items": items}, total, nxt, len(items))

    def _datetime_fields(self, entity_type_id: int) -> set[str]:
        given = self._fields[entity_type_id] or {}
        return {name for name, (kind, _) in _BASE_TITLES.items() if kind == "datetime"} | {
            name for name, info in given.items() if info.get("type") == "datetime"}

    def item_get(self, params: dict[str, Any]) -> dict[str, Any]:
        entity_type_id = self._entity_type(params)
        raw = params.get("id")
        if raw is None or raw == "":
            raise ApiError(400, "100", "Could not find value for parameter {id}")
        record = self._items[entity_type_id].rows.get(int_or_none(raw) or 0)
        if record is None:
            raise ApiError(400, "NOT_FOUND", "Element not found")
        return {"item": dict(record)}

    def item_fields(self, params: dict[str, Any]) -> dict[str, Any]:
        entity_type_id = self._entity_type(params)
        return {"fields": copy.deepcopy(self._descriptors(entity_type_id))}

    def _descriptors(self, entity_type_id: int) -> dict[str, Any]:
        given = self._fields[entity_type_id]
        if given is not None:
            return given
        coll = self._items[entity_type_id]
        samples: dict[str, Any] = {}
        for record_id in coll.ids:
            for key, value in coll.rows[record_id].items():
                if samples.get(key) is None:
                    samples[key] = value
            if len(samples) == len(coll.keys) and all(v is not None for v in samples.values()):
                break
        names = [n for n in _BASE_TITLES if n in samples or n in ("id", "title")]
        names += sorted(k for k in samples if k not in _BASE_TITLES and k != "entityTypeId")
        descriptors = {}
        for name in names:
            kind, title = _BASE_TITLES.get(name, ("", name))
            inferred = _infer_type(name, samples.get(name))
            descriptors[name] = {
                "type": kind or inferred["type"],
                "isRequired": False,
                "isReadOnly": name in ("id", "createdTime", "updatedTime", "createdBy"),
                "isImmutable": False,
                "isMultiple": bool(inferred.get("isMultiple", False)),
                "isDynamic": name.startswith("ufCrm"),
                "title": title,
                "upperName": _camel_to_upper(name),
                **({"settings": inferred["settings"]} if "settings" in inferred else {}),
            }
        return descriptors

    # --- crm.type.* -------------------------------------------------------------------------

    def type_list(self, params: dict[str, Any]) -> MethodResult:
        if not self._options.crm_admin:
            raise ApiError(400, "ACCESS_DENIED", "Access denied")
        coll = Collection()
        coll.insert([dict(row) for row in self._types.values()], "id")
        known = {name for row in self._types.values() for name in row} | {"id"}
        order = self._order(params.get("order"), known)
        start = start_of(params.get("start"))
        rows, total, nxt = query(coll, params.get("filter"), order, start, "id", lambda n: n)
        return MethodResult({"types": rows}, total, nxt, len(rows))

    def type_get_by_entity_type_id(self, params: dict[str, Any]) -> dict[str, Any]:
        entity_type_id = self._entity_type(params)
        return {"type": dict(self._types[entity_type_id])}


def _camel_to_upper(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Za-z])(?=\d)", "_", name)
    return spaced.upper()


def _infer_type(name: str, sample: Any) -> dict[str, Any]:
    match = re.fullmatch(r"parentId(\d+)", name)
    if match:
        return {"type": "crm_entity", "settings": {"parentEntityTypeId": int(match.group(1))}}
    if isinstance(sample, list):
        inner = _infer_type(name, sample[0] if sample else None)
        return {**inner, "isMultiple": True}
    if isinstance(sample, bool) or sample in ("Y", "N"):
        return {"type": "boolean"}
    if isinstance(sample, int):
        return {"type": "integer"}
    if isinstance(sample, float):
        return {"type": "double"}
    if isinstance(sample, str) and re.match(r"\d{4}-\d{2}-\d{2}T", sample):
        return {"type": "datetime"}
    return {"type": "string"}
