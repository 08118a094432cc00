"""The portal's clock and how the server reads and writes dates.

Sources (Bitrix's own code, mirror ``avshatalov48/bitrix-core-business``):

* The ``time`` block is the server's clock: ``CRestServer::appendDebugInfo``
  (modules/rest/classes/general/rest.php) puts ``date('c', start)`` into ``date_start``,
  ISO 8601 in the server's zone, whole seconds. A portal whose clock runs behind or ahead
  of the client's stamps records and answers with *its* time; ``clock_offset`` sets that.
* A site-format value (``31.10.2025 14:05:00`` on a Russian portal) in a filter goes
  through ``CAllDatabase::CharToDateFunction`` (modules/main/classes/general/database.php):
  it is parsed in the culture's FORMAT_DATETIME only (a mismatch gives ``false``) and read
  as the *webhook user's* local time: ``CTimeZone::GetOffset()`` (the user's zone minus
  the server's) is subtracted. ``user_zone_offset`` is that difference. A value that does
  not parse matches no rows (docs ``api-reference/user/user-get.md``: "If the value is not
  recognized as a date, the condition retrieves no records").
* crm.item.list runs a date filter value through ``CRestUtil::unConvertDateTime``
  (modules/rest/classes/general/rest_util.php): ``strtotime`` (an ISO string with an
  offset is exact, a naive one is read in the server's zone), then the same
  CharToDateFunction, so the instant compared is the value minus the user's offset.
"""

import functools
import re
import time
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Protocol

PORTAL_TZ = timezone(timedelta(hours=3), "MSK")

# Bitrix FORMAT_DATETIME tokens -> strftime (CDatabase::DateFormatToPHP): HH is 24-hour,
# H 12-hour, T am/pm, TT AM/PM.
_TOKENS = {"YYYY": "%Y", "MM": "%m", "DD": "%d", "HH": "%H", "MI": "%M", "SS": "%S",
           "TT": "%p", "T": "%p", "H": "%I"}
_TOKEN_RE = re.compile("|".join(_TOKENS))
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?)?"
                  r"(?:Z|[+-]\d{2}:?\d{2})?")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?")


class ClockOptions(Protocol):
    clock_offset: float
    site_format: str
    user_zone_offset: int
    zone: tzinfo  # the portal's time zone (a fixed offset, or zoneinfo with DST)


def portal_now(options: ClockOptions) -> float:
    """The portal's clock: ours shifted by ``clock_offset`` seconds."""
    return time.time() + options.clock_offset


def iso(timestamp: float, zone: tzinfo = PORTAL_TZ) -> str:
    """An instant as the REST API writes it: ISO 8601 in the portal's zone, whole seconds."""
    return datetime.fromtimestamp(timestamp, zone).isoformat(timespec="seconds")


def zone_offset(timestamp: float, zone: tzinfo) -> int:
    """The zone's UTC offset (seconds) in force at the instant."""
    return int(datetime.fromtimestamp(timestamp, zone).utcoffset().total_seconds())


def wall(timestamp: float, zone: tzinfo) -> float:
    """The server's wall clock at the instant, as seconds (what a DATETIME column holds): in
    autumn two instants an hour apart share one wall clock."""
    return timestamp + zone_offset(timestamp, zone)


@functools.lru_cache(maxsize=1 << 18)
def text_wall(value: str, zone: tzinfo) -> float | None:
    """A date as strtotime() reads it, as the server's wall clock in `zone` (what a DATETIME
    column holds); None when it does not parse. Remembered: a filter on a date field reads
    the value of every row of the list, and the server's index does not parse them again
    for every query."""
    at = strtotime(value, zone)
    return None if at is None else wall(at, zone)


def _strftime_pattern(site_format: str) -> str:
    return _TOKEN_RE.sub(lambda match: _TOKENS[match.group(0)], site_format)


def site_text(timestamp: float, options: ClockOptions) -> str:
    """An instant in the site format, in the webhook user's local time (how lists show it)."""
    local = datetime.fromtimestamp(wall(timestamp, options.zone) + options.user_zone_offset, UTC)
    text = local.strftime(_strftime_pattern(options.site_format))
    if "T" in options.site_format.replace("TT", ""):
        text = text.replace("AM", "am").replace("PM", "pm")
    return text


def site_wall(value: Any, options: ClockOptions) -> float | None:
    """A filter value in the site format as CharToDateFunction hands it to the database: the
    server's wall clock (seconds, compare with ``wall``) = the text minus the user's personal
    difference; None if it does not parse."""
    if not isinstance(value, str):
        return None
    try:
        naive = datetime.strptime(value.strip(), _strftime_pattern(options.site_format))
    except ValueError:
        return None
    return naive.replace(tzinfo=UTC).timestamp() - options.user_zone_offset


def stored_site_instant(value: Any, options: ClockOptions) -> float | None:
    """A stamp given by seed data or a test (``dd.mm.yyyy hh:mm:ss`` or ISO, the portal's
    zone when naive), whatever the portal's own site format."""
    return strtotime(value, options.zone)


def stamp_instant(value: Any, options: ClockOptions) -> float:
    """A record's TIMESTAMP_X as stored: an instant; seed data may give it in the site format,
    and a record stored without one is stamped now."""
    if isinstance(value, str):
        value = stored_site_instant(value, options)
    return portal_now(options) if value is None else float(value)


def filter_wall(value: Any, options: ClockOptions, instant: float | None) -> float | None:
    """A TIMESTAMP_X filter value as the server compares it (with ``wall``): the site format's
    wall clock, else ``instant`` (the value read another way, or None) written as the server's
    wall clock with no offset, as CRestUtil::unConvertDateTime does."""
    at = site_wall(value, options)
    if at is None and instant is not None:
        at = wall(instant, options.zone) - options.user_zone_offset
    return at


def iso_instant(value: Any, zone: tzinfo = PORTAL_TZ) -> float | None:
    """An ISO 8601 value (naive: the server's zone) as an instant; None for anything else."""
    if not isinstance(value, str) or not _ISO.fullmatch(value.strip()):
        return None
    return strtotime(value, zone)


def strtotime(value: Any, zone: tzinfo = PORTAL_TZ) -> float | None:
    """What PHP's strtotime makes of the forms a client sends: ISO 8601 (with or without an
    offset; naive is the server's zone) or dd.mm.yyyy [hh:mm[:ss]]; None when it cannot."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _ISO.fullmatch(text):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        match = _DOTTED.fullmatch(text)
        if match is None:
            return None
        day, month, year, hour, minute, second = (int(g) if g else 0 for g in match.groups())
        try:
            moment = datetime(year, month, day, hour, minute, second)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()
