"""Read the demo directories with the peer libraries (read only): fast_bitrix24 and b24pysdk."""

from __future__ import annotations

import importlib.util
from typing import Any
from urllib.parse import urlsplit

from app.testing.seed import DEMO_MAPPING

# How each peer was made to run on the fake portal: app/messages.py, bench_peer_*_how.


def _params(name: str) -> dict[str, Any]:
    return dict(DEMO_MAPPING[name]["params"])


def read_fast_bitrix24(webhook: str) -> int:
    """Rows read from every directory by fast_bitrix24 (throttled to 2 req/s, burst 50)."""
    from fast_bitrix24 import Bitrix

    bitrix = Bitrix(webhook, verbose=False)
    rows = 0
    for name, mapping in DEMO_MAPPING.items():
        method, params = mapping["method"], _params(name)
        if method == "crm.item.list":
            params["order"] = {"id": "ASC"}
            first = bitrix.call(method, params, raw=True)
            rows += len(first["result"]["items"])
            starts = range(len(first["result"]["items"]), first.get("total", 0), 50)
            if starts:
                rest = bitrix.call(method, [{**params, "start": s} for s in starts])
                rows += len(rest)
        else:
            rows += len(bitrix.get_all(method, params))
    return rows


def read_b24pysdk(webhook: str) -> int:
    """Rows read from every directory by the official SDK's as_list_fast()."""
    from b24pysdk import BitrixWebhook, Client
    from b24pysdk.api.callers.call_list_fast import _ListFastCaller

    _ListFastCaller._REQUEST_ID_FIELDS["crm.item"] = "id"  # bench_peer_sdk_how says why
    parts = urlsplit(webhook)
    token = "/".join(parts.path.strip("/").split("/")[1:3])
    client = Client(BitrixWebhook(domain=parts.netloc, webhook_token=token))
    rows = 0
    for name, mapping in DEMO_MAPPING.items():
        params = _params(name)
        if mapping["method"] == "crm.item.list":
            request = client.crm.item.list(entity_type_id=params["entityTypeId"])
        elif mapping["method"] == "lists.element.get":
            request = client.lists.element.get(iblock_type_id=params["IBLOCK_TYPE_ID"],
                                               iblock_id=params["IBLOCK_ID"])
        else:
            request = client.user.get()
        rows += sum(1 for _ in request.as_list_fast().result)
    return rows


READERS = {"fast_bitrix24": read_fast_bitrix24, "b24pysdk": read_b24pysdk}
LABELS = {"fast_bitrix24": "bench_peer_fast", "b24pysdk": "bench_peer_sdk"}  # app/messages.py


def versions() -> str:
    """The peers' installed versions, for the sitting's heading ("fast_bitrix24 1.8.14, ...")."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in READERS:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} —")
    return ", ".join(found)


def installed(name: str) -> bool:
    """Whether the peer's package is importable (it is only in requirements-bench.txt)."""
    return importlib.util.find_spec(name) is not None
