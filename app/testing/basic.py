"""Methods every webhook may call (no scope): scope, profile and server.time.

``profile`` is ``CRestProvider::getProfile`` (modules/rest/classes/general/rest_provider.php):
the webhook user's id, name and ``TIME_ZONE_OFFSET`` = ``CTimeZone::GetOffset($userId) +
date('Z')``, the user's whole UTC offset in seconds (the portal's zone plus the user's
personal difference, ``user_zone_offset``). ``server.time`` (``getServerTime``, same file)
is the portal's clock in ISO 8601.
"""

from typing import Any, Protocol

from app.testing.clock import ClockOptions, iso, portal_now, zone_offset
from app.testing.methods import Handler


class BasicOptions(ClockOptions, Protocol):
    user_id: int
    scopes: tuple[str, ...]


class BasicApi:
    """The scope-free methods."""

    scopes: tuple[str, ...] = ()

    def __init__(self, options: BasicOptions) -> None:
        self._options = options

    def methods(self) -> dict[str, Handler]:
        return {"scope": self.scope, "profile": self.profile, "server.time": self.server_time}

    def scope(self, params: dict[str, Any]) -> list[str]:
        return list(self._options.scopes)

    def profile(self, params: dict[str, Any]) -> dict[str, Any]:
        # date('Z') is the offset in force now: it changes with daylight saving time.
        zone = zone_offset(portal_now(self._options), self._options.zone)
        return {
            "ID": str(self._options.user_id),
            "ADMIN": True,
            "NAME": "Интеграция",
            "LAST_NAME": "",
            "PERSONAL_GENDER": "",
            "TIME_ZONE": "",
            "TIME_ZONE_OFFSET": int(zone) + self._options.user_zone_offset,
        }

    def server_time(self, params: dict[str, Any]) -> str:
        return iso(portal_now(self._options), self._options.zone)
