"""A batch whose commands come in groups that must share a request, sent again in halves.

The opening batch of an incremental run holds, per directory, commands that refer to
each other (`$result[n0]` in `a0`): they only work inside one batch. When the portal
cuts such a batch off (504, no answer in time) it is sent again as two batches, each
with whole groups, down to one group per batch; more than BATCH_SIZE commands are
split the same way before anything is sent. The answers come back as one result whose
`time` is the first batch's: the earliest start, so a watermark taken from it is never
late.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from app.bitrix.client import BATCH_SIZE, BatchResult, Bitrix24Client
from app.errors import PortalCutOffError
from app.messages import say

log = logging.getLogger(__name__)

Command = tuple[str, Mapping[str, Any]]


def batch_in_groups(client: Bitrix24Client, commands: Mapping[str, Command],
                    groups: Sequence[Sequence[str]]) -> BatchResult:
    """Run `commands` (halt=0) with every group of labels inside one request."""
    merged = BatchResult()
    for part in _fitting([list(group) for group in groups]):
        _merge(merged, _send(client, commands, part))
    return merged


def _fitting(groups: list[list[str]]) -> list[list[list[str]]]:
    """The groups packed, in order, into parts of at most BATCH_SIZE commands."""
    parts: list[list[list[str]]] = [[]]
    for group in groups:
        if len(group) > BATCH_SIZE:
            raise ValueError(f"a group holds more than {BATCH_SIZE} commands")
        if sum(map(len, parts[-1])) + len(group) > BATCH_SIZE:
            parts.append([])
        parts[-1].append(group)
    return [p for p in parts if p]


def _send(client: Bitrix24Client, commands: Mapping[str, Command],
          groups: list[list[str]]) -> BatchResult:
    chosen = {label: commands[label] for group in groups for label in group}
    try:
        # A single group cannot be split: the client retries it as it retries any request.
        return client.batch(chosen, halt=False, shrinkable=len(groups) > 1)
    except PortalCutOffError as exc:
        half = len(groups) // 2
        log.warning(say("log.batch_split", count=len(chosen), error=exc))
        result = _send(client, commands, groups[:half])
        _merge(result, _send(client, commands, groups[half:]))
        return result


def _merge(into: BatchResult, part: BatchResult) -> None:
    into.results.update(part.results)
    into.errors.update(part.errors)
    into.totals.update(part.totals)
    if into.time is None:
        into.time, into.seconds = part.time, part.seconds
