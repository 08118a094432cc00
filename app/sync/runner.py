"""run_sync(): the one entry point the CLI, the service and the cron scripts share."""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from app.bitrix.client import Bitrix24Client
from app.bitrix.limits import use_limits
from app.bitrix.tls import prepare as prepare_tls
from app.bootstrap import collect_less
from app.config import Settings
from app.db.connect import check_connection, make_engine
from app.db.connect import prepare_tls as prepare_db_tls
from app.db.parent_models import ModelSet, load_models
from app.db.schema import schema_problems
from app.errors import (
    ConfigError,
    DatabaseError,
    LockHeldError,
    RunInterrupted,
    SyncError,
    unexpected_error,
)
from app.logging_setup import IN_REPORT
from app.messages import say
from app.report import SyncReport
from app.sync.engine import Progress, SyncEngine, run_order
from app.sync.incremental import Freshness
from app.sync.records import id_field_problem
from app.sync.run_guard import guarded_run
from app.syncers import SYNCERS, BaseSyncer
from app.syncers.mapping import load_mapping_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """What to sync and how."""

    names: tuple[str, ...] = ()
    allow_mass_deactivation: bool = False
    dry_run: bool = False
    trigger: str = "cli"
    full: bool = False  # read every directory in full this run (--full)


def build_syncers(settings: Settings, overrides: dict | None = None) -> dict[str, BaseSyncer]:
    """Every registered directory with its effective mapping (defaults, code, mapping.toml)."""
    if overrides is None:
        overrides = load_mapping_file(settings.mapping_file, set(SYNCERS))
    source = str(settings.mapping_file or "mapping.toml")
    return {name: cls(overrides.get(name), source=source) for name, cls in SYNCERS.items()}


def schema_needs(syncers: dict[str, BaseSyncer], order: list[str],
                 models: ModelSet) -> dict[str, list[str]]:
    """Model name -> columns the run writes or reads, for the schema check.

    Directories whose model class is missing are left out (that is its own problem).
    """
    needs: dict[str, list[str]] = {}
    for name in order:
        mapping = syncers[name].mapping
        model = models.find(mapping.model)
        if model is None:
            continue
        active = mapping.deactivation_column(model.__table__.c.keys())
        needs.setdefault(mapping.model, []).extend(["btxid", *mapping.columns])
        if active:
            needs[mapping.model].append(active)
        for target in mapping.references.values():
            if models.find(syncers[target].mapping.model) is not None:
                needs.setdefault(syncers[target].mapping.model, []).append("btxid")
    return {m: list(dict.fromkeys(c)) for m, c in needs.items()}


def select_directories(settings: Settings, names: tuple[str, ...] = (), *,
                       overrides: dict | None = None) -> tuple[dict[str, BaseSyncer], list[str]]:
    """Every directory with its mapping, and the run order of the `names` asked for (all if none).

    The one place a run's order is worked out: the sync, its checks and --check use it.
    """
    syncers = build_syncers(settings, overrides)
    return syncers, run_order(syncers, names or None)


def referred_outside(syncers: dict[str, BaseSyncer], order: list[str]) -> dict[str, str]:
    """Directories outside `order` that one in it refers to, each with the first referrer.

    The run reads their tables for the local ids (`--sync object` reads the cities).
    """
    found: dict[str, str] = {}
    for name in order:
        for target in syncers[name].mapping.references.values():
            if target not in order:
                found.setdefault(target, name)
    return found


def model_problem(syncers: dict[str, BaseSyncer], name: str, models: ModelSet,
                  referrer: str | None = None) -> str | None:
    """The sentence for a directory whose model class the models lack; None when it is there."""
    mapping = syncers[name].mapping
    if models.find(mapping.model) is not None:
        return None
    referred = f", which [{referrer}] refers to" if referrer else ""
    return models.missing(mapping.model, f" (the model of [{name}]{referred}, from "
                                         f"{mapping.source('model')})")


def model_problems(syncers: dict[str, BaseSyncer], order: list[str],
                   models: ModelSet) -> list[str]:
    """A sentence for each directory of the run, or referred to by one, whose model is missing."""
    wanted = {name: None for name in order} | referred_outside(syncers, order)
    return [p for name, referrer in wanted.items()
            if (p := model_problem(syncers, name, models, referrer))]


def fit_to_models(syncers: dict[str, BaseSyncer], order: list[str], models: ModelSet) -> None:
    """Fit each directory's mapping to its model's columns (see BaseSyncer.fit_to)."""
    for name in order:
        model = models.find(syncers[name].mapping.model)
        if model is not None:
            syncers[name].fit_to(set(model.__table__.c.keys()))


def prepare_run(settings: Settings, options: RunOptions, *, overrides: dict | None = None):
    """Everything checked before any write: mapping, models, database, schema.

    The problems of every directory are told together in one ConfigError (exit 2);
    an unreachable database with nothing else wrong is a DatabaseError (exit 3).
    """
    # Every client of this portal in the process shares one bucket sized by the settings.
    use_limits(settings.webhook_url, settings.bitrix_rate_limit, settings.bitrix_rate_burst)
    syncers, order = select_directories(settings, options.names, overrides=overrides)
    problems = [p for name in order for p in syncers[name].problems()]
    problems += [p for name in order if (p := id_field_problem(syncers[name])) is not None]
    models = db = None
    try:
        try:
            models = load_models(settings)
            problems += model_problems(syncers, order, models)
            fit_to_models(syncers, order, models)
            db = make_engine(settings.database_url)
            check_connection(db)
            problems += schema_problems(db, schema_needs(syncers, order, models), models)
        except (ConfigError, DatabaseError) as exc:
            if not problems:
                raise
            problems.append(str(exc) if models is None or db is None
                            else say("run.tables_not_checked", why=exc))
        if problems:
            raise ConfigError(say("run.setup_problems") + "\n"
                              + "\n".join(f"  - {p}" for p in problems))
    except SyncError:
        if db is not None:
            db.dispose()
        raise
    return syncers, order, models, db


def run_sync(
    settings: Settings,
    options: RunOptions = RunOptions(),
    *,
    stop_event: threading.Event | None = None,
    client: Bitrix24Client | None = None,
    overrides: dict | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Take the run lock, check everything, sync, record the run in the history.

    Never raises SyncError or another Exception — the error lands in the report
    (another run in progress: exit 4).
    """
    report = SyncReport(dry_run=options.dry_run)
    db = None
    try:
        with _ends_run(report), _few_collections():
            if client is None:  # the portal's TLS context is made while the run prepares
                prepare_tls(settings.webhook_url, settings.bitrix_verify_ssl)
            prepare_db_tls(settings.database_url)  # and the database's
            # Checks first: a run stopped by a setting, mapping or schema error writes
            # nothing at all, not even a history row.
            syncers, order, models, db = prepare_run(settings, options, overrides=overrides)
            # The inner _ends_run puts an error of the sync itself in the report before
            # guarded_run finishes the run's history row; the outer one takes the errors
            # that come before the run (checks, lock).
            with guarded_run(settings.database_url, options.trigger, report) as held, \
                    _ends_run(report):
                client = client or Bitrix24Client.from_settings(settings)
                sync = SyncEngine(client=client, db=db, models=models, syncers=syncers,
                                  allow_mass_deactivation=options.allow_mass_deactivation,
                                  dry_run=options.dry_run, stop_event=stop_event,
                                  progress=progress, lock_check=held.check,
                                  freshness=freshness(settings, options))
                sync.run(order, report)
    except KeyboardInterrupt as exc:  # the CLI tells what was saved and what rolled back
        raise RunInterrupted(report) from exc
    finally:
        if client is not None:  # every pooled connection to the portal, retried ones too
            client.close()
        if db is not None:
            db.dispose()
    if report.directories:  # a run that never started has nothing to sum up
        log.info("%s", report.summary())
    return report


def freshness(settings: Settings, options: RunOptions) -> Freshness:
    """The run's rules for full and incremental reads."""
    return Freshness(full=options.full, full_every=settings.sync_full_every,
                     overlap=settings.sync_incremental_overlap)


_gc_lock = threading.Lock()
_gc_saved: list[tuple[int, ...]] = []  # the threshold before the runs in progress (one)
_gc_runs = [0]  # runs in progress in this process


@contextlib.contextmanager
def _few_collections() -> Iterator[None]:
    """Less garbage collection during a run: what was alive when it started (modules,
    settings) is frozen out of the collector's scans, and the youngest generation is
    collected less often. Both are undone when the last run in progress ends."""
    with _gc_lock:
        _gc_runs[0] += 1
        if _gc_runs[0] == 1:
            gc.freeze()
            _gc_saved[:] = [gc.get_threshold()]
            collect_less()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_runs[0] -= 1
            if _gc_runs[0] == 0:
                gc.set_threshold(*_gc_saved.pop())
                gc.unfreeze()


@contextlib.contextmanager
def _ends_run(report: SyncReport) -> Iterator[None]:
    """An error in the block ends the run: it goes into `report` and is logged once."""
    try:
        yield
    except SyncError as exc:
        report.fail(exc)
        # The log file and the service's console say it; cli.py prints it itself, once.
        # A held lock is routine for the service (it skips the tick), not a failure.
        level = logging.WARNING if isinstance(exc, LockHeldError) else logging.ERROR
        log.log(level, "%s", exc, extra=IN_REPORT)
    except Exception as exc:
        # A bug must not take the counts of the directories already done with it.
        report.fail(unexpected_error(exc))
        log.error("%s", report.fatal, extra=IN_REPORT)
        log.debug("Traceback of the unexpected error", exc_info=exc)
