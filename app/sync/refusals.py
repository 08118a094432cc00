"""Why the database refused one record, in the console's language (issue 18 §1).

The cause is said in plain words from the server's error number, and the server's own
words follow in brackets (they name the column and the value; the server speaks English).
"""

from __future__ import annotations

from app.db.connect import describe_db_error, error_code
from app.messages import Said, say

# MySQL/MariaDB error numbers of a record's values (app/db/connect.py's _RECORD_CODES).
_CAUSES = {
    1048: "record.db_null",
    1062: "record.db_duplicate",
    1118: "record.db_row_size",
    1264: "record.db_out_of_range", 1690: "record.db_out_of_range",
    1406: "record.db_too_long", 1265: "record.db_too_long",
    1292: "record.db_date", 1441: "record.db_date",
    1300: "record.db_bad_value", 1366: "record.db_bad_value", 1367: "record.db_bad_value",
    1411: "record.db_bad_value", 1416: "record.db_bad_value", 3140: "record.db_bad_value",
    1364: "record.db_no_default",
    1451: "record.db_foreign_key", 1452: "record.db_foreign_key",
    1216: "record.db_foreign_key", 1217: "record.db_foreign_key",
    3819: "record.db_constraint", 4025: "record.db_constraint",
}
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
    cause = _CAUSES.get(code) if code is not None else next(
        (key for words, key in _SQLITE_CAUSES.items() if words in detail.lower()), None)
    why = say(cause, detail=detail) if cause else _described(exc)
    return say("record.refused", why=why)


def _described(exc: BaseException) -> Said:
    described = describe_db_error(exc)
    return described if isinstance(described, Said) else say("record.db_other", detail=described)
