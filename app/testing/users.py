"""The user family: user.get (legacy filter and order rules) and user.fields.

As ``User::userGet`` (modules/rest/lib/api/user.php in bitrix-core-business) does: the
offset is exact (ORM ``offset``, the only list method here that honours one); there is no
``select`` (every field the scope allows comes back, whatever is asked); an empty result is
``[]`` without ``total``; ``start=-1`` runs no count, so a page then shows ``total: 0``.

* ``TIMESTAMP_X`` (the last change, on the portal's clock; stamped when a user is stored
  without one and on every edit) is filterable with ``>=``/``>``...: the portal's site
  format in the webhook user's local time works (clock.py), and so does ISO 8601, which the
  current docs (``bitrix24/b24restdocs`` api-reference/user/user-get.md) give beside the
  site format (read as that instant's wall clock, moved by the user's zone like
  crm.item.list). ``user_get_takes_iso = False`` is a server as the CORE mirror has it: the
  value passes to the ORM unconverted (``prepareUserFilter``), so ISO matches nobody.
  Anything else matches nobody either. In the answer it is the ORM's DateTime object,
  which ``json_encode`` renders as ``{}`` (the docs' own example).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from app.testing.clock import filter_wall, iso_instant, portal_now, stamp_instant, wall
from app.testing.envelope import MethodResult
from app.testing.filters import Moment, as_bool, with_moments
from app.testing.methods import Handler
from app.testing.options import PortalOptions
from app.testing.paging import query, start_of
from app.testing.php_query import items_of, upper_keys
from app.testing.store import Collection

# Any one of these scopes opens the user methods.
USER_SCOPES = ("user", "user_basic", "user_brief")
# user_brief hides contact details; user_basic and user show them.
_BRIEF_HIDDEN = frozenset({"EMAIL", "PERSONAL_MOBILE", "WORK_PHONE", "PERSONAL_PHONE"})
_RESERVED_TOP_LEVEL = frozenset({"SORT", "ORDER", "START", "FILTER", "SELECT", "ADMIN_MODE"})

USER_FIELD_TITLES: dict[str, str] = {
    "ID": "ID",
    "XML_ID": "Внешний код",
    "ACTIVE": "Активность",
    "NAME": "Имя",
    "LAST_NAME": "Фамилия",
    "SECOND_NAME": "Отчество",
    "EMAIL": "E-Mail",
    "LAST_LOGIN": "Последняя авторизация",
    "DATE_REGISTER": "Дата регистрации",
    "IS_ONLINE": "В сети",
    "TIME_ZONE": "Часовой пояс",
    "TIMESTAMP_X": "Дата изменения",
    "PERSONAL_GENDER": "Пол",
    "PERSONAL_BIRTHDAY": "Дата рождения",
    "PERSONAL_MOBILE": "Мобильный телефон",
    "PERSONAL_CITY": "Город",
    "WORK_PHONE": "Телефон компании",
    "WORK_POSITION": "Должность",
    "UF_EMPLOYMENT_DATE": "Дата принятия на работу",
    "UF_DEPARTMENT": "Подразделения",
    "USER_TYPE": "Тип пользователя",
}


class UsersApi:
    """The portal's employees, answering user.get and user.fields."""

    scopes = USER_SCOPES

    def __init__(self, options: PortalOptions) -> None:
        self._options = options
        self.collection = Collection()

    def methods(self) -> dict[str, Handler]:
        return {"user.get": self.get, "user.fields": self.fields}

    # --- data -------------------------------------------------------------------------------

    def add_users(self, users: Iterable[Mapping[str, Any]]) -> list[int]:
        records = [self._stamped(_normalize(dict(user))) for user in users]
        return self.collection.add(records, "ID")

    def edited(self, record: dict[str, Any], changes: Mapping[str, Any], *,
               touch: bool = True) -> dict[str, Any]:
        if touch:
            record["TIMESTAMP_X"] = portal_now(self._options)
        record.update(changes)
        return self._stamped(_normalize(record))

    def _stamped(self, record: dict[str, Any]) -> dict[str, Any]:
        record["TIMESTAMP_X"] = stamp_instant(record.get("TIMESTAMP_X"), self._options)
        return record

    def rendered(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return self._render(record)

    # --- methods ----------------------------------------------------------------------------

    def get(self, params: dict[str, Any]) -> MethodResult:
        upper = upper_keys(params)
        # As in the portal's userGet: FILTER when it is an array, else the top-level keys.
        raw_filter = upper.get("FILTER")
        if isinstance(raw_filter, dict | list):
            spec: Any = {str(k).upper(): v for k, v in items_of(raw_filter)}
        else:
            spec = {k: v for k, v in upper.items() if k not in _RESERVED_TOP_LEVEL}
        allowed = set(USER_FIELD_TITLES) | self.collection.keys

        def resolve(name: str) -> str | None:
            name = name.upper()
            return name if name in allowed else None  # the portal drops unknown filter keys

        def moment(name: str, value: Any) -> Moment | None:
            if name.upper() != "TIMESTAMP_X":
                return None
            options = self._options
            zone = options.zone
            instant = iso_instant(value, zone) if options.user_get_takes_iso else None
            return Moment(filter_wall(value, options, instant),  # wall clocks (clock.py)
                          lambda stored: wall(stored, zone))

        spec = with_moments(spec, moment)

        sort, direction = upper.get("SORT"), upper.get("ORDER")
        order = [("ID", False)]
        if isinstance(sort, str) and sort and isinstance(direction, str) and direction:
            order = [(sort.upper(), direction.upper() == "DESC")]
        rows, total, nxt = query(
            self.collection, spec, order, start_of(upper.get("START")), "ID", resolve,
            exact_offset=True,
        )
        result = [self._render(row) for row in rows]
        if not result:
            return MethodResult([], None, None, 0)
        return MethodResult(result, 0 if total is None else total, nxt, len(result))

    def fields(self, params: dict[str, Any]) -> dict[str, str]:
        titles = dict(USER_FIELD_TITLES)
        for key in sorted(self.collection.keys - set(titles)):
            titles[key] = key
        return titles

    def _render(self, record: Mapping[str, Any]) -> dict[str, Any]:
        scopes = self._options.scopes
        hidden = (
            _BRIEF_HIDDEN
            if "user_brief" in scopes and not {"user", "user_basic"} & set(scopes)
            else frozenset()
        )
        rendered: dict[str, Any] = {}
        for key, value in record.items():
            if key in hidden:
                continue
            if key == "ID":
                value = str(value)
            elif key == "TIMESTAMP_X":
                value = {}  # a DateTime object through json_encode
            elif key == "UF_DEPARTMENT":
                value = list(value)
            rendered[key] = value
        return rendered


def _normalize(record: dict[str, Any]) -> dict[str, Any]:
    # ``ACTIVE`` is stored as a boolean, ``UF_DEPARTMENT`` as a list of ints.
    active = record.get("ACTIVE", True)
    record["ACTIVE"] = active if isinstance(active, bool) else as_bool(active)
    departments = record.get("UF_DEPARTMENT")
    if departments is None or departments == "":
        departments = []
    elif not isinstance(departments, list | tuple):
        departments = [departments]
    record["UF_DEPARTMENT"] = [int(item) for item in departments]
    return record
