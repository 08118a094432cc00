"""--check, the portal's part: the webhook, one page of each directory, its fields, and the
reference columns no mapping fills (with the field whose values look like their ids)."""

from __future__ import annotations

import difflib
from typing import Any, NamedTuple

from app.bitrix.client import Bitrix24Client, extract_rows
from app.bitrix.methods import profile as method_profile
from app.commands.checklist import CONNECTION, FAIL, OK, SETTING, SKIP, WARN, CheckReport, label
from app.commands.discover import BRIEF_HIDDEN, webhook_scopes
from app.commands.id_match import ids_in, likely_reference, row_ids
from app.errors import (
    ConfigError,
    PortalError,
    PortalFatalError,
    PortalMethodError,
    PortalOverloadError,
    PortalPlanError,
)
from app.messages import say
from app.syncers import BaseSyncer


class Page(NamedTuple):
    """The first page of a directory as --check read it."""

    rows: list[dict[str, Any]]
    complete: bool  # it held every record


def check_portal(report: CheckReport, client: Bitrix24Client,
                 configured: list[BaseSyncer]) -> dict[str, Page]:
    """The webhook, then each directory's first page; the pages read, by directory."""
    try:
        scopes = webhook_scopes(client)
    except PortalError as exc:
        report.add(label("check.name.webhook"), FAIL, str(exc), _webhook_fix(exc), CONNECTION)
        if configured:  # one line for all of them: one problem, one message
            report.add(label("check.name.portal"), SKIP, say(
                "check.portal.not_probed", names=", ".join(s.name for s in configured)))
        return {}
    report.add(label("check.name.webhook"), OK,
               say("check.webhook.ok", scopes=", ".join(scopes)))
    pages = {}
    for syncer in configured:
        page = _probe(report, client, syncer, scopes)
        if page is not None:
            pages[syncer.name] = page
    return pages


def _webhook_fix(exc: PortalError) -> str:
    # The message already says what the portal found; the fix follows from that, not from
    # "the code may be wrong" for every refusal.
    if isinstance(exc, PortalPlanError):
        return say("check.webhook.plan_fix")
    if isinstance(exc, PortalOverloadError):
        return say("check.webhook.overload_fix")
    if (exc.code or "").lower() == "authorization_error":
        return say("check.webhook.user_fix", place=say("check.webhook_place"))
    return say("check.webhook.fix", place=say("check.webhook_place"))


def _probe(report: CheckReport, client: Bitrix24Client, syncer: BaseSyncer,
           scopes: list[str]) -> Page | None:
    name, mapping = syncer.name, syncer.mapping
    needed = method_profile(mapping.method).scopes
    if not any(s in scopes for s in needed):
        report.add(label("check.name.scope", directory=name), FAIL,
                   say("check.scope.missing", method=mapping.method, scopes=" / ".join(needed)),
                   say("check.scope.fix", scope=needed[0], place=say("check.webhook_place")),
                   CONNECTION)
        return None
    try:
        envelope = client.call(mapping.method, dict(mapping.params))
        rows = extract_rows(envelope.get("result"))
    except PortalError as exc:
        report.add(label("check.name.directory_portal", directory=name), FAIL, str(exc),
                   *_probe_fix(exc, name))
        return None
    total = envelope.get("total")
    report.add(label("check.name.directory_portal", directory=name), OK,
               say("check.portal.total", method=mapping.method, total=total)
               if isinstance(total, int) and total else
               say("check.portal.first_page", method=mapping.method, rows=len(rows)))
    _check_fields(report, client, syncer, rows, scopes)
    return Page(rows, "next" not in envelope)


def _probe_fix(exc: PortalError, name: str) -> tuple[str, int]:
    code = (exc.code or "").lower()
    if isinstance(exc, PortalFatalError) or not isinstance(exc, PortalMethodError):
        return say("check.portal.down_fix"), CONNECTION
    if code in ("access_denied", "insufficient_scope"):
        return say("check.portal.access_fix"), CONNECTION
    return say("check.portal.params_fix", directory=name), SETTING


def _check_fields(report: CheckReport, client: Bitrix24Client, syncer: BaseSyncer,
                  rows: list[dict[str, Any]], scopes: list[str]) -> None:
    name, mapping = syncer.name, syncer.mapping
    if not rows:
        report.add(label("check.name.fields", directory=name), WARN,
                   say("check.fields.no_rows", method=mapping.method),
                   say("check.fields.no_rows_fix", directory=name))
        return
    present = set().union(*(syncer.transform(dict(row)).keys() for row in rows))
    wanted = dict(mapping.fields)
    if mapping.id_field:
        wanted.setdefault(mapping.id_field, "btxid")
    elif not {"id", "ID"} & present:
        wanted["ID"] = "btxid"
    missing = [f for f in wanted if f not in present]
    if not missing:
        report.add(label("check.name.fields", directory=name), OK,
                   say("check.fields.all", count=len(wanted)))
        return
    known = _described_fields(client, mapping.method, mapping.params)
    brief_only = not {"user", "user_basic"} & set(scopes)
    for bitrix in missing:
        item = label("check.name.field", directory=name, field=bitrix)
        values = {"field": bitrix, "column": wanted[bitrix], "directory": name,
                  "method": mapping.method, "rows": len(rows)}
        if mapping.method.startswith("user.") and bitrix in BRIEF_HIDDEN and brief_only:
            report.add(item, FAIL, say("check.field.hidden", **values),
                       say("check.field.hidden_fix", place=say("check.webhook_place")),
                       CONNECTION)
        elif bitrix in known:
            report.add(item, WARN, say("check.field.empty", **values),
                       say("check.field.empty_fix", **values))
        else:
            close = difflib.get_close_matches(bitrix, sorted(present | known), n=1, cutoff=0.6)
            hint = say("check.field.maybe", field=close[0]) if close else ""
            report.add(item, FAIL, say("check.field.unknown", **values),
                       hint + say("check.field.unknown_fix", **values), SETTING)


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


# -- reference columns no mapping fills ---------------------------------------------------

def check_unfilled(report: CheckReport, client: Bitrix24Client, syncers: dict[str, BaseSyncer],
                   unfilled: dict[str, dict[str, str]], pages: dict[str, Page]) -> None:
    """Warn about each reference column no mapping fills, naming the field that could.

    The records would sync without that link and nothing else would say so; the
    field is found by its values on the first page matching the other
    directory's ids (id_match.py).
    """
    for name, columns in unfilled.items():
        syncer = syncers[name]
        for column, target in columns.items():
            values = {"directory": name, "column": column, "target": target,
                      "model": syncer.mapping.model}
            found = _field_for(client, syncers, name, target, pages) if name in pages else None
            if found is None:
                report.add(label("check.name.reference", **values), WARN,
                           say("check.unfilled.detail", **values)
                           + say("check.unfilled.no_field" if name in pages
                                 else "check.unfilled.not_read", **values),
                           say("check.unfilled.fix", **values))
                continue
            field, sample = found
            declared = column in type(syncer).references
            report.add(label("check.name.reference", **values), WARN,
                       say("check.unfilled.detail", **values)
                       + say("check.unfilled.field", field=field, sample=sample, **values),
                       say("check.unfilled.field_fix" if declared
                           else "check.unfilled.field_and_reference_fix", field=field,
                           **values))


def _field_for(client: Bitrix24Client, syncers: dict[str, BaseSyncer], name: str,
               target: str, pages: dict[str, Page]) -> tuple[str, int] | None:
    """The field of `name`'s first page whose values are `target` ids, and one such value."""
    target_page = pages.get(target) or _first_page(client, syncers[target])
    if target_page is None:
        return None
    mapping = syncers[name].mapping
    rows = pages[name].rows
    ids = row_ids(target_page.rows)
    field = likely_reference(rows, ids, skip=[*mapping.fields, mapping.id_field or "ID"],
                             complete=target_page.complete)
    if field is None:
        return None
    sample = min(i for row in rows for i in ids_in(row.get(field)) if i in ids)
    return field, sample


def _first_page(client: Bitrix24Client, syncer: BaseSyncer) -> Page | None:
    """A directory outside the run (or not probed): its first page, when it can be read."""
    try:
        syncer.validate()
        envelope = client.call(syncer.mapping.method, dict(syncer.mapping.params))
        return Page(extract_rows(envelope.get("result")), "next" not in envelope)
    except (ConfigError, PortalError):
        return None
