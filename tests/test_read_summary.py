"""What a read tells when it ends (ReadSummary), and the offset fallback told once a read."""

from __future__ import annotations

import logging

from app.bitrix.client import Bitrix24Client
from app.bitrix.methods import Paging
from app.bitrix.reading import ListReader
from app.testing.portal import FakePortal
from tests.conftest import sync


def read(portal: FakePortal, method: str, params: dict) -> tuple[list[dict], object]:
    rows: list[dict] = []
    client = Bitrix24Client(portal.webhook_url, backoff=0.01, max_retries=3)
    summary = ListReader(client, method, params).read(rows.extend)
    client.close()
    return rows, summary


def test_a_keyset_read_sums_itself_up(portal):
    portal.add_items(1040, [{"title": f"t{i}"} for i in range(120)])

    rows, summary = read(portal, "crm.item.list", {"entityTypeId": 1040})

    assert summary.strategy is Paging.KEYSET and summary.complete
    assert summary.rows == len(rows) == 120
    assert summary.started is not None  # the portal's clock at the first answer
    assert summary.query.method == "crm.item.list"


def test_a_read_whose_filter_rules_out_the_keyset_is_an_offset_read(portal, caplog):
    portal.add_items(1040, [{"title": f"t{i}"} for i in range(120)])
    caplog.set_level(logging.INFO)

    rows, summary = read(portal, "crm.item.list", {"entityTypeId": 1040,
                                                   "filter": {">id": 0}})

    assert summary.strategy is Paging.OFFSET and summary.rows == len(rows) == 120
    assert caplog.text.count("reading by offset") == 1


def test_the_offset_fallback_is_told_once_per_read_in_a_sync(portal, db, db_url, tmp_path,
                                                             mapping, caplog):
    # The engine and the incremental planner shape the same query several times a run.
    portal.add_users([{"NAME": f"U{i}"} for i in range(1, 80)])
    mapping["user"]["params"] = {"FILTER": {">ID": 0}}
    caplog.set_level(logging.INFO)

    assert sync(portal, db_url, tmp_path, mapping, "user").ok
    assert sync(portal, db_url, tmp_path, mapping, "user").ok

    assert caplog.text.count("reading by offset") == 2
