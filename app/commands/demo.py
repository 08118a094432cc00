"""--demo: sync a built-in demo portal with Russian sample data into a local SQLite file.

Nothing the user configured is read: no .env, no environment variables, no
mapping.toml, no parent project's models. The portal is the tests' FakePortal
on loopback inside this process, the database a SQLite file (demo.db next to
cli.py unless --demo-db says otherwise), the mapping DEMO_MAPPING and the
models the built-in ones. So the demo can never touch a real portal or database.
"""

from __future__ import annotations

import copy
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, inspect, select

from app.config import PROJECT_DIR, Settings
from app.db import models
from app.db.connect import database_errors, make_engine
from app.db.schema import create_builtin_tables
from app.errors import ConfigError, DatabaseError
from app.masking import register_secret
from app.messages import say
from app.report import SyncReport
from app.sync.engine import Progress
from app.sync.runner import RunOptions, run_sync
from app.syncers import SYNCERS
from app.testing.portal import FakePortal
from app.testing.seed import DEMO_MAPPING, seed_portal

log = logging.getLogger(__name__)

DEFAULT_DEMO_DB = PROJECT_DIR / "demo.db"


@dataclass
class DemoResult:
    """The demo run's report, where its data is and how many rows each table holds."""

    report: SyncReport
    database: Path
    rows: dict[str, int]
    first_run: bool

    def to_dict(self) -> dict:
        return {**self.report.to_dict(),
                "demo": {"database": str(self.database), "rows": self.rows}}

    def render(self) -> str:
        counts = ", ".join(f"{table} {count}" for table, count in self.rows.items())
        t = self.report.totals
        lines = [self.report.render_table(fatal=False), "",
                 say("demo.where", database=self.database, counts=counts),
                 say("demo.open", database=self.database)]
        if self.first_run:
            lines.append(say("demo.again"))
        elif not (t["created"] or t["updated"] or t["deactivated"]) and self.report.ok:
            lines.append(say("demo.resync"))
        lines.append(say("demo.next"))
        return "\n".join(lines)


def demo_settings(webhook_url: str, database: Path) -> Settings:
    """Settings built in code, so no .env or environment variable can leak into the demo."""
    return Settings(webhook_url=webhook_url, database_url=f"sqlite:///{database.as_posix()}",
                    bitrix_max_retries=2, models_module="app.db.models",
                    log_level="INFO", project_dir=PROJECT_DIR)


def run_demo(database: Path, options: RunOptions | None = None, *,
             progress: Progress | None = None) -> DemoResult:
    """Start the demo portal, seed it, create the tables if needed and sync once."""
    options = options or RunOptions(trigger="demo")
    database = database.expanduser().resolve()
    engine = make_engine(f"sqlite:///{database.as_posix()}")
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        with database_errors(say("db.reading_demo_tables")):
            first_run = not any(_row_counts(engine).values())
        create_builtin_tables(engine)
    except (OSError, DatabaseError) as exc:
        # e.g. the project folder is read-only (unpacked under Program Files)
        raise ConfigError(say("demo.unwritable", database=database, why=exc),
                          variables=("--demo-db",)) from None
    finally:
        engine.dispose()
    # A fresh code each run: the demo webhook is a secret like any other.
    with FakePortal(code=secrets.token_hex(12)) as portal:
        register_secret(portal.code)
        seed_portal(portal)
        log.info("Demo portal with sample data is up at %s (in this process)",
                 portal.webhook_url)
        report = run_sync(demo_settings(portal.webhook_url, database), options,
                          overrides=copy.deepcopy(DEMO_MAPPING), progress=progress)
    engine = make_engine(f"sqlite:///{database.as_posix()}")
    try:
        rows = _row_counts(engine)
    finally:
        engine.dispose()
    return DemoResult(report, database, rows, first_run)


def _row_counts(engine) -> dict[str, int]:
    """Rows per built-in table, in the order the directories sync."""
    existing = set(inspect(engine).get_table_names())
    tables = [getattr(models, syncer.model).__table__ for syncer in SYNCERS.values()]
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables if t.name in existing}
