"""Cities: a smart process by default (entityTypeId is portal-specific)."""

from app.syncers.base_syncer import BaseSyncer


class CitySyncer(BaseSyncer):
    """Cities → City."""

    name = "city"
    title = {"ru": "Города", "en": "Cities"}
    title_words = {"ru": "город", "en": "city|cities"}
    model = "City"
    method = "crm.item.list"
    field_map = {"title": "name"}
