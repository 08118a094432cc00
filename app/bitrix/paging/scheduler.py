"""Runs the steps of a read on the shared pool; knows steps and outcomes, no strategy."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait

from app.bitrix.paging.query import Page
from app.bitrix.paging.steps import Outcome, ReadContext, Step
from app.errors import PortalError

Take = Callable[[Outcome], None]
Release = Callable[[bool], list[Step]]


class ReaderPool(Executor):
    """Up to `workers` daemon threads for HTTP reads, started as work comes.

    Unlike ThreadPoolExecutor, whose workers the interpreter joins at exit, a
    request stalled on a slow portal never keeps a stopped process alive.
    """

    def __init__(self, workers: int, *, name: str = "bitrix-read") -> None:
        self._workers = workers
        self._name = name
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        self._tasks.put((future, fn, args, kwargs))
        with self._lock:  # threads start as work comes: small lists never need any
            if len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self._name}-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            future, fn, args, kwargs = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            while True:
                try:
                    task = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if task is not None:
                    task[0].cancel()
        with self._lock:
            threads, self._workers = list(self._threads), 0  # no new threads from now on
        for _ in threads:
            self._tasks.put(None)
        if wait:
            for thread in threads:
                thread.join()


class Scheduler:
    """Runs one list's steps, at most `max_in_flight` at once, on `executor` (a shared
    pool) or a private pool; outcomes are taken on the calling thread."""

    def __init__(self, ctx: ReadContext, executor: Executor | None, max_in_flight: int) -> None:
        self.ctx = ctx
        self.executor = executor
        self.max_in_flight = max_in_flight

    def run(self, steps: list[Step], take: Take, release: Release | None = None) -> None:
        """Run the steps (and the follow-ups they queue) until done or one fails for good.

        `take(outcome)` gets each step's outcome on this thread: first its news and
        follow-ups (no pages), so the steps they free go out at once, then its pages, which
        wait while the consumer is behind. At most `max_in_flight` steps have run or are
        running with pages not handed over, so memory stays bounded while the writer is
        behind (it writes one directory at a time; the others' reads wait at this bound).
        `release(idle)` may hand back steps the strategy held (idle: nothing else is left
        to run).
        """
        executor = self.executor or ReaderPool(self.max_in_flight)
        pending: deque[Step] = deque(steps)
        in_flight: dict[Future, Step] = {}
        arrived: deque[list[Page]] = deque()  # each outcome's pages, not handed over yet
        failure: PortalError | None = None

        def submit() -> None:
            if release is not None and failure is None:
                pending.extend(release(not (pending or in_flight)))
            while (pending and failure is None and not self.ctx.cancel.is_set()
                   and len(in_flight) < self.max_in_flight
                   and len(in_flight) + len(arrived) < self.max_in_flight):
                step = pending.popleft()
                in_flight[executor.submit(self._run_step, step)] = step

        def collect(done: Iterable[Future]) -> None:
            nonlocal failure
            for future in done:
                in_flight.pop(future)
                try:
                    outcome = future.result()
                except PortalError as exc:
                    failure = failure or exc
                    continue
                pages, outcome.pages = outcome.pages, []
                take(outcome)
                failure = failure or outcome.failure
                pending.extend(outcome.follow_ups)
                if pages:
                    arrived.append(pages)

        try:
            while True:
                submit()
                if arrived:
                    collect([future for future in in_flight if future.done()])
                    submit()
                    pages = arrived.popleft()
                    with self._aside(not (pending or in_flight)):
                        take(Outcome(pages=pages))  # waits while the consumer is behind
                    continue
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                collect(done)
        finally:
            if self.executor is None:
                executor.shutdown(wait=False, cancel_futures=True)
        if failure is not None:
            raise failure

    def _aside(self, only_pages_left: bool) -> contextlib.AbstractContextManager[None]:
        """While this read only hands pages over, the other lists' last batches need not
        wait for one of its own (BatchMixer.aside)."""
        mixer = self.ctx.mixer
        return mixer.aside() if only_pages_left and mixer is not None \
            else contextlib.nullcontext()

    def _run_step(self, step: Step) -> Outcome:
        if step.delay > 0 and self.ctx.client.pause(step.delay, self.ctx.cancel):
            return Outcome()
        return step.run(self.ctx)
