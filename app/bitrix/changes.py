"""What a list method offers an incremental read: its modification field and how to bound it.

Sources (Bitrix's server code; mirrors ``avshatalov48/bitrix-core-business`` = CORE and
``avshatalov48/bitrix24-core-corp`` = CORP; each method's field is in its profile,
app/bitrix/methods.py):

* crm.item.list filters ``>=updatedTime`` through ``CRestUtil::unConvertDateTime`` without
  the offset flag (CORP crm/lib/controller/base.php, ``prepareDateTimeFieldsForFilter``):
  strtotime reads our ISO string exactly, but ``CharToDateFunction`` (CORE
  main/classes/general/database.php) then subtracts the webhook user's personal zone
  difference, so the bound the database sees moves by that difference. We send ISO with the
  portal's offset and move the bound back by the difference's size (safe either way).
* The legacy crm.*.list methods take ``>=DATE_MODIFY`` with the offset flag
  (``CCrmRestProxyBase::internalizeFilterFields``, CORP crm/classes/general/restservice.php):
  exact in any zone.
* user.get passes ``>=TIMESTAMP_X`` to the ORM unconverted (CORE rest/lib/api/user.php,
  ``prepareUserFilter``), and lists.element.get to ``CIBlockElement::GetList`` (CORE
  lists/lib/rest/restservice.php): only the portal's site format works, read as the webhook
  user's local time. REST has no method that tells the site format; the ``TIMESTAMP_X`` of
  ``lists.get`` rows shows it, and ``profile`` gives the user's UTC offset
  (``TIME_ZONE_OFFSET``, CORE rest/classes/general/rest_provider.php).
* Every other method (department.get, crm.type.list, unknown ones) is read in full.

The watermark comes from the portal's own clock: the ``time`` block of a successful answer
(``CRestServer::appendDebugInfo``, CORE rest/classes/general/rest.php: ``date_start`` is
``date('c')`` of the server, in its zone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from app.bitrix.methods import ChangeField, profile
from app.messages import Said, say


def change_field(method: str) -> ChangeField | None:
    """The method's modification field, or None when it cannot be read incrementally."""
    return profile(method).change


def no_change_field(method: str) -> Said:
    """Why a method is read in full every time."""
    return say("reason.no_change_field", method=method)


@dataclass(frozen=True)
class PortalTime:
    """An instant on the portal's clock, with the portal's UTC offset at that moment."""

    at: datetime  # aware, UTC
    offset: int  # seconds

    @property
    def local(self) -> datetime:
        return self.at.astimezone(timezone(timedelta(seconds=self.offset)))


def portal_time(block: Any) -> PortalTime | None:
    """The start of an answer on the portal's clock (its ``time`` block), or None."""
    if not isinstance(block, dict):
        return None
    text = block.get("date_start")
    start = block.get("start")
    moment = None
    if isinstance(text, str):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        return None
    offset = int(moment.utcoffset().total_seconds())
    if isinstance(start, int | float) and not isinstance(start, bool):
        # `start` keeps the fraction `date_start` drops; both are the server's clock.
        moment = datetime.fromtimestamp(int(start), UTC)
    return PortalTime(moment.astimezone(UTC), offset)


# --- the site format ------------------------------------------------------------------------

_SAMPLE = re.compile(r"(\d{1,4})([./-])(\d{1,2})\2(\d{1,4}) (\d{1,2}):(\d{2})(:\d{2})?"
                     r"(?: ?([aApP][mM]))?")
_TOKENS = {"YYYY": "%Y", "MM": "%m", "DD": "%d", "HH": "%H", "MI": "%M", "SS": "%S",
           "TT": "%p", "T": "%p", "H": "%I"}
_TOKEN_RE = re.compile("|".join(_TOKENS))


def learn_site_format(samples: list[Any]) -> str | None:
    """The portal's FORMAT_DATETIME (e.g. ``DD.MM.YYYY HH:MI:SS``) from values it wrote.

    None when the samples do not show it beyond doubt (a slashed date whose day and
    month are both 12 or less, with no am/pm, could be either way round).
    """
    found: set[str] = set()
    for sample in samples:
        if not isinstance(sample, str):
            continue
        match = _SAMPLE.fullmatch(sample.strip())
        if match is None:
            return None
        first, sep, second, third, _, _, seconds, half = match.groups()
        clock = ("H:MI" if half else "HH:MI") + (":SS" if seconds else "")
        if half:
            clock += " TT" if half.isupper() else " T"
        if len(first) == 4:
            date = f"YYYY{sep}MM{sep}DD"
        elif len(third) != 4:
            return None
        elif sep == "." or int(first) > 12:
            date = f"DD{sep}MM{sep}YYYY"
        elif int(second) > 12 or half:
            date = f"MM{sep}DD{sep}YYYY"  # the English culture: MM/DD/YYYY H:MI:SS T
        else:
            continue  # this one cannot tell; another sample may
        found.add(f"{date} {clock}")
    return found.pop() if len(found) == 1 else None


def site_text(local: datetime, site_format: str) -> str:
    """A wall-clock time written in the site format."""
    pattern = _TOKEN_RE.sub(lambda match: _TOKENS[match.group(0)], site_format)
    text = local.strftime(pattern)
    if "T" in site_format.replace("TT", ""):
        text = text.replace("AM", "am").replace("PM", "pm")
    return text


# --- bounds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortalZone:
    """What the bound of a date filter depends on: the portal's offset and the user's."""

    portal_offset: int  # seconds, from the time block
    user_offset: int  # seconds, profile.TIME_ZONE_OFFSET
    site_format: str | None = None

    @property
    def difference(self) -> int:
        """The webhook user's personal zone minus the portal's (CTimeZone::GetOffset)."""
        return self.user_offset - self.portal_offset


def bound_text(change: ChangeField, instant: datetime, zone: PortalZone,
               then_offset: int | None = None) -> str:
    """`instant` (aware) as the filter value the method reads as that instant or earlier.

    `then_offset` is the portal's UTC offset in force at `instant` (None: the current one).
    The server stores these stamps as its local wall clock without a zone and compares them
    with our value turned into a wall clock with the offset of *one* moment only
    (``CharToDateFunction``, CORE main/classes/mysql/database.php). Where daylight saving
    time moved the clock between `instant` and now, a change at t >= instant is stored as
    t + off(t), which is never below instant + min(off(instant), off(now)): the bound is
    built for that lower wall clock, so it reaches back by the hour the clock moved.
    """
    margin = timedelta(seconds=abs(zone.difference))
    then = zone.portal_offset if then_offset is None else then_offset
    if change.site_format:
        if zone.site_format is None:
            raise ValueError("the site format is needed for " + change.name)
        # The server reads our text as the user's wall clock now and subtracts (user − portal
        # offset, now): text = instant + min(then, now) − portal(now) + user(now). In spring
        # (then < now) that reaches back by the hour the clock jumped ahead; the margin
        # covers a server that shifts the other way.
        back = timedelta(seconds=max(0, zone.portal_offset - then))
        local = instant.astimezone(UTC).replace(tzinfo=None) + timedelta(
            seconds=zone.user_offset) - margin - back
        return site_text(local, zone.site_format)
    # An ISO value is written as the server's wall clock at that instant, with off(instant):
    # in autumn (then > now) that lies above the repeated hour, so move back by the hour.
    back = timedelta(seconds=max(0, then - zone.portal_offset))
    moment = instant - back - (margin if change.shifted else timedelta(0))
    portal = timezone(timedelta(seconds=zone.portal_offset))
    return moment.astimezone(portal).isoformat(timespec="seconds")
