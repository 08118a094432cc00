"""Violations: a universal list whose elements link to a category."""

from app.syncers.base_syncer import BaseSyncer


class ViolationSyncer(BaseSyncer):
    """Violations → Violation; category_id holds a category's Bitrix24 id."""

    name = "violation"
    title = {"ru": "Нарушения", "en": "Violations"}
    title_words = {"ru": "нарушен", "en": "violation"}
    column_words = {"fine": {"ru": "штраф", "en": "fine"}}
    model = "Violation"
    method = "lists.element.get"
    params = {"IBLOCK_TYPE_ID": "lists"}
    field_map = {"NAME": "name"}
    references = {"category_id": "category"}
    depends_on = ("category",)
