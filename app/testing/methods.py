"""The method table: REST method names, the scopes that open them and their handlers.

A method outside the webhook's scopes (lists.get on a webhook without ``lists``) is refused
with ``insufficient_scope`` "The request requires higher privileges than provided by the
webhook token", HTTP 401: the webhook check throws an ``OAuthException``, 401 by default
(modules/rest/lib/apauth/auth.php in ``avshatalov48/bitrix-core-business``; the docs say
403, and inside ``batch`` it is the command's ``result_error``).
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.testing.envelope import ApiError, method_not_found

# A REST method: decoded parameters in, a result (or MethodResult) out, ApiError on refusal.
Handler = Callable[[dict[str, Any]], Any]

_SCOPE_DESCRIPTION = "The request requires higher privileges than provided by the webhook token"


def normalize_method(name: str) -> str:
    """Method names are case-insensitive and may end in ``.json``."""
    name = name.strip().lower()
    return name[: -len(".json")] if name.endswith(".json") else name


class MethodTable(dict[str, tuple[tuple[str, ...], Handler]]):
    """Method name -> (scopes any one of which opens it, handler); no scopes: always open."""

    def register(self, scopes: tuple[str, ...], handlers: Mapping[str, Handler]) -> None:
        for name, handler in handlers.items():
            self[normalize_method(name)] = (scopes, handler)

    def lookup(self, method: str, granted: Iterable[str]) -> Handler:
        entry = self.get(method)
        if entry is None:
            raise method_not_found()
        needed, handler = entry
        if needed and not any(scope in granted for scope in needed):
            raise ApiError(401, "insufficient_scope", _SCOPE_DESCRIPTION)
        return handler
