"""Directory mappings: a syncer's declaration, its code, then the user's mapping.toml.

Precedence, lowest first: the syncer's class attributes (the built-in
defaults), the syncer's overridden `get_bitrix_method()`,
`get_bitrix_params()` and `get_field_map()` (the original design's way to
configure a directory in code), then a section of mapping.toml. Every
mapping remembers where each of its keys came from, so messages and --check
can say which file or method to edit.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.env_files import read_text
from app.errors import ConfigError, MappingError
from app.messages import Said, say

_KEYS = {"method", "params", "fields", "references", "id_field", "active_column", "model"}
DEFAULT_ACTIVE = "is_active"


@dataclass(frozen=True)
class DirectoryMapping:
    """Where one directory's rows come from in Bitrix24 and which columns they fill."""

    method: str
    model: str = ""  # the model class name
    params: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # Bitrix field -> column
    references: dict[str, str] = field(default_factory=dict)  # column -> directory
    id_field: str | None = None  # None: "id" or "ID", whichever the rows have
    # None: is_active when the table has it, else nothing is deactivated; "": never.
    active_column: str | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # key -> where

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(self.fields.values()))

    def deactivation_column(self, table_columns) -> str | None:
        """The column that marks rows removed in Bitrix24, or None when there is none."""
        if self.active_column is None:
            return DEFAULT_ACTIVE if DEFAULT_ACTIVE in table_columns else None
        return self.active_column or None

    def source(self, key: str) -> str:
        return self.sources.get(key, "built-in defaults")

    def origin(self) -> str:
        """Where the method, params, fields and model came from, grouped by source."""
        keys = ["method", "params", "fields", "model", *(["references"] if self.references else []),
                *(k for k in ("id_field", "active_column") if k in self.sources)]
        by_source: dict[str, list[str]] = {}
        for key in keys:
            by_source.setdefault(self.source(key), []).append(key)
        return "; ".join(f"{', '.join(keys)} from {where}" for where, keys in by_source.items())


def load_mapping_file(path: Path | None, known: set[str]) -> dict[str, dict[str, Any]]:
    """Read and check mapping.toml; an absent path means no overrides."""
    if path is None:
        return {}
    try:
        # A BOM, UTF-16 or cp1251 from a Windows editor: read as what it is (TOML allows none).
        text, _ = read_text(Path(path), what="files.mapping_file")
        data = tomllib.loads(text)
    except ConfigError as exc:
        raise MappingError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(say("mapping.not_toml", path=path, why=exc)) from None
    check_overrides(data, known, source=str(path))
    return data


def check_overrides(data: dict[str, Any], known: set[str], *, source: str) -> None:
    """Raise MappingError listing every structural problem in the overrides."""
    problems = []
    for name, section in data.items():
        if name not in known:
            problems.append(say("mapping.not_directory", name=name,
                                known=", ".join(sorted(known))))
            continue
        if not isinstance(section, dict):
            problems.append(say("mapping.not_table", name=name))
            continue
        for key in sorted(set(section) - _KEYS):
            problems.append(say("mapping.unknown_key", name=name, key=key,
                                known=", ".join(sorted(_KEYS))))
        for key in ("params", "fields", "references"):
            if key in section and not isinstance(section[key], dict):
                problems.append(say("mapping.key_table", name=name, key=key))
        for key in ("fields", "references"):
            table = section.get(key)
            for k, v in table.items() if isinstance(table, dict) else ():
                if not isinstance(v, str) or not v:
                    problems.append(say("mapping.key_text", name=name, key=key, item=k))
        for key in ("method", "id_field", "active_column", "model"):
            if key in section and not isinstance(section[key], str):
                problems.append(say("mapping.key_string", name=name, key=key))
    if problems:
        raise MappingError(say("mapping.problems", source=source, problems=Said("\n").join(
            Said("  - ") + problem for problem in problems)))


def apply_code(declared: DirectoryMapping, code: dict[str, tuple[Any, str]]) -> DirectoryMapping:
    """Replace declared keys with what the syncer's overridden methods return.

    `code` maps a key to (value, where it came from). A method's return value is
    the whole value: overridden params replace the declared ones.
    """
    if not code:
        return declared
    values = {key: value for key, (value, _) in code.items()}
    sources = {**declared.sources, **{key: where for key, (_, where) in code.items()}}
    if values.get("method", declared.method) != declared.method and "params" not in values:
        values["params"] = {}  # the declared params belong to the declared method
        sources["params"] = sources["method"]
    return replace(declared, **values, sources=sources)


def resolve(defaults: DirectoryMapping, override: dict[str, Any] | None,
            source: str = "mapping.toml") -> DirectoryMapping:
    """Apply one section of mapping.toml (named `source` in messages) over a directory's mapping.

    `params` merge key by key; `fields` replace the field map whole (a partial
    merge would keep stale fields); `references` merge, and only those whose
    column is mapped are kept.
    """
    override = override or {}
    method = override.get("method", defaults.method)
    sources = {**defaults.sources, **{key: source for key in override}}
    # A different method means different parameters: do not carry the old ones over.
    base_params = defaults.params if method == defaults.method else {}
    if method != defaults.method and "params" not in override:
        sources["params"] = source
    fields = dict(override.get("fields", defaults.fields))
    references = {**defaults.references, **override.get("references", {})}
    references = {c: d for c, d in references.items() if c in fields.values()}
    return DirectoryMapping(
        method=method,
        model=override.get("model", defaults.model),
        params={**base_params, **override.get("params", {})},
        fields=fields,
        references=references,
        id_field=override.get("id_field", defaults.id_field),
        active_column=override.get("active_column", defaults.active_column),
        sources=sources,
    )
