"""Directory mappings: each syncer's defaults, overridden by the user's mapping.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import MappingError

_KEYS = {"method", "params", "fields", "references", "id_field", "active_column"}


@dataclass(frozen=True)
class DirectoryMapping:
    """Where one directory's rows come from in Bitrix24 and which columns they fill."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # Bitrix field -> column
    references: dict[str, str] = field(default_factory=dict)  # column -> directory
    id_field: str | None = None  # None: "id" or "ID", whichever the rows have
    active_column: str = "is_active"  # "" turns deactivation off

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(self.fields.values()))


def load_mapping_file(path: Path | None, known: set[str]) -> dict[str, dict[str, Any]]:
    """Read and check mapping.toml; an absent path means no overrides."""
    if path is None:
        return {}
    try:
        # utf-8-sig: Windows editors often save a BOM, which TOML does not allow.
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise MappingError(f"Cannot read the mapping file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise MappingError(f"The mapping file {path} is not UTF-8 text; save it as UTF-8") \
            from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"The mapping file {path} is not valid TOML: {exc}") from None
    check_overrides(data, known, source=str(path))
    return data


def check_overrides(data: dict[str, Any], known: set[str], *, source: str) -> None:
    """Raise MappingError listing every structural problem in the overrides."""
    problems = []
    for name, section in data.items():
        if name not in known:
            problems.append(f"[{name}] is not a directory; use one of {', '.join(sorted(known))}")
            continue
        if not isinstance(section, dict):
            problems.append(f"[{name}] must be a table")
            continue
        for key in sorted(set(section) - _KEYS):
            problems.append(f"[{name}] has an unknown key {key!r}; "
                            f"known: {', '.join(sorted(_KEYS))}")
        for key in ("params", "fields", "references"):
            if key in section and not isinstance(section[key], dict):
                problems.append(f"[{name}] {key} must be a table like {{ a = \"b\" }}")
        for key in ("fields", "references"):
            table = section.get(key)
            for k, v in table.items() if isinstance(table, dict) else ():
                if not isinstance(v, str) or not v:
                    problems.append(f"[{name}] {key}.{k} must be a non-empty string")
        for key in ("method", "id_field", "active_column"):
            if key in section and not isinstance(section[key], str):
                problems.append(f"[{name}] {key} must be a string")
    if problems:
        raise MappingError(f"The mapping in {source} has problems:\n"
                           + "\n".join(f"  - {p}" for p in problems))


def resolve(defaults: DirectoryMapping, override: dict[str, Any] | None) -> DirectoryMapping:
    """Apply one section of overrides to a directory's defaults.

    `params` merge key by key; `fields` replace the default field map whole
    (a partial merge would keep stale default fields); `references` merge, and
    only those whose column is mapped are kept.
    """
    override = override or {}
    method = override.get("method", defaults.method)
    # A different method means different parameters: do not carry the defaults over.
    base_params = defaults.params if method == defaults.method else {}
    fields = dict(override.get("fields", defaults.fields))
    references = {**defaults.references, **override.get("references", {})}
    references = {c: d for c, d in references.items() if c in fields.values()}
    return DirectoryMapping(
        method=method,
        params={**base_params, **override.get("params", {})},
        fields=fields,
        references=references,
        id_field=override.get("id_field", defaults.id_field),
        active_column=override.get("active_column", defaults.active_column),
    )
