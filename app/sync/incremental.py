"""Incremental reads: which way each directory is read, and the batch that opens the reads.

A directory is read incrementally once a complete full read with the same mapping has
succeeded (its row in bitrix_sync_state says when, and with which mapping fingerprint),
unless --full, SYNC_FULL_EVERY, its method or its filter say otherwise. The incremental
directories of a run share one `batch` (the "opening"): for each, the change query (its
own filter plus `>= modification time` from the watermark minus SYNC_INCREMENTAL_OVERLAP),
the count of its own filter, and two probes proving the portal reads our date as a date
(a bound two years ahead matches nothing; a bound in 2000 finds the first counted
record), and the first page of the records with ids above the highest one the table
holds: a record the portal adds with an old stamp (restored from the recycle bin,
imported) gets a new id, so it is read whatever its stamp. `profile` rides along, so
the webhook user's zone is checked every run. A directory whose opening cannot prove
itself is read in full in the same run. The batch is sent again in halves (each
directory's commands together) when the portal cuts it off.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from app.bitrix.changes import (
    ChangeField,
    PortalTime,
    PortalZone,
    bound_text,
    change_field,
    learn_site_format,
    no_change_field,
    portal_time,
)
from app.bitrix.client import BatchResult, Bitrix24Client
from app.bitrix.grouped import batch_in_groups
from app.bitrix.methods import profile as method_profile
from app.bitrix.paging.query import ListQuery
from app.bitrix.reconcile import page_total
from app.cron import format_duration
from app.db.sync_state import DirectoryState
from app.errors import PortalError, PortalFatalError
from app.messages import Said, say
from app.report import SyncReport
from app.syncers.base_syncer import BaseSyncer

log = logging.getLogger(__name__)



class ReadMode(StrEnum):
    """How a directory is read in a run (the report and bitrix_sync_state keep the value)."""

    FULL = "full"
    INCREMENTAL = "incremental"


FULL, INCREMENTAL = ReadMode.FULL, ReadMode.INCREMENTAL
_PAST = datetime(2000, 1, 28, tzinfo=UTC)  # day 28: a day-month swap cannot parse


def fingerprint(syncer: BaseSyncer, table_name: str) -> str:
    """The mapping as the reads use it; another method, params, fields or table changes it."""
    mapping = syncer.mapping
    data = {"method": mapping.method.strip().lower(), "params": mapping.params,
            "fields": mapping.fields, "references": mapping.references,
            "id_field": mapping.id_field, "active_column": mapping.active_column,
            "model": mapping.model, "table": table_name}
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class Opening:
    """What the opening batch brought for one directory."""

    started: PortalTime  # the watermark this read will leave
    head: dict[str, Any]  # the change query's first page, as an envelope
    change_params: dict[str, Any]  # the change query (more pages are read with it)
    count_query: ListQuery  # the directory's own filter (plus the active condition)
    count_total: int
    count_page: list[dict[str, Any]]  # its first page (up to 50 rows)
    # The records with ids above `fresh_after` (the table's highest btxid), read whatever
    # their stamp: their first page as an envelope. The change query's rows above it are
    # left to this read.
    fresh_head: dict[str, Any] = field(default_factory=dict)
    fresh_after: int | None = None


@dataclass
class Plan:
    """How one directory is read in this run."""

    name: str
    mode: ReadMode
    reason: Said | None = None  # why it is read in full (`.en` for the log and --json)
    change: ChangeField | None = None
    state: DirectoryState | None = None
    fingerprint: str = ""
    count_condition: dict[str, Any] = field(default_factory=dict)
    opening: Opening | None = None
    local_max: int | None = None  # the table's highest btxid (None: no rows), when incremental

    @property
    def incremental(self) -> bool:
        return self.mode == INCREMENTAL

    def fall_back(self, reason: Said) -> None:
        self.mode, self.reason, self.opening = FULL, reason, None


@dataclass(frozen=True)
class Freshness:
    """The run's rules for full reads: --full, SYNC_FULL_EVERY, SYNC_INCREMENTAL_OVERLAP."""

    full: bool = False
    full_every: timedelta = timedelta(hours=24)
    overlap: timedelta = timedelta(minutes=10)


def plan_directory(syncer: BaseSyncer, table, state: DirectoryState | None,
                   rules: Freshness, now: datetime | None) -> Plan:
    """Full or incremental for one directory, and why (the reasons --check shows too).

    `now` is the portal's clock as --check estimates it (portal_clock); a run passes None
    and leaves SYNC_FULL_EVERY to the opening batch, which brings the portal's own time
    (an estimate from an earlier run's clock difference may be stale).
    """
    mapping = syncer.mapping
    plan = Plan(syncer.name, FULL, state=state, fingerprint=fingerprint(syncer, table.name))
    why = static_reason(syncer, table)
    if why is not None:
        plan.reason = why
        return plan
    plan.change = change_field(mapping.method)
    plan.count_condition = count_condition(syncer, table)
    if rules.full:
        plan.reason = say("reason.option_full")
    elif not rules.full_every:
        plan.reason = say("reason.full_every_zero")
    elif state is None or state.full_read_at is None or state.read_at is None:
        plan.reason = say("reason.never_full")
    elif state.fingerprint != plan.fingerprint:
        plan.reason = say("reason.mapping_changed")
    elif now is not None and (due := full_read_due(state, rules, now)):
        plan.reason = due
    elif state.details.get("errors"):
        plan.reason = say("reason.unstored", count=state.details["errors"])
    else:
        plan.mode = INCREMENTAL
    return plan


def full_read_due(state: DirectoryState, rules: Freshness, now: datetime) -> Said | None:
    """Why SYNC_FULL_EVERY calls for a full read at `now` (the portal's clock), or None.

    full_read_at is a stamp on the portal's clock, so it is compared with the portal's
    clock too: a host clock running slow would otherwise postpone the full read for ever.
    """
    if state.full_read_at is None or now - state.full_read_at < rules.full_every:
        return None
    return say("reason.full_read_due", every=format_duration(rules.full_every))


def portal_clock(facts: dict[str, Any]) -> datetime | None:
    """The portal's clock now, estimated from this host's clock and the difference the last
    opening batch measured ("(portal)" row, clock_skew); None when never measured."""
    skew = _int(facts.get("clock_skew"))
    return None if skew is None else datetime.now(UTC) + timedelta(seconds=skew)


def static_reason(syncer: BaseSyncer, table) -> Said | None:
    """Why the directory can never be read incrementally as mapped, or None."""
    mapping = syncer.mapping
    change = change_field(mapping.method)
    if change is None:
        return no_change_field(mapping.method)
    query = ListQuery(mapping.method, mapping.params)
    if not query.spec.keyset:
        return say("reason.filter_bounds_id")
    if any(key.lstrip("!<>=%@*").lower() == change.name.lower() for key in query.filter_keys):
        return say("reason.filter_uses_change", field=change.name)
    active = mapping.deactivation_column(table.c.keys())
    sources = [f for f, column in mapping.fields.items() if column == active] if active else []
    active_field = method_profile(mapping.method).active_field
    if sources and not (active_field is not None
                        and [s.upper() for s in sources] == [active_field.upper()]):
        return say("reason.active_from_field", active=active, source=sources[0])
    return None


def count_condition(syncer: BaseSyncer, table) -> dict[str, Any]:
    """The extra filter of the count: only records the sync keeps active (user.get ACTIVE)."""
    active = syncer.mapping.deactivation_column(table.c.keys())
    field_name = method_profile(syncer.mapping.method).active_field
    if field_name and active and any(column == active
                                     for column in syncer.mapping.fields.values()):
        return {field_name: "Y"}
    return {}


def references_grew(syncer: BaseSyncer, plan: Plan, report: SyncReport) -> Said | None:
    """Why an incremental read must be full after all: rows that hold NULL for a missing
    referenced record could be filled now that a directory they refer to got new rows."""
    if not plan.incremental or not plan.state.details.get("unresolved"):
        return None
    grown = sorted({t for t in syncer.mapping.references.values()
                    if t in report.directories and report.directories[t].created})
    if not grown:
        return None
    return say("reason.references_grew", tables=", ".join(grown))


def describe(plan: Plan) -> Said:
    """One line for --check (in the console's language; `.en` for the log)."""
    if plan.incremental:
        return say("read.incremental", field=plan.change.name)
    return say("read.full", reason=plan.reason)


# --- the opening batch ------------------------------------------------------------------------


class Opener:
    """Builds and runs the opening batch; learns what bounds need (zone, site format)."""

    def __init__(self, client: Bitrix24Client, facts: dict[str, Any], rules: Freshness,
                 read_params: Callable[[str], dict[str, Any]], methods: dict[str, str]) -> None:
        self.client = client
        self.facts = dict(facts)  # portal_offset, user_offset, site_format (the "(portal)" row)
        self.rules = rules
        self.read_params = read_params
        self.methods = methods
        self.learned = False  # facts changed: the caller saves them
        # The portal's offset the last run knew: in force at the watermarks of rows that
        # do not keep their own (details "offset").
        self.known_offset = _int(self.facts.get("portal_offset"))

    def open(self, plans: list[Plan]) -> None:
        """Fill each plan's opening, or switch it to a full read with the reason."""
        plans = [p for p in plans if p.incremental]
        if not plans:
            return
        # A field that takes nothing but the site format needs it every run; user.get takes
        # ISO too, so for it one attempt at learning it is enough (a webhook without the
        # lists scope would otherwise ask lists.get again on every run).
        strict = any(p.change.site_format and not p.change.iso_too for p in plans)
        site = any(p.change.site_format for p in plans)
        tried = bool(self.facts.get("site_format") or self.facts.get("site_format_problem"))
        if not self._known(strict) or (site and not tried):
            self._learn(site, plans)
        for _ in range(2):
            zone = self._zone([p for p in plans if p.incremental])
            usable = [p for p in plans if p.incremental]
            if zone is None or not usable:
                return
            result, started, queries = self._run(usable, zone)
            if started is None:
                for plan in usable:
                    plan.fall_back(say("reason.no_time"))
                return
            user_offset = _int(_as_dict(result.results.get("profile")).get("TIME_ZONE_OFFSET"))
            if (user_offset, started.offset) == (zone.user_offset, zone.portal_offset):
                for index, plan in enumerate(usable):
                    due = full_read_due(plan.state, self.rules, started.at)
                    if due:  # by the portal's own clock, now that it has told it
                        plan.fall_back(due)
                    else:
                        self._take(plan, index, result, started, *queries[index])
                return
            # The zone moved since it was learned: bounds built with it may be late. Again.
            self.facts.update(portal_offset=started.offset, user_offset=user_offset)
            self.learned = True
        for plan in plans:
            if plan.incremental:
                plan.fall_back(say("reason.zone_kept_changing"))

    def _known(self, site: bool) -> bool:
        facts = self.facts
        return (isinstance(facts.get("portal_offset"), int)
                and isinstance(facts.get("user_offset"), int)
                and (not site or bool(facts.get("site_format"))))

    def _learn(self, site: bool, plans: list[Plan]) -> None:
        """One batch: profile (the user's zone) and lists.get (a site-format sample)."""
        commands: dict[str, tuple[str, dict[str, Any]]] = {"profile": ("profile", {})}
        if site:
            list_type = next((self.read_params(p.name).get("IBLOCK_TYPE_ID") for p in plans
                              if "IBLOCK_TYPE_ID" in
                              method_profile(self.methods[p.name]).required_params), None)
            commands["lists"] = ("lists.get", {"IBLOCK_TYPE_ID": list_type or "lists"})
        result = self.client.batch(commands, halt=False)
        started = portal_time(result.time)
        profile = _as_dict(result.results.get("profile"))
        if started is not None and _int(profile.get("TIME_ZONE_OFFSET")) is not None:
            self.facts.update(portal_offset=started.offset,
                              user_offset=_int(profile["TIME_ZONE_OFFSET"]))
        if site:
            rows = result.results.get("lists")
            samples = [r.get("TIMESTAMP_X") for r in rows] if isinstance(rows, list) else []
            self.facts["site_format"] = learn_site_format(samples)
            if self.facts["site_format"] is None:
                # Kept in English (the state row); site_format_problem() says it again.
                error = (result.error_for("lists", "lists.get") if "lists" in result.errors
                         else None)
                self.facts["site_format_error"] = (None if error is None
                                                   else getattr(error, "en", str(error)))
                self.facts["site_format_problem"] = _site_format_text(
                    self.facts["site_format_error"]).en
        self.learned = True

    def _zone(self, plans: list[Plan]) -> PortalZone | None:
        facts = self.facts
        if not self._known(False):
            for plan in plans:
                plan.fall_back(say("reason.no_zone"))
            return None
        if not facts.get("site_format"):
            for plan in plans:
                if plan.change.site_format and plan.change.iso_too:
                    # user.get without lists.get (no lists scope): ISO, which the probes
                    # prove or disprove in this same batch (user-get.md gives both forms).
                    plan.change = plan.change.as_iso()
                elif plan.change.site_format:
                    plan.fall_back(site_format_problem(facts)
                                   or say("reason.site_format_unknown"))
        return PortalZone(facts["portal_offset"], facts["user_offset"], facts.get("site_format"))

    def _run(self, plans: list[Plan], zone: PortalZone
             ) -> tuple[BatchResult, PortalTime | None, list[tuple[dict[str, Any], ListQuery]]]:
        """The batch: profile, then per directory its change query, count, two probes and the
        records above the table's highest id (a directory's commands share a request)."""
        commands: dict[str, tuple[str, dict[str, Any]]] = {"profile": ("profile", {})}
        groups = [["profile"]]
        queries = []
        future = datetime(datetime.now(UTC).year + 2, 12, 28, 12, tzinfo=UTC)
        for index, plan in enumerate(plans):
            method = self.methods[plan.name]
            query = ListQuery(method, self.read_params(plan.name))
            field_name = plan.change.name
            since = plan.state.read_at - self.rules.overlap
            change = query.with_filter({f">={field_name}": bound_text(
                plan.change, since, zone, self._then(plan))})
            count = query.with_filter(plan.count_condition) if plan.count_condition \
                else dict(query.params)
            if method_profile(method).honours_select:
                count = {k: v for k, v in count.items() if k.lower() != "select"}
                count[method_profile(method).select_key] = [query.id_field]
            count_query = ListQuery(method, count)
            ahead = query.with_filter({f">={field_name}": bound_text(plan.change, future, zone)})
            anchor = query.with_filter({f"={query.id_field}": count_query.first_id_ref(
                f"n{index}"), f">={field_name}": bound_text(plan.change, _PAST, zone)})
            for label, params in ((f"c{index}", change), (f"n{index}", count),
                                  (f"f{index}", ahead), (f"a{index}", anchor)):
                commands[label] = (method, ListQuery(method, params).keyset_params(start=0))
            commands[f"u{index}"] = (method, query.keyset_params(after=plan.local_max, start=0))
            groups.append([f"{kind}{index}" for kind in "cnfau"])
            queries.append((change, count_query))
        sent = datetime.now(UTC)
        result = batch_in_groups(self.client, commands, groups)
        started = portal_time(result.time)
        if started is not None:
            self._measure_skew(started.at - sent)
        return result, started, queries

    def _measure_skew(self, skew: timedelta) -> None:
        """Keep how far the portal's clock is from this host's (for portal_clock); a change
        under a minute is latency, not worth a write."""
        seconds = round(skew.total_seconds())
        known = _int(self.facts.get("clock_skew"))
        if known is None or abs(seconds - known) > 60:
            self.facts["clock_skew"] = seconds
            self.learned = True

    def _then(self, plan: Plan) -> int | None:
        """The portal's UTC offset in force at the plan's watermark (None: unknown)."""
        kept = _int(plan.state.details.get("offset"))
        return kept if kept is not None else self.known_offset

    def _take(self, plan: Plan, index: int, result: BatchResult, started: PortalTime,
              change: dict[str, Any], count_query: ListQuery) -> None:
        method = self.methods[plan.name]
        labels = {kind: f"{kind}{index}" for kind in "cnfau"}
        try:
            pages = {kind: result.rows(label, method, f"({label})", missing=PortalError)
                     for kind, label in labels.items()}
            totals = {kind: page_total(result.totals.get(label), pages[kind], method)
                      for kind, label in labels.items()}
        except PortalFatalError:
            raise
        except PortalError as exc:
            plan.fall_back(say("reason.incremental_failed", error=exc))
            return
        field_name = plan.change.name
        if totals["f"]:
            plan.fall_back(say("reason.not_filtered", method=method, field=field_name,
                               count=totals["f"]))
            return
        if totals["n"] and totals["a"] != 1:
            plan.fall_back(say("reason.not_a_date", method=method, field=field_name))
            return
        head, fresh = (_envelope(result.results[labels[kind]], pages[kind], totals[kind])
                       for kind in "cu")
        plan.opening = Opening(started, head, change, count_query, totals["n"], pages["n"],
                               fresh, plan.local_max)
        log.debug("%s: %d changed since %s, %d on the portal, %d above id %s", plan.name,
                  totals["c"], plan.state.read_at, totals["n"], totals["u"], plan.local_max)


def site_format_problem(facts: dict[str, Any]) -> Said | None:
    """Why the portal's date format is not known, in the console's language, from the facts
    (the "(portal)" row keeps `site_format_error`, English, None when lists.get answered)."""
    if not facts.get("site_format_problem"):
        return None
    if "site_format_error" not in facts:  # a row an older version wrote: its English text
        return Said(facts["site_format_problem"])
    return _site_format_text(facts["site_format_error"])


def _site_format_text(error: str | None) -> Said:
    return (say("reason.site_format_failed", error=error) if error
            else say("reason.site_format_unclear"))


def _envelope(result: Any, rows: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """A start=0 answer of the opening batch as a list call's envelope (its first page)."""
    return {"result": result, "total": total, "next": len(rows) if total > len(rows) else None}


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None
