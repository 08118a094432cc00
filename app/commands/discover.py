"""--discover: list what the webhook can see that could be a directory, and draft mapping.toml.

Smart processes come from crm.type.list (which needs CRM administrator
rights; without them the user names entityTypeIds with --entity-type-id),
universal lists from lists.get, and the fields of each from crm.item.fields,
lists.field.get and user.fields, with one sample value read from the first
page of the directory itself. Only read methods are called.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.bitrix.client import Bitrix24Client, extract_rows
from app.bitrix.methods import USER_SCOPES
from app.commands.console import is_empty, short
from app.commands.id_match import likely_reference, row_ids
from app.config import Settings
from app.db import models
from app.errors import ConfigError, PortalMethodError
from app.messages import language, say
from app.syncers import SYNCERS
from app.syncers.base_syncer import any_language
from app.text import one_line, render_table

SMART_PROCESS, LIST, USERS = "smart_process", "list", "users"
# Universal lists live under "lists"; processes in the activity stream under "bitrix_processes".
LIST_TYPES = ("lists", "bitrix_processes")

BRIEF_HIDDEN = ("EMAIL", "PERSONAL_MOBILE", "WORK_PHONE", "PERSONAL_PHONE")


@dataclass
class FieldInfo:
    """One field of a directory: name, type, title, a sample value and what it links to."""

    name: str
    type: str = ""
    title: str = ""
    sample: str = ""
    note: str = ""
    links_to: int | None = None  # parent entityTypeId (crm) or linked IBLOCK_ID (lists)


@dataclass
class Source:
    """Something the webhook can read that could be a directory."""

    kind: str
    key: int | None  # entityTypeId or IBLOCK_ID; None for users
    title: str
    method: str
    params: dict[str, Any]
    fields: list[FieldInfo] = field(default_factory=list)
    extra: str = ""
    # The first page of records, kept to match reference values (not part of --json).
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)
    complete: bool = True  # the first page held every record

    def field_named(self, name: str) -> FieldInfo | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass
class Discovery:
    """Everything --discover found, and notes on what it could not see and why."""

    scopes: list[str]
    sources: list[Source] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Source]:
        return [s for s in self.sources if s.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        sources = [{k: v for k, v in asdict(s).items() if k not in ("rows", "complete")}
                   for s in self.sources]
        return {"scopes": self.scopes, "sources": sources, "notes": self.notes}


def make_client(settings: Settings, *, max_retries: int = 2) -> Bitrix24Client:
    """A client for a quick look at the portal: few retries, so a dead host fails fast."""
    return Bitrix24Client.from_settings(settings, max_retries=max_retries)


def webhook_scopes(client: Bitrix24Client) -> list[str]:
    """The scopes ticked on the webhook (the `scope` method needs none)."""
    result = client.call("scope").get("result")
    return [str(s) for s in result] if isinstance(result, list) else []


def discover(client: Bitrix24Client, *, entity_type_ids: tuple[int, ...] = ()) -> Discovery:
    """Ask the portal for its smart processes, universal lists and user fields."""
    found = Discovery(webhook_scopes(client))
    if "crm" in found.scopes:
        _smart_processes(client, found, entity_type_ids)
    else:
        found.notes.append(say("discover.note.no_crm"))
    if "lists" in found.scopes:
        _lists(client, found)
    else:
        found.notes.append(say("discover.note.no_lists"))
    if any(s in found.scopes for s in USER_SCOPES):
        _users(client, found)
        if not {"user", "user_basic"} & set(found.scopes):
            found.notes.append(say("discover.note.user_brief"))
    else:
        found.notes.append(say("discover.note.no_user"))
    return found


def _smart_processes(client: Bitrix24Client, found: Discovery, wanted: tuple[int, ...]) -> None:
    types: dict[int, dict[str, Any]] = {}
    try:
        for page in client.list_pages("crm.type.list", {}):
            types.update({int(row["entityTypeId"]): row for row in page})
    except PortalMethodError as exc:
        found.notes.append(say("discover.note.crm_admin")
                           if (exc.code or "").upper() == "ACCESS_DENIED"
                           else say("discover.note.no_smart_processes", error=exc))
    for entity_type_id in wanted:
        if entity_type_id in types:
            continue
        try:
            envelope = client.call("crm.type.getByEntityTypeId",
                                   {"entityTypeId": entity_type_id})
            types[entity_type_id] = envelope["result"]["type"]
        except PortalMethodError as exc:
            # The title is a nicety; the fields below may still be readable.
            found.notes.append(say("discover.note.no_title", id=entity_type_id, error=exc))
            types[entity_type_id] = {"entityTypeId": entity_type_id}
    for entity_type_id, row in types.items():
        params = {"entityTypeId": entity_type_id}
        try:
            described = client.call("crm.item.fields", params)["result"].get("fields") or {}
            page = client.call("crm.item.list", params)
            rows = extract_rows(page["result"])
        except PortalMethodError as exc:
            found.notes.append(say("discover.note.smart_process", id=entity_type_id, error=exc))
            continue
        found.sources.append(Source(
            SMART_PROCESS, entity_type_id, str(row.get("title") or ""), "crm.item.list", params,
            [_crm_field(name, spec, rows) for name, spec in described.items()],
            extra=f"type id {row['id']}, custom fields ufCrm{row['id']}_..." if "id" in row
            else "", rows=rows, complete="next" not in page))


def _crm_field(name: str, spec: dict[str, Any], rows: list[dict]) -> FieldInfo:
    info = FieldInfo(name, str(spec.get("type") or "") + ("[]" if spec.get("isMultiple") else ""),
                     # user fields carry the human label in formLabel/listLabel, not in title
                     str(spec.get("formLabel") or spec.get("listLabel") or spec.get("title")
                         or ""),
                     _sample(rows, name))
    settings = spec.get("settings")
    parent = settings.get("parentEntityTypeId") if isinstance(settings, dict) else None
    if parent:
        info.links_to = int(parent)
        info.note = say("discover.field.link_smart_process", id=parent)
    elif spec.get("statusType"):
        info.note = say("discover.field.stages", stages=spec["statusType"])
    elif isinstance(spec.get("items"), list) and spec["items"]:
        info.note = say("discover.field.choices", values=short(", ".join(
            str(i.get("VALUE", "")) for i in spec["items"] if isinstance(i, dict)), 60))
    return info


def _lists(client: Bitrix24Client, found: Discovery) -> None:
    for type_id in LIST_TYPES:
        try:
            lists = [row for page in client.list_pages("lists.get", {"IBLOCK_TYPE_ID": type_id})
                     for row in page]
        except PortalMethodError as exc:
            if type_id == "lists":  # other list types may simply not exist on this portal
                found.notes.append(say("discover.note.no_lists_read", error=exc))
            continue
        for info in lists:
            params = {"IBLOCK_TYPE_ID": type_id, "IBLOCK_ID": int(info["ID"])}
            try:
                described = client.call("lists.field.get", params)["result"]
                page = client.call("lists.element.get", params)
                rows = extract_rows(page["result"])
            except PortalMethodError as exc:
                found.notes.append(say("discover.note.list", id=info["ID"], error=exc))
                continue
            specs = described.values() if isinstance(described, dict) else described
            fields = [_list_field(spec, rows) for spec in specs if isinstance(spec, dict)]
            named = {f.name for f in fields}
            # ID, CODE, DATE_CREATE...: element fields lists.field.get does not describe
            fields += [FieldInfo(key, "", "", _sample(rows, key))
                       for key in dict.fromkeys(k for r in rows for k in r) if key not in named]
            code = f", code {info['CODE']}" if info.get("CODE") else ""
            found.sources.append(Source(LIST, int(info["ID"]), str(info.get("NAME") or ""),
                                        "lists.element.get", params, fields,
                                        extra=f"IBLOCK_TYPE_ID {type_id}{code}", rows=rows,
                                        complete="next" not in page))


def _list_field(spec: dict[str, Any], rows: list[dict]) -> FieldInfo:
    name = str(spec.get("FIELD_ID") or "")
    kind = str(spec.get("TYPE") or spec.get("PROPERTY_TYPE") or "")
    info = FieldInfo(name, kind + ("[]" if spec.get("MULTIPLE") == "Y" else ""),
                     str(spec.get("NAME") or ""), _sample(rows, name))
    if kind == "E" and spec.get("LINK_IBLOCK_ID"):
        info.links_to = int(spec["LINK_IBLOCK_ID"])
        info.note = say("discover.field.link_list", id=spec["LINK_IBLOCK_ID"])
    elif kind == "L" and isinstance(spec.get("DISPLAY_VALUES_FORM"), dict):
        info.note = say("discover.field.choices", values=short(
            ", ".join(map(str, spec["DISPLAY_VALUES_FORM"].values())), 60))
    elif kind.startswith("S:employee"):
        info.note = say("discover.field.employee")
    return info


def _users(client: Bitrix24Client, found: Discovery) -> None:
    try:
        titles = client.call("user.fields")["result"]
        page = client.call("user.get", {})
        rows = extract_rows(page["result"])
    except PortalMethodError as exc:
        found.notes.append(say("discover.note.no_users", error=exc))
        return
    fields = [FieldInfo(name, _kind_of(_first(rows, name)), str(title), _sample(rows, name))
              for name, title in titles.items()]
    found.sources.append(Source(USERS, None, say("discover.employees"), "user.get", {}, fields,
                                rows=rows,
                                complete="next" not in page))


def _first(rows: list[dict], name: str) -> Any:
    return next((row[name] for row in rows if not is_empty(row.get(name))), None)


def _sample(rows: list[dict], name: str) -> str:
    return short(_first(rows, name))


def _kind_of(value: Any) -> str:
    # user.fields gives titles only, so the type is read off the sample.
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, list):
        return "list"
    return "string" if value is not None else ""


# -- text and JSON output -------------------------------------------------------------------

def render_text(found: Discovery) -> str:
    """The listing --discover prints: each source with an aligned table of its fields."""
    out = [say("discover.scopes", scopes=", ".join(found.scopes) or say("discover.no_scopes"))]
    for kind in (SMART_PROCESS, LIST, USERS):
        sources = found.of_kind(kind)
        out += ["", say(f"discover.heading.{kind}")
                + ("" if sources else say("discover.none_found"))]
        for source in sources:
            label = {SMART_PROCESS: "entityTypeId", LIST: "IBLOCK_ID"}.get(kind)
            what = f"  «{one_line(source.title)}»" + (f"  {label} {source.key}" if label else "")
            out.append(what + (f"  ({source.extra})" if source.extra else ""))
            rows = [tuple(say(f"discover.column.{c}")
                          for c in ("field", "type", "title", "sample", "note"))]
            rows += [(f.name, f.type, f.title, f.sample, f.note) for f in source.fields]
            out += render_table(rows, indent="    ")
    if found.notes:
        out += ["", say("discover.notes")] + [f"  - {note}" for note in found.notes]
    return "\n".join(out)


# -- the mapping skeleton -------------------------------------------------------------------

# Which smart process or list is which directory, and which field fills which column, is
# guessed from titles with each syncer's title_words and column_words (app/syncers/).
_KIND_OF_METHOD = {"crm.item.list": SMART_PROCESS, "lists.element.get": LIST, "user.get": USERS}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def mapping_skeleton(found: Discovery) -> str:
    """A commented mapping.toml: guessed sources and fields filled in, the rest commented out."""
    chosen = _guess_sources(found)
    out = [f"# {line}" for line in say("discover.skeleton.head").splitlines()] + [""]
    for name, syncer in SYNCERS.items():
        out += _section(name, syncer, chosen, found) + [""]
    return "\n".join(out)


def _guess_sources(found: Discovery) -> dict[str, Source | None]:
    chosen: dict[str, Source | None] = {}
    for name, syncer in SYNCERS.items():
        kind = _KIND_OF_METHOD.get(syncer.method)
        taken = [s for s in chosen.values() if s is not None]
        candidates = [s for s in found.of_kind(kind) if s not in taken]
        hint = any_language(syncer.title_words)
        if kind == USERS:
            chosen[name] = candidates[0] if candidates else None
        else:
            chosen[name] = next((s for s in candidates
                                 if hint and re.search(hint, s.title, re.IGNORECASE)), None)
    return chosen


def _section(name: str, syncer, chosen: dict[str, Source | None], found: Discovery) -> list[str]:
    source = chosen[name]
    table = getattr(models, syncer.model).__table__
    out = ["# " + say("discover.skeleton.section", title=syncer.title_in(language()),
                      table=table.name, model=syncer.model),
           f"[{name}]", f'method = "{syncer.method}"']
    kind = _KIND_OF_METHOD.get(syncer.method)
    if source is not None and source.params:
        out[0] += say("discover.skeleton.source", title=one_line(source.title))
        out.append(f"params = {_inline(source.params)}")
    elif kind in (SMART_PROCESS, LIST):
        out.append("# " + say(f"discover.skeleton.not_guessed.{kind}"))
        others = found.of_kind(kind)
        out += [f"# params = {_inline(s.params)}  # «{one_line(s.title)}»" for s in others]
        if not others:
            out.append("# params = { ... }  # " + say("discover.skeleton.nothing_found"))
    fields = _guess_fields(name, syncer, source, chosen, table)
    references = {c: t for c, t in syncer.references.items() if c in fields.values()}
    if references:
        out.append(f"references = {_inline(references)}")
    out += ["", f"[{name}.fields]", "# " + say("discover.skeleton.fields_head")]
    described = {f.name: f for f in source.fields} if source else {}
    for bitrix, column in fields.items():
        out.append(f"{_key(bitrix)} = {_string(column)}" + _describe(described.get(bitrix)))
    for info in described.values():
        if info.name not in fields:
            out.append(f"# {_key(info.name)} = \"\"" + _describe(info))
    return out


def _guess_fields(name: str, syncer, source: Source | None, chosen: dict[str, Source | None],
                  table) -> dict[str, str]:
    if source is None or source.kind == USERS:
        return dict(syncer.field_map)
    fields: dict[str, str] = {}
    title_field = "title" if source.kind == SMART_PROCESS else "NAME"
    if source.field_named(title_field) and "name" in table.c:
        fields[title_field] = "name"
    for column, target in syncer.references.items():
        target_source = chosen.get(target)
        if target_source is None or column not in table.c:
            continue
        link = next((f.name for f in source.fields if f.links_to == target_source.key), None)
        # A plain field (a string property holding "3301") says nothing of what it points
        # at: its values do, when they are the other directory's ids.
        if link is None:
            link = likely_reference(source.rows, row_ids(target_source.rows), skip=fields,
                                    complete=target_source.complete)
            info = source.field_named(link) if link else None
            if info is not None:
                info.note = say("discover.field.ids_of", target=target)
        if link is not None:
            fields[link] = column
    for column, words in syncer.column_words.items():
        pattern = any_language(words)
        hit = next((f for f in source.fields if f.name not in fields
                    and re.search(pattern, f.title, re.IGNORECASE)), None)
        if hit is not None and column in table.c:
            fields[hit.name] = column
    return fields or dict(syncer.field_map)


def _describe(info: FieldInfo | None) -> str:
    if info is None:
        return ""
    parts = [info.title or info.name]
    if info.type:
        parts[0] += f" ({info.type})"
    if info.sample:
        parts.append(say("discover.skeleton.example", sample=info.sample))
    if info.note:
        parts.append(info.note)
    return "  # " + one_line("; ".join(parts))


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else _string(name)


def _string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if unicodedata.category(ch) != "Cc" else f"\\u{ord(ch):04x}"
                         for ch in escaped) + '"'


def _inline(values: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{_key(k)} = {v if isinstance(v, int) else _string(str(v))}"
                            for k, v in values.items()) + " }"


def write_skeleton(path: Path, text: str, *, force: bool) -> None:
    """Write the skeleton; an existing file is kept unless force is set."""
    if path.exists() and not force:
        raise ConfigError(say("discover.write.exists", path=path), variables=("--write",))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:  # a missing folder, a directory in the way, no permission
        raise ConfigError(say("discover.write.failed", path=path, error=exc.strerror or exc),
                          variables=("--write",)) from None
