"""One benchmark sitting: per size a fresh fake portal and database, our runs, then the peers'.

Every measured run is its own process (benchmarks/probe.py), started from here; its wall
clock is timed here, its CPU and peak RSS it reports itself, its HTTP requests and the time
of its first one come from the fake portal's log. The portal's bucket and operating windows
are emptied before each run. After each of our runs the database is compared with the
portal row by row (benchmarks/resync.py).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.messages import say as msg
from benchmarks import peers
from benchmarks.probe import PROJECT, cpu_seconds
from benchmarks.resync import change_portal, mismatches

# The five demo directories: objects grow with the size, the other four stay as on the
# 58,360-record portal of issue 17.
FIXED = {"cities": 300, "categories": 60, "violations": 3_000, "users": 5_000}
PRESETS = {"20k": 12_000, "58k": 50_000, "208k": 200_000}  # objects per named size
_COUNT = re.compile(r"^(\d+(?:\.\d+)?)([km]?)$")
COUNTERS = ("fetched", "created", "updated", "deactivated")
PEER_MIN_SECONDS = 120.0


@dataclass(frozen=True)
class Size:
    """What one portal of the sitting holds, and which directory the runs sync (None: all)."""

    label: str
    counts: dict[str, int]  # seed_portal's keyword arguments
    only: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def parse_count(token: str) -> int:
    """'20k' -> 20,000; '1m' -> 1,000,000; '1500' -> 1,500."""
    found = _COUNT.match(token.strip().lower().replace("_", "").replace(",", ""))
    if not found:
        raise ValueError(f"not a size: {token!r} (examples: 20k, 58k, 208k, 1m, 1500)")
    number, unit = found.groups()
    return int(float(number) * {"": 1, "k": 1_000, "m": 1_000_000}[unit])


def five_directories(token: str) -> Size:
    """A named size (20k, 58k, 208k) or any total spread over the five directories."""
    token = token.strip().lower()
    if token in PRESETS:
        return Size(token, {**FIXED, "objects": PRESETS[token]})
    total = parse_count(token)
    fixed = sum(FIXED.values())
    if total >= fixed + 1_000:
        return Size(token, {**FIXED, "objects": total - fixed})
    share = total / (fixed + PRESETS["58k"])  # a small portal shaped like the 58k one
    counts = {name: max(1, round(count * share)) for name, count in FIXED.items()}
    counts["objects"] = max(1, total - sum(counts.values()))
    return Size(token, counts)


def one_directory(rows: int) -> Size:
    """The memory run: `rows` objects, nothing else, synced with --sync object."""
    counts = {"cities": 0, "objects": rows, "categories": 0, "violations": 0, "users": 0}
    label = f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else (
        f"{rows // 1_000}k" if rows % 1_000 == 0 else str(rows))
    return Size(msg("bench_one_label", label=label), counts, only="object")


@dataclass
class Run:
    """One measured process and what the portal and the database say about it."""

    size: Size | None
    label: str
    ours: bool = False
    wall: float | None = None
    cpu: float | None = None
    rss_mb: float | None = None
    requests: int | None = None
    limited: int = 0  # answers 503 QUERY_LIMIT_EXCEEDED
    first_request: float | None = None  # seconds from process start to the portal's 1st request
    rows: int | None = None  # rows read (our report's "fetched", a peer's row count)
    written: int | None = None  # created + updated + deactivated
    mismatches: int | None = None
    note: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sitting:
    """Everything one `python -m benchmarks` measured, in order."""

    command: str
    started: float
    settings: dict[str, float]
    runs: list[Run] = field(default_factory=list)
    sizes: list[Size] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    finished: float = 0.0
    portal_check: dict[str, float] | None = None


def clean_environ(folder: Path, cert: Path) -> dict[str, str]:
    """This environment without any of the tool's settings, the project folder a temporary one
    (no .env, mapping.toml or parent project is read) and the portal's certificate trusted."""
    from app.config import PROJECT_DIR_VARIABLE, VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update({PROJECT_DIR_VARIABLE: str(folder), "REQUESTS_CA_BUNDLE": str(cert),
                "SSL_CERT_FILE": str(cert), "PYTHONIOENCODING": "utf-8"})
    return env


def trust_store(cert: Path, folder: Path) -> Path:
    """The CA bundle every measured process trusts: certifi's roots, as a real portal's
    certificate is checked against, plus the fake portal's own certificate. With the one
    certificate alone a TLS context costs next to nothing to make, and a client that makes
    one per connection (requests does) would look cheaper than it is on a real portal."""
    import certifi

    bundle = folder / "trust-store.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n"
                       + cert.read_bytes())
    return bundle


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def write_mapping(folder: Path) -> Path:
    """The demo portal's mapping (DEMO_MAPPING) as the mapping.toml a user would write."""
    from app.testing.seed import DEMO_MAPPING

    lines = []
    for name, section in DEMO_MAPPING.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml(value)}" for key, value in section.items()]
        lines.append("")
    path = folder / "mapping.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def measure(run: Run, probe_args: list[str], env: dict[str, str], portal, *,
            timeout: float) -> Run:
    """Start the probe, wait for it, and fill `run` from its own account and the portal's."""
    if portal is not None:
        portal.reset_limits()
        portal.reset_stats()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "probe.json"
        command = [sys.executable, "-m", "benchmarks.probe", str(out), *probe_args]
        server = database_server(env.get("DATABASE_URL", ""))
        began_at, began = time.time(), time.perf_counter()
        portal_cpu, server_cpu = cpu_seconds(), cpu_of(server)
        try:
            done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True,
                                  text=True, encoding="utf-8", errors="replace",
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            run.error = msg("bench_no_answer", seconds=f"{timeout:.0f}")
            run.extra["stopped_after"] = timeout  # its time is longer: a bound to judge by
            _count_requests(run, portal, began_at)  # what it did before it was stopped
            return run
        run.wall = time.perf_counter() - began
        # The fake portal's threads are this process's; the database server is its own.
        run.extra["portal_cpu"] = cpu_seconds() - portal_cpu
        after = cpu_of(server)
        if server_cpu is not None and after is not None:
            run.extra["db_cpu"] = after - server_cpu
        own = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    if not own or (own.get("exit_code", 0) != 0 and not done.stdout.strip()):
        run.error = failure(done.stderr or done.stdout, done.returncode)
        return run
    run.cpu, run.rss_mb = own.get("cpu_seconds"), own.get("peak_rss_mb")
    run.rows = own.get("records")
    run.extra["stdout"] = done.stdout
    _count_requests(run, portal, began_at)
    return run


def _count_requests(run: Run, portal, began_at: float) -> None:
    """The run's HTTP requests, its 503s and the time of its first request, from the log."""
    if portal is None:
        return
    log = portal.requests
    run.requests = len(log)
    run.limited = sum(1 for r in log if r.status == 503)
    if log:
        run.first_request = min(r.at for r in log) - began_at


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def failure(output: str, returncode: int) -> str:
    """What a failed run said, for the table: a traceback's last line (the exception and
    its message, without the peer's file paths), else the last three lines."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if lines and _EXCEPTION_LINE.match(lines[-1]):
        return lines[-1]
    return " | ".join(lines[-3:]) or f"exit code {returncode}"


def database_server(url: str):
    """The MariaDB/MySQL server process behind `url` when it is on this machine (psutil), or
    None: another host, not visible, or psutil not installed. Its CPU is the whole server's."""
    from sqlalchemy.engine import make_url

    if not url or (make_url(url).host or "localhost") not in ("localhost", "127.0.0.1", "::1"):
        return None
    try:
        import psutil
    except ImportError:
        return None
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ("mariadbd", "mysqld", "mariadbd.exe", "mysqld.exe"):
            return process
    return None


def cpu_of(process) -> float | None:
    """User + system CPU seconds of a psutil process, None where it cannot be read."""
    if process is None:
        return None
    try:
        times = process.cpu_times()
    except Exception:  # psutil.Error: gone or not ours to read
        return None
    return times.user + times.system


def read_report(run: Run) -> None:
    """Our run's rows read and written from the CLI's --json report."""
    text = run.extra.get("stdout", "")
    try:
        report = json.loads(text[text.index("{"):])
    except ValueError:
        run.error = run.error or "no --json report: " + text.strip()[-100:]
        return
    directories = report.get("directories", {}).values()
    totals = {key: sum(d.get(key, 0) for d in directories) for key in COUNTERS}
    run.rows = totals["fetched"]
    run.written = totals["created"] + totals["updated"] + totals["deactivated"]
    run.extra["modes"] = sorted({d.get("mode") for d in directories if d.get("mode")})
    if not report.get("ok", False):
        problems = report.get("errors") or [{"message": report.get("fatal", "not ok")}]
        run.error = "report not ok: " + str(problems[0].get("message"))[:120]


def help_runs(env: dict[str, str], count: int) -> Run:
    """`python cli.py --help`, started `count` times; the median wall clock."""
    walls = []
    for _ in range(count):
        began = time.perf_counter()
        subprocess.run([sys.executable, str(PROJECT / "cli.py"), "--help"], cwd=PROJECT,
                       env=env, capture_output=True, check=True)
        walls.append(time.perf_counter() - began)
    run = Run(None, "`python cli.py --help`", wall=statistics.median(walls))
    run.extra["walls"] = walls
    return run


def create_database(admin_url: str, name: str) -> str:
    """A fresh utf8mb4 database with the built-in tables; its URL."""
    from sqlalchemy import create_engine, text

    from app.db.connect import make_engine
    from app.db.schema import create_builtin_tables

    admin = create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 "
                          "COLLATE utf8mb4_unicode_ci"))
    admin.dispose()
    base, _, query = admin_url.partition("?")
    url = base.rstrip("/") + f"/{name}" + (f"?{query}" if query else "")
    engine = make_engine(url)
    create_builtin_tables(engine)
    engine.dispose()
    return url


def drop_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


class SizeRuns:
    """The runs of one size on its own portal and database."""

    def __init__(self, size: Size, args, env: dict[str, str], tls, mapping: Path) -> None:
        self.size, self.args, self.tls = size, args, tls
        self.env = {**env, "SYNC_MAPPING_FILE": str(mapping),
                    "BITRIX_RATE_LIMIT": f"{args.rate:g}", "BITRIX_RATE_BURST": str(args.burst)}
        self.runs: list[Run] = []

    def all(self, tell) -> list[Run]:
        from app.testing.portal import FakePortal
        from app.testing.seed import seed_portal

        args, size = self.args, self.size
        portal = FakePortal(latency=args.latency, row_cost=args.row_cost, rate_limit=args.rate,
                            burst=args.burst, ssl_context=self.tls).start()
        names = []
        try:
            tell(f"{size.label}: seeding {size.total:,} records")
            seed_portal(portal, **size.counts)
            self.env["BITRIX_WEBHOOK_URL"] = portal.webhook_url
            names.append(f"bench_{uuid.uuid4().hex[:8]}")
            self.env["DATABASE_URL"] = create_database(args.db_url, names[-1])
            self._ours(portal, tell)
            if size.only is None:
                self._others(portal, tell, names)
        finally:
            portal.stop()
            for name in names:
                drop_database(args.db_url, name)
        return self.runs

    def _ours(self, portal, tell) -> None:
        only = ["--sync", self.size.only] if self.size.only else []
        steps = [("bench_full", []), ("bench_noop", []), ("bench_changed", []),
                 ("bench_reread", ["--full"])]
        if self.size.only:
            steps = [steps[0], steps[3]]
        for key, extra in steps:
            label = msg(key)
            if key == "bench_changed":
                tell(f"  portal changes: {change_portal(portal)}")
            run = measure(Run(self.size, label, ours=True), ["cli", "--json", *only, *extra],
                          self.env, portal, timeout=self.args.timeout)
            if run.error is None:
                read_report(run)
                run.mismatches = mismatches(portal, self.env["DATABASE_URL"])
            self._keep(run, tell)

    def _others(self, portal, tell, names: list[str]) -> None:
        for name in ("fast_bitrix24", "b24pysdk"):
            if self.args.skip_peers:
                continue
            run = Run(self.size, msg(peers.LABELS[name]))
            if not peers.installed(name):
                run.note = msg("bench_not_installed")
            else:
                measure(run, ["peer", name], self.env, portal, timeout=self._peer_timeout())
            self._keep(run, tell)
        if self.args.naive:
            names.append(f"bench_{uuid.uuid4().hex[:8]}_naive")
            env = {**self.env, "DATABASE_URL": create_database(self.args.db_url, names[-1])}
            run = measure(Run(self.size, msg("bench_naive")), ["naive"], env, portal,
                          timeout=self.args.timeout)
            self._keep(run, tell)

    def _peer_timeout(self) -> float:
        """How long a peer may read: five times our full sync of this size, at least two
        minutes (a peer that stops sending requests, as fast_bitrix24 did at 208k, would
        otherwise hold the sitting for the whole --timeout)."""
        ours = [r.wall for r in self.runs if r.ours and r.size == self.size and r.wall]
        limit = max(PEER_MIN_SECONDS, 5 * ours[0]) if ours else self.args.timeout
        return min(limit, self.args.timeout)

    def _keep(self, run: Run, tell) -> None:
        self.runs.append(run)
        if run.error or run.wall is None:
            shown = f"failed: {run.error}" if run.error else run.note
        else:
            shown = (f"{run.wall:.2f} s, cpu {run.cpu or 0:.2f} s, {run.requests} requests, "
                     f"{run.rss_mb or 0:.0f} MB" + (f", {run.mismatches} rows differ"
                                                    if run.mismatches is not None else ""))
        tell(f"  {run.label}: {shown}")


def machine() -> dict[str, str]:
    """Cores, memory, processor, OS and Python of this machine, for the table's heading."""
    import platform

    memory = None
    try:
        import psutil

        memory = psutil.virtual_memory().total
    except ImportError:
        try:
            with open("/proc/meminfo", encoding="ascii") as info:
                memory = int(info.readline().split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
    model = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info
                          if line.startswith("model name")), model)
    except OSError:
        pass
    return {"cores": str(os.cpu_count()), "memory": f"{memory / 2**30:.1f} GB" if memory else "?",
            "cpu": model or "?", "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "peers": peers.versions()}


def server_version(admin_url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT VERSION()")).scalar())
    finally:
        engine.dispose()


def portal_self_check(objects: int = 50_000) -> dict[str, float]:
    """The fake portal's own cost, without latency or row cost: seeding `objects` objects and
    answering one filtered page near their end (tests/test_fake_portal.py pages the same
    50,000 and counts on both being cheap)."""
    import requests

    from app.testing.portal import FakePortal
    from app.testing.seed import OBJECT_ENTITY_TYPE_ID, seed_portal

    portal = FakePortal()
    began = time.perf_counter()
    info = seed_portal(portal, objects=objects)
    seeded = time.perf_counter() - began
    with portal:
        params = {"entityTypeId": OBJECT_ENTITY_TYPE_ID, "start": 0,
                  "filter": {">id": info.object_ids[-120]}}
        began = time.perf_counter()
        requests.post(portal.webhook_url + "crm.item.list", json=params,
                      timeout=60).raise_for_status()
        page = time.perf_counter() - began
    return {"objects": objects, "seed_seconds": seeded, "page_seconds": page}
