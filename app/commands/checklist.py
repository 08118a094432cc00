"""The --check checklist: its items, the exit code they imply, and how it is printed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from app.masking import mask
from app.messages import say

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
_MARKS = {OK: "[ OK ]", WARN: "[WARN]", FAIL: "[FAIL]", SKIP: "[SKIP]"}
SETTING, CONNECTION = 2, 3  # exit codes of a failed item


class Label(NamedTuple):
    """An item's name: stable English for --json and scripts, and the console's words."""

    name: str
    shown: str


def label(key: str, **values: object) -> Label:
    """The catalog entry `key` as an item name (English) and as the console shows it."""
    shown = say(key, **values)
    return Label(shown.en, shown)


@dataclass
class CheckItem:
    """One line of the checklist, with what to do when it is not OK."""

    name: str
    status: str
    detail: str = ""
    fix: str = ""
    exit_code: int = 0
    shown: str = ""  # the name in the console's language (name when empty)


@dataclass
class CheckReport:
    """The checklist of one --check run and the exit code it implies."""

    items: list[CheckItem] = field(default_factory=list)
    # (variable, value shown, where it came from) for each setting that was set
    settings: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, what: Label, status: str, detail: str = "", fix: str = "",
            exit_code: int = 0) -> None:
        self.items.append(CheckItem(what.name, status, mask(detail), mask(fix),
                                    exit_code if status == FAIL else 0, what.shown))

    def item(self, name: str) -> CheckItem:
        return next(i for i in self.items if i.name == name)

    @property
    def exit_code(self) -> int:
        codes = {i.exit_code for i in self.items if i.status == FAIL}
        return SETTING if SETTING in codes else CONNECTION if CONNECTION in codes else 0

    def to_dict(self) -> dict[str, Any]:
        checks = [{k: v for k, v in asdict(i).items() if k != "shown"} for i in self.items]
        return {"ok": self.exit_code == 0, "exit_code": self.exit_code, "checks": checks,
                "settings": [list(row) for row in self.settings]}

    def render(self) -> str:
        lines = [say("check.heading"), ""]
        fixes = [i.fix if i.status in (FAIL, WARN) else "" for i in self.items]
        for n, item in enumerate(self.items):
            head, *more = (item.detail or "").splitlines() or [""]
            lines.append(f"{_MARKS[item.status]} {item.shown or item.name}"
                         + (f": {head}" if head else ""))
            lines += [f"       {line.strip()}" for line in more]
            # A fix shared by the items that follow is printed once, after the last of them.
            if fixes[n] and fixes[n] != (fixes[n + 1] if n + 1 < len(fixes) else None):
                lines.append(f"       {say('check.fix', fix=item.fix)}")
        failed = sum(i.status == FAIL for i in self.items)
        warned = sum(i.status == WARN for i in self.items)
        lines.append("")
        if failed:
            lines.append(say("check.summary.failed", failed=failed, warned=warned))
            lines.append(say("check.next.failed"))
        else:
            lines.append(say("check.summary.warned", warned=warned) if warned
                         else say("check.summary.passed"))
            lines.append(say("check.next.passed"))
        return "\n".join(lines)
