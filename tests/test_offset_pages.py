"""Offset reads hand pages over as they come and check the shift on page summaries
(issue 17 §2): the read keeps each page's count, total and first and last id, not its rows."""

from __future__ import annotations

import pytest

from app import errors
from app.bitrix.client import Bitrix24Client
from app.bitrix.reading import ListReader
from tests.conftest import hook_method


def reader(portal, *, batch_commands: int = 50, **kwargs) -> ListReader:
    client = Bitrix24Client(portal.webhook_url, backoff=0.01, max_retries=2,
                            batch_commands=batch_commands)
    return ListReader(client, "department.get", {}, **kwargs)


def test_pages_are_handed_over_while_the_read_goes_on(portal):
    made = portal.add_departments([{"NAME": f"D{i}"} for i in range(230)])
    seen_at: list[tuple[int, int]] = []  # (rows on the page, requests made by then)

    def emit(page):
        seen_at.append((len(page), portal.request_count))

    # Two pages a batch, one batch at a time: the first batch's pages are out before the
    # second batch is sent.
    reader(portal, batch_commands=2, max_in_flight=1).read(emit)

    assert sum(rows for rows, _ in seen_at) == len(made)
    assert [requests for _, requests in seen_at] == [1, 2, 2, 3, 3]


def test_a_page_out_of_order_inside_is_read_once_more(portal):
    made = portal.add_departments([{"NAME": f"D{i}"} for i in range(180)])
    calls = {"100": 0}

    def shuffle_once(call, params, answer):
        # The page at start=100 comes back once with its rows out of id order, as a page
        # would when the list moved under the query.
        if str(params.get("start")) == "100" and not calls["100"]:
            calls["100"] += 1
            answer.result.reverse()
        return answer

    hook_method(portal, "department.get", shuffle_once)
    rows: list[dict] = []

    reader(portal).read(rows.extend)

    assert sorted(int(r["ID"]) for r in rows) == sorted(made)  # each row exactly once
    assert [r.method for r in portal.requests] == ["department.get", "batch"] * 2


def test_a_repeat_across_a_boundary_on_both_passes_is_incomplete(portal):
    made = portal.add_departments([{"NAME": f"D{i}"} for i in range(180)])

    def repeat_a_row(call, params, answer):
        # The page at start=100 always begins with the last row of the page before.
        if str(params.get("start")) == "100":
            answer.result[0] = dict(answer.result[0], ID=str(sorted(made)[-50]))
        return answer

    hook_method(portal, "department.get", repeat_a_row)
    rows: list[dict] = []

    with pytest.raises(errors.IncompleteReadError, match=r"twice \(id \d+ after id \d+"):
        reader(portal).read(rows.extend)
    assert len(rows) == len({r["ID"] for r in rows})  # nothing handed over twice
