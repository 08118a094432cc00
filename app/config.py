"""Settings: read once from the environment and .env files into one frozen object."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

from app.cron import format_duration, parse_duration, schedule_problems
from app.env_files import read_env_file
from app.errors import ConfigError
from app.masking import mask, register_secret
from app.messages import DEFAULT_LANGUAGE, LANGUAGES, normal_language, say

PROJECT_DIR = Path(__file__).resolve().parent.parent


def declaring_file(cls: type) -> str:
    """The file that declares `cls`, relative to the project folder when inside it."""
    path = Path(getattr(sys.modules.get(cls.__module__), "__file__", None) or cls.__module__)
    try:
        return path.resolve().relative_to(PROJECT_DIR).as_posix()
    except ValueError:
        return str(path)


# Names another folder to use in PROJECT_DIR's place for .env, mapping.toml, the log file
# and the parent's .env and models.py. The test suite sets it, so that no test ever reads
# or writes the files of the project it runs in (tests/conftest.py).
PROJECT_DIR_VARIABLE = "BITRIX_SYNC_PROJECT_DIR"

# Every variable the tool reads; an autouse test fixture clears exactly these.
VARIABLES = (
    "BITRIX_WEBHOOK_URL",
    "BITRIX_TIMEOUT",
    "BITRIX_VERIFY_SSL",
    "BITRIX_RATE_LIMIT",
    "BITRIX_RATE_BURST",
    "BITRIX_MAX_RETRIES",
    "BITRIX_MAX_RESPONSE_MB",
    "DATABASE_URL",
    "MYSQL_HOST",
    "MYSQL_PORT",
    "MYSQL_USER",
    "MYSQL_PASSWORD",
    "MYSQL_DATABASE",
    "SYNC_SCHEDULE",
    "SYNC_TIMEZONE",
    "SYNC_ON_START",
    "SYNC_MAPPING_FILE",
    "SYNC_FULL_EVERY",
    "SYNC_INCREMENTAL_OVERLAP",
    "MODELS_MODULE",
    "LOG_LEVEL",
    "LOG_FILE",
    "SYNC_LANG",
)

# BITRIX_MAX_RESPONSE_MB's default. The largest real answer, a batch of 50 pages of wide
# records, is a few MB; eight readers each holding an answer this large stay far below 600 MB.
MAX_RESPONSE_MB = 32

_WEBHOOK = re.compile(r"^/rest/(?P<user>\d+)/(?P<code>[A-Za-z0-9_\-]+)/?$")
_EXAMPLE_HOST = "example.bitrix24.ru"  # the placeholder in .env.example
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n", ""}
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ENVIRONMENT = "environment"
# The Bitrix24 menu path in the words of the Russian interface.
WEBHOOK_MENU = "«Разработчикам» → «Другое» → «Входящий вебхук»"


@dataclass(frozen=True)
class Settings:
    """Everything the tool needs to know, validated; secrets mask themselves in repr."""

    webhook_url: str = field(default="", repr=False)
    database_url: str = field(default="", repr=False)
    bitrix_timeout: float = 60.0
    bitrix_verify_ssl: bool = True
    bitrix_rate_limit: float = 2.0
    bitrix_rate_burst: int = 50
    bitrix_max_retries: int = 6
    bitrix_max_response_mb: float = MAX_RESPONSE_MB
    sync_schedule: str = "0 0 * * *"
    sync_timezone: str | None = None
    sync_on_start: bool = False
    mapping_file: Path | None = None
    # A directory is read in full when its last full read is older than this (0: always).
    sync_full_every: timedelta = timedelta(hours=24)
    # Incremental reads start this long before the previous read began (the portal's clock).
    sync_incremental_overlap: timedelta = timedelta(minutes=10)
    models_module: str | None = None
    log_level: str = "INFO"
    log_file: Path | None = None
    language: str = DEFAULT_LANGUAGE  # of the console (SYNC_LANG); the log file stays English
    project_dir: Path = PROJECT_DIR
    sources: tuple[str, ...] = ()
    # (variable, raw value, where it came from) for every variable that was set
    origins: tuple[tuple[str, str, str], ...] = ()
    warnings: tuple[str, ...] = ()  # e.g. a Windows path in double quotes, read literally

    def __repr__(self) -> str:
        hidden = ("sources", "origins", "warnings")
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in hidden}
        shown["webhook_url"] = mask(self.webhook_url)
        shown["database_url"] = mask_database_url(self.database_url)
        inner = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"Settings({inner})"

    def origin_rows(self) -> list[tuple[str, str, str]]:
        """(variable, value shown, source) for each variable that was set; secrets masked."""
        return [(name, shown_value(name, value), source) for name, value, source in self.origins]

    def describe(self) -> list[str]:
        """Lines for the log: the settings in effect, secrets masked."""
        return [
            f"webhook={mask(self.webhook_url) or '(not set)'}",
            f"database={mask_database_url(self.database_url)}",
            f"mapping_file={self.mapping_file or '(built-in defaults)'}",
            f"models_module={self.models_module or '(auto)'}",
            f"log_level={self.log_level}",
            f"log_file={self.log_file or '(console only)'}",
            f"rate_limit={self.bitrix_rate_limit}/s burst {self.bitrix_rate_burst}",
            f"full_every={format_duration(self.sync_full_every) if self.sync_full_every else 0} "
            f"incremental_overlap={format_duration(self.sync_incremental_overlap)}",
        ]


def mask_database_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    return re.sub(r"(://[^:/@]+:)[^@]*(@)", r"\1***\2", url)


def shown_value(name: str, value: str) -> str:
    """A setting's value as it may be printed: passwords as ***, the webhook code masked."""
    if name == "MYSQL_PASSWORD":
        return "***"
    if name == "DATABASE_URL":
        return mask_database_url(value)
    return mask(value)


@dataclass(frozen=True)
class Environment:
    """The merged variables, where each came from, and what was looked at."""

    values: dict[str, str]
    origins: dict[str, str]  # variable -> "environment" or the file it came from
    looked_in: tuple[tuple[str, bool], ...]  # (file, found) in the order they are read
    sources: tuple[str, ...]  # the files that exist, earliest (strongest) first
    warnings: tuple[str, ...] = ()


def project_home() -> Path:
    """The folder settings are looked for in: the one holding cli.py, unless
    BITRIX_SYNC_PROJECT_DIR (read from the process environment only) names another."""
    other = os.environ.get(PROJECT_DIR_VARIABLE, "").strip()
    return Path(other).expanduser().resolve() if other else PROJECT_DIR


def read_environment(
    *, env_file: Path | str | None = None, environ: Mapping[str, str] | None = None,
    project_dir: Path | None = None,
) -> Environment:
    """Merge the process environment and .env files; earlier sources win."""
    project_dir = project_dir or project_home()
    if env_file is not None and not Path(env_file).is_file():
        raise ConfigError(say("settings.env_file_missing", path=env_file),
                          variables=("--env-file",))
    process = dict(os.environ if environ is None else environ)
    layers: list[tuple[str, Mapping[str, str | None]]] = [(ENVIRONMENT, process)]
    candidates = [Path(env_file)] if env_file is not None else []
    candidates += [project_dir / ".env", project_dir.parent / ".env"]
    looked_in: list[tuple[str, bool]] = []
    warnings: list[str] = []
    for path in dict.fromkeys(candidates):
        found = path.is_file()
        looked_in.append((str(path), found))
        if found:
            env = read_env_file(path)
            layers.append((str(path), env.values))
            warnings += env.warnings
            warnings += [say("settings.ca_bundle_in_env_file", name=name, path=path)
                         for name in CA_BUNDLE_VARIABLES if env.values.get(name)]
    merged: dict[str, str] = {}
    origins: dict[str, str] = {}
    for name, layer in reversed(layers):
        for key, value in layer.items():
            # An empty value counts as unset: a copied .env.example with "MYSQL_PASSWORD="
            # must not hide the parent project's real password.
            if key in VARIABLES and value is not None and value.strip():
                merged[key] = value
                origins[key] = name
    return Environment(merged, origins, tuple(looked_in),
                       tuple(path for path, found in looked_in if found), tuple(warnings))


def load_settings(
    *,
    env_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    require_webhook: bool = True,
    project_dir: Path | None = None,
    require_database: bool = True,
    environment: Environment | None = None,
) -> Settings:
    """Build Settings, reporting every problem at once in one ConfigError.

    `environment`: what early_environment() read already (with the same env_file), so the
    .env files are not read and parsed a second time."""
    project_dir = project_dir or project_home()
    found = environment or read_environment(env_file=env_file, environ=environ,
                                            project_dir=project_dir)
    env, origins = dict(found.values), dict(found.origins)
    for name, value in (overrides or {}).items():
        if value is not None:
            env[name], origins[name] = value, f"--{name.lower().replace('_', '-')}"
    if not set(env) - {"SYNC_LANG"}:  # the console's language alone configures nothing
        raise nothing_configured(found.looked_in)
    read = _Variables(env, origins, found)
    # Read in this order: the problems are listed in it.
    webhook = _webhook_url(read, required=require_webhook)
    database_url = _database_url(read, required=require_database)
    timeout = read.number("BITRIX_TIMEOUT", "60", minimum=1)
    rate = read.number("BITRIX_RATE_LIMIT", "2", minimum=0.1)
    burst = read.number("BITRIX_RATE_BURST", "50", minimum=1, whole=True)
    retries = read.number("BITRIX_MAX_RETRIES", "6", minimum=0, whole=True)
    max_mb = read.number("BITRIX_MAX_RESPONSE_MB", str(MAX_RESPONSE_MB), minimum=1)
    verify = read.flag("BITRIX_VERIFY_SSL", "true")
    if verify and require_webhook and webhook.lower().startswith("https://"):
        _ca_bundle(read, os.environ if environ is None else environ)
    on_start = read.flag("SYNC_ON_START", "false")
    schedule, zone = read.get("SYNC_SCHEDULE", "0 0 * * *"), read.get("SYNC_TIMEZONE")
    # Checked here too, not only by the service: --check and every run see a bad schedule.
    read.problems += schedule_problems(schedule, zone)
    level = read.get("LOG_LEVEL", "INFO").upper()
    if level not in _LEVELS:
        read.problem("LOG_LEVEL", say("settings.one_of", allowed=", ".join(_LEVELS), raw=level))
    language = normal_language(read.get("SYNC_LANG"))
    if language is None:
        read.problem("SYNC_LANG", say("settings.one_of", allowed=", ".join(LANGUAGES),
                                      raw=read.get("SYNC_LANG")))
    mapping_file = _mapping_file(read, project_dir)
    full_every = read.duration("SYNC_FULL_EVERY", "24h")
    overlap = read.duration("SYNC_INCREMENTAL_OVERLAP", "10m")
    read.raise_problems()
    return Settings(
        webhook_url=webhook,
        database_url=database_url,
        bitrix_timeout=float(timeout),
        bitrix_verify_ssl=verify,
        bitrix_rate_limit=float(rate),
        bitrix_rate_burst=int(burst),
        bitrix_max_retries=int(retries),
        bitrix_max_response_mb=float(max_mb),
        sync_schedule=schedule,
        sync_timezone=zone or None,
        sync_on_start=on_start,
        mapping_file=mapping_file,
        sync_full_every=full_every,
        sync_incremental_overlap=overlap,
        models_module=read.get("MODELS_MODULE") or None,
        log_level=level,
        log_file=_path(read.get("LOG_FILE"), project_dir),
        language=language or DEFAULT_LANGUAGE,
        project_dir=project_dir,
        sources=found.sources,
        origins=tuple((name, env[name], origins[name]) for name in VARIABLES if name in env),
        warnings=found.warnings,
    )


class _Variables:
    """The merged variables, read one at a time; every problem is kept for one ConfigError."""

    def __init__(self, env: Mapping[str, str], origins: Mapping[str, str],
                 found: Environment) -> None:
        self.env = env
        self.origins = origins
        self.found = found
        self.problems: list[tuple[str, str]] = []

    def get(self, name: str, default: str = "") -> str:
        return (self.env.get(name) or default).strip()

    def problem(self, name: str, text: str) -> None:
        self.problems.append((name, text))

    def number(self, name: str, default: str, *, minimum: float, whole: bool = False) -> float:
        raw = self.get(name, default)
        try:
            value = float(raw)
        except ValueError:
            self.problem(name, say("settings.whole_number" if whole else "settings.number",
                                   raw=raw))
            return minimum
        if whole and not value.is_integer():  # int() would silently cut 2.5 to 2
            self.problem(name, say("settings.whole_number", raw=raw))
            return minimum
        if value < minimum:
            self.problem(name, say("settings.at_least", minimum=f"{minimum:g}", raw=raw))
        return value

    def duration(self, name: str, default: str) -> timedelta:
        raw = self.get(name, default)
        value = parse_duration(raw)
        if value is None:
            self.problem(name, say("settings.duration", raw=raw))
            return parse_duration(default) or timedelta(0)
        return value

    def flag(self, name: str, default: str) -> bool:
        raw = self.get(name, default)
        value = raw.lower()
        if value in _TRUE:
            return True
        if value not in _FALSE:
            self.problem(name, say("settings.flag", raw=raw))
        return False

    def raise_problems(self) -> None:
        if not self.problems:
            return
        # The schedule's own texts read "= 'value' is not ...": no colon before those.
        lines = "\n".join(f"  - {name}{'' if text.startswith('=') else ':'} {text}"
                          for name, text in self.problems)
        where = _read_from(self.found.looked_in, self.origins,
                           [name for name, _ in self.problems])
        also = "".join("\n" + say("warning", text=text) for text in self.found.warnings)
        raise ConfigError(say("settings.invalid") + "\n" + lines + where + also,
                          variables=tuple(name for name, _ in self.problems))


# What requests takes the trusted certificates from instead of certifi's, first one set
# wins (requests.sessions.merge_environment_settings); only the process environment counts.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def ca_bundle_variable(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The CA bundle variable requests will use and its value, taken as requests takes it
    (the first one set, not stripped); None: certifi's bundle."""
    return next(((name, environ[name]) for name in CA_BUNDLE_VARIABLES if environ.get(name)),
                None)


def _ca_bundle(read: _Variables, environ: Mapping[str, str]) -> None:
    """The CA bundle variable requests will use, when it names no file or folder: requests
    would stop the first request with a bare OSError; said here, before the run writes
    anything."""
    found = ca_bundle_variable(environ)
    if found is None or os.path.exists(found[1]):
        return
    name, path = found
    quoted = path.strip() != path or path[:1] in "'\"" or path[-1:] in "'\""
    read.problem(name, say("settings.ca_bundle_missing", path=repr(path))
                 + (say("settings.ca_bundle_quoted") if quoted else ""))
    read.origins.setdefault(name, ENVIRONMENT)


def _webhook_url(read: _Variables, *, required: bool) -> str:
    """BITRIX_WEBHOOK_URL with one trailing slash; its code is registered as a secret."""
    webhook = read.get("BITRIX_WEBHOOK_URL")
    if not webhook:
        if required:
            read.problem("BITRIX_WEBHOOK_URL",
                         say("settings.not_set_webhook", menu=say("settings.webhook_menu")))
        return webhook
    problem = _webhook_problem(webhook)
    if problem and not required:  # --status and --init-db never call the portal
        return ""
    if problem:
        read.problem("BITRIX_WEBHOOK_URL", problem)
        return webhook
    webhook = webhook.rstrip("/") + "/"
    register_secret(_WEBHOOK.match(urlsplit(webhook).path).group("code"))
    return webhook


def _database_url(read: _Variables, *, required: bool) -> str:
    """DATABASE_URL as given, or a MySQL URL built from the MYSQL_* variables."""
    database_url = read.get("DATABASE_URL")
    if database_url:
        if "://" not in database_url:
            read.problem("DATABASE_URL", say("settings.database_url"))
        return database_url
    user = read.get("MYSQL_USER")
    if not user and required:  # --discover needs only the webhook
        read.problem("MYSQL_USER", say("settings.not_set_mysql_user"))
    port = read.get("MYSQL_PORT", "3306")
    if not port.isdigit() or not 0 < int(port) < 65536:
        read.problem("MYSQL_PORT", say("settings.port", raw=port))
    password = read.env.get("MYSQL_PASSWORD") or ""  # as written: spaces may belong to it
    if password:
        register_secret(password)
    return (f"mysql+pymysql://{quote_plus(user)}:{quote_plus(password)}"
            f"@{read.get('MYSQL_HOST', 'localhost')}:{port}/"
            f"{read.get('MYSQL_DATABASE', 'telegram_miniapp')}?charset=utf8mb4")


def _mapping_file(read: _Variables, project_dir: Path) -> Path | None:
    """SYNC_MAPPING_FILE, or mapping.toml in the project folder when it exists."""
    mapping_file = _path(read.get("SYNC_MAPPING_FILE"), project_dir)
    if mapping_file is not None and not mapping_file.is_file():
        read.problem("SYNC_MAPPING_FILE", say("settings.file_not_found", path=mapping_file))
    elif mapping_file is None and (project_dir / "mapping.toml").is_file():
        mapping_file = project_dir / "mapping.toml"
    return mapping_file


_FOUND = {True: "settings.file_empty", False: "settings.file_not_there"}


def nothing_configured(looked_in: tuple[tuple[str, bool], ...]) -> ConfigError:
    """Not one setting anywhere: where settings were looked for and what to do next."""
    places = [f"  {i}. {path} ({say(_FOUND[found])})"
              for i, (path, found) in enumerate(looked_in, start=2)]
    return ConfigError(say("settings.nothing", places="\n".join(places),
                           menu=say("settings.webhook_menu")),
                       variables=("BITRIX_WEBHOOK_URL", "DATABASE_URL"))


def _read_from(looked_in: tuple[tuple[str, bool], ...], origins: dict[str, str],
               names: list[str]) -> str:
    """Where the variables named in the problems were set, and which files were read."""
    if not names:
        return ""
    set_where = [f"{name} ({_origin(origins[name])})" for name in names if name in origins]
    files = say("settings.then").join(
        f"{path} ({say('settings.file_read' if found else _FOUND[False])})"
        for path, found in looked_in)
    return ("\n" + (say("settings.set_in", places=", ".join(set_where)) + "\n"
                    if set_where else "") + say("settings.read_from", files=files))


def _origin(origin: str) -> str:
    return say("settings.environment") if origin == ENVIRONMENT else origin


def _webhook_problem(url: str) -> str | None:
    parts = urlsplit(url)
    shape = "https://<portal>/rest/<user id>/<code>/"
    # Show only where it points: a malformed URL may carry the code anywhere.
    shown = f"{parts.scheme}://{parts.hostname}/..." if parts.hostname else "(unparsable)"
    if parts.hostname == _EXAMPLE_HOST:
        return say("settings.example_webhook", menu=say("settings.webhook_menu"))
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return say("settings.webhook_shape", shape=shape, shown=shown)
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        return say("settings.webhook_https", shown=shown)
    if not _WEBHOOK.match(parts.path):
        return say("settings.webhook_path", shape=shape, shown=shown)
    return None


def _path(raw: str, base: Path) -> Path | None:
    if not raw:
        return None
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base / path



def early_environment(argv: Sequence[str]) -> tuple[str, Environment | None]:
    """The console's language as early as it can be known (before the settings are checked),
    and the environment read for it, to be handed to load_settings so the .env files are
    read once: SYNC_LANG from the process environment or the .env files (--env-file's first,
    when `argv` names one); the default when it is unset, wrong or unreadable. The
    environment is None for --demo (it reads no settings files) or when the files could
    not be read (load_settings reads them again and says why)."""
    env_file = None
    for index, arg in enumerate(argv):
        if arg == "--env-file" and index + 1 < len(argv):
            env_file = argv[index + 1]
        elif arg.startswith("--env-file="):
            env_file = arg.partition("=")[2]
    found = None
    if "--demo" not in argv:
        try:
            found = read_environment(env_file=env_file)
        except (ConfigError, OSError):  # told once the settings are read
            found = None
    # The environment wins anyway.
    raw = os.environ.get("SYNC_LANG", "").strip() or (
        found.values.get("SYNC_LANG", "") if found else "")
    return normal_language(raw) or DEFAULT_LANGUAGE, found
