"""One exception hierarchy for bitrix-sync, split by what the caller should do.

    SyncError                      root; the CLI catches this and nothing else
    ├── ConfigError                fix a setting (exit 2)
    │   ├── MappingError           fix mapping.toml or a syncer declaration
    │   └── SchemaError            fix the database schema (table / column missing)
    ├── PortalError                Bitrix24 answered badly (method, status, code)
    │   ├── PortalRetriableError   timeouts, dropped connections, 5xx, non-JSON bodies,
    │   │                          QUERY_LIMIT_EXCEEDED; OPERATION_TIME_LIMIT (429) is one too,
    │   │                          but the client waits for the budget instead of backing off
    │   ├── PortalFatalError       the whole run cannot go on (exit 3)
    │   │   ├── PortalAuthError    bad webhook code, no auth, expired webhook
    │   │   ├── PortalUnreachableError  host unknown / connection refused
    │   │   └── PortalOverloadError     OVERLOAD_LIMIT: manual block by Bitrix24 support
    │   ├── PortalMethodError      unknown method, access denied, bad params: one directory fails
    │   └── IncompleteReadError    a list read ended early (fewer rows than its total, or the
    │                              id filter ignored): one directory fails, nothing deactivated
    ├── DatabaseError              cannot reach the database or run a statement (exit 3)
    ├── RecordError                one record cannot be stored (directory, btxid, field)
    └── LockHeldError              another run holds the sync lock (exit 4)

    StopRequested                  not an error: the run was asked to stop (see its docstring)

Every message is ours, says what to do, and never contains the webhook code
(see app.masking).
"""

from __future__ import annotations

from app.masking import mask


class SyncError(Exception):
    """Root of every error bitrix-sync raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(mask(message))

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(SyncError):
    """A setting is missing or wrong; nothing was written."""

    exit_code = 2

    def __init__(self, message: str, *, variables: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.variables = variables


class MappingError(ConfigError):
    """The directory mapping (defaults + mapping.toml) is wrong."""


class SchemaError(ConfigError):
    """A table or column the mapping needs does not exist."""


class PortalError(SyncError):
    """Bitrix24 answered with an error or not at all."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.status = status
        self.code = code


class PortalRetriableError(PortalError):
    """A transient portal failure; worth another try after a pause."""


class PortalFatalError(PortalError):
    """The portal cannot be used at all in this run."""

    exit_code = 3


class PortalAuthError(PortalFatalError):
    """The webhook was rejected (wrong code, removed, expired, no scope)."""


class PortalUnreachableError(PortalFatalError):
    """The portal host cannot be reached."""


class PortalOverloadError(PortalFatalError):
    """Bitrix24 support has blocked the portal's REST API (OVERLOAD_LIMIT)."""


class PortalMethodError(PortalError):
    """One method call failed for a reason a retry will not fix."""


class IncompleteReadError(PortalError):
    """A directory read ended before every page arrived."""


class DatabaseError(SyncError):
    """The database cannot be reached or refused a statement."""

    exit_code = 3


class RecordError(SyncError):
    """One record cannot be stored; the rest of the directory goes on."""

    def __init__(
        self, message: str, *, directory: str, btxid: object = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.directory = directory
        self.btxid = btxid
        self.field = field


class LockHeldError(SyncError):
    """Another sync run is in progress against the same database."""

    exit_code = 4


class StopRequested(Exception):
    """The run was asked to stop; raised where that is noticed, from the reader up.

    Not a SyncError: nothing went wrong. The engine catches it and rolls the
    directory back.
    """


def describe_exception(exc: BaseException) -> str:
    """An exception we did not raise on purpose as 'TypeName: text', secrets masked."""
    return f"{type(exc).__name__}: {mask(exc)}"


def unexpected_error(exc: BaseException) -> SyncError:
    """A bug told as our error, in one line: what it was and where the traceback is (exit 1)."""
    return SyncError(f"Unexpected error: {describe_exception(exc)} "
                     "(run with --verbose for the traceback)")
