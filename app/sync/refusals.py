"""Why the database refused one record, in the console's language (issue 18 §1).

The cause is said in plain words from the server's error number, and the server's own
words follow in brackets (they name the column and the value; the server speaks English).
"""

from __future__ import annotations

from app.db.connect import RECORD_CAUSES, describe_db_error, error_code
from app.messages import Said, say

# SQLite's words for the same causes (its errors carry no number).
_SQLITE_CAUSES = {
    "not null constraint failed": "record.db_null",
    "unique constraint failed": "record.db_duplicate",
    "foreign key constraint failed": "record.db_foreign_key",
    "check constraint failed": "record.db_constraint",
}


def refusal(exc: BaseException) -> Said:
    """'the database refused the record: <cause> (<server's words>)' for a driver error."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    code = error_code(exc)
    detail = str(args[1]) if code is not None and len(args) > 1 else (
        (str(orig).splitlines() or [type(orig).__name__])[0])
    cause = RECORD_CAUSES.get(code) if code is not None else next(
        (key for words, key in _SQLITE_CAUSES.items() if words in detail.lower()), None)
    why = say(cause, detail=detail) if cause else _described(exc)
    return say("record.refused", why=why)


def _described(exc: BaseException) -> Said:
    described = describe_db_error(exc)
    return described if isinstance(described, Said) else say("record.db_other", detail=described)
