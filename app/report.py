"""The report of a run: it drives the printed table, the --json output and the exit code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from app.errors import SyncError
from app.messages import Said, english, say
from app.text import render_table

# "errors" means three things in the JSON; one StrEnum each keeps them apart in the code.


class Counter(StrEnum):
    """A directory's counters: keys of each directory in --json and in the run history."""

    FETCHED = "fetched"
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DEACTIVATED = "deactivated"
    ERRORS = "errors"  # how many records could not be stored


class DirectoryStatus(StrEnum):
    """How one directory ended."""

    OK = "ok"
    # synced, nothing failed, but a mapped field came in no record (it stayed empty)
    WITH_WARNINGS = "ok_with_warnings"
    WITH_ERRORS = "errors"  # synced, but some records could not be stored
    FAILED = "failed"  # not synced, or not completely; nothing was deactivated
    SKIPPED = "skipped"  # not run, or stopped and rolled back


class ReportKey(StrEnum):
    """The keys of the report's --json object."""

    OK = "ok"
    DRY_RUN = "dry_run"
    DIRECTORIES = "directories"
    ERRORS = "errors"  # the list of record errors (and the fatal one)
    PLANNED = "planned"
    FATAL = "fatal"


@dataclass
class RecordIssue:
    """One record (or directory) problem: where it happened and why."""

    directory: str | None
    btxid: object
    field: str | None
    message: str
    record: bool = False  # a record's problem (with a btxid or not), not a directory's

    def as_dict(self) -> dict:
        return {"directory": self.directory, "btxid": self.btxid, "field": self.field,
                "message": english(self.message)}


@dataclass
class PlannedChange:
    """One write a dry run would have made: create, update (old, new) or deactivate."""

    directory: str
    action: str
    btxid: object
    fields: dict = field(default_factory=dict)


@dataclass
class DirectoryReport:
    """Counts and outcome of one directory."""

    name: str
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    errors: int = 0
    warnings: int = 0
    seconds: float = 0.0
    status: DirectoryStatus = DirectoryStatus.OK
    complete: bool = False
    message: str | None = None
    notices: list[str] = field(default_factory=list)  # facts about the run, not problems
    # Mapped Bitrix24 fields (-> column) that no record read carried
    absent_fields: dict[str, str] = field(default_factory=dict)
    mode: str = "full"  # how it was read: "full" or "incremental"
    mode_reason: str | None = None  # why it was read in full
    rolled_back: bool = False  # SKIPPED after it had started writing (else: not run)

    def restart(self, mode: str, reason: str | None) -> None:
        """Counting starts again: the directory is read once more, another way."""
        for counter in Counter:
            setattr(self, counter, 0)
        self.warnings, self.complete = 0, False
        self.absent_fields = {}
        self.mode, self.mode_reason = mode, reason

    def fail(self, message: str) -> None:
        self.status = DirectoryStatus.FAILED
        self.message = message

    def not_run(self, why: str) -> None:
        self.status = DirectoryStatus.SKIPPED
        self.message = say("engine.not_run", why=why)

    def roll_back(self) -> None:
        """Stopped while writing: its transaction was rolled back."""
        self.status = DirectoryStatus.SKIPPED
        self.message = say("engine.rolled_back")
        self.rolled_back = True

    def as_dict(self) -> dict:
        data = {k: getattr(self, k) for k in Counter}
        data.update(seconds=round(self.seconds, 3), status=self.status,
                    complete=self.complete, warnings=self.warnings, mode=self.mode)
        if self.mode_reason:  # English, as is every machine-read text (a catalog text's .en)
            data["mode_reason"] = english(self.mode_reason)
        if self.message:
            data["message"] = english(self.message)
        if self.notices:
            data["notices"] = [english(n) for n in self.notices]
        if self.absent_fields:
            data["absent_fields"] = dict(self.absent_fields)
        return data


@dataclass
class SyncReport:
    """The outcome of one run over one or more directories."""

    directories: dict[str, DirectoryReport] = field(default_factory=dict)
    issues: list[RecordIssue] = field(default_factory=list)
    fatal: str | None = None
    fatal_exit_code: int = 0
    dry_run: bool = False
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    planned: list[PlannedChange] = field(default_factory=list)  # filled by dry runs only

    @classmethod
    def from_error(cls, error: SyncError) -> SyncReport:
        """The report of a run that ended before any directory ran."""
        return cls().fail(error)

    def fail(self, error: SyncError) -> SyncReport:
        """The run could not start or go on: `error` is its fatal message and sets the exit code."""
        self.fatal, self.fatal_exit_code = error.said, error.exit_code
        return self

    def directory(self, name: str) -> DirectoryReport:
        return self.directories.setdefault(name, DirectoryReport(name))

    def restart_directory(self, name: str, mode: str, reason: str | None) -> None:
        """Forget what a directory's first attempt counted, planned and met (it runs again)."""
        self.directory(name).restart(mode, reason)
        self.issues = [i for i in self.issues if i.directory != name]
        self.planned = [p for p in self.planned if p.directory != name]

    def add_issue(self, directory: str | None, btxid: object, field_name: str | None,
                  message: str, *, record: bool | None = None) -> None:
        """Note a problem; a record's problem (by default: one with a btxid) counts as an error.

        A record without a usable id has no btxid yet is still a record error: pass record=True.
        """
        counted = btxid is not None if record is None else record
        self.issues.append(RecordIssue(directory, btxid, field_name, message, counted))
        if directory in self.directories and counted:
            self.directories[directory].errors += 1

    @property
    def ok(self) -> bool:
        return self.fatal is None and all(
            d.status in (DirectoryStatus.OK, DirectoryStatus.WITH_WARNINGS,
                         DirectoryStatus.SKIPPED)
            for d in self.directories.values())

    @property
    def unfinished(self) -> list[str]:
        """The directories that did not run, or stopped and were rolled back."""
        return [d.name for d in self.directories.values()
                if d.status == DirectoryStatus.SKIPPED]

    @property
    def exit_code(self) -> int:
        if self.fatal is not None:
            return self.fatal_exit_code or 1
        return 0 if self.ok else 1

    @property
    def totals(self) -> dict[str, int]:
        return {k: sum(getattr(d, k) for d in self.directories.values()) for k in Counter}

    def to_dict(self) -> dict:
        errors = [i.as_dict() for i in self.issues]
        data = {
            ReportKey.OK: self.ok,
            ReportKey.DRY_RUN: self.dry_run,
            ReportKey.DIRECTORIES: {n: d.as_dict() for n, d in self.directories.items()},
            ReportKey.ERRORS: errors,
        }
        if self.dry_run:
            data[ReportKey.PLANNED] = [asdict(p) for p in self.planned]
        if self.fatal:
            data[ReportKey.FATAL] = english(self.fatal)
            if not any(i["message"] == english(self.fatal) for i in errors):
                errors.append(RecordIssue(None, None, None, self.fatal).as_dict())
        return data

    def summary(self) -> str:
        """One line for logs and the service."""
        t = self.totals
        if self.fatal:
            state = f"failed (exit {self.exit_code})"  # the error itself is logged once, apart
        elif self.unfinished:
            state = "stopped early"
        else:
            state = "with errors" if not self.ok else "ok, with warnings" if any(
                d.status == DirectoryStatus.WITH_WARNINGS
                for d in self.directories.values()) else "ok"
        return (f"sync {state}: " + ", ".join(f"{k} {t[k]}" for k in Counter))

    def counts_line(self) -> str:
        """The run's totals in words of the console's language, for the service's console."""
        t = self.totals
        return Said(", ").join(say(f"table.{k}") + f" {t[k]}" for k in Counter)

    @property
    def did_work(self) -> bool:
        """Whether any directory got as far as reading rows (worth a table)."""
        return any(d.fetched or d.status in (DirectoryStatus.OK, DirectoryStatus.WITH_WARNINGS,
                                             DirectoryStatus.WITH_ERRORS)
                   for d in self.directories.values())

    def render_table(self, *, fatal: bool = True) -> str:
        """A plain aligned table (ASCII only, so any Windows console shows it).

        Each problem is one line: the fatal error (left out with fatal=False, for a
        caller that prints it apart) is not repeated beside its directory, and the
        directories that did not run share one line.
        """
        head = tuple(say(f"table.{word}") for word in ("directory", "mode", *Counter,
                                                       "seconds", "status"))
        rows = [head] + [(d.name, say(f"table.mode_{d.mode}"),
                          *(str(getattr(d, k)) for k in Counter),
                          f"{d.seconds:.2f}", say(f"table.status_{d.status}"))
                         for d in self.directories.values()]
        out = render_table(rows, right=range(2, len(head) - 1), rule=True)
        said = {self.fatal} if self.fatal else set()
        by_message: dict[str, list[str]] = {}
        for d in self.directories.values():
            if d.message and d.message not in said:
                by_message.setdefault(d.message, []).append(d.name)
        messages = [f"{', '.join(names)}: {message}" for message, names in by_message.items()]
        messages += [f"{d.name}: {n}" for d in self.directories.values() for n in d.notices]
        messages += [say("report.absent_field", directory=d.name, field=bitrix, column=column,
                         fetched=d.fetched)
                     for d in self.directories.values()
                     for bitrix, column in d.absent_fields.items()]
        # One problem is told once: a directory's failure is also an issue (for --json), and
        # a fatal one also the run's; the table shows each where it is said first.
        told = [d.message for d in self.directories.values() if d.message]
        issues = [i for i in self.issues if i.message not in said and (
            i.btxid is not None or i.field is not None
            or not any(i.message in message for message in told))]
        for issue in issues[:50]:
            where = ", ".join(p for p in (
                issue.directory, issue.btxid is not None and f"btxid {issue.btxid}" or None,
                issue.field) if p)
            messages.append(f"{where}: {issue.message}")
        if len(issues) > 50:
            messages.append(say("table.more_errors", count=len(issues) - 50))
        if self.fatal and fatal and not any(self.fatal in line for line in messages):
            messages.append(self.fatal)
        if self.dry_run:
            messages.append(say("table.dry_run"))
        return "\n".join(out + ([""] + messages if messages else []))

    def render_planned(self) -> str:
        """The dry run's planned writes, one line per record (for --dry-run --verbose)."""
        if not self.planned:
            return say("planned.none")
        lines = [say("planned.head", count=len(self.planned))]
        for change in self.planned:
            if change.action == "update":
                what = "; ".join(f"{c}: {_shown(old)} -> {_shown(new)}"
                                 for c, (old, new) in change.fields.items())
            else:
                what = ", ".join(f"{c}={_shown(v)}" for c, v in change.fields.items())
            lines.append(f"  {change.directory} btxid {change.btxid}: "
                         f"{say('planned.' + change.action)}" + (f" {what}" if what else ""))
        return "\n".join(lines)

    def render_stop(self) -> str:
        """What Ctrl+C left behind: the directories committed, the one rolled back, those
        not run, and what to run next (for the console, in its language)."""
        by_status: dict[str, list[str]] = {}
        for d in self.directories.values():
            if d.status in (DirectoryStatus.OK, DirectoryStatus.WITH_WARNINGS,
                            DirectoryStatus.WITH_ERRORS):
                kind = "saved"
            elif d.status == DirectoryStatus.FAILED:
                kind = "failed"
            elif d.rolled_back:
                kind = "rolled_back"
            else:
                kind = "not_run"
            by_status.setdefault(kind, []).append(d.name)
        lines = [say("stop.head")]
        if self.dry_run:
            lines.append(say("stop.dry_run"))
        elif not by_status.get("saved"):
            lines.append(say("stop.nothing_saved"))
        for kind in ("saved", "failed", "rolled_back", "not_run"):
            if by_status.get(kind) and not (self.dry_run and kind == "saved"):
                lines.append(say(f"stop.{kind}", names=", ".join(by_status[kind])))
        rest = [n for k in ("failed", "rolled_back", "not_run") for n in by_status.get(k, [])]
        lines.append(say("stop.next", names=" ".join(rest)) if rest and not self.dry_run
                     else say("stop.next_all"))
        return "\n".join(lines)


def _shown(value: object) -> str:
    # Quote text so a trailing space or an empty string is visible; NULL as in SQL.
    if value is None:
        return "NULL"
    return repr(value) if isinstance(value, str) else str(value)
