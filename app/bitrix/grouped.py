"""A batch whose commands come in groups that must share a request, sent again in halves.

The opening batch of an incremental run holds, per directory, commands that refer to
each other (`$result[n0]` in `a0`): they only work inside one batch. When the portal
cuts such a batch off (504, no answer in time) it is sent again as two batches, each
with whole groups, down to one group per batch; a group cut off twice alone is left
without answers (its directory is read in full); more than BATCH_SIZE commands are
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
        merged.merge(_send(client, commands, part))
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
        return client.batch(chosen, halt=False, shrinkable=True)
    except PortalCutOffError as exc:
        if len(groups) == 1:
            return _alone(client, chosen, exc)
        half = len(groups) // 2
        log.warning(say("log.batch_split", count=len(chosen), error=exc))
        result = _send(client, commands, groups[:half])
        result.merge(_send(client, commands, groups[half:]))
        return result


def _alone(client: Bitrix24Client, chosen: Mapping[str, Command],
           exc: PortalCutOffError) -> BatchResult:
    """One group, cut off: sent once more; cut off again, its commands go without an answer
    (the caller reads that directory in full) instead of failing the whole batch.

    The client's own retries would treat a group that is too heavy for the portal's 60 s
    like a portal that is down, and end the run with PortalUnreachableError; the portal
    is up, it is these commands that take too long.
    """
    log.warning(say("log.batch_again", count=len(chosen), error=exc))
    try:
        return client.batch(chosen, halt=False, shrinkable=True)
    except PortalCutOffError as again:
        log.warning(say("log.batch_unanswered", count=len(chosen), labels=", ".join(chosen),
                        error=again))
        return BatchResult()
