"""Cron schedules in a time zone: parsing, checking and next fire times (pure, no I/O)."""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app.errors import ConfigError
from app.messages import Said, say

# The default SYNC_SCHEDULE, checked on every start: croniter (about 10 ms to import) is
# loaded only for a schedule of the user's own or when a schedule is computed.
_KNOWN_GOOD = frozenset({"0 0 * * *"})
_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_OFFSET_LIKE = re.compile(r"^(utc|gmt)?\s*[+-]\s*\d", re.IGNORECASE)
# Abbreviations Russian admins type, with the zone they mean. Spelling similarity would
# answer MST (US Mountain time) for MSK; abbreviations are not zone names at all.
_ABBREVIATIONS = {
    "MSK": "Europe/Moscow", "MSD": "Europe/Moscow", "MCK": "Europe/Moscow",
    "KALT": "Europe/Kaliningrad", "SAMT": "Europe/Samara", "YEKT": "Asia/Yekaterinburg",
    "OMST": "Asia/Omsk", "NOVT": "Asia/Novosibirsk", "KRAT": "Asia/Krasnoyarsk",
    "IRKT": "Asia/Irkutsk", "YAKT": "Asia/Yakutsk", "VLAT": "Asia/Vladivostok",
    "MAGT": "Asia/Magadan", "PETT": "Asia/Kamchatka",
}


def schedule_problems(expression: str, timezone: str | None) -> list[tuple[str, str]]:
    """(variable, problem) pairs for SYNC_SCHEDULE / SYNC_TIMEZONE; empty when both are fine."""
    return _check(" ".join(str(expression).split()), (timezone or "").strip() or None)[0]


def _check(expression: str, timezone: str | None) -> tuple[list[tuple[str, str]], _Zone | None]:
    problems: list[tuple[str, str]] = []
    expression_problem = _expression_problem(expression)
    if expression_problem:
        problems.append(("SYNC_SCHEDULE", expression_problem))
    zone: _Zone | None = None
    try:
        zone = _IanaZone(timezone) if timezone else _LocalZone()
    except _ZoneProblem as exc:
        problems.append(("SYNC_TIMEZONE", str(exc)))
    return problems, zone


class CronSchedule:
    """A cron expression in a time zone.

    The expression is read as wall-clock time in the zone (an IANA name such as
    Europe/Moscow, or None for the machine's local zone). Daylight-saving policy,
    the same as classic cron's:

    * a wall time that does not exist (spring forward, e.g. 02:30 in Europe/Berlin
      on the last Sunday of March) fires once at the first instant after the gap
      (03:00 local) — the run is late, never silently skipped; several skipped
      times collapse into that one run;
    * a wall time that happens twice (fall back) fires once, at its first
      occurrence — a 02:30 daily job never runs twice. Only schedules that fire
      every hour (hour field ``*``) also fire in the repeated hour, because for
      them the interval matters, not the time of day.
    """

    def __init__(self, expression: str, timezone: str | None = None) -> None:
        self.expression = " ".join(str(expression).split())
        self.timezone = (timezone or "").strip() or None
        problems, zone = _check(self.expression, self.timezone)
        if problems:
            if len(problems) == 1:
                name, text = problems[0]
                message = f"{name} {text}"
            else:
                lines = "\n".join(f"  - {name} {text}" for name, text in problems)
                message = say("cron.invalid_settings") + "\n" + lines
            raise ConfigError(message, variables=tuple(name for name, _ in problems))
        assert zone is not None
        self._zone = zone
        from croniter import croniter

        hours = croniter(self.expression).expanded[1]
        # "Every hour" schedules keep firing through a repeated (fall-back) hour.
        self._hourly = hours == ["*"] or set(hours) >= set(range(24))

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r}, {self.timezone!r})"

    @property
    def zone_name(self) -> str:
        """The zone's IANA name, or 'local time' for the machine's zone."""
        return self._zone.name

    def describe(self) -> str:
        """The expression and its zone, e.g. '0 0 * * * (Europe/Moscow)'."""
        return f"{self.expression} ({self._zone.name})"

    def localtime(self, moment: datetime) -> datetime:
        """The same instant expressed in the schedule's zone (for log lines)."""
        return self._zone.aware(as_utc(moment))

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after `moment` (aware, in the schedule's zone).

        Compare results in UTC: by PEP 495, == between zones is always False for
        the second occurrence of a repeated wall time (fold=1).
        """
        after = as_utc(moment)
        # A fall-back transition soon after `moment` repeats wall times that lie
        # *before* its own wall time, so start the wall-clock search that much earlier.
        offsets = [self._zone.offset(after + timedelta(days=d)) for d in (-1, 0, 1)]
        start = self._zone.to_wall(after) - (max(offsets) - min(offsets)) - timedelta(minutes=1)
        from croniter import croniter

        walls = croniter(self.expression, start)
        best: datetime | None = None
        while True:
            first, second = self._instants(walls.get_next(datetime))
            candidates = [first] if second is None or not self._hourly else [first, second]
            for instant in candidates:
                if instant > after and (best is None or instant < best):
                    best = instant
            # Later wall times never map to instants before `first`.
            if best is not None and first >= best:
                return self._zone.aware(best)

    def _instants(self, wall: datetime) -> tuple[datetime, datetime | None]:
        """UTC instants of a wall time: (first, second occurrence or None)."""
        early = self._zone.from_wall(wall, fold=0)
        late = self._zone.from_wall(wall, fold=1)
        early, late = min(early, late), max(early, late)
        exists = [t for t in (early, late) if self._zone.to_wall(t) == wall]
        if not exists:
            return self._gap_end(early, late, wall), None
        if len(exists) == 2 and early != late:
            return early, late
        return exists[0], None

    def _gap_end(self, before: datetime, after: datetime, wall: datetime) -> datetime:
        """The first instant whose wall time is at or past `wall` (the end of a DST gap)."""
        lo, hi = int(before.timestamp()), int(after.timestamp())
        while hi - lo > 1:  # zone transitions happen on whole seconds
            mid = (lo + hi) // 2
            if self._zone.to_wall(datetime.fromtimestamp(mid, UTC)) >= wall:
                hi = mid
            else:
                lo = mid
        return datetime.fromtimestamp(hi, UTC)


# --- zones -----------------------------------------------------------------------------------


class _ZoneProblem(Exception):
    pass


class _Zone:
    """Wall-clock conversions the schedule needs, for an IANA zone or the machine's zone."""

    name: str

    def to_wall(self, instant: datetime) -> datetime:
        """Naive local wall time of a UTC instant."""
        raise NotImplementedError

    def from_wall(self, wall: datetime, *, fold: int) -> datetime:
        """UTC instant of a naive wall time (PEP 495 fold picks the occurrence)."""
        raise NotImplementedError

    def aware(self, instant: datetime) -> datetime:
        """The instant as an aware datetime in this zone."""
        raise NotImplementedError

    def offset(self, instant: datetime) -> timedelta:
        return self.to_wall(instant) - instant.replace(tzinfo=None)


class _IanaZone(_Zone):
    def __init__(self, key: str) -> None:
        try:
            self._tz = ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise _ZoneProblem(_zone_problem(key)) from exc
        self.name = key

    def to_wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self._tz).replace(tzinfo=None, fold=0)

    def from_wall(self, wall: datetime, *, fold: int) -> datetime:
        return wall.replace(tzinfo=self._tz, fold=fold).astimezone(UTC)

    def aware(self, instant: datetime) -> datetime:
        return instant.astimezone(self._tz)


class _LocalZone(_Zone):
    # The machine's zone has no IANA name on Windows, but naive datetime.timestamp()
    # and fromtimestamp() follow the OS rules, folds and gaps included (PEP 495).
    name = "local time"

    def to_wall(self, instant: datetime) -> datetime:
        return datetime.fromtimestamp(instant.timestamp()).replace(fold=0)

    def from_wall(self, wall: datetime, *, fold: int) -> datetime:
        return datetime.fromtimestamp(wall.replace(fold=fold).timestamp(), UTC)

    def aware(self, instant: datetime) -> datetime:
        return instant.astimezone()


# --- helpers ---------------------------------------------------------------------------------


def _expression_problem(expression: str) -> str | None:
    """Why the cron expression is unusable, or None."""
    shown = repr(expression)
    hint = say("cron.hint", fields=say("cron.fields"), examples=say("cron.examples"))
    if not expression:
        return say("cron.empty", hint=hint)
    fields = expression.split()
    if fields[0].startswith("@"):
        if len(fields) != 1 or fields[0].lower() not in _ALIASES:
            return say("cron.bad_alias", shown=shown, hint=hint,
                       aliases=", ".join(sorted(_ALIASES)))
    elif len(fields) != 5:
        extra = say("cron.no_seconds") if len(fields) in (6, 7) else ""
        return say("cron.field_count", shown=shown, count=len(fields), extra=extra, hint=hint)
    if expression in _KNOWN_GOOD:
        return None
    from croniter import CroniterBadDateError, CroniterError, croniter

    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        return say("cron.never", shown=shown, examples=say("cron.examples"))
    except (CroniterError, ValueError, KeyError, TypeError, IndexError) as exc:
        return say("cron.invalid", shown=shown, why=exc, hint=hint)
    return None


def _zone_problem(key: str) -> str:
    try:
        ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return say("cron.no_tzdata", key=key)
    if _OFFSET_LIKE.match(key):
        return say("cron.offset", key=key)
    names = available_timezones()
    lowered = {name.lower(): name for name in names}
    close = [lowered[key.lower()]] if key.lower() in lowered else []
    if key.upper() in _ABBREVIATIONS:
        close = [_ABBREVIATIONS[key.upper()]]
    # "Moscow" or "yekaterinburg": the city part of a zone name.
    cities = {name.rsplit("/", 1)[-1].lower(): name for name in names if "/" in name}
    close = close or ([cities[key.lower()]] if key.lower() in cities else [])
    close = close or difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.6)
    suggestion = say("cron.did_you_mean", zone=close[0]) if close else ""
    return say("cron.unknown_zone", key=key, suggestion=suggestion)


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, got naive {moment!r}")
    return moment.astimezone(UTC)


def format_moment(moment: datetime) -> str:
    """An aware moment as 'YYYY-MM-DD HH:MM:SS+HH:MM' for log lines."""
    return moment.isoformat(sep=" ", timespec="seconds")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta | None:
    """'26h' -> 26 hours, '0' -> zero (units s, m, h, d); None when it is not a duration."""
    text = text.strip().lower()
    if text == "0":
        return timedelta(0)
    match = _DURATION.fullmatch(text)
    if not match:
        return None
    return timedelta(seconds=float(match.group(1)) * DURATION_UNITS[match.group(2)])


def _parts(delta: timedelta) -> tuple[int, int, int, int]:
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return days, hours, minutes, seconds


def format_duration(delta: timedelta) -> str:
    """A rough human length such as '41s', '3m 5s', '2h 10m' or '1d 3h'."""
    days, hours, minutes, seconds = _parts(delta)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def said_duration(delta: timedelta) -> Said:
    """format_duration's length in the console's words ('3 мин 5 с'), English for the log."""
    days, hours, minutes, seconds = _parts(delta)
    if days:
        return say("log.days", days=days, hours=hours)
    if hours:
        return say("log.hours", hours=hours, minutes=minutes)
    if minutes:
        return say("log.minutes", minutes=minutes, seconds=seconds)
    return say("log.seconds", seconds=seconds)
