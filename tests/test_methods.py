"""The method registry: every profile complete and consistent, and read by the rest."""

from __future__ import annotations

from dataclasses import fields

import pytest

from app.bitrix.changes import change_field
from app.bitrix.methods import MethodProfile, Order, Paging, known_profiles, profile
from app.syncers.base_syncer import REQUIRED_PARAMS


@pytest.mark.parametrize("known", known_profiles(), ids=lambda p: p.name)
def test_every_profile_is_complete(known: MethodProfile):
    for item in fields(MethodProfile):
        assert hasattr(known, item.name)
    assert known.name == known.name.strip().lower() and known.scopes and known.id_field
    assert known.filter_key
    if known.paging is Paging.KEYSET:  # the chains order and filter by id
        assert known.order is not Order.NONE
    if known.change is not None:
        assert known.change.name and known.paging is Paging.KEYSET
    assert set(known.fields_params) <= set(known.required_params)
    assert all(isinstance(v, str) and v for v in known.required_params.values())
    assert profile(known.name.upper()) is known


def test_the_profiles_settle_what_the_tables_disagreed_on():
    # Legacy crm.*.list honour select (commit 217a5de); crm.activity.list has no DATE_MODIFY.
    assert profile("crm.deal.list").honours_select and profile("crm.activity.list").keyset
    assert change_field("crm.activity.list") is None
    assert change_field("crm.deal.list").name == "DATE_MODIFY"
    # lists.element.get takes SELECT since 2025-11 (an older server ignores it).
    assert profile("lists.element.get").select_key == "SELECT"
    assert profile("lists.element.get").honours_select
    assert profile("user.fields").scopes == ("user", "user_basic", "user_brief")
    assert profile("some.unknown.list").paging is Paging.OFFSET


def test_the_syncers_required_params_are_the_profiles():
    # app.syncers may not import app.bitrix (sibling layers): the table there must agree.
    assert REQUIRED_PARAMS == {p.name: dict(p.required_params) for p in known_profiles()
                               if p.required_params}
