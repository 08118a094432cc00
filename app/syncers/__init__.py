"""The registry of directories: adding one is a declaration plus one line here."""

from app.syncers.base_syncer import BaseSyncer
from app.syncers.category_syncer import CategorySyncer
from app.syncers.city_syncer import CitySyncer
from app.syncers.object_syncer import ObjectSyncer
from app.syncers.user_syncer import UserSyncer
from app.syncers.violation_syncer import ViolationSyncer

SYNCERS: dict[str, type[BaseSyncer]] = {
    cls.name: cls
    for cls in (CitySyncer, CategorySyncer, ObjectSyncer, ViolationSyncer, UserSyncer)
}

__all__ = ["SYNCERS", "BaseSyncer"]
