"""Half-empty batches of several lists, sent as one request.

A list's read sends a batch short of its 50 commands only when nothing else of that list is
left to run (its last pages, a small list's only chain). When several lists are read at
once, such batches wait a moment for each other and go out together: the commands of a
batch need not share a method, and each read gets back the answers of its own labels
(every read's labels carry its own prefix). A batch goes out when the parcels waiting fill
it, when every list being read is waiting, or after MIX_WAIT seconds at most.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.bitrix.client import BATCH_SIZE, BatchResult, Bitrix24Client

# How long a half-empty batch waits for others. Well under what a request costs under the
# portal's rate limit (half a second at 2 a second), and only the last batch of a list waits.
MIX_WAIT = 0.2

Commands = Mapping[str, tuple[str, Mapping[str, Any]]]


@dataclass(eq=False)
class _Parcel:
    commands: Commands
    halt: bool
    most: int
    done: threading.Event = field(default_factory=threading.Event)
    result: BatchResult | None = None
    error: BaseException | None = None


class BatchMixer:
    """Sends the half-empty batches of the lists read at once together (one per portal run)."""

    def __init__(self, client: Bitrix24Client, *, wait: float = MIX_WAIT) -> None:
        self.client = client
        self.wait = wait
        self._cond = threading.Condition()
        self._waiting: list[_Parcel] = []
        self._reading = 0  # lists being read now: when all of them wait, nothing else will come
        self._held = 0  # reads still being started: their first batches are worth waiting for

    def reading(self, delta: int, *, wake: bool = True) -> None:
        """A list's read began (+1) or ended (-1); `wake`: the waiting batches look again."""
        with self._cond:
            self._reading += delta
            if wake:
                self._cond.notify_all()

    @contextlib.contextmanager
    def aside(self) -> Iterator[None]:
        """A list whose read is only handing pages over to a writer busy with another list
        (none of its requests left or on the way) sends nothing until the writer gets to
        it: meanwhile no batch waits for one of its own."""
        # Nothing waiting is woken: a batch that comes meanwhile goes out without waiting for
        # this list, while one already waiting keeps its time (a hand-over that does not
        # block ends at once, and the list may send again).
        self.reading(-1, wake=False)
        try:
            yield
        finally:
            self.reading(+1, wake=False)

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        """Reads started inside the block are all counted before any of them is sent alone:
        their first pages go out together in one request."""
        with self._cond:
            self._held += 1
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
                self._cond.notify_all()

    def batch(self, commands: Commands, *, halt: bool, shrinkable: bool,
              most: int = BATCH_SIZE) -> BatchResult:
        """The batch's answers: sent alone when it is full, else together with others."""
        if len(commands) >= most:
            return self.client.batch(commands, halt=halt, shrinkable=shrinkable)
        parcel = _Parcel(commands, halt, most)
        with self._cond:
            self._waiting.append(parcel)
            self._cond.notify_all()
            deadline = time.monotonic() + self.wait
            while not parcel.done.is_set() and parcel in self._waiting:
                left = deadline - time.monotonic()
                if left <= 0 or self._ready(parcel):
                    group = self._take_group(parcel)
                    break
                self._cond.wait(left)
            else:
                group = []
        if group:
            self._send(group, shrinkable=shrinkable)
        parcel.done.wait()
        if parcel.error is not None:
            raise parcel.error
        return parcel.result

    def _ready(self, parcel: _Parcel) -> bool:
        same = [p for p in self._waiting if p.halt == parcel.halt]
        return (sum(len(p.commands) for p in same) >= min(p.most for p in same)
                or (not self._held and len(self._waiting) >= self._reading))

    def _take_group(self, parcel: _Parcel) -> list[_Parcel]:
        """`parcel` and the waiting ones of the same kind that fit beside it (oldest first)."""
        group, size, most = [parcel], len(parcel.commands), parcel.most
        labels = set(parcel.commands)
        for other in self._waiting:
            if other is parcel or other.halt != parcel.halt or not labels.isdisjoint(
                    other.commands):  # two batches of one read: their labels are the same
                continue
            if size + len(other.commands) <= min(most, other.most):
                labels.update(other.commands)
                group.append(other)
                size += len(other.commands)
                most = min(most, other.most)
        for taken in group:
            self._waiting.remove(taken)
        return group

    def _send(self, group: list[_Parcel], *, shrinkable: bool) -> None:
        merged: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for parcel in group:
            merged.update(parcel.commands)
        try:
            result = self.client.batch(merged, halt=group[0].halt, shrinkable=shrinkable)
        except BaseException as exc:  # each read handles it as its own batch's failure
            for parcel in group:
                parcel.error = exc
                parcel.done.set()
            return
        for parcel in group:
            labels = parcel.commands.keys()
            # Every error stays: a read whose commands did not run tells another's failure
            # (halt) from its own by the errors of labels not its own.
            parcel.result = BatchResult(
                results={k: v for k, v in result.results.items() if k in labels},
                errors=dict(result.errors),
                totals={k: v for k, v in result.totals.items() if k in labels},
                seconds=result.seconds, time=result.time)
            parcel.done.set()
