"""--check: a checklist of everything a sync needs, each failure with its fix; nothing is written.

Order: settings, mapping (per directory, references), models, database,
tables (columns, a unique btxid), webhook (answers, scopes), then per
directory one read of its first page and a look for every mapped Bitrix24
field in the rows that came back. A failure exits 2 when it is ours to fix in
settings, mapping or schema, 3 when a connection or permission is missing;
2 wins when both occur, because retrying will not fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.bitrix.client import Bitrix24Client, extract_rows
from app.bitrix.methods import profile as method_profile
from app.commands.discover import BRIEF_HIDDEN, make_client, webhook_scopes
from app.config import WEBHOOK_MENU, Settings
from app.db.connect import check_connection, describe_db_error, make_engine
from app.db.parent_models import ModelSet, load_models
from app.db.schema import schema_problems
from app.db.sync_state import PORTAL_ROW, load_states
from app.errors import (
    ConfigError,
    DatabaseError,
    MappingError,
    PortalError,
    PortalFatalError,
    PortalMethodError,
    PortalOverloadError,
    PortalPlanError,
)
from app.masking import mask
from app.sync.incremental import INCREMENTAL, describe, plan_directory, portal_clock
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

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
_MARKS = {OK: "[ OK ]", WARN: "[WARN]", FAIL: "[FAIL]", SKIP: "[SKIP]"}
SETTING, CONNECTION = 2, 3  # exit codes of a failed item
WEBHOOK_PLACE = f"Bitrix24: {WEBHOOK_MENU}"


@dataclass
class CheckItem:
    """One line of the checklist, with what to do when it is not OK."""

    name: str
    status: str
    detail: str = ""
    fix: str = ""
    exit_code: int = 0


@dataclass
class CheckReport:
    """The checklist of one --check run and the exit code it implies."""

    items: list[CheckItem] = field(default_factory=list)
    # (variable, value shown, where it came from) for each setting that was set
    settings: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str = "", fix: str = "",
            exit_code: int = 0) -> None:
        self.items.append(CheckItem(name, status, mask(detail), mask(fix),
                                    exit_code if status == FAIL else 0))

    def item(self, name: str) -> CheckItem:
        return next(i for i in self.items if i.name == name)

    @property
    def exit_code(self) -> int:
        codes = {i.exit_code for i in self.items if i.status == FAIL}
        return SETTING if SETTING in codes else CONNECTION if CONNECTION in codes else 0

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.exit_code == 0, "exit_code": self.exit_code,
                "checks": [asdict(i) for i in self.items],
                "settings": [list(row) for row in self.settings]}

    def render(self) -> str:
        lines = ["Checking settings, mapping, database and portal (nothing is written):", ""]
        fixes = [i.fix if i.status in (FAIL, WARN) else "" for i in self.items]
        for n, item in enumerate(self.items):
            head, *more = (item.detail or "").splitlines() or [""]
            lines.append(f"{_MARKS[item.status]} {item.name}" + (f": {head}" if head else ""))
            lines += [f"       {line.strip()}" for line in more]
            # A fix shared by the items that follow is printed once, after the last of them.
            if fixes[n] and fixes[n] != (fixes[n + 1] if n + 1 < len(fixes) else None):
                lines.append(f"       fix: {item.fix}")
        failed = sum(i.status == FAIL for i in self.items)
        warned = sum(i.status == WARN for i in self.items)
        lines.append("")
        if failed:
            lines.append(f"{failed} problem(s), {warned} warning(s).")
            lines.append("next: исправьте их и снова запустите `python cli.py --check`.")
        else:
            lines.append("Everything needed for a sync is in place"
                         + (f" ({warned} warning(s) above)" if warned else "") + ".")
            lines.append("next: `python cli.py --dry-run` покажет, что изменит синхронизация, "
                         "ничего не записывая; затем `python cli.py`.")
        return "\n".join(lines)


def run_check(load: Callable[[], Settings], names: tuple[str, ...] = (), *,
              client: Bitrix24Client | None = None) -> CheckReport:
    """Run every check that can run; a failed step skips only what depends on it."""
    report = CheckReport()
    try:
        settings = load()
    except ConfigError as exc:
        # A message that already says what to do next needs no second fix line.
        fix = "" if "\nnext:" in str(exc) else ("впишите названные выше переменные в .env "
                                               "(образец — .env.example) или в окружение")
        report.add("settings", FAIL, str(exc), fix, SETTING)
        return report
    report.settings = settings.origin_rows()
    report.add("settings", OK, settings_detail(settings))
    for warning in settings.warnings:
        text, _, fix = warning.partition("; fix: ")
        report.add("settings file", WARN, text, fix)
    syncers, configured = _check_mapping(report, settings, names)
    models = _check_models(report, settings)
    modelled = _check_directory_models(report, models, syncers, configured) if models else []
    engine = _check_database(report, settings)
    if engine is not None:
        try:
            if models is not None and modelled:
                _check_tables(report, engine, models, syncers, modelled)
                _check_reads(report, engine, models, syncers, modelled, settings)
        finally:
            engine.dispose()
    own_client = client is None
    client = client or make_client(settings)
    try:
        _check_portal(report, client, [syncers[name] for name in configured])
    finally:
        if own_client:
            client.close()
    return report


def settings_detail(settings: Settings) -> str:
    """'valid', then one line per variable that is set: its value (masked) and its source."""
    rows = settings.origin_rows()
    width = max((len(name) for name, _, _ in rows), default=0)
    shown = max((len(value) for _, value, _ in rows), default=0)
    lines = [f"{name.ljust(width)}  {value.ljust(min(shown, 60))}  from {source}"
             for name, value, source in rows]
    return "\n".join(["valid; every setting not listed has its default (see .env.example)",
                      *lines])


def _check_mapping(report: CheckReport, settings: Settings, names: tuple[str, ...]
                   ) -> tuple[dict[str, BaseSyncer], list[str]]:
    source = str(settings.mapping_file or "built-in defaults (no mapping.toml)")

    def edit(section: str) -> str:
        if settings.mapping_file:
            return f"исправьте {section} в {settings.mapping_file}"
        return ("создайте mapping.toml рядом с cli.py (черновик: `python cli.py --discover "
                f"--write mapping.toml`) и заполните в нём {section}")

    try:
        syncers, order = select_directories(settings, names)
    except ConfigError as exc:
        report.add("mapping", FAIL, str(exc), f"исправьте файл сопоставления ({source})",
                   SETTING)
        return {}, []
    report.add("mapping", OK, source)
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
            report.add(f"{name}: mapping", FAIL, str(exc),
                       edit("секции справочников, названных выше") + "; `python cli.py "
                       "--discover` покажет смарт-процессы, списки и поля портала", SETTING)
            continue
        configured.append(name)
        params = ", ".join(f"{k}={v}" for k, v in mapping.params.items())
        report.add(f"{name}: mapping", OK, f"{mapping.method}({params}) -> "
                   f"{mapping.model}: {', '.join(mapping.columns)}\n{mapping.origin()}")
    for name in configured:
        for column, target in syncers[name].mapping.references.items():
            try:
                syncers[target].validate()
            except ConfigError:
                report.add(f"{name}: reference {column} -> {target}", FAIL,
                           f"{column} holds {target} ids, but [{target}] is not configured",
                           edit(f"[{target}]") + f" или уберите из [{name}] поле, которое "
                           f"заполняет {column}", SETTING)
            else:
                report.add(f"{name}: reference {column} -> {target}", OK)
    return syncers, configured


def _check_models(report: CheckReport, settings: Settings) -> ModelSet | None:
    try:
        models = load_models(settings)
    except ConfigError as exc:
        report.add("models", FAIL, str(exc), "исправьте MODELS_MODULE или уберите его, "
                   "чтобы взять встроенные модели", SETTING)
        return None
    report.add("models", OK, models.origin)
    return models


def _check_directory_models(report: CheckReport, models: ModelSet,
                            syncers: dict[str, BaseSyncer], configured: list[str]) -> list[str]:
    """Each directory's model class and table; the directories whose class exists."""
    found = []
    for name in configured:
        mapping = syncers[name].mapping
        model = models.find(mapping.model)
        if model is None:
            report.add(f"{name}: model", FAIL, models.missing(mapping.model),
                       f"укажите в [{name}] файла mapping.toml model = \"ИмяКласса\" (один "
                       "из классов выше) или опишите этот класс в моделях", SETTING)
            continue
        found.append(name)
        table = model.__table__
        syncers[name].fit_to(set(table.c.keys()))  # as the run does
        report.add(f"{name}: model", OK, f"class {mapping.model}, table {table.name} "
                   f"(model from {mapping.source('model')})")
        if mapping.deactivation_column(table.c.keys()) is None and mapping.active_column is None:
            report.add(f"{name}: deactivation", WARN, no_active_column_notice(name, table.name),
                       "ничего, если так и задумано; чтобы помечать удалённые записи, "
                       f"добавьте колонку is_active в {table.name} и в модель {mapping.model}")
    # The run reads the tables of referenced directories it does not sync itself.
    for target, referrer in referred_outside(syncers, configured).items():
        problem = model_problem(syncers, target, models, referrer)
        if problem:
            report.add(f"{target}: model", FAIL, problem, f"укажите в [{target}] файла "
                       "mapping.toml model = \"ИмяКласса\" (один из классов выше) или опишите "
                       "этот класс в моделях", SETTING)
    return found


def _check_database(report: CheckReport, settings: Settings) -> Engine | None:
    try:
        engine = make_engine(settings.database_url)
    except (ConfigError, DatabaseError) as exc:  # e.g. a driver that is not installed
        report.add("database", FAIL, str(exc), "исправьте DATABASE_URL (часть до :// "
                   "называет драйвер, например mysql+pymysql://) или установите этот драйвер",
                   SETTING)
        return None
    try:
        check_connection(engine)
    except ConfigError as exc:  # the driver refused an option in the URL
        engine.dispose()
        report.add("database", FAIL, str(exc), "исправьте параметры после ? в DATABASE_URL",
                   SETTING)
        return None
    except DatabaseError as exc:
        engine.dispose()
        report.add("database", FAIL, str(exc), "проверьте DATABASE_URL (или MYSQL_HOST, "
                   "MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD, MYSQL_DATABASE) и что сервер базы "
                   "запущен и доступен с этой машины", CONNECTION)
        return None
    report.add("database", OK, "reachable: " + engine.url.render_as_string(hide_password=True))
    return engine


def _check_tables(report: CheckReport, engine: Engine, models: ModelSet,
                  syncers: dict[str, BaseSyncer], modelled: list[str]) -> None:
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    needs = schema_needs(syncers, modelled, models)
    absent = {m: c for m, c in needs.items() if models.get(m).__table__.name not in tables}
    if absent:  # one item (and one fix) for every table that does not exist
        [problem] = schema_problems(engine, absent, models)
        what, _, fix = problem.partition("; fix: ")
        report.add("tables", FAIL, what, fix, SETTING)
    for model_name, columns in needs.items():
        if model_name in absent:
            continue
        table = models.get(model_name).__table__
        problems = schema_problems(engine, {model_name: columns}, models)
        if problems:
            report.add(f"table for {model_name}", FAIL, "\n".join(problems),
                       "выполните то, что сказано в каждой строке выше (SQL), или измените "
                       "сопоставление или модель", SETTING)
            continue
        report.add(f"table {table.name}", OK, "has " + ", ".join(columns))
        _check_btxid_unique(report, engine, inspector, table)


def _check_reads(report: CheckReport, engine: Engine, models: ModelSet,
                 syncers: dict[str, BaseSyncer], modelled: list[str], settings: Settings) -> None:
    """How the next run reads each directory: in full (and why) or only what changed."""
    try:
        with engine.connect() as conn:
            states = load_states(conn)
    except SQLAlchemyError as exc:
        report.add("sync state", WARN, f"cannot read bitrix_sync_state: {describe_db_error(exc)}",
                   "ничего: пока таблицу нельзя прочитать, каждый справочник читается целиком")
        states = {}
    rules = freshness(settings, RunOptions())
    portal = states.get(PORTAL_ROW)
    site_format = portal.details.get("site_format") if portal else None
    now = portal_clock(portal.details if portal else {}) or datetime.now(UTC)
    for name in modelled:
        table = models.get(syncers[name].mapping.model).__table__
        plan = plan_directory(syncers[name], table, states.get(name), rules, now)
        detail = "next run reads " + describe(plan)
        if plan.mode == INCREMENTAL and plan.change.site_format:
            problem = portal.details.get("site_format_problem") if portal else None
            detail += (f" (the portal's date format: {site_format})" if site_format else
                       f"; {problem}, so the bound goes in ISO 8601 (the run's probes check "
                       "it)" if problem and plan.change.iso_too else
                       f"; but {problem}, so it is read in full" if problem else
                       "; the first such run learns the portal's date format")
        report.add(f"{name}: read", OK, detail)


def _check_btxid_unique(report: CheckReport, engine: Engine, inspector, table) -> None:
    name = table.name
    unique = (
        inspector.get_pk_constraint(name).get("constrained_columns") == ["btxid"]
        or any(u["column_names"] == ["btxid"] for u in inspector.get_unique_constraints(name))
        or any(i.get("unique") and i["column_names"] == ["btxid"]
               for i in inspector.get_indexes(name)))
    if unique:
        report.add(f"{name}.btxid unique", OK)
        return
    repeated = (select(table.c.btxid).where(table.c.btxid.is_not(None))
                .group_by(table.c.btxid).having(func.count() > 1).subquery())
    with engine.connect() as conn:
        duplicates = conn.execute(select(func.count()).select_from(repeated)).scalar_one()
    detail = "no unique index: nothing stops two rows from claiming one Bitrix24 record"
    fix = f"выполните: CREATE UNIQUE INDEX ux_{name}_btxid ON {name} (btxid);"
    if duplicates:
        detail += f"; {duplicates} btxid value(s) already appear more than once"
        fix = "удалите повторяющиеся строки, затем " + fix
    report.add(f"{name}.btxid unique", WARN, detail, fix)


def _check_portal(report: CheckReport, client: Bitrix24Client,
                  configured: list[BaseSyncer]) -> None:
    try:
        scopes = webhook_scopes(client)
    except PortalError as exc:
        report.add("webhook", FAIL, str(exc), _webhook_fix(exc), CONNECTION)
        if configured:  # one line for all of them: one problem, one message
            report.add("portal", SKIP, f"{', '.join(s.name for s in configured)} not probed: "
                       "the webhook does not answer")
        return
    report.add("webhook", OK, "answers and is authorised; scopes: " + ", ".join(scopes))
    for syncer in configured:
        _probe(report, client, syncer, scopes)


def _webhook_fix(exc: PortalError) -> str:
    # The message already says what the portal found; the fix follows from that, not from
    # "the code may be wrong" for every refusal.
    if isinstance(exc, PortalPlanError | PortalOverloadError):
        return ("в настройках менять нечего: " + (
            "администратор портала должен перевести его на коммерческий тариф Bitrix24"
            if isinstance(exc, PortalPlanError) else "обратитесь в поддержку Bitrix24"))
    if (exc.code or "").lower() == "authorization_error":
        return ("создайте вебхук заново от имени активного сотрудника с нужными правами и "
                f"впишите его адрес в BITRIX_WEBHOOK_URL ({WEBHOOK_PLACE})")
    return (f"скопируйте адрес входящего вебхука заново в BITRIX_WEBHOOK_URL ({WEBHOOK_PLACE}); "
            "проверьте, что вебхук не удалён и адрес портала верный")


def _probe(report: CheckReport, client: Bitrix24Client, syncer: BaseSyncer,
           scopes: list[str]) -> None:
    name, mapping = syncer.name, syncer.mapping
    needed = method_profile(mapping.method).scopes
    if not any(s in scopes for s in needed):
        report.add(f"{name}: scope", FAIL, f"{mapping.method} needs the {' or '.join(needed)} "
                   "scope, which the webhook does not have",
                   f"отметьте право {needed[0]} в настройках вебхука ({WEBHOOK_PLACE})",
                   CONNECTION)
        return
    try:
        envelope = client.call(mapping.method, dict(mapping.params))
        rows = extract_rows(envelope.get("result"))
    except PortalError as exc:
        report.add(f"{name}: portal", FAIL, str(exc), *_probe_fix(exc, name))
        return
    total = envelope.get("total")
    report.add(f"{name}: portal", OK, f"{mapping.method} answers"
               + (f": {total} records" if isinstance(total, int) and total else
                  f": {len(rows)} rows on the first page"))
    _check_fields(report, client, syncer, rows, scopes)


def _probe_fix(exc: PortalError, name: str) -> tuple[str, int]:
    code = (exc.code or "").lower()
    if isinstance(exc, PortalFatalError) or not isinstance(exc, PortalMethodError):
        return ("проверьте адрес портала и что он отвечает, затем снова запустите --check",
                CONNECTION)
    if code in ("access_denied", "insufficient_scope"):
        return ("дайте пользователю вебхука право на чтение (или создайте вебхук от имени "
                "того, у кого оно есть) и отметьте нужное право вебхука", CONNECTION)
    return (f"исправьте method или params в [{name}] сопоставления; `python cli.py --discover` "
            "покажет смарт-процессы и списки портала с их id", SETTING)


def _check_fields(report: CheckReport, client: Bitrix24Client, syncer: BaseSyncer,
                  rows: list[dict[str, Any]], scopes: list[str]) -> None:
    name, mapping = syncer.name, syncer.mapping
    if not rows:
        report.add(f"{name}: fields", WARN, f"{mapping.method} returned no rows, so the field "
                   "names could not be checked", f"если в [{name}] должны быть записи, "
                   "проверьте его params (фильтры) и право чтения у пользователя вебхука")
        return
    present = set().union(*(syncer.transform(dict(row)).keys() for row in rows))
    wanted = dict(mapping.fields)
    if mapping.id_field:
        wanted.setdefault(mapping.id_field, "btxid")
    elif not {"id", "ID"} & present:
        wanted["ID"] = "btxid"
    missing = [f for f in wanted if f not in present]
    if not missing:
        report.add(f"{name}: fields", OK, f"all {len(wanted)} mapped fields are in the rows")
        return
    known = _described_fields(client, mapping.method, mapping.params)
    brief_only = not {"user", "user_basic"} & set(scopes)
    for bitrix in missing:
        item = f"{name}: field {bitrix}"
        if mapping.method.startswith("user.") and bitrix in BRIEF_HIDDEN and brief_only:
            report.add(item, FAIL, f"{bitrix} (-> {wanted[bitrix]}) is hidden: the webhook has "
                       "only the user_brief scope", "отметьте право user_basic (или user) в "
                       f"настройках вебхука ({WEBHOOK_PLACE})", CONNECTION)
        elif bitrix in known:
            report.add(item, WARN, f"{bitrix} (-> {wanted[bitrix]}) exists on the portal but "
                       f"none of the {len(rows)} rows read carry it: it is empty in them "
                       "(universal lists leave empty properties out) or params.select "
                       "leaves it out", "ничего, если поле просто пустое; иначе добавьте его "
                       f"в params.select в [{name}]")
        else:
            close = difflib.get_close_matches(bitrix, sorted(present | known), n=1, cutoff=0.6)
            hint = f"может быть, {close[0]}? " if close else ""
            report.add(item, FAIL, f"{bitrix} (-> {wanted[bitrix]}) is not a field of the rows "
                       f"{mapping.method} returned, so {wanted[bitrix]} would stay empty",
                       f"{hint}исправьте имя в fields секции [{name}]; `python cli.py "
                       "--discover` покажет поля", SETTING)


def _described_fields(client: Bitrix24Client, method: str, params: dict[str, Any]) -> set[str]:
    """Field names the portal describes for the method's directory (empty when unknown)."""
    known = method_profile(method)
    if known.fields_method is None:
        return set()
    try:
        result = client.call(known.fields_method,
                             {k: params.get(k) for k in known.fields_params}).get("result")
    except PortalError:
        return set()
    if isinstance(result, dict) and isinstance(result.get("fields"), dict):
        result = result["fields"]  # crm.item.fields wraps them
    return {str(k) for k in result} if isinstance(result, dict) else set()
