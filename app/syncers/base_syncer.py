"""BaseSyncer: one directory declared as data; the engine and writer do the work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from app.config import declaring_file
from app.errors import MappingError
from app.messages import say
from app.syncers.mapping import (
    DEFAULT_ACTIVE,
    DirectoryMapping,
    apply_code,
    check_overrides,
    resolve,
)

# Parameters a method cannot run without, and what the user should look up to fill them.
REQUIRED_PARAMS: dict[str, dict[str, str]] = {
    "crm.item.list": {"entityTypeId": "the smart process's entityTypeId"},
    "lists.element.get": {"IBLOCK_TYPE_ID": "the list type, usually \"lists\"",
                          "IBLOCK_ID": "the universal list's id"},
}
# What each required parameter is, in the console's words (catalog keys, app/messages.py).
_PARAM_WORDS = {"entityTypeId": "mapping.entity_type_id",
                "IBLOCK_TYPE_ID": "mapping.iblock_type_id", "IBLOCK_ID": "mapping.iblock_id"}

# The language a text is shown in when no other is asked for (texts are dicts by language).
DEFAULT_LANGUAGE = "ru"

# The original design's methods for configuring a directory in code, by mapping key.
CODE_HOOKS = {"method": "get_bitrix_method", "params": "get_bitrix_params",
              "fields": "get_field_map"}


class BaseSyncer:
    """A directory: its Bitrix24 method and params, target model, field map and dependencies.

    Subclasses declare class attributes. A subclass may instead override
    `get_bitrix_method()`, `get_bitrix_params()` or `get_field_map()` (the
    original design's way); what they return is the directory's mapping in
    code, and a section of mapping.toml still wins over it, key by key.
    `transform(record)` is the one hook for anything that is not a rename;
    `new_row_defaults()` fills local-only NOT NULL columns of a row the sync
    creates. `protected_columns` are the local project's own: no mapping may
    write them.

    What people read is declared by language: `title` ({"ru": ..., "en": ...}),
    `title_words` (regular expressions by language that find the directory's smart
    process or list by its title on a portal, for --discover) and `column_words`
    (the same for a model column's Bitrix24 field, by column).
    """

    name: ClassVar[str]
    title: ClassVar[dict[str, str]]
    title_words: ClassVar[dict[str, str]] = {}
    column_words: ClassVar[dict[str, dict[str, str]]] = {}
    model: ClassVar[str]
    method: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}
    field_map: ClassVar[dict[str, str]] = {}
    references: ClassVar[dict[str, str]] = {}
    depends_on: ClassVar[tuple[str, ...]] = ()
    protected_columns: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, override: dict[str, Any] | None = None, *,
                 source: str = "mapping.toml") -> None:
        code = apply_code(self.defaults(), self._code_mapping())
        self.mapping: DirectoryMapping = resolve(code, override, f"[{self.name}] in {source}")

    @classmethod
    def title_in(cls, language: str = DEFAULT_LANGUAGE) -> str:
        """The directory's title in `language` (else English, else its name)."""
        return in_language(cls.title, language) or cls.name

    @classmethod
    def source_file(cls) -> str:
        """The file that declares the class, relative to the project folder when inside it."""
        return declaring_file(cls)

    @classmethod
    def defaults(cls) -> DirectoryMapping:
        where = f"built-in defaults ({cls.__name__} in {cls.source_file()})"
        return DirectoryMapping(method=cls.method, model=cls.model, params=dict(cls.params),
                                fields=dict(cls.field_map), references=dict(cls.references),
                                sources={key: where for key in ("method", "params", "fields",
                                                                "model", "references")})

    # The original design's way to configure a directory in code: override these.
    def get_bitrix_method(self) -> str:
        """The Bitrix24 method that lists the directory's records."""
        return self.method

    def get_bitrix_params(self) -> dict[str, Any]:
        """The method's parameters (the whole set; mapping.toml params are added to them)."""
        return dict(self.params)

    def get_field_map(self) -> dict[str, str]:
        """Bitrix24 field -> column."""
        return dict(self.field_map)

    def _code_mapping(self) -> dict[str, tuple[Any, str]]:
        """What the overridden hooks return, by mapping key, with where each came from."""
        code: dict[str, tuple[Any, str]] = {}
        for key, hook in CODE_HOOKS.items():
            if getattr(type(self), hook) is getattr(BaseSyncer, hook):
                continue
            where = f"{type(self).__name__}.{hook}() in {self.source_file()}"
            try:
                code[key] = (getattr(self, hook)(), where)
            except Exception as exc:
                raise MappingError(say("mapping.hook_failed", where=where,
                                       what=f"{type(exc).__name__}: {exc}")) from exc
            check_overrides({self.name: {key: code[key][0]}}, {self.name}, source=where)
        return code

    def fit_to(self, columns: set[str]) -> None:
        """Leave out the built-in field map's is_active when the model has no such column.

        Only a table's btxid is required of a parent project; the built-in user
        fields write ACTIVE into is_active, which its users table may lack. A field
        map from mapping.toml or the code is kept as written (a missing column there
        is a setup error).
        """
        mapping = self.mapping
        built_in = mapping.source("fields") == self.defaults().source("fields")
        if DEFAULT_ACTIVE in columns or not built_in:
            return
        fields = {b: c for b, c in mapping.fields.items() if c != DEFAULT_ACTIVE}
        if fields != mapping.fields:
            self.mapping = replace(mapping, fields=fields)

    def dependencies(self) -> set[str]:
        """Directories that must be synced first: declared ones and referenced ones."""
        return set(self.depends_on) | set(self.mapping.references.values())

    def transform(self, record: dict[str, Any]) -> dict[str, Any]:
        """Reshape one raw Bitrix24 record before mapping; the default keeps it as is."""
        return record

    def fields_read(self) -> list[str] | None:
        """The Bitrix24 fields a sync reads: the mapped ones (and a custom id field); None
        for every field, when `transform` is its own and may use any of them."""
        if self.has_own("transform"):
            return None
        return [*([self.mapping.id_field] if self.mapping.id_field else []), *self.mapping.fields]

    def new_row_defaults(self, columns: set[str]) -> dict[str, Any]:
        """Values for local-only columns of a newly created row."""
        return {}

    def row_defaults(self, columns: set[str]) -> Callable[[], dict[str, Any]] | None:
        """new_row_defaults() for a table of these columns, to call per created row; None
        when the syncer keeps the default (no local-only values: nothing to call)."""
        if not self.has_own("new_row_defaults"):
            return None
        return lambda: self.new_row_defaults(columns)

    def has_own(self, hook: str) -> bool:
        """Whether this syncer's `hook` (transform, new_row_defaults) is not BaseSyncer's:
        overridden by its class or set on the instance."""
        return getattr(getattr(self, hook), "__func__", None) is not getattr(BaseSyncer, hook)

    def problems(self) -> list[str]:
        """What keeps the mapping from working, each with where to fix it; empty when fine."""
        mapping = self.mapping
        where = say("mapping.where", name=self.name)
        missing = []
        if not mapping.method:
            missing.append(say("mapping.set_method", where=where))
        for key, what in REQUIRED_PARAMS.get(mapping.method, {}).items():
            if mapping.params.get(key) in (None, ""):
                what = say(_PARAM_WORDS[key]) if key in _PARAM_WORDS else what
                missing.append(say("mapping.set_param", key=key, what=what, where=where,
                                   code=f"{type(self).__name__}.get_bitrix_params()",
                                   file=self.source_file()))
        if not mapping.fields:
            missing.append(say("mapping.set_fields", where=where))
        found = [say("mapping.not_configured", name=self.name, missing="; ".join(missing))] \
            if missing else []
        for bitrix, column in mapping.fields.items():
            if column in self.protected_columns:
                found.append(self._protected(column, f"fields: {bitrix} = \"{column}\"",
                                             mapping.source("fields")))
        if mapping.active_column in self.protected_columns:
            found.append(self._protected(mapping.active_column,
                                         f"active_column = \"{mapping.active_column}\"",
                                         mapping.source("active_column")))
        return found

    def _protected(self, column: str, line: str, where: str) -> str:
        return say("mapping.protected", name=self.name, column=column, line=line, where=where)

    def validate(self) -> None:
        """Raise MappingError when the mapping cannot work (e.g. a portal id nobody set)."""
        found = self.problems()
        if found:
            raise MappingError("; ".join(found))


def in_language(texts: dict[str, str], language: str = DEFAULT_LANGUAGE) -> str:
    """The text in `language`, else the English one, else empty."""
    return texts.get(language) or texts.get("en") or ""


def any_language(patterns: dict[str, str]) -> str:
    """One regular expression matching what any language's pattern matches ("" for none)."""
    return "|".join(f"(?:{p})" for p in patterns.values() if p)
