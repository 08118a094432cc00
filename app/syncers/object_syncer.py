"""Objects: a smart process whose items link to a city."""

from app.syncers.base_syncer import BaseSyncer


class ObjectSyncer(BaseSyncer):
    """Objects → Object; city_id holds a city's Bitrix24 id, resolved to cities.id."""

    name = "object"
    title = {"ru": "Объекты", "en": "Objects"}
    title_words = {"ru": "объект", "en": "object"}
    column_words = {"address": {"ru": "адрес", "en": "address"}}
    model = "Object"
    method = "crm.item.list"
    field_map = {"title": "name"}
    references = {"city_id": "city"}
    depends_on = ("city",)
