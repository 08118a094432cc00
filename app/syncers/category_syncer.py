"""Violation categories: a universal list by default."""

from app.syncers.base_syncer import BaseSyncer


class CategorySyncer(BaseSyncer):
    """Violation categories → ViolationCategory."""

    name = "category"
    title = {"ru": "Категории нарушений", "en": "Violation categories"}
    title_words = {"ru": "категор", "en": "categor"}
    model = "ViolationCategory"
    method = "lists.element.get"
    params = {"IBLOCK_TYPE_ID": "lists"}
    field_map = {"NAME": "name"}
