"""Find the SQLAlchemy models: MODELS_MODULE, the parent project's models.py, or ours."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from app.config import Settings
from app.errors import ConfigError
from app.messages import say

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class ModelSet:
    """The mapped model classes of one module by class name, and where they came from."""

    classes: dict[str, type]
    origin: str
    kind: str = ""  # "module" (MODELS_MODULE), "parent" (the parent's models.py) or "built-in"
    where: str = ""  # the module's name or file

    def find(self, name: str) -> type | None:
        return self.classes.get(name)

    def get(self, name: str) -> type:
        found = self.find(name)
        if found is None:
            raise ConfigError(self.missing(name), variables=("MODELS_MODULE",))
        return found

    def missing(self, name: str, where: str = "") -> str:
        """The sentence for a model class the models do not have (`where` names who asked)."""
        known = ", ".join(sorted(self.classes)) or "none"
        return (f"The models ({self.origin}) have no class {name!r}{where}; its classes: "
                f"{known}. Set model = \"ClassName\" in the directory's section of "
                "mapping.toml, define the class, or set MODELS_MODULE.")


def load_models(settings: Settings) -> ModelSet:
    """Import the models module the settings point at and collect the known classes."""
    if settings.models_module:
        module = _import(settings.models_module, settings.project_dir)
        origin, kind, where = (f"MODELS_MODULE={settings.models_module}", "module",
                               settings.models_module)
    elif (settings.project_dir.parent / "models.py").is_file():
        module = _import_file(settings.project_dir.parent / "models.py")
        where = str(settings.project_dir.parent / "models.py")
        origin, kind = f"parent project {where}", "parent"
    else:
        from app.db import models as module

        origin, kind, where = "built-in app/db/models.py", "built-in", "app/db/models.py"
    # Any mapped class may serve a directory (a parent's may be TgUser or Town).
    classes = {name: value for name, value in vars(module).items()
               if isinstance(value, type) and getattr(value, "__table__", None) is not None}
    log.info("Using models from %s", origin)
    return ModelSet(classes, origin, kind, where)


def _import(spec: str, base: Path) -> ModuleType:
    path = Path(spec)
    if spec.endswith(".py") or path.is_file():
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise ConfigError(say("models.no_file", path=path),
                              variables=("MODELS_MODULE",))
        return _import_file(path)
    try:
        return importlib.import_module(spec)
    except ImportError as exc:
        raise ConfigError(say("models.no_module", spec=spec, why=exc),
                          variables=("MODELS_MODULE",)) from exc


def _import_file(path: Path) -> ModuleType:
    # The parent's models.py may import its siblings (e.g. "from database import Base"), but
    # its folder goes last: a parent `app` package or a module named like one we import
    # later (the MySQL driver, say) must not shadow ours.
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.append(folder)
    name = f"_bitrix_sync_models_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(say("models.import_failed", path=path, why=exc),
                          variables=("MODELS_MODULE",)) from exc
    return module
