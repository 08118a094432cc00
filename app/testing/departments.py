"""The department family: department.get, whose keys are exact-match filters.

department.get ignores unknown parameters, so a ``>ID`` filter returns every row. Its ``start``
is rounded down to a multiple of 50, as for every list method but user.get, and one past the
last page gives the first page again (``CIBlockSection::GetList`` pages through CDBResult,
paging.py).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from app.testing.envelope import MethodResult
from app.testing.methods import Handler
from app.testing.paging import query, start_of
from app.testing.store import Collection

DEPARTMENT_FIELD_TITLES: dict[str, str] = {
    "ID": "ID",
    "NAME": "Название",
    "SORT": "Сортировка",
    "PARENT": "Вышестоящее подразделение",
    "UF_HEAD": "Руководитель",
}


class DepartmentsApi:
    """The company structure, answering department.get."""

    scopes = ("department",)

    def __init__(self) -> None:
        self.collection = Collection()

    def methods(self) -> dict[str, Handler]:
        return {"department.get": self.get}

    def add_departments(self, departments: Iterable[Mapping[str, Any]]) -> list[int]:
        records = [_normalize(dict(dep)) for dep in departments]
        return self.collection.add(records, "ID")

    @staticmethod
    def edited(record: dict[str, Any], changes: Mapping[str, Any], *,
               touch: bool = True) -> dict[str, Any]:
        record.update(changes)
        return _normalize(record)

    @staticmethod
    def rendered(record: Mapping[str, Any]) -> dict[str, Any]:
        rendered = {**record, "ID": str(record["ID"])}
        for key in ("PARENT", "UF_HEAD"):
            if key in record:
                rendered[key] = str(record[key])
        return rendered

    def get(self, params: dict[str, Any]) -> MethodResult:
        # Lower-case sort/order choose the order; upper-case keys are exact-match filters.
        sort = params.get("sort")
        direction = params.get("order") or params.get("ORDER") or "ASC"
        spec: dict[str, Any] = {}
        start = 0
        for key, value in params.items():
            upper = str(key).upper()
            if upper == "START":
                start = start_of(value)
            elif key not in ("sort", "order") and upper in DEPARTMENT_FIELD_TITLES:
                spec[f"={upper}"] = value
        order = [("ID", False)]
        if isinstance(sort, str) and sort:
            order = [(sort.upper(), str(direction).upper() == "DESC")]
        rows, total, nxt = query(self.collection, spec, order, start, "ID", lambda n: n,
                                 past_end_is_first_page=True)
        result = [self.rendered(row) for row in rows]
        # CIntranetRestService::departmentGet always runs setNavData, so total even when empty.
        return MethodResult(result, 0 if total is None else total, nxt, len(result))


def _normalize(record: dict[str, Any]) -> dict[str, Any]:
    # ``PARENT`` and ``UF_HEAD`` are stored as ids, absent for none.
    record["SORT"] = int(record.get("SORT", 500))
    for key in ("PARENT", "UF_HEAD"):
        if record.get(key) in (None, "", 0, "0"):
            record.pop(key, None)
        else:
            record[key] = int(record[key])
    return record
