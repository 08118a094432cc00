"""Users: portal employees from user.get, fired ones included (synced as inactive)."""

import secrets
from typing import Any

from app.syncers.base_syncer import BaseSyncer


class UserSyncer(BaseSyncer):
    """Employees → User; tg_id and secret_key stay the mini-app's own."""

    name = "user"
    title = {"ru": "Сотрудники", "en": "Users"}
    model = "User"
    method = "user.get"
    protected_columns = frozenset({"tg_id", "secret_key"})
    field_map = {
        "NAME": "first_name",
        "LAST_NAME": "last_name",
        "EMAIL": "email",
        "WORK_POSITION": "position",
        "PERSONAL_MOBILE": "phone",
        "ACTIVE": "is_active",
    }

    def new_row_defaults(self, columns: set[str]) -> dict[str, Any]:
        # secret_key is NOT NULL in the mini-app; a new employee gets a fresh one.
        return {"secret_key": secrets.token_urlsafe(24)} if "secret_key" in columns else {}
