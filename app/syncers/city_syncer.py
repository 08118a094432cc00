"""Cities: a smart process by default (entityTypeId is portal-specific)."""

from app.syncers.base_syncer import BaseSyncer


class CitySyncer(BaseSyncer):
    """Cities → City."""

    name = "city"
    title = "Cities"
    model = "City"
    method = "crm.item.list"
    field_map = {"title": "name"}
