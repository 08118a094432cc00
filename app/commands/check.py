"""--check: a checklist of everything a sync needs, each failure with its fix; nothing is written.

Order: settings, mapping (per directory, references), models, database, a
sync running now, tables (columns, a unique btxid), webhook (answers,
scopes), then per directory one read of its first page and a look for every
mapped Bitrix24 field in the rows that came back, and last the reference
columns no mapping fills. A failure exits 2 when it is ours to fix in
settings, mapping or schema, 3 when a connection or permission is missing;
2 wins when both occur, because retrying will not fix it. The portal's part
is in check_portal.py, the checklist itself in checklist.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.bitrix.client import Bitrix24Client
from app.commands.check_portal import check_portal, check_unfilled
from app.commands.checklist import (
    CONNECTION,
    FAIL,
    OK,
    SETTING,
    SKIP,
    WARN,
    CheckItem,
    CheckReport,
    label,
)
from app.commands.discover import make_client
from app.commands.id_match import unfilled_references
from app.config import Settings, declaring_file
from app.db.connect import check_connection, describe_db_error, make_engine
from app.db.history import RunStatus, recent_runs
from app.db.parent_models import ModelSet, load_models
from app.db.run_lock import sync_running
from app.db.schema import schema_problems
from app.db.sync_state import PORTAL_ROW, load_states
from app.errors import ConfigError, DatabaseError, MappingError
from app.messages import now_said, say
from app.sync.incremental import (
    INCREMENTAL,
    describe,
    plan_directory,
    portal_clock,
    site_format_problem,
)
from app.sync.records import id_field_problem
from app.sync.removals import no_active_column_notice
from app.sync.runner import (
    RunOptions,
    freshness,
    model_problem,
    referred_outside,
    schema_needs,
    select_directories,
)
from app.syncers import BaseSyncer
from app.syncers.base_syncer import CODE_HOOKS

__all__ = ["CONNECTION", "FAIL", "OK", "SETTING", "SKIP", "WARN", "CheckItem", "CheckReport",
           "run_check", "settings_detail"]


def run_check(load: Callable[[], Settings], names: tuple[str, ...] = (), *,
              client: Bitrix24Client | None = None) -> CheckReport:
    """Run every check that can run; a failed step skips only what depends on it."""
    report = CheckReport()
    try:
        settings = load()
    except ConfigError as exc:
        # A message that already says what to do next needs no second fix line.
        fix = "" if "\n" + say("hint.next") in str(exc) else say("check.settings.fix")
        report.add(label("check.name.settings"), FAIL, str(exc), fix, SETTING)
        return report
    report.settings = settings.origin_rows()
    report.add(label("check.name.settings"), OK, settings_detail(settings))
    for warning in settings.warnings:  # made while the .env files were read, before the
        # language they set was known: said again in the console's language
        text, _, fix = now_said(warning).partition("; " + say("hint.fix"))
        report.add(label("check.name.settings_file"), WARN, text, fix)
    syncers, configured = _check_mapping(report, settings, names)
    models = _check_models(report, settings)
    modelled = _check_directory_models(report, models, syncers, configured) if models else []
    unfilled = _unfilled(models, syncers, modelled) if models else {}
    engine = _check_database(report, settings)
    if engine is not None:
        try:
            _check_running_sync(report, engine)
            if models is not None and modelled:
                _check_tables(report, engine, models, syncers, modelled)
                _check_reads(report, engine, models, syncers, modelled, settings)
        finally:
            engine.dispose()
    own_client = client is None
    client = client or make_client(settings)
    try:
        pages = check_portal(report, client, [syncers[name] for name in configured])
        check_unfilled(report, client, syncers, unfilled, pages)
    finally:
        if own_client:
            client.close()
    return report


def settings_detail(settings: Settings) -> str:
    """'valid', then one line per variable that is set: its value (masked) and its source."""
    rows = settings.origin_rows()
    width = max((len(name) for name, _, _ in rows), default=0)
    shown = max((len(value) for _, value, _ in rows), default=0)
    lines = [say("check.settings.row", name=name.ljust(width),
                 value=value.ljust(min(shown, 60)), source=source)
             for name, value, source in rows]
    return "\n".join([say("check.settings.valid"), *lines])


def _check_mapping(report: CheckReport, settings: Settings, names: tuple[str, ...]
                   ) -> tuple[dict[str, BaseSyncer], list[str]]:
    source = str(settings.mapping_file or say("check.mapping.built_in"))

    def edit(section: str) -> str:
        if settings.mapping_file:
            return say("check.mapping.edit", section=section, file=settings.mapping_file)
        return say("check.mapping.create", section=section)

    try:
        syncers, order = select_directories(settings, names)
    except ConfigError as exc:
        report.add(label("check.name.mapping"), FAIL, str(exc),
                   say("check.mapping.fix", source=source), SETTING)
        return {}, []
    report.add(label("check.name.mapping"), OK, source)
    configured = []
    for name in order:
        mapping = syncers[name].mapping
        try:
            syncers[name].validate()
            own_id = id_field_problem(syncers[name])
            if own_id is not None:
                raise MappingError(own_id)
        except ConfigError as exc:
            # One fix for every unconfigured directory: the checklist prints it once.
            report.add(label("check.name.directory_mapping", directory=name), FAIL, str(exc),
                       say("check.mapping.unconfigured_fix",
                           edit=edit(say("check.mapping.sections_named"))), SETTING)
            continue
        configured.append(name)
        params = ", ".join(f"{k}={v}" for k, v in mapping.params.items())
        report.add(label("check.name.directory_mapping", directory=name), OK,
                   f"{mapping.method}({params}) -> {mapping.model}: "
                   f"{', '.join(mapping.columns)}\n{_origin(syncers[name])}")
    for name in configured:
        for column, target in syncers[name].mapping.references.items():
            what = label("check.name.reference", directory=name, column=column, target=target)
            try:
                syncers[target].validate()
            except ConfigError:
                report.add(what, FAIL, say("check.reference.unconfigured", column=column,
                                           target=target),
                           say("check.reference.unconfigured_fix", edit=edit(f"[{target}]"),
                               directory=name, column=column), SETTING)
            else:
                report.add(what, OK)
    return syncers, configured


def _where(syncer: BaseSyncer, key: str) -> str:
    """Where a key of a directory's mapping came from, in the console's words."""
    where, cls = syncer.mapping.source(key), type(syncer)
    if where == cls.defaults().sources.get(key):
        return say("check.origin.declared", syncer=cls.__name__, file=cls.source_file())
    section = f"[{syncer.name}] in "
    if where.startswith(section):
        return say("check.origin.file", section=f"[{syncer.name}]",
                   file=where.removeprefix(section))
    hook = CODE_HOOKS.get(key)
    if hook and where == f"{cls.__name__}.{hook}() in {cls.source_file()}":
        return say("check.origin.code", syncer=cls.__name__, hook=hook, file=cls.source_file())
    return where


def _origin(syncer: BaseSyncer) -> str:
    """Where the method, params, fields... came from, grouped by place (the model apart:
    its own line says which class of which file)."""
    mapping = syncer.mapping
    keys = ["method", "params", "fields", *(["references"] if mapping.references else []),
            *(k for k in ("id_field", "active_column") if k in mapping.sources)]
    by_place: dict[str, list[str]] = {}
    for key in keys:
        by_place.setdefault(_where(syncer, key), []).append(key)
    return "; ".join(say("check.origin.keys", keys=", ".join(keys), where=where)
                     for where, keys in by_place.items())


def _check_models(report: CheckReport, settings: Settings) -> ModelSet | None:
    try:
        models = load_models(settings)
    except ConfigError as exc:
        report.add(label("check.name.models"), FAIL, str(exc), say("check.models.fix"),
                   SETTING)
        return None
    report.add(label("check.name.models"), OK,
               say(f"check.models.{models.kind}", where=models.where) if models.kind
               else models.origin)
    return models


def _check_directory_models(report: CheckReport, models: ModelSet,
                            syncers: dict[str, BaseSyncer], configured: list[str]) -> list[str]:
    """Each directory's model class and table; the directories whose class exists."""
    found = []
    for name in configured:
        mapping = syncers[name].mapping
        model = models.find(mapping.model)
        if model is None:
            report.add(label("check.name.model", directory=name), FAIL,
                       models.missing(mapping.model), say("check.model.fix", directory=name),
                       SETTING)
            continue
        found.append(name)
        table = model.__table__
        syncers[name].fit_to(set(table.c.keys()))  # as the run does
        # Where the class came from and who chose its name: two facts, said apart.
        chosen = mapping.source("model")
        by_default = chosen == type(syncers[name]).defaults().sources.get("model")
        report.add(label("check.name.model", directory=name), OK, say(
            "check.model.used", model=mapping.model, file=declaring_file(model), table=table.name,
            chosen=say("check.model.named_by_default") if by_default
            else say("check.model.named_in", where=_where(syncers[name], "model"))))
        if mapping.deactivation_column(table.c.keys()) is None and mapping.active_column is None:
            report.add(label("check.name.deactivation", directory=name), WARN,
                       no_active_column_notice(name, table.name),
                       say("check.deactivation.fix", table=table.name, model=mapping.model))
    # The run reads the tables of referenced directories it does not sync itself.
    for target, referrer in referred_outside(syncers, configured).items():
        problem = model_problem(syncers, target, models, referrer)
        if problem:
            report.add(label("check.name.model", directory=target), FAIL, problem,
                       say("check.model.fix", directory=target), SETTING)
    return found


def _unfilled(models: ModelSet, syncers: dict[str, BaseSyncer],
              modelled: list[str]) -> dict[str, dict[str, str]]:
    """Per directory, the reference columns of its model that no mapping fills."""
    directory_of: dict[str, str] = {}
    for name, syncer in syncers.items():
        model = models.find(syncer.mapping.model)
        if model is not None:
            directory_of.setdefault(model.__table__.name, name)
    found = {}
    for name in modelled:
        table = models.get(syncers[name].mapping.model).__table__
        columns = unfilled_references(syncers[name], table, directory_of)
        if columns:
            found[name] = columns
    return found


def _check_database(report: CheckReport, settings: Settings) -> Engine | None:
    database = label("check.name.database")
    try:
        engine = make_engine(settings.database_url)
    except (ConfigError, DatabaseError) as exc:  # e.g. a driver that is not installed
        report.add(database, FAIL, str(exc), say("check.database.driver_fix"), SETTING)
        return None
    try:
        check_connection(engine)
    except ConfigError as exc:  # the driver refused an option in the URL
        engine.dispose()
        report.add(database, FAIL, str(exc), say("check.database.options_fix"), SETTING)
        return None
    except DatabaseError as exc:
        engine.dispose()
        report.add(database, FAIL, str(exc), say("check.database.connect_fix"), CONNECTION)
        return None
    report.add(database, OK, say("check.database.reachable",
                                 url=engine.url.render_as_string(hide_password=True)))
    return engine


def _check_running_sync(report: CheckReport, engine: Engine) -> None:
    """A sync holding the run lock now: what --check sees may change under it."""
    try:
        with engine.connect() as conn:
            if not sync_running(conn):
                return
            runs = [r for r in recent_runs(conn, 1) if r.status == RunStatus.RUNNING]
    except SQLAlchemyError:
        return  # the tables' checks below say what is wrong with the database
    since = ""
    if runs:
        started = runs[0].started_at.replace(tzinfo=UTC).astimezone()
        since = say("check.running.since", started=f"{started:%Y-%m-%d %H:%M}",
                    trigger=runs[0].triggered_by)
    report.add(label("check.name.running"), WARN, say("check.running.detail", since=since),
               say("check.running.fix"))


def _check_tables(report: CheckReport, engine: Engine, models: ModelSet,
                  syncers: dict[str, BaseSyncer], modelled: list[str]) -> None:
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    needs = schema_needs(syncers, modelled, models)
    absent = {m: c for m, c in needs.items() if models.get(m).__table__.name not in tables}
    if absent:  # one item (and one fix) for every table that does not exist
        [problem] = schema_problems(engine, absent, models)
        what, _, fix = problem.partition("; " + say("hint.fix"))
        report.add(label("check.name.tables"), FAIL, what, fix, SETTING)
    for model_name, columns in needs.items():
        if model_name in absent:
            continue
        table = models.get(model_name).__table__
        problems = schema_problems(engine, {model_name: columns}, models)
        if problems:
            report.add(label("check.name.table_for", model=model_name), FAIL,
                       "\n".join(problems), say("check.table.fix"), SETTING)
            continue
        report.add(label("check.name.table", table=table.name), OK,
                   say("check.table.has", columns=", ".join(columns)))
        _check_btxid_unique(report, engine, inspector, table)


def _check_reads(report: CheckReport, engine: Engine, models: ModelSet,
                 syncers: dict[str, BaseSyncer], modelled: list[str], settings: Settings) -> None:
    """How the next run reads each directory: in full (and why) or only what changed."""
    try:
        with engine.connect() as conn:
            states = load_states(conn)
    except SQLAlchemyError as exc:
        report.add(label("check.name.sync_state"), WARN,
                   say("check.state.unreadable", error=describe_db_error(exc)),
                   say("check.state.fix"))
        states = {}
    rules = freshness(settings, RunOptions())
    portal = states.get(PORTAL_ROW)
    site_format = portal.details.get("site_format") if portal else None
    now = portal_clock(portal.details if portal else {}) or datetime.now(UTC)
    for name in modelled:
        table = models.get(syncers[name].mapping.model).__table__
        plan = plan_directory(syncers[name], table, states.get(name), rules, now)
        detail = say("check.read.next", plan=describe(plan))
        if plan.mode == INCREMENTAL and plan.change.site_format:
            problem = site_format_problem(portal.details) if portal else None
            detail += (say("check.read.site_format", site_format=site_format) if site_format
                       else say("check.read.iso_bound", problem=problem)
                       if problem and plan.change.iso_too
                       else say("check.read.site_format_problem", problem=problem) if problem
                       else say("check.read.site_format_first"))
        report.add(label("check.name.read", directory=name), OK, detail)


def _check_btxid_unique(report: CheckReport, engine: Engine, inspector, table) -> None:
    name = table.name
    what = label("check.name.btxid_unique", table=name)
    unique = (
        inspector.get_pk_constraint(name).get("constrained_columns") == ["btxid"]
        or any(u["column_names"] == ["btxid"] for u in inspector.get_unique_constraints(name))
        or any(i.get("unique") and i["column_names"] == ["btxid"]
               for i in inspector.get_indexes(name)))
    if unique:
        report.add(what, OK)
        return
    repeated = (select(table.c.btxid).where(table.c.btxid.is_not(None))
                .group_by(table.c.btxid).having(func.count() > 1).subquery())
    with engine.connect() as conn:
        duplicates = conn.execute(select(func.count()).select_from(repeated)).scalar_one()
    detail = say("check.btxid.not_unique")
    fix = say("check.btxid.fix", table=name)
    if duplicates:
        detail += say("check.btxid.duplicates", count=duplicates)
        fix = say("check.btxid.fix_duplicates", fix=fix)
    report.add(what, WARN, detail, fix)
