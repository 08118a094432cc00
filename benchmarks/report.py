"""The sitting as Markdown: a heading (date, machine, command), one table, the targets judged.

Russian by default, English with SYNC_LANG=en (texts in app/messages.py, group "benchmark"),
so the output pastes into README.md and docs/performance.md as it is.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator

from app.messages import language, say
from benchmarks.sitting import Run, Sitting

COLUMNS = ("bench_col_size", "bench_col_run", "bench_col_rows", "bench_col_wall",
           "bench_col_cpu", "bench_col_cpu_row", "bench_col_requests", "bench_col_first",
           "bench_col_rss", "bench_col_written", "bench_col_check")
RSS_TARGET_ROWS = 1_000_000


def _local(text: str) -> str:
    """'1,234.5' as the console's language writes it (Russian: '1 234,5')."""
    if language() != "ru":
        return text
    return text.replace(",", "\u202f").replace(".", ",")


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else _local(f"{value:,.{digits}f}")


def _int(value: int | None) -> str:
    return "—" if value is None else _local(f"{value:,}")


def _check(run: Run) -> str:
    notes = [say("bench_failed", error=run.error.replace("|", "/"))] if run.error \
        else _notes(run)
    if run.limited:
        notes.append(say("bench_limited", count=run.limited))
    return "; ".join(notes)


def _notes(run: Run) -> list[str]:
    """What the check column says of a run that ended with a result."""
    notes = [run.note] if run.note else []
    walls = run.extra.get("walls", ())
    if len(walls) > 1:
        notes.append(say("bench_help_note", count=len(walls), low=_num(min(walls)),
                         high=_num(max(walls))))
    if run.mismatches is not None:
        notes.append(say("bench_db_equal") if run.mismatches == 0
                     else say("bench_db_differs", rows=_int(run.mismatches)))
    if run.ours and "--full" in run.label and run.written is not None:
        notes.append(say("bench_nothing_to_fix") if run.written == 0
                     else say("bench_fixed", rows=_int(run.written)))
    return notes


def _row(run: Run) -> list[str]:
    size = run.size
    per_row = None
    if size is not None and run.cpu is not None and size.total:
        per_row = run.cpu / size.total * 1e6
    return [size.label if size else "—", run.label, _int(run.rows), _num(run.wall),
            _num(run.cpu), _num(per_row, 1), _int(run.requests), _num(run.first_request),
            _num(run.rss_mb, 0), _int(run.written), _check(run)]


def table(sitting: Sitting) -> str:
    """The one Markdown table of the sitting, start-up rows first."""
    head = [say(key) for key in COLUMNS]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---:" if i in range(2, 10) else "---" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(_row(run)) + " |" for run in sitting.runs]
    return "\n".join(lines)


def heading(sitting: Sitting) -> str:
    m, s = sitting.machine, sitting.settings
    took = sitting.finished - sitting.started
    return "\n".join([
        say("bench_heading", date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(sitting.started)),
            cores=m.get("cores"), cpu=m.get("cpu"), memory=m.get("memory"), os=m.get("os"),
            python=m.get("python"), database=m.get("database", "?"), peers=m.get("peers", "?")),
        say("bench_portal", latency=_local(f"{s['latency'] * 1000:g}"),
            row_cost=_local(f"{s['row_cost'] * 1000:g}"), rate=_local(f"{s['rate']:g}"),
            burst=f"{s['burst']:g}"),
        say("bench_sizes", sizes="; ".join(_size(size) for size in sitting.sizes)),
        say("bench_command", command=sitting.command, minutes=int(took // 60),
            seconds=int(took % 60)),
        say("bench_cpu_note"),
    ])


def _size(size) -> str:
    if size.only:
        return say("bench_size_one", label=size.label, rows=_int(size.total))
    c = size.counts
    return say("bench_size_five", label=size.label, total=_int(size.total),
               cities=_int(c["cities"]), objects=_int(c["objects"]),
               categories=_int(c["categories"]), violations=_int(c["violations"]),
               users=_int(c["users"]))


class _Judge:
    """Finds the runs a target speaks of; a run that failed or is missing is not measured."""

    def __init__(self, runs: list[Run]) -> None:
        self.runs = runs

    def get(self, size: str, label: str) -> Run | None:
        return next((run for run in self._of(size, label)
                     if run.error is None and run.wall is not None), None)

    def failed(self, size: str, label: str) -> Run | None:
        """The run of `label` at `size` that ended without a result, if there was one."""
        return next((run for run in self._of(size, label) if run.error is not None), None)

    def _of(self, size: str, label: str) -> Iterator[Run]:
        return (run for run in self.runs
                if run.size and run.size.label == size and run.label.startswith(label))

    def ours(self) -> list[Run]:
        return [r for r in self.runs if r.ours]


def _verdict(ok: bool | None) -> str:
    return say("bench_not_measured") if ok is None else say("bench_met" if ok else "bench_not_met")


def _ratio_target(j: _Judge, size: str, peer: str, limit: float, key: str) -> list[str]:
    ours, theirs = j.get(size, say("bench_full")), j.get(size, peer)
    failed = j.failed(size, peer) if ours and not theirs else None
    stopped = failed.extra.get("stopped_after") if failed else None
    if stopped:  # stopped unfinished: its time is longer, so the ratio is below this bound
        bound = ours.wall / stopped
        figures = say("bench_vs_stopped", ours=_num(ours.wall), seconds=_num(stopped, 0),
                      bound=_num(bound), requests=_int(failed.requests))
        measured, verdict = failed, (say("bench_met_bound") if bound <= limit
                                     else _verdict(None))
    elif failed:  # nothing to compare with: say why
        return [say(key), say("bench_peer_failed", ours=_num(ours.wall), size=size),
                _verdict(None)]
    elif not ours or not theirs:
        return [say(key), say("bench_missing", size=size), _verdict(None)]
    else:
        ratio = ours.wall / theirs.wall
        figures = say("bench_vs", ours=_num(ours.wall), theirs=_num(theirs.wall),
                      ratio=_num(ratio))
        measured, verdict = theirs, _verdict(ratio <= limit)
    if measured.limited:  # the peer waited out 503s: its time is not its ordinary read
        return [say(key), figures + say("bench_peer_limited", count=measured.limited),
                _verdict(None)]
    return [say(key), figures, verdict]


def _cpu_target(j: _Judge) -> list[str]:
    full = j.get("58k", say("bench_full"))
    if not full or full.cpu is None:
        return [say("bench_t_cpu"), say("bench_missing", size="58k"), _verdict(None)]
    per_row = full.cpu / full.size.total * 1e6
    figures = say("bench_cpu_figures", cpu=_num(full.cpu), rows=_int(full.size.total),
                  per_row=_num(per_row, 1))
    big = j.get("208k", say("bench_full"))
    if big and big.cpu is not None:
        extra = (big.cpu - full.cpu) / (big.size.total - full.size.total) * 1e6
        figures += say("bench_cpu_marginal", per_row=_num(extra, 1))
    return [say("bench_t_cpu"), figures, _verdict(per_row <= 15)]


def _requests_target(j: _Judge) -> list[str]:
    full = j.get("208k", say("bench_full"))
    if not full:
        return [say("bench_t_requests", limit="97"), say("bench_missing", size="208k"),
                _verdict(None)]
    limit = math.floor(1.1 * math.ceil(full.size.total / 2500) + 5)
    return [say("bench_t_requests", limit=limit), _int(full.requests),
            _verdict(full.requests <= limit)]


def _noop_targets(j: _Judge) -> list[list[str]]:
    noops = [r for r in j.ours() if r.label == say("bench_noop") and r.error is None]
    if not noops:
        counts, ok = say("bench_missing", size="20k/58k/208k"), None
    else:
        counts = ", ".join(f"{r.size.label}: {r.requests}" for r in noops)
        ok = all(1 <= (r.requests or 0) <= 2 for r in noops)
    rows = [[say("bench_t_noop_requests"), counts, _verdict(ok)]]
    small, big = j.get("20k", say("bench_noop")), j.get("208k", say("bench_noop"))
    if small and big and small.cpu and big.cpu is not None:
        ratio = big.cpu / small.cpu
        rows.append([say("bench_t_noop_cpu"), say("bench_vs", ours=_num(big.cpu),
                                                   theirs=_num(small.cpu), ratio=_num(ratio)),
                     _verdict(ratio <= 1.3)])
    else:
        rows.append([say("bench_t_noop_cpu"), say("bench_missing", size="20k, 208k"),
                     _verdict(None)])
    return rows


def _memory_target(j: _Judge) -> list[str]:
    runs = [r for r in j.ours() if r.size.only and r.error is None and r.rss_mb is not None]
    if not runs:
        return [say("bench_t_rss"), say("bench_missing", size="1m"), _verdict(None)]
    peak = max(r.rss_mb for r in runs)
    rows = runs[0].size.counts["objects"]
    figures = "; ".join(f"{r.label}: {_num(r.rss_mb, 0)}" for r in runs)
    if rows < RSS_TARGET_ROWS:
        return [say("bench_t_rss"), say("bench_rss_smaller", rows=_int(rows), figures=figures),
                _verdict(None)]
    return [say("bench_t_rss"), figures, _verdict(peak <= 400)]


def _startup_targets(j: _Judge) -> list[list[str]]:
    helps = [r for r in j.runs if r.size is None and r.wall is not None]
    rows = [[say("bench_t_help"), _num(helps[0].wall) if helps else "—",
             _verdict(helps[0].wall <= 0.3 if helps else None)]]
    firsts = [r.first_request for r in j.ours() if r.first_request is not None]
    if firsts:
        median = statistics.median(firsts)
        figures = say("bench_first_figures", median=_num(median), worst=_num(max(firsts)),
                      count=len(firsts))
        rows.append([say("bench_t_first"), figures, _verdict(median <= 0.4)])
    else:
        rows.append([say("bench_t_first"), "—", _verdict(None)])
    return rows


def _correct_target(j: _Judge) -> list[str]:
    ours = j.ours()
    bad = [r for r in ours if r.error or r.mismatches != 0
           or ("--full" in r.label and r.written != 0)]
    figures = say("bench_correct_figures", count=len(ours))
    if bad:
        figures = say("bench_correct_bad", runs=", ".join(f"{r.size.label} {r.label}" for r in bad))
    return [say("bench_t_correct"), figures, _verdict(bool(ours) and not bad) if ours
            else _verdict(None)]


def targets(sitting: Sitting) -> str:
    """Each target of issue 17, its figures from this sitting, and met / not met."""
    j = _Judge(sitting.runs)
    fast, sdk = say("bench_peer_fast"), say("bench_peer_sdk")
    rows = [
        _ratio_target(j, "58k", fast, 0.35, "bench_t_58k_wall"),
        _cpu_target(j),
        _requests_target(j),
        _ratio_target(j, "208k", fast, 0.35, "bench_t_208k_wall"),
        _ratio_target(j, "208k", sdk, 0.999_999, "bench_t_208k_sdk"),
        *_noop_targets(j),
        _memory_target(j),
        *_startup_targets(j),
        _correct_target(j),
    ]
    lines = [f"| {say('bench_col_target')} | {say('bench_col_figures')} | "
             f"{say('bench_col_verdict')} |", "|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine_load(sitting: Sitting) -> list[str]:
    """Per size, the CPU our full sync and what served it (the fake portal, the database
    server) took on this machine: their sum over the cores is a floor for its wall clock."""
    cores = str(sitting.machine.get("cores", ""))
    cores = int(cores) if cores.isdigit() and int(cores) > 0 else None
    lines = []
    for run in sitting.runs:
        if not (run.ours and run.size and run.label == say("bench_full")) or run.error \
                or run.cpu is None or "db_cpu" not in run.extra:
            continue
        portal, db = run.extra["portal_cpu"], run.extra["db_cpu"]
        total = run.cpu + portal + db
        lines.append(say("bench_load_size", size=run.size.label, client=_num(run.cpu),
                         portal=_num(portal), db=_num(db), total=_num(total),
                         cores=cores or "?", floor=_num(total / cores) if cores else "?",
                         wall=_num(run.wall)))
    return [say("bench_load"), *(f"* {line}" for line in lines)] if lines else []


def render(sitting: Sitting, *, peers_ran: bool = True) -> str:
    parts = [heading(sitting), "", table(sitting), "", targets(sitting)]
    load = machine_load(sitting)
    if load:
        parts += ["", *load]
    if peers_ran:
        parts += ["", say("bench_peers_how"), f"* {say('bench_peer_fast_how')}",
                  f"* {say('bench_peer_sdk_how')}"]
    check = sitting.portal_check
    if check:
        parts += ["", say("bench_portal_check", objects=_int(check["objects"]),
                          seed=_num(check["seed_seconds"]), page=_num(check["page_seconds"], 3))]
    return "\n".join(parts)
