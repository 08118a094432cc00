"""BaseSyncer: one directory declared as data; the engine and writer do the work."""

from __future__ import annotations

from typing import Any, ClassVar

from app.errors import MappingError
from app.syncers.mapping import DirectoryMapping, resolve

# Parameters a method cannot run without, and what the user should look up to fill them.
REQUIRED_PARAMS: dict[str, dict[str, str]] = {
    "crm.item.list": {"entityTypeId": "the smart process's entityTypeId"},
    "lists.element.get": {"IBLOCK_TYPE_ID": "the list type, usually \"lists\"",
                          "IBLOCK_ID": "the universal list's id"},
}


class BaseSyncer:
    """A directory: its Bitrix24 method and params, target model, field map and dependencies.

    Subclasses only declare class attributes. `transform(record)` is the one
    hook for anything that is not a rename; `new_row_defaults()` fills
    local-only NOT NULL columns of a row the sync creates.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    model: ClassVar[str]
    method: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}
    field_map: ClassVar[dict[str, str]] = {}
    references: ClassVar[dict[str, str]] = {}
    depends_on: ClassVar[tuple[str, ...]] = ()

    def __init__(self, override: dict[str, Any] | None = None) -> None:
        self.mapping: DirectoryMapping = resolve(self.defaults(), override)

    @classmethod
    def defaults(cls) -> DirectoryMapping:
        return DirectoryMapping(method=cls.method, params=dict(cls.params),
                                fields=dict(cls.field_map), references=dict(cls.references))

    # The original design's accessors, kept for users who subclass.
    def get_bitrix_method(self) -> str:
        return self.mapping.method

    def get_bitrix_params(self) -> dict[str, Any]:
        return dict(self.mapping.params)

    def get_field_map(self) -> dict[str, str]:
        return dict(self.mapping.fields)

    def dependencies(self) -> set[str]:
        """Directories that must be synced first: declared ones and referenced ones."""
        return set(self.depends_on) | set(self.mapping.references.values())

    def transform(self, record: dict[str, Any]) -> dict[str, Any]:
        """Reshape one raw Bitrix24 record before mapping; the default keeps it as is."""
        return record

    def new_row_defaults(self, columns: set[str]) -> dict[str, Any]:
        """Values for local-only columns of a newly created row."""
        return {}

    def validate(self) -> None:
        """Raise MappingError when the mapping cannot work (e.g. a portal id nobody set)."""
        where = f"[{self.name}] in mapping.toml (SYNC_MAPPING_FILE)"
        problems = []
        if not self.mapping.method:
            problems.append(f"set method in {where}")
        for key, what in REQUIRED_PARAMS.get(self.mapping.method, {}).items():
            if self.mapping.params.get(key) in (None, ""):
                problems.append(f"set params.{key} ({what}) in {where}; "
                                "`python cli.py --discover` lists what the portal has")
        if not self.mapping.fields:
            problems.append(f"set fields (Bitrix24 field = column) in {where}")
        if problems:
            raise MappingError(f"Directory {self.name!r} is not configured: "
                               + "; ".join(problems))
