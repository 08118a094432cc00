"""The knobs of a fake portal that its parts read live (tests change them on a running portal)."""

from typing import Protocol


class PortalOptions(Protocol):
    """The webhook (user, secret code, scopes, rights) and the server's cost model and limits."""

    user_id: int
    code: str
    scopes: tuple[str, ...]
    crm_admin: bool
    latency: float
    row_cost: float
    rate_limit: float | None
    burst: float | None
    operating_limit: float | None
