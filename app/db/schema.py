"""Schema problems against the mapping, built-in table creation, columns named in driver errors."""

from __future__ import annotations

import re
import sys

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from app.db.connect import database_errors
from app.db.parent_models import ModelSet
from app.messages import say


def schema_problems(engine: Engine, needs: dict[str, list[str]], models: ModelSet) -> list[str]:
    """Every table or column the mapping needs that the models or the database lack.

    `needs` maps a model class name to the column names the sync writes.
    """
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    problems: list[str] = []
    missing: list[tuple[str, str, type]] = []  # (table, model name, class): one line
    for model_name, columns in needs.items():
        table = models.get(model_name).__table__
        model_columns = {c.name: c for c in table.columns}
        for column in columns:
            if column not in model_columns:
                problems.append(say("schema.model_no_column", model=model_name,
                                    table=table.name, origin=models.origin, column=column))
        if table.name not in tables:
            missing.append((table.name, model_name, models.get(model_name)))
            continue
        existing = {c["name"] for c in inspector.get_columns(table.name)}
        for column in columns:
            if column in model_columns and column not in existing:
                problems.append(say("schema.table_no_column", table=table.name, column=column,
                                    sql=_add_column_sql(engine, table.name,
                                                        model_columns[column])))
    if missing:
        problems.insert(0, missing_tables_problem(missing, every=len(missing) == len(needs),
                                                  database=engine.url.database))
    return problems


def missing_tables_problem(missing: list[tuple[str, str, type]], *, every: bool,
                           database: str | None) -> str:
    """One sentence for all the tables that do not exist, with what to do (in Russian).

    --init-db creates only the built-in tables: for another project's models it would
    not help, so the fix names where those models are.
    """
    from app.db.models import Base

    if len(missing) == 1:
        what = say("schema.no_table", table=missing[0][0], model=missing[0][1])
    else:
        what = say("schema.no_tables", tables=", ".join(
            say("schema.table_of", table=t, model=m) for t, m, _ in missing))
    foreign = [model for _, _, model in missing if model.__table__.metadata is not Base.metadata]
    if not foreign:
        fix = say("schema.fix_init_db")
    else:
        where = ", ".join(dict.fromkeys(f"{m.__name__} ({_source_of(m)})" for m in foreign))
        fix = say("schema.fix_parent_one" if len(missing) == 1 else "schema.fix_parent",
                  where=where)
    if every and database:
        fix += say("schema.same_database", database=database)
    return f"{what}; {fix}"


def _source_of(model: type) -> str:
    return getattr(sys.modules.get(model.__module__), "__file__", None) or model.__module__


def _add_column_sql(engine: Engine, table: str, column) -> str:
    kind = column.type.compile(dialect=engine.dialect)
    unique = " UNIQUE" if column.name == "btxid" else ""
    return f"ALTER TABLE {table} ADD COLUMN {column.name} {kind} NULL{unique};"


def create_builtin_tables(engine: Engine) -> list[str]:
    """Create the built-in tables that do not exist yet; return their names."""
    from app.db.models import Base

    existing = set(inspect(engine).get_table_names())
    with database_errors(say("db.creating_tables")):
        Base.metadata.create_all(engine)
    return [t.name for t in Base.metadata.sorted_tables if t.name not in existing]


def column_from_error(exc: BaseException, table=None, conn=None) -> str | None:
    """The column a driver error names, if any (MySQL and SQLite wording).

    A duplicate-key error names the unique index, not the column; `table`
    (a SQLAlchemy Table) and the database's own index list (through `conn`)
    map the index back to its first column.
    """
    message = str(getattr(exc, "orig", exc))
    # "Data too long for column 'x'", and MySQL 1048's "Column 'x' cannot be null"
    match = re.search(r"column '([^']+)'", message, re.IGNORECASE) or re.search(
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
