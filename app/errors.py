"""One exception hierarchy for bitrix-sync, split by what the caller should do.

    SyncError                      root: every error raised on purpose (exit 1 unless below)
    ├── ConfigError                fix a setting, the mapping or the schema (exit 2)
    │   └── MappingError           fix mapping.toml or a syncer declaration
    ├── PortalError                Bitrix24 answered badly (method, status, code)
    │   ├── PortalRetriableError   5xx, QUERY_LIMIT_EXCEEDED; OPERATION_TIME_LIMIT (429) is one
    │   │   │                      too, but the client waits for the budget instead of backing off
    │   │   ├── PortalTransportError  no usable HTTP answer: no connection, a timeout, a body
    │   │   │   │                  cut off or not JSON (retried on the portal's shared schedule)
    │   │   │   └── PortalCutOffError  a request cut off: 504, no answer in time, line dropped;
    │   │   │                      a batch is retried with half the commands
    │   │   └── PortalDatabaseError  ERROR_CORE "SQL query error!": the portal's own database
    │   │                          failed; retried once at most, then the directory fails
    │   ├── PortalFatalError       the whole run cannot go on (exit 3)
    │   │   ├── PortalAuthError    bad webhook code, no auth, expired webhook
    │   │   ├── PortalUnreachableError  no usable answer to any request: host unknown,
    │   │   │                      connection refused, timeouts, pages that are not JSON
    │   │   ├── PortalOverloadError     OVERLOAD_LIMIT: manual block by Bitrix24 support
    │   │   ├── PortalPlanError    the portal's plan has no REST (ACCESS_DENIED at the door)
    │   │   └── PortalAnswerTooLargeError  an answer over BITRIX_MAX_RESPONSE_MB
    │   ├── PortalMethodError      unknown method, access denied, bad params: one directory fails
    │   └── IncompleteReadError    a list read ended early (fewer rows than its total, or the
    │                              id filter ignored): one directory fails, nothing deactivated
    ├── DatabaseError              cannot reach the database or run a statement (exit 3)
    ├── RecordError                one record cannot be stored (directory, btxid, field)
    ├── LockHeldError              another run holds the sync lock (exit 4)
    └── LockLostError              this run lost the sync lock mid-run and stopped (exit 4)

    StopRequested                  not an error: the run was asked to stop (see its docstring)

Who catches them: the client retries a PortalRetriableError. The engine
catches a RecordError (that record fails alone) and a PortalError (that
directory fails); a PortalFatalError or a DatabaseError ends the run.
run_sync() catches every SyncError left, and any other exception as a bug
(unexpected_error), into the run's report: it never raises them. cli.py
catches SyncError at its boundary, for what runs outside run_sync (flags,
settings, --check, --discover, --status, --init-db); service.py catches
ConfigError at start; --check catches them per item to list every problem.
EXIT_CODES below lists every exit code the programs return.

Every message is ours, says what to do, and never contains the webhook code
(see app.masking).
"""

from __future__ import annotations

import textwrap
from typing import NamedTuple

from app.masking import mask
from app.messages import Said, language, say


class SyncError(Exception):
    """Root of every error bitrix-sync raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(mask(message))
        # The English wording of a catalog text, for the log file (app.messages.Said).
        self.en = mask(getattr(message, "en", message))
        # Its wording in every language, for the run history (--status says it again).
        self.words = {code: mask(text) for code, text in getattr(message, "words", {}).items()}

    @property
    def message(self) -> str:
        return str(self)

    @property
    def said(self) -> Said:
        """The message for the console that keeps its English wording for --json and history."""
        return Said(str(self), self.en, self.words)


class ConfigError(SyncError):
    """A setting is missing or wrong; nothing was written."""

    exit_code = 2

    def __init__(self, message: str, *, variables: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.variables = variables


class MappingError(ConfigError):
    """The directory mapping (defaults + mapping.toml) is wrong."""


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

    # Retries worth making at most, whatever the client's own limit; None: no cap of its own.
    retry_at_most: int | None = None


class PortalDatabaseError(PortalRetriableError):
    """The portal's own database failed (ERROR_CORE "SQL query error!"); retrying many
    times is pointless."""

    retry_at_most = 1


class PortalTransportError(PortalRetriableError):
    """No usable HTTP answer: no connection, a timeout, a body cut off or not Bitrix24 JSON.

    `reached` is False when no connection to the portal was made at all (DNS, refused,
    connect timeout). The message names no method (the log line of a retry does).
    """

    def __init__(self, message: str, *, method: str | None = None, status: int | None = None,
                 reached: bool = True) -> None:
        super().__init__(message, method=method, status=status)
        self.reached = reached


class PortalCutOffError(PortalTransportError):
    """The request was cut off: a gateway timeout (504), no answer within BITRIX_TIMEOUT, or
    the connection closed without an answer. A cloud portal cuts any request at 60 s."""


class PortalFatalError(PortalError):
    """The portal cannot be used at all in this run."""

    exit_code = 3


class PortalAuthError(PortalFatalError):
    """The webhook was rejected (wrong code, removed, expired, no scope)."""


class PortalUnreachableError(PortalFatalError):
    """No request gets a usable answer: the host is unknown, refuses or does not answer."""


class PortalOverloadError(PortalFatalError):
    """Bitrix24 support has blocked the portal's REST API (OVERLOAD_LIMIT)."""


class PortalPlanError(PortalFatalError):
    """The portal's plan does not include REST (ACCESS_DENIED when the webhook is checked)."""


class PortalAnswerTooLargeError(PortalFatalError):
    """An answer grew past the size cap (BITRIX_MAX_RESPONSE_MB); reading it was stopped."""


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


class LockLostError(SyncError):
    """The run's lock went away mid-run (its connection died); it stopped writing."""

    exit_code = 4


class RunInterrupted(KeyboardInterrupt):
    """Ctrl+C ended a run: the KeyboardInterrupt again, with the run's report (what was
    committed, what was rolled back) for the console to tell."""

    def __init__(self, report: object) -> None:
        super().__init__()
        self.report = report


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
    return SyncError(say("unexpected", what=describe_exception(exc)))


# Ctrl+C (KeyboardInterrupt) in the CLI; the service exits 128 + the signal's number.
INTERRUPTED = 130


class ExitCode(NamedTuple):
    """One exit code and what it means: in English for --help, in Russian for the README."""

    code: int
    meaning: str
    meaning_ru: str


# Every exit code cli.py, service.py and the cron scripts return. Both --help texts show
# this table and the README's "Коды завершения" must equal it (tests/test_exit_codes.py).
EXIT_CODES = (
    ExitCode(0, "everything synced (--check: everything is in place); service.py: stopped by "
                "a signal (Ctrl+C, Ctrl+Break, SIGTERM, SIGHUP)",
             "всё синхронизировано (`--check`: всё готово); `service.py`: остановлен сигналом "
             "(Ctrl+C, Ctrl+Break, SIGTERM, SIGHUP)"),
    ExitCode(SyncError.exit_code,
             "finished, but some records or directories failed (see the report); with --status "
             "--max-age: no successful run within AGE; an unexpected error (--verbose shows the "
             "traceback); service.py: the service itself failed (see its log)",
             "синхронизация прошла, но часть записей или справочников с ошибками (см. отчёт); "
             "с `--status --max-age`: успешного запуска не было дольше AGE; непредвиденная "
             "ошибка (`--verbose` покажет traceback); `service.py`: сбой самого сервиса "
             "(см. его лог)"),
    ExitCode(ConfigError.exit_code,
             "usage, settings, mapping or database schema error, a Python package is missing "
             "or Python is older than 3.11: nothing was written",
             "ошибка в параметрах, настройках, сопоставлении или схеме базы, не установлен "
             "пакет Python или Python старше 3.11; ничего не записано"),
    ExitCode(DatabaseError.exit_code,
             "cannot reach or authenticate to Bitrix24 or the database, or the database failed "
             "mid-run (a lost connection, a deadlock, a full disk)",
             "не удаётся подключиться или авторизоваться в Bitrix24 или в базе данных, или база "
             "отказала посреди запуска (оборвалось соединение, взаимоблокировка, кончилось "
             "место)"),
    ExitCode(LockHeldError.exit_code,
             "another sync is running against the same database: this one did not start; or "
             "this run lost its lock mid-run and stopped before writing more",
             "уже идёт другая синхронизация с той же базой; этот запуск не начинался. Или "
             "запуск потерял блокировку посреди работы и остановился, не записав больше "
             "ничего"),
    ExitCode(127, "sync-cron.sh, sync-cron.ps1: no usable Python found (none at all; "
                  "sync-cron.ps1: or one older than 3.11); Task Scheduler shows 0x7F",
             "`sync-cron.sh`, `sync-cron.ps1`: не найден подходящий Python (никакого; у "
             "`sync-cron.ps1` — или только старше 3.11); Планировщик заданий показывает 0x7F"),
    ExitCode(129, "service.py: a second SIGHUP ended it at once",
             "`service.py`: повторный SIGHUP завершил его сразу"),
    ExitCode(INTERRUPTED, "cli.py (and the cron scripts running it): stopped by Ctrl+C; "
                          "service.py: a second Ctrl+C (or Ctrl+Break) ended it at once; "
                          "Task Scheduler shows 0x82",
             "`cli.py` (и запустившие его `sync-cron.*`): прерван по Ctrl+C; `service.py`: "
             "повторный Ctrl+C (или Ctrl+Break) завершил его сразу; Планировщик заданий "
             "показывает 0x82"),
    ExitCode(143, "service.py: a second SIGTERM ended it at once",
             "`service.py`: повторный SIGTERM завершил его сразу"),
)


def exit_codes_help() -> str:
    """EXIT_CODES as the epilog of cli.py's and service.py's --help."""
    lines = [say("help.exit_codes")]
    for row in EXIT_CODES:
        meaning = row.meaning_ru.replace("`", "") if language() == "ru" else row.meaning
        lines += textwrap.wrap(meaning, width=79, initial_indent=f"  {row.code:<3}  ",
                               subsequent_indent=" " * 7, break_on_hyphens=False)
    return "\n".join(lines)
