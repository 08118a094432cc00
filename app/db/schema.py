"""Schema problems against the mapping, built-in table creation, columns named in driver errors."""

from __future__ import annotations

import re
import sys

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from app.db.connect import database_errors
from app.db.parent_models import ModelSet


def schema_problems(engine: Engine, needs: dict[str, list[str]], models: ModelSet) -> list[str]:
    """Every table or column the mapping needs that the models or the database lack.

    `needs` maps a model class name to the column names the sync writes.
    """
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    problems: list[str] = []
    for model_name, columns in needs.items():
        table = models.get(model_name).__table__
        model_columns = {c.name: c for c in table.columns}
        for column in columns:
            if column not in model_columns:
                problems.append(f"model {model_name} (table {table.name!r}, {models.origin}) "
                                f"has no column {column!r}; add it to the model and the table, "
                                "or fix the mapping")
        if table.name not in tables:
            problems.append(f"table {table.name!r} does not exist (model {model_name}); "
                            + _create_table_hint(models.get(model_name)))
            continue
        existing = {c["name"] for c in inspector.get_columns(table.name)}
        for column in columns:
            if column in model_columns and column not in existing:
                problems.append(f"table {table.name!r} has no column {column!r}; add it with: "
                                + _add_column_sql(engine, table.name, model_columns[column]))
    return problems


def _create_table_hint(model: type) -> str:
    """--init-db creates only the built-in tables: for another project's model it would not help."""
    from app.db.models import Base

    if model.__table__.metadata is Base.metadata:
        return "run `python cli.py --init-db` to create the missing built-in tables"
    module = sys.modules.get(model.__module__)
    where = getattr(module, "__file__", None) or model.__module__
    return (f"create it in the main project from its model {model.__name__} ({where}); "
            "`--init-db` creates only the built-in tables, not this one")


def _add_column_sql(engine: Engine, table: str, column) -> str:
    kind = column.type.compile(dialect=engine.dialect)
    unique = " UNIQUE" if column.name == "btxid" else ""
    return f"ALTER TABLE {table} ADD COLUMN {column.name} {kind} NULL{unique};"


def create_builtin_tables(engine: Engine) -> list[str]:
    """Create the built-in tables that do not exist yet; return their names."""
    from app.db.models import Base

    existing = set(inspect(engine).get_table_names())
    with database_errors("Cannot create tables"):
        Base.metadata.create_all(engine)
    return [t.name for t in Base.metadata.sorted_tables if t.name not in existing]


def column_from_error(exc: BaseException, table=None, conn=None) -> str | None:
    """The column a driver error names, if any (MySQL and SQLite wording).

    A duplicate-key error names the unique index, not the column; `table`
    (a SQLAlchemy Table) and the database's own index list (through `conn`)
    map the index back to its first column.
    """
    message = str(getattr(exc, "orig", exc))
    match = re.search(r"column '([^']+)'", message) or re.search(
        r"(?:NOT NULL|UNIQUE) constraint failed: \w+\.(\w+)", message)
    if match:
        return match.group(1)
    key = re.search(r"Duplicate entry .* for key '(?:[^'.]+\.)?([^']+)'", message)
    if not key:
        return None
    name = key.group(1)
    if table is None or name in table.c:
        return name
    for index in [*table.indexes, *table.constraints]:
        columns = list(getattr(index, "columns", []))
        if index.name == name and columns:
            return columns[0].name
    if conn is not None:  # an index the database has but the model does not declare
        for index in inspect(conn).get_indexes(table.name):
            if index["name"] == name and index["column_names"]:
                return index["column_names"][0]
    return name
