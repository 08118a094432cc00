"""Deterministic, realistic Russian seed data for FakePortal: cities, objects, categories, users."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.testing.envelope import PORTAL_TZ
from app.testing.portal import FakePortal

CITY_ENTITY_TYPE_ID = 1036
CITY_TYPE_ID = 3
OBJECT_ENTITY_TYPE_ID = 1040
OBJECT_TYPE_ID = 5
CATEGORY_IBLOCK_ID = 48
VIOLATION_IBLOCK_ID = 52
LIST_TYPE_ID = "lists"

CITY_REGION_FIELD = "ufCrm3_1709124411"
OBJECT_ADDRESS_FIELD = "ufCrm5_1709125001"
OBJECT_CITY_FIELD = f"parentId{CITY_ENTITY_TYPE_ID}"
CATEGORY_LINK_PROPERTY = "PROPERTY_212"
SEVERITY_PROPERTY = "PROPERTY_216"
FINE_PROPERTY = "PROPERTY_230"
CATEGORY_ABBREVIATION_PROPERTY = "PROPERTY_201"
SEVERITIES: dict[str, str] = {
    "1671": "Критическое",
    "1673": "Значительное",
    "1675": "Незначительное",
}

DEMO_MAPPING: dict[str, dict[str, Any]] = {
    "city": {
        "method": "crm.item.list",
        "params": {"entityTypeId": CITY_ENTITY_TYPE_ID},
        "fields": {"title": "name"},
    },
    "object": {
        "method": "crm.item.list",
        "params": {"entityTypeId": OBJECT_ENTITY_TYPE_ID},
        "fields": {"title": "name", OBJECT_ADDRESS_FIELD: "address", OBJECT_CITY_FIELD: "city_id"},
        "references": {"city_id": "city"},
    },
    "category": {
        "method": "lists.element.get",
        "params": {"IBLOCK_TYPE_ID": LIST_TYPE_ID, "IBLOCK_ID": CATEGORY_IBLOCK_ID},
        "fields": {"NAME": "name"},
    },
    "violation": {
        "method": "lists.element.get",
        "params": {"IBLOCK_TYPE_ID": LIST_TYPE_ID, "IBLOCK_ID": VIOLATION_IBLOCK_ID},
        "fields": {"NAME": "name", CATEGORY_LINK_PROPERTY: "category_id", FINE_PROPERTY: "fine"},
        "references": {"category_id": "category"},
    },
    "user": {
        "method": "user.get",
        "params": {},
        "fields": {
            "NAME": "first_name",
            "LAST_NAME": "last_name",
            "EMAIL": "email",
            "WORK_POSITION": "position",
            "PERSONAL_MOBILE": "phone",
            "ACTIVE": "is_active",
        },
    },
}


@dataclass(frozen=True)
class SeedInfo:
    """Ids that seed_portal stored, per directory, in ascending order."""

    city_ids: tuple[int, ...]
    object_ids: tuple[int, ...]
    objects_without_city: tuple[int, ...]
    category_ids: tuple[int, ...]
    violation_ids: tuple[int, ...]
    user_ids: tuple[int, ...]
    fired_user_id: int | None
    department_ids: tuple[int, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "city": len(self.city_ids),
            "object": len(self.object_ids),
            "category": len(self.category_ids),
            "violation": len(self.violation_ids),
            "user": len(self.user_ids),
            "department": len(self.department_ids),
        }


_CITIES = (
    ("Москва", "Москва"),
    ("Санкт-Петербург", "Санкт-Петербург"),
    ("Нижний Новгород", "Нижегородская область"),
    ("Ростов-на-Дону", "Ростовская область"),
    ("Казань", "Республика Татарстан"),
    ("Екатеринбург", "Свердловская область"),
    ("Новосибирск", "Новосибирская область"),
    ("Орёл", "Орловская область"),
    ("Самара", "Самарская область"),
    ("Краснодар", "Краснодарский край"),
    ("Воронеж", "Воронежская область"),
    ("Йошкар-Ола", "Республика Марий Эл"),
    ("Пермь", "Пермский край"),
    ("Уфа", "Республика Башкортостан"),
    ("Челябинск", "Челябинская область"),
    ("Красноярск", "Красноярский край"),
    ("Волгоград", "Волгоградская область"),
    ("Тюмень", "Тюменская область"),
    ("Ярославль", "Ярославская область"),
    ("Иркутск", "Иркутская область"),
    ("Хабаровск", "Хабаровский край"),
    ("Владивосток", "Приморский край"),
    ("Калининград", "Калининградская область"),
    ("Тула", "Тульская область"),
)
# The first objects carry the characters that break naive code: quotes, &, <, emoji.
_SPECIAL_OBJECTS = (
    "ЖК «Северный квартал», корпус 2",
    'Склад ООО "Вектор & Ко"',
    "Реконструкция моста (пролёт < 30 м)",
    "Детский сад «Радуга» 🌈",
    "Бизнес-центр «O'Key Plaza»",
)
_OBJECT_PATTERNS = (
    "ЖК «{name}», корпус {number}",
    "Бизнес-центр «{name}»",
    "Школа на {capacity} мест, мкр. {name}",
    "Детский сад «{name}»",
    "Склад ООО «{name}»",
    "Торговый центр «{name}», реконструкция",
    "Поликлиника на {capacity} посещений в смену",
    "Котельная №{number}, модернизация",
    "Паркинг ТЦ «{name}»",
    "Насосная станция {number}-го подъёма",
)
_OBJECT_NAMES = (
    "Северный квартал",
    "Волга",
    "Меридиан",
    "Солнечный",
    "Зелёная роща",
    "Парковый",
    "Набережный",
    "Олимп",
    "Кудрово",
    "Южные ворота",
    "Берёзка",
    "Технопарк",
)
_STREETS = (
    "ул. Ленина",
    "ул. Дыбенко",
    "Московское ш.",
    "пр-т Мира",
    "ул. Родионова",
    "ул. Пражская",
    "ул. Садовая",
    "наб. Обводного канала",
    "ул. Гагарина",
    "ул. Советская",
    "пер. Кривоколенный",
    "ул. Строителей",
)
_STAGES = ("NEW", "PREPARATION", "SUCCESS", "FAIL")
_CATEGORIES = (
    ("Охрана труда", "ot", "ОТ"),
    ("Пожарная безопасность", "pb", "ПБ"),
    ("Электробезопасность", "eb", "ЭБ"),
    ("Промышленная безопасность", "prb", "ПрБ"),
    ("Экология & обращение с отходами", "eco", "ЭКО"),
    ("Работы на высоте", "vys", "ВР"),
    ("Земляные работы", "zem", "ЗР"),
    ("Санитарные нормы", "san", "СН"),
)
_VIOLATIONS = (
    "Отсутствует ограждение котлована",
    "Огнетушитель без отметки о проверке",
    "Работа на высоте без страховочной системы",
    "Не оформлен наряд-допуск",
    'Нарушен ППР "Земляные работы"',
    "Складирование материалов в проходах",
    "Нет знаков безопасности у опасной зоны",
    "Повреждена изоляция кабеля",
    "Расстояние до ЛЭП < 2 м",
    "Отсутствуют СИЗ (каски & жилеты)",
    "Курение в неположенном месте 🚬",
    "Не проведён инструктаж по охране труда",
    "Загромождён эвакуационный выход",
    "Нет журнала осмотра лесов",
    "Отходы не вывезены более 3 суток",
    "Открытый люк колодца",
    "Нет аптечки первой помощи",
    "Неисправен кран-балка, эксплуатация продолжается",
    "Электрощит без замка",
    "Нет освещения рабочей зоны",
)
_FINES = (500, 1000, 2000, 3000, 5000, 10000, 15000, 25000, 50000)
_MALE_FIRST = ("Андрей", "Дмитрий", "Сергей", "Алексей", "Иван", "Михаил", "Николай", "Павел")
_FEMALE_FIRST = ("Елена", "Ольга", "Наталья", "Татьяна", "Анна", "Мария", "Ирина", "Юлия")
_LAST = ("Соколов", "Кузнецов", "Петров", "Морозов", "Волков", "Лебедев", "Фёдоров", "Орлов")
_PATRONYMIC = ("Викторов", "Игорев", "Сергеев", "Александров", "Николаев", "Петров")
_POSITIONS = (
    "Инспектор ОТ",
    "Инспектор ПБ",
    "Инженер строительного контроля",
    "Прораб",
    "Главный инженер проекта",
    "Специалист по охране труда",
)
_FIXED_USERS = (
    (1, "Андрей", "Соколов", "Викторович", "M", "Директор", True, [1]),
    (9, "Елена", "Морозова", "Игоревна", "F", "Администратор справочников", True, [1, 5]),
    (27, "Дмитрий", "Кузнецов", "", "M", "Инспектор ОТ", True, [7]),
    (44, "Ольга", "Петрова", "Сергеевна", "F", "Инспектор ПБ", False, [7]),
)
_DEPARTMENTS = (
    {"ID": 1, "NAME": "ООО «СтройКонтроль»", "SORT": 500, "UF_HEAD": 1},
    {"ID": 5, "NAME": "Отдел нормативно-справочной информации", "SORT": 500, "PARENT": 1},
    {"ID": 7, "NAME": "Инспекция ОТ и ПБ", "SORT": 500, "PARENT": 1, "UF_HEAD": 27},
    {"ID": 11, "NAME": "Нижегородский филиал", "SORT": 600, "PARENT": 7},
)
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh sch - y - e yu ya".split(),
        strict=True,
    )
)
_EPOCH = datetime(2024, 3, 1, 9, 0, tzinfo=PORTAL_TZ)


def seed_portal(
    portal: FakePortal,
    *,
    cities: int = 8,
    objects: int = 40,
    categories: int = 6,
    violations: int = 30,
    users: int = 15,
    seed: int = 0,
    plain_category: bool = False,
) -> SeedInfo:
    """Fill ``portal`` with the demo directories; the same arguments give the same data.

    ``plain_category``: the violation list keeps its category in a plain string property
    (type ``S``, ``LINK_IBLOCK_ID`` null) holding the category element's id, as some portals
    do instead of a link property (type ``E``). lists.field.get describes such a property
    with ``"PROPERTY_TYPE": "S"`` and ``"LINK_IBLOCK_ID": null`` (bitrix24/b24restdocs,
    api-reference/lists/fields/lists-field-get.md); lists.element.get renders its value
    like any other property's, ``{"<value row id>": "3301"}``.
    """
    rng = random.Random(seed)
    portal.add_smart_process(
        CITY_ENTITY_TYPE_ID, type_id=CITY_TYPE_ID, title="Города", fields=_city_fields()
    )
    portal.add_smart_process(
        OBJECT_ENTITY_TYPE_ID,
        type_id=OBJECT_TYPE_ID,
        title="Объекты",
        fields=_object_fields(),
        options={"isStagesEnabled": "Y", "isCategoriesEnabled": "Y"},
    )
    portal.add_list(
        CATEGORY_IBLOCK_ID, name="Категории нарушений", code="categories", fields=_category_fields()
    )
    portal.add_list(
        VIOLATION_IBLOCK_ID, name="Нарушения", code="violations",
        fields=_violation_fields(plain_category=plain_category),
    )
    portal.add_departments(_DEPARTMENTS)
    user_rows = _users(rng, users)
    user_ids = portal.add_users(user_rows)
    staff = [row["ID"] for row in user_rows if row["ACTIVE"]] or [portal.user_id]

    city_rows = _cities(rng, cities, staff)
    city_ids = portal.add_items(CITY_ENTITY_TYPE_ID, city_rows)
    object_rows = _objects(rng, objects, city_rows, staff)
    object_ids = portal.add_items(OBJECT_ENTITY_TYPE_ID, object_rows)
    category_rows = _categories(rng, categories)
    category_ids = portal.add_elements(CATEGORY_IBLOCK_ID, category_rows)
    violation_ids = portal.add_elements(
        VIOLATION_IBLOCK_ID, _violations(rng, violations, category_ids, staff)
    )
    fired = [row["ID"] for row in user_rows if not row["ACTIVE"]]
    return SeedInfo(
        city_ids=tuple(city_ids),
        object_ids=tuple(object_ids),
        objects_without_city=tuple(r["id"] for r in object_rows if r[OBJECT_CITY_FIELD] is None),
        category_ids=tuple(category_ids),
        violation_ids=tuple(violation_ids),
        user_ids=tuple(sorted(user_ids)),
        fired_user_id=fired[0] if fired else None,
        department_ids=tuple(d["ID"] for d in _DEPARTMENTS),
    )


def _sparse_ids(rng: random.Random, first: int, count: int) -> list[int]:
    # Real portals have gaps from deleted records; a sync must not assume 1..N.
    ids, current = [], first
    for _ in range(count):
        ids.append(current)
        current += 1 + int(rng.random() * 4)
    return ids


def _stamp(minutes: float) -> str:
    return (_EPOCH + timedelta(minutes=minutes)).isoformat(timespec="seconds")


def _site_date(minutes: float) -> str:
    return (_EPOCH + timedelta(minutes=minutes)).strftime("%d.%m.%Y %H:%M:%S")


def _cities(rng: random.Random, count: int, staff: list[int]) -> list[dict[str, Any]]:
    rows = []
    for index, city_id in enumerate(_sparse_ids(rng, 1, count)):
        name, region = _CITIES[index % len(_CITIES)]
        if index >= len(_CITIES):
            name = f"{name}-{index // len(_CITIES) + 1}"
        created = index * 37.0
        rows.append(
            {
                "id": city_id,
                "title": name,
                "xmlId": "",
                "createdTime": _stamp(created),
                "updatedTime": _stamp(created + rng.randint(0, 400_000)),
                "createdBy": 1,
                "updatedBy": staff[index % len(staff)],
                "assignedById": staff[index % len(staff)],
                "opened": "Y",
                CITY_REGION_FIELD: region,
            }
        )
    return rows


def _objects(
    rng: random.Random, count: int, cities: list[dict[str, Any]], staff: list[int]
) -> list[dict[str, Any]]:
    rows = []
    random_ = rng.random
    for index, object_id in enumerate(_sparse_ids(rng, 1201, count)):
        if index < len(_SPECIAL_OBJECTS):
            title = _SPECIAL_OBJECTS[index]
        else:
            pattern = _OBJECT_PATTERNS[int(random_() * len(_OBJECT_PATTERNS))]
            title = pattern.format(
                name=_OBJECT_NAMES[int(random_() * len(_OBJECT_NAMES))],
                number=1 + int(random_() * 12),
                capacity=(2 + int(random_() * 10)) * 100,
            )
        street = _STREETS[int(random_() * len(_STREETS))]
        house = 1 + int(random_() * 180)
        # A few objects are not linked to a city, as on real portals.
        city = None if not cities or index % 13 == 7 else cities[int(random_() * len(cities))]
        if city is None:
            address = f"Московская обл., д. Горки, {street}, {house}"
        else:
            address = f"г. {city['title']}, {street}, д. {house}"
        created = 20_000 + index * 3.0
        rows.append(
            {
                "id": object_id,
                "title": title,
                "xmlId": f"OBJ-{object_id:06d}",
                "createdTime": _stamp(created),
                "updatedTime": _stamp(created + int(random_() * 300_000)),
                "createdBy": 9,
                "updatedBy": 9,
                "assignedById": staff[index % len(staff)],
                "opened": "Y",
                "categoryId": 11,
                "stageId": f"DT{OBJECT_ENTITY_TYPE_ID}_11:{_STAGES[index % len(_STAGES)]}",
                OBJECT_CITY_FIELD: None if city is None else city["id"],
                OBJECT_ADDRESS_FIELD: address,
            }
        )
    return rows


def _categories(rng: random.Random, count: int) -> list[dict[str, Any]]:
    rows = []
    for index, element_id in enumerate(_sparse_ids(rng, 3301, count)):
        name, code, abbreviation = _CATEGORIES[index % len(_CATEGORIES)]
        if index >= len(_CATEGORIES):
            suffix = index // len(_CATEGORIES) + 1
            name, code = f"{name} ({suffix})", f"{code}{suffix}"
        rows.append(
            {
                "ID": element_id,
                "NAME": name,
                "IBLOCK_SECTION_ID": None,
                "CREATED_BY": "9",
                "CODE": code,
                "SORT": str((index + 1) * 100),
                "DATE_CREATE": _site_date(index * 11.0),
                "TIMESTAMP_X": _site_date(index * 11.0 + rng.randint(0, 200_000)),
                CATEGORY_ABBREVIATION_PROPERTY: abbreviation,
            }
        )
    return rows


def _violations(
    rng: random.Random, count: int, category_ids: list[int], staff: list[int]
) -> list[dict[str, Any]]:
    rows = []
    severities = list(SEVERITIES)
    for index, element_id in enumerate(_sparse_ids(rng, 40917, count)):
        name = _VIOLATIONS[index % len(_VIOLATIONS)]
        if index >= len(_VIOLATIONS):
            name = f"{name} — п. {index // len(_VIOLATIONS) + 1}"
        row: dict[str, Any] = {
            "ID": element_id,
            "NAME": name,
            "IBLOCK_SECTION_ID": None,
            "CREATED_BY": str(staff[index % len(staff)]),
            "CODE": None,
            "DATE_CREATE": _site_date(10_000 + index * 7.0),
            "TIMESTAMP_X": _site_date(10_000 + index * 7.0 + rng.randint(0, 200_000)),
            SEVERITY_PROPERTY: severities[int(rng.random() * len(severities))],
            FINE_PROPERTY: f"{_FINES[int(rng.random() * len(_FINES))]}.00",
        }
        if category_ids:
            row[CATEGORY_LINK_PROPERTY] = str(category_ids[int(rng.random() * len(category_ids))])
        rows.append(row)
    return rows


def _translit(text: str) -> str:
    return "".join(_TRANSLIT.get(char, char) for char in text.lower()).replace("-", "")


def _users(rng: random.Random, count: int) -> list[dict[str, Any]]:
    people = [list(person) for person in _FIXED_USERS[:count]]
    next_id = 45
    while len(people) < count:
        female = rng.random() < 0.5
        first = rng.choice(_FEMALE_FIRST if female else _MALE_FIRST)
        last = rng.choice(_LAST) + ("а" if female else "")
        patronymic = rng.choice(_PATRONYMIC) + ("на" if female else "ич")
        if rng.random() < 0.2:
            patronymic = ""
        departments = [rng.choice((5, 7, 11))]
        position = rng.choice(_POSITIONS)
        people.append(
            [next_id, first, last, patronymic, "F" if female else "M", position, True, departments]
        )
        next_id += 1 + int(rng.random() * 6)
    rows = []
    seen_emails: set[str] = set()
    for user_id, first, last, patronymic, gender, position, active, departments in people:
        email = f"{_translit(first[0])}.{_translit(last)}@stroy-kontrol.ru"
        if email in seen_emails:
            email = email.replace("@", f"{user_id}@")
        seen_emails.add(email)
        has_phone = user_id % 3 != 0
        phone = f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-"
        phone += f"{user_id % 100:02d}"
        registered = 30.0 * user_id  # minutes after the epoch: all in the past
        rows.append(
            {
                "ID": user_id,
                "ACTIVE": active,
                "NAME": first,
                "LAST_NAME": last,
                "SECOND_NAME": patronymic,
                "EMAIL": email,
                "LAST_LOGIN": _stamp(registered + 500_000),
                "DATE_REGISTER": _stamp(registered),
                "TIME_ZONE": "",
                "IS_ONLINE": "N",
                "TIMESTAMP_X": _site_date(registered + 100),
                "PERSONAL_GENDER": gender,
                "PERSONAL_BIRTHDAY": "",
                "PERSONAL_MOBILE": phone if has_phone else "",
                "WORK_PHONE": "",
                "WORK_POSITION": position,
                "UF_DEPARTMENT": departments,
                "USER_TYPE": "employee",
            }
        )
    return rows


def _crm_field(kind: str, title: str, upper: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "isRequired": False,
        "isReadOnly": extra.pop("read_only", False),
        "isImmutable": False,
        "isMultiple": False,
        "isDynamic": upper.startswith("UF_"),
        "title": title,
        "upperName": upper,
        **extra,
    }


def _common_crm_fields() -> dict[str, dict[str, Any]]:
    return {
        "id": _crm_field("integer", "ID", "ID", read_only=True),
        "xmlId": _crm_field("string", "Внешний код", "XML_ID"),
        "title": _crm_field("string", "Название", "TITLE"),
        "createdBy": _crm_field("user", "Кем создан", "CREATED_BY", read_only=True),
        "updatedBy": _crm_field("user", "Кем изменён", "UPDATED_BY", read_only=True),
        "createdTime": _crm_field("datetime", "Дата создания", "CREATED_TIME", read_only=True),
        "updatedTime": _crm_field("datetime", "Дата изменения", "UPDATED_TIME", read_only=True),
        "assignedById": _crm_field("user", "Ответственный", "ASSIGNED_BY_ID"),
        "opened": _crm_field("boolean", "Доступен для всех", "OPENED"),
    }


def _city_fields() -> dict[str, dict[str, Any]]:
    fields = _common_crm_fields()
    fields[CITY_REGION_FIELD] = _crm_field(
        "string",
        "Регион",
        "UF_CRM_3_1709124411",
        listLabel="Регион",
        formLabel="Регион",
        filterLabel="Регион",
    )
    return fields


def _object_fields() -> dict[str, dict[str, Any]]:
    fields = _common_crm_fields()
    fields["categoryId"] = _crm_field("crm_category", "Воронка", "CATEGORY_ID")
    fields["stageId"] = _crm_field(
        "crm_status", "Стадия", "STAGE_ID", statusType=f"DYNAMIC_{OBJECT_ENTITY_TYPE_ID}_STAGE_11"
    )
    fields[OBJECT_CITY_FIELD] = _crm_field(
        "crm_entity",
        "Город",
        f"PARENT_ID_{CITY_ENTITY_TYPE_ID}",
        settings={"parentEntityTypeId": CITY_ENTITY_TYPE_ID},
    )
    fields[OBJECT_ADDRESS_FIELD] = _crm_field(
        "string",
        "Адрес объекта",
        "UF_CRM_5_1709125001",
        listLabel="Адрес",
        formLabel="Адрес объекта",
        filterLabel="Адрес",
    )
    return fields


def _list_field(sort: int, name: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "SORT": sort,
        "NAME": name,
        "IS_REQUIRED": extra.pop("required", "N"),
        "MULTIPLE": "N",
        "DEFAULT_VALUE": "",
        "TYPE": kind,
        **extra,
    }


def _property(sort: int, number: int, name: str, kind: str, **extra: Any) -> dict[str, Any]:
    return _list_field(
        sort,
        name,
        kind,
        PROPERTY_TYPE=kind.split(":", 1)[0],
        PROPERTY_USER_TYPE=False,
        CODE=extra.pop("code", None),
        ID=str(number),
        LINK_IBLOCK_ID=extra.pop("link", None),
        **extra,
    )


def _category_fields() -> dict[str, dict[str, Any]]:
    return {
        "NAME": _list_field(10, "Название", "NAME", required="Y"),
        CATEGORY_ABBREVIATION_PROPERTY: _property(
            20, 201, "Краткое обозначение", "S", code="SHORT"
        ),
    }


def _violation_fields(*, plain_category: bool = False) -> dict[str, dict[str, Any]]:
    if plain_category:  # a string property: nothing says its values are category ids
        category = _property(20, 212, "Код раздела", "S", code="SECTION_CODE")
    else:
        category = _property(20, 212, "Категория нарушения", "E", code="CATEGORY",
                             link=str(CATEGORY_IBLOCK_ID), required="Y")
    return {
        "NAME": _list_field(10, "Название", "NAME", required="Y"),
        CATEGORY_LINK_PROPERTY: category,
        SEVERITY_PROPERTY: _property(
            30, 216, "Тяжесть", "L", code="SEVERITY", DISPLAY_VALUES_FORM=dict(SEVERITIES)
        ),
        FINE_PROPERTY: _property(40, 230, "Штраф, руб.", "N", code="FINE"),
    }
