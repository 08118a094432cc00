"""The knobs of a fake portal that its parts read live (tests change them on a running portal)."""

from datetime import tzinfo
from typing import Protocol


class PortalOptions(Protocol):
    """The webhook (user, secret code, scopes, rights) and the server's cost model and limits."""

    user_id: int
    code: str
    scopes: tuple[str, ...]
    crm_admin: bool
    latency: float
    row_cost: float
    busy_row_cost: float
    rate_limit: float | None
    burst: float | None
    operating_limit: float | None
    # The webhook check (modules/rest/lib/apauth/auth.php): each of these fails every call.
    https_required: bool
    serves_https: bool
    overloaded: bool
    rest_on_plan: bool
    owner_active: bool
    # The cloud's front end cuts a request that runs longer than this many seconds.
    request_cut: float | None
    cut_answer: str
    clock_offset: float  # the portal's clock minus ours, seconds
    site_format: str  # the culture's FORMAT_DATETIME, e.g. "DD.MM.YYYY HH:MI:SS"
    user_zone_offset: int  # the webhook user's personal zone minus the portal's, seconds
    zone: tzinfo  # the portal's time zone: fixed, or zoneinfo with daylight saving time
    user_get_takes_iso: bool  # user.get's TIMESTAMP_X filter reads ISO 8601 too (users.py)
