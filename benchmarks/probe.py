"""One measured process: run `cli.py` (or a peer's read) and write down its own CPU and memory.

    python -m benchmarks.probe OUT.json cli [cli.py arguments...]
    python -m benchmarks.probe OUT.json peer fast_bitrix24|b24pysdk
    python -m benchmarks.probe OUT.json naive

The parent (benchmarks/sitting.py) starts this process and times its wall clock; this
process runs the real `cli.py` as `python cli.py ...` would (runpy, `__main__`), then writes
the user+system CPU seconds and the peak resident memory of the whole process, interpreter
start included, to OUT.json. The CLI's own stdout (its `--json` report) is left untouched.
Only the standard library is imported before the measured code runs, so the probe adds
nothing to the start-up being measured. Peers and the naive reference read the webhook from
BITRIX_WEBHOOK_URL (and the naive one the database from DATABASE_URL).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CLI = PROJECT / "cli.py"


def cpu_seconds() -> float:
    """User plus system CPU seconds of this process, all its threads (POSIX and Windows)."""
    times = os.times()
    return times.user + times.system


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process in MB.

    Linux: VmHWM of /proc/self/status (getrusage's ru_maxrss would carry the
    parent's size over fork and exec); Windows: psutil's peak working set;
    elsewhere: resource's ru_maxrss; last resort: psutil's current RSS.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        peak = getattr(psutil.Process().memory_info(), "peak_wset", None)
        if peak:
            return peak / 2**20
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    except ImportError:
        pass
    return psutil.Process().memory_info().rss / 2**20 if psutil is not None else None


def _run_cli(args: list[str]) -> int:
    sys.argv = [str(CLI), *args]
    sys.path.insert(0, str(PROJECT))
    try:
        runpy.run_path(str(CLI), run_name="__main__")
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def _read_peer(name: str) -> int:
    import warnings

    sys.path.insert(0, str(PROJECT))
    from benchmarks import peers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peers.READERS[name](os.environ["BITRIX_WEBHOOK_URL"])


def _naive() -> int:
    sys.path.insert(0, str(PROJECT))
    from benchmarks.naive import naive_sync

    return naive_sync(os.environ["BITRIX_WEBHOOK_URL"], os.environ["DATABASE_URL"])


def main(argv: list[str]) -> int:
    out, kind, *rest = argv
    result: dict[str, object] = {}
    if kind == "cli":
        result["exit_code"] = _run_cli(rest)
    elif kind == "peer":
        result["records"] = _read_peer(rest[0])
    elif kind == "naive":
        result["records"] = _naive()
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    result["cpu_seconds"] = cpu_seconds()
    result["peak_rss_mb"] = peak_rss_mb()
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
