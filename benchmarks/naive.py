"""The naive reference: one request per 50-row page, row-by-row ORM upsert, no rate limiter."""

from __future__ import annotations

import time
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.connect import make_engine
from app.db.models import City, Object, User, Violation, ViolationCategory
from app.sync.values import convert
from app.testing.seed import DEMO_MAPPING

# Directory -> (model, {column: referenced model}) in dependency order.
_MODELS = {
    "city": (City, {}),
    "category": (ViolationCategory, {}),
    "object": (Object, {"city_id": City}),
    "violation": (Violation, {"category_id": ViolationCategory}),
    "user": (User, {}),
}


def _pages(http: requests.Session, webhook: str, method: str, params: dict[str, Any]):
    """Offset paging, one plain call per page; on any error wait a second and ask again."""
    start: int | None = 0
    while start is not None:
        response = http.post(webhook + method, json={**params, "start": start}, timeout=60)
        if response.status_code != 200:
            time.sleep(1.0)  # the usual naive answer to 503 QUERY_LIMIT_EXCEEDED
            continue
        body = response.json()
        result = body["result"]
        yield result["items"] if isinstance(result, dict) else result
        start = body.get("next")


def naive_sync(webhook: str, database_url: str) -> int:
    """Sync the demo directories the naive way; return the number of records read."""
    engine = make_engine(database_url)
    http = requests.Session()
    records = 0
    try:
        for name, (model, references) in _MODELS.items():
            mapping = DEMO_MAPPING[name]
            table = model.__table__
            with Session(engine) as session:
                for page in _pages(http, webhook, mapping["method"], mapping["params"]):
                    for raw in page:
                        records += 1
                        btxid = int(raw.get("id") or raw.get("ID"))
                        row = session.scalars(select(model).filter_by(btxid=btxid)).first()
                        if row is None:
                            row = model(btxid=btxid)
                            if name == "user":
                                row.secret_key = f"naive-{btxid}"
                            session.add(row)
                        for field_name, column in mapping["fields"].items():
                            value = convert(raw.get(field_name), table.c[column],
                                            is_reference=column in references)
                            if column in references and value is not None:
                                target = references[column]
                                value = session.scalars(
                                    select(target.id).filter_by(btxid=int(value))).first()
                            setattr(row, column, value)
                        if "is_active" not in mapping["fields"].values():
                            row.is_active = True
                        session.flush()  # row by row, as an ORM loop without batching does
                session.commit()
    finally:
        http.close()
        engine.dispose()
    return records
