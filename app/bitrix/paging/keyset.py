"""Keyset paging: chains of `>id` pages inside batches, the id range split into counted spans.

After a plain first page (which also gives `total`), the rest is read by chained commands
inside `batch`, each command filtering on the previous one's last id through `$result[...]`;
a chain ends at the first short page and later commands are ignored. A list of more than
two batches is split: its first chain batch also asks for the highest id (one reverse-ordered
command), then the id range up to it is split into spans (`>lo`, `<hi`, the last open) that
one batch counts (each span's first command has `start=0`), each span read by its own chain,
in parallel, and a span that turns out crowded (uneven ids) is split and counted again.

Every batch is filled to its 50 commands: a span that knows how many pages it has left gets
exactly that many commands (its pages and one short page to see the end), spans share a
batch, and a span longer than the room left goes on in the next one (`fill`). A batch goes
out once its commands are there, or half-empty only when nothing else is left to run; so a
read costs about ceil(rows / 2,500) requests plus the first page and the last few.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any

from app.bitrix.client import PAGE_SIZE, BatchResult, extract_rows
from app.bitrix.paging.query import ListQuery, Page
from app.bitrix.paging.scheduler import Scheduler
from app.bitrix.paging.steps import Command, Handover, Outcome, ReadContext, Step
from app.errors import IncompleteReadError, PortalError, PortalRetriableError
from app.messages import say

log = logging.getLogger(__name__)


# Parts of a split span cover this much more than the ids seen say its rows need: a part
# that turns out empty costs a command, one that is crowded a request.
SPREAD = 1.25
# The first page's ids are taken as spread like the rest when their spacing is within this
# factor of the average up to the highest id: the rest is then split into even parts.
EVEN = 1.5


def split_min_pages(most: int) -> int:
    """Split the id range only when more pages than this remain after the first page: below
    it, one or two chain batches are as fast and cost no counting."""
    return 2 * most


def range_pages(most: int) -> int:
    """One split span is sized for this many pages (a batch's worth, with room to spare
    for uneven id density)."""
    return max(1, most - 2)


def reprobe_pages(most: int) -> int:
    """A counted span holding more pages than this is split and counted again rather than
    read by one chain batch after batch (for parallel reads)."""
    return 2 * range_pages(most)


@dataclass
class Span:
    """One keyset chain: ids above `after` (and below `before`)."""

    after: int
    before: int | None
    pages_left: float | None  # expected pages still to read; None: unknown
    # The first command counts the span (`start=0` gives its total) so the span is
    # sized by what it holds, not by how wide its ids are.
    count: bool = False
    take: int | None = None  # commands in the next batch; None: as many as it needs
    # Rows without a usable id that ended the page before and were handed over already:
    # read again from `after`, they come first and are dropped.
    repeat: tuple[dict[str, Any], ...] = ()
    # Ids per row on the pages just read (None: not known): how wide a part of the span
    # holds a given number of rows, where the ids run as they did there.
    spacing: float | None = None

    @property
    def known(self) -> bool:
        return self.pages_left is not None

    def needs(self) -> int:
        """Commands that read the rest of a span whose size is known: its full pages and
        the short (maybe empty) page that shows the chain its end."""
        return math.floor(self.pages_left) + 1 if self.pages_left is not None else 1

    def commands(self, most: int) -> int:
        if self.pages_left is None:
            return max(1, min(most, self.take or most))
        return max(1, min(most, self.take or most, self.needs()))


@dataclass
class ChainNews:
    """What a chain batch tells the strategy besides its pages."""

    # Chains that ended on a short page: (last id read, upper bound).
    ended: list[tuple[int, int | None]] = field(default_factory=list)
    going_on: list[Span] = field(default_factory=list)  # chains to go on in later batches
    highest: int | None = None  # the highest id, when the batch asked for it


def probes(spans: list[Span], most: int, highest: int) -> list[Step]:
    """Split each span into parts, each counted by its first command.

    Splitting an id range evenly assumes evenly spread ids; a few far-off
    ids (one item created with a huge id, an imported block) leave most
    parts empty and one holding nearly every row. So the parts are as wide
    as the ids on the pages just read say the span's rows need (with a
    margin), the last part holds whatever lies beyond, and each part's first
    command counts it (`start=0`): an empty part costs one command, not a
    request, the others are then sized by what they hold, and a crowded
    one is split and counted again. The parts share batches and start
    reading right away. The last part of an open-ended span stays open, so
    rows added meanwhile are read too.
    """
    parts: list[Span] = []
    for span in spans:
        top = span.before - 1 if span.before is not None else highest
        pages = span.pages_left or 0.0
        width = top - span.after
        if span.spacing:
            width = min(width, max(1, math.ceil(pages * PAGE_SIZE * span.spacing * SPREAD)))
        count = max(1, min(most, math.ceil(pages / range_pages(most)), width))
        if count == 1:  # nothing to split (ids added past the highest one seen)
            parts.append(replace(span, count=True, take=None))
            continue
        bounds = [span.after + width * i // count for i in range(count)]
        parts += [Span(low, bounds[i + 1] + 1 if i + 1 < count else span.before,
                       pages / count, count=True, repeat=span.repeat if i == 0 else ())
                  for i, low in enumerate(bounds)]
    steps: list[Step] = []
    for i in range(0, len(parts), most):
        group = parts[i:i + most]
        share, extra = divmod(most, len(group))  # the whole batch, spread over the parts
        steps.append(ChainStep(spans=tuple(replace(p, take=share + (j < extra))
                                           for j, p in enumerate(group)), highest=highest))
    return steps


def highest_in(query: ListQuery, result: BatchResult, label: str) -> int | None:
    """The highest id the reverse-ordered command `label` found (query.highest_params());
    None when it failed or found nothing: the list is then read as one chain, slower, not
    wrong."""
    if result.problem(label, query.method, "") is not None:
        return None
    try:
        rows = extract_rows(result.results[label])
        return query.ends(rows)[0] if rows else None
    except PortalError:
        return None


def _even_parts(span: Span, most: int, highest: int, spacing: float | None, parts: int
                ) -> list[Step] | None:
    """Parts of a batch each (the last one open), at most `parts` of them, when the first
    page's ids run as densely as the ids up to the highest one say the rest does (within
    EVEN); None otherwise.

    Every part is its own batch, so all are read at once. A part's chain has the commands
    its share of the rows needs and no more (a command past a chain's end still costs the
    portal a query); its first command counts it, so a part fuller than its share goes on
    with exactly the pages it still has. Each part ends on a short page, which costs a
    command: beyond `parts` (the batches in flight at once) a list is cut into fewer,
    longer parts that go on batch after batch.
    """
    pages = span.pages_left or 0.0
    average = (highest - span.after) / max(1.0, pages * PAGE_SIZE)
    if spacing is None or not average / EVEN <= spacing <= average * EVEN:
        return None
    # a part's pages and its short last page
    count = max(1, min(math.ceil(pages / (most - 1)), parts))
    width = highest - span.after
    bounds = [span.after + width * i // count for i in range(count)]
    return [ChainStep(spans=(Span(low, bounds[i + 1] + 1 if i + 1 < count else span.before,
                                  pages / count, count=True,
                                  repeat=span.repeat if i == 0 else ()),), highest=highest)
            for i, low in enumerate(bounds)]


def fill(spans: list[Span], most: int, idle: bool, highest: int
         ) -> tuple[list[Step], list[Span]]:
    """Batches of `most` commands from the spans waiting to go on, and the spans left over.

    A span of known size takes the commands it needs when they fit, longest first; the
    room left goes to part of the longest span that did not fit, which goes on in a later
    batch (a chain can only go on from its last page), else to spans of unknown size (each
    counts itself with its first command). A batch short of `most` commands goes out only
    when nothing else is running (`idle`); until then its spans wait for others.
    """
    waiting = sorted(spans, key=lambda s: -s.needs() if s.known else 0)
    steps: list[Step] = []
    while waiting:
        demand = sum(s.needs() if s.known else 1 for s in waiting)
        if demand < most and not (idle and not steps):
            break  # the full batches just made will bring chains to share this one with
        batch, waiting = _one_batch(waiting, most)
        steps.append(ChainStep(spans=tuple(batch), highest=highest))
    return steps, waiting


def _one_batch(waiting: list[Span], most: int) -> tuple[list[Span], list[Span]]:
    room, batch, rest = most, [], []
    for span in waiting:
        if span.known and span.needs() <= room:
            batch.append(replace(span, take=span.needs()))
            room -= span.needs()
        else:
            rest.append(span)
    if room > 0 and rest and rest[0].known:  # part of the longest: it goes on later
        batch.append(replace(rest[0], take=room))
        rest, room = rest[1:], 0
    unknown = [s for s in rest if not s.known][:room]
    if unknown:
        share, extra = divmod(room, len(unknown))
        batch += [replace(s, count=True, take=share + (j < extra))
                  for j, s in enumerate(unknown)]
        rest = [s for s in rest if all(s is not u for u in unknown)]
    return batch, rest


@dataclass
class ChainStep(Step):
    """Chained keyset pages of one or more spans in one batch, each span its own chain."""

    spans: tuple[Span, ...]
    highest: int = 0  # the highest id when the read began (split reads)
    # The batch also asks for the highest id (one reverse-ordered page), and a long list
    # is split up to it: the first chain batch of a list that will be split.
    tail: bool = False

    def run(self, ctx: ReadContext) -> Outcome:
        plan, commands = self._chain_commands(ctx)
        if self.tail:  # first: a chain's end cannot stop it (halt)
            commands = {f"{ctx.tag}t": (ctx.method, ctx.query.highest_params()), **commands}
        result = self.send(ctx, commands, halt=True)
        if isinstance(result, Outcome):
            return result
        ctx.size.took(result.seconds, len(commands))
        outcome = Outcome(news=ChainNews(highest=self._highest(ctx, result)))
        highest = outcome.news.highest or self.highest
        going_on: list[Span] = []
        crowded: list[Span] = []
        for span, labels in plan:
            try:
                rest = self._take_chain(ctx, result, span, labels, outcome)
            except IncompleteReadError as exc:  # the id filter was ignored: stop everything
                outcome.failure = exc
                return outcome
            if rest is None:
                continue
            # Split: a counted span that turned out crowded (twice what it was sized for, or
            # more), and what is left after the first chain batch of a long list (more than
            # another batch), up to the highest id.
            if rest.pages_left is not None and rest.pages_left > (
                    max(reprobe_pages(ctx.size.value), 2 * (span.pages_left or 0))
                    if span.count else
                    ctx.size.value if outcome.news.highest else math.inf):
                crowded.append(rest)
            else:
                going_on.append(rest)
        outcome.news.going_on = going_on
        outcome.follow_ups.extend(probes(crowded, ctx.size.value, highest))
        return outcome

    def _highest(self, ctx: ReadContext, result: BatchResult) -> int | None:
        """The highest id the tail command found (None: not asked, or no answer)."""
        if not self.tail:
            return None
        return highest_in(ctx.query, result, f"{ctx.tag}t")

    def halves(self) -> list[Step]:
        # One chain plans fewer commands by itself once the list's batch size is smaller.
        if len(self.spans) == 1:
            return [replace(self, delay=0.0)]
        middle = len(self.spans) // 2
        return [replace(self, spans=part, delay=0.0)
                for part in (self.spans[:middle], self.spans[middle:])]

    def _chain_commands(self, ctx: ReadContext
                        ) -> tuple[list[tuple[Span, list[str]]], dict[str, Command]]:
        """The batch: each span's chain of labels, each command reading past the one before."""
        query, method = ctx.query, ctx.method
        plan: list[tuple[Span, list[str]]] = []
        commands: dict[str, Command] = {}
        most = ctx.size.value - (1 if self.tail else 0)  # the tail command takes one place
        for span in self.spans:
            labels = [f"{ctx.tag}p{len(commands) + i}" for i in range(span.commands(most))]
            for i, label in enumerate(labels):
                after = span.after if i == 0 else query.last_id_ref(labels[i - 1])
                start = 0 if span.count and i == 0 else -1
                commands[label] = (method, query.keyset_params(after=after, before=span.before,
                                                               start=start))
            plan.append((span, labels))
        return plan, commands

    def _take_chain(self, ctx: ReadContext, result: BatchResult, span: Span,
                    labels: list[str], outcome: Outcome) -> Span | None:
        """Put one chain's pages into `outcome`; return the span left to read, if any.

        None when the chain reached its end (a short page) or stopped on an error
        (its follow-up is queued). Raises IncompleteReadError when the portal
        ignored the id filter.
        """
        query, method = ctx.query, ctx.method
        after, pages_left, pages, repeat = span.after, span.pages_left, 0, span.repeat
        began, rows_read = None, 0  # the first id and the rows read here: the ids' spacing
        for i, label in enumerate(labels):
            error = result.problem(label, method, say("reading.batch_stopped", label=label),
                                   missing=PortalRetriableError)
            if error is not None:
                rest = replace(span, after=after, pages_left=pages_left,
                               count=span.count and i == 0, take=None, repeat=repeat)
                self._resume(ctx, rest, error, outcome, halted_by_another=(
                    label not in result.errors and bool(result.errors)), read_some=pages > 0)
                return None
            rows = extract_rows(result.results[label])
            full = len(rows) == PAGE_SIZE
            if rows:
                first, last, unusable = query.ends(rows)
                if first <= after:
                    # The filter was not applied: going on would loop over the same rows.
                    raise IncompleteReadError(
                        say("reading.filter_ignored", method=method, first=first,
                            after=after), method=method)
                outcome.pages.append(_without_repeats(rows, repeat))
                after, repeat = last, unusable
                pages += 1
                began = first if began is None else began
                rows_read += len(rows)
            if i == 0 and span.count and isinstance(result.totals.get(label), int):
                pages_left = (result.totals[label] - len(rows)) / PAGE_SIZE
            elif pages_left is not None:
                pages_left -= 1
            if not full:
                # The chain is complete; its later commands are ignored.
                outcome.news.ended.append((after, span.before))
                return None
            if repeat:
                # The next command read past this page's last row, which has no usable id:
                # its later commands are ignored and the chain goes on from the last id.
                break
        # A chain that outlives its estimate (rows added, or a wrong count) goes on in
        # full batches: a page or two per batch would cost a request for every 100 rows.
        # At exactly 0 it only has to see its empty last page.
        return Span(after, span.before,
                    pages_left if pages_left is not None and pages_left >= 0 else None,
                    repeat=repeat,
                    spacing=(after - began) / (rows_read - 1) if rows_read > 1 else None)

    def _resume(self, ctx: ReadContext, rest: Span, error: PortalError, outcome: Outcome,
                *, halted_by_another: bool, read_some: bool) -> None:
        """Queue the rest of a chain that stopped on `error` (or record the failure)."""
        if halted_by_another:
            # halt=True: another command stopped the batch (another chain's failure, or
            # the ignored commands after another chain's end, whose references point at
            # nothing). Not this chain's fault: it goes on alone, where nothing else can
            # stop it.
            outcome.follow_ups.append(ChainStep(spans=(rest,), highest=self.highest,
                                                alone=True))
            return
        step = replace(self, spans=(rest,), attempt=0 if read_some else self.attempt)
        retried = step.retry(ctx, error)
        outcome.follow_ups.extend(retried.follow_ups)
        outcome.failure = outcome.failure or retried.failure


def _without_repeats(rows: Page, repeat: tuple[dict[str, Any], ...]) -> Page:
    """The page without the leading rows it repeats from the page before (no usable id)."""
    skip = 0
    while skip < min(len(repeat), len(rows)) and rows[skip] == repeat[skip]:
        skip += 1
    return rows[skip:]


class KeysetRead:
    """The keyset strategy for one list: plans the chains and takes what they bring."""

    def __init__(self, ctx: ReadContext, scheduler: Scheduler, handover: Handover) -> None:
        self.ctx = ctx
        self.scheduler = scheduler
        self.handover = handover
        self._highest = 0
        self._ended: list[tuple[int, int | None]] = []
        self._waiting: list[Span] = []  # chains waiting for a batch with room

    def first_params(self) -> dict[str, Any]:
        return self.ctx.query.keyset_params(start=0)

    def read_rest(self, first: Page, total: int | None, more: bool, *,
                  highest: int | None = None) -> None:
        if not more:
            return
        self.scheduler.run(self._chains(first, total, highest), self._take, self._release)
        self._confirm_chain_ends(total)

    def _chains(self, first_page: Page, total: int | None, highest: int | None) -> list[Step]:
        """The first chains. With the highest id known (it came with the first page), a list
        of more than one batch is split at once: into parts of a batch each where its ids
        run evenly, else into counted parts (`probes`). Without it: one chain alone in the
        pool for a short list; for a long one, a batch that also asks for the highest id, so
        the rest can be split (ChainStep.tail)."""
        ctx, query = self.ctx, self.ctx.query
        first, after, repeat = query.ends(first_page)
        pages_left = None if total is None else (total - len(first_page)) / PAGE_SIZE
        span = Span(after, None, pages_left, repeat=repeat)
        most = ctx.size.value
        if pages_left is not None and highest is not None and pages_left >= most:
            self._highest = highest
            spacing = (after - first) / (len(first_page) - 1) if len(first_page) > 1 else None
            if highest <= after:  # nothing above the first page but rows added meanwhile
                return [ChainStep(spans=(span,), highest=highest)]
            even = _even_parts(span, most, highest, spacing, self.scheduler.max_in_flight)
            if even is not None:
                return even
            return probes([replace(span, spacing=spacing)], most, highest)
        if pages_left is None or pages_left <= split_min_pages(most):
            self._waiting.append(span)
            return []
        log.debug("%s: %d rows; counting id spans to read them as parallel chains",
                  query.method, total)
        return [ChainStep(spans=(replace(span, take=most - 1),), tail=True)]

    def _take(self, outcome: Outcome) -> None:
        for page in outcome.pages:
            self.handover(page)
        if outcome.news is not None:
            self._ended.extend(outcome.news.ended)
            self._waiting.extend(outcome.news.going_on)
            self._highest = outcome.news.highest or self._highest

    def _release(self, idle: bool) -> list[Step]:
        """Batches filled from the chains waiting to go on (`fill`)."""
        steps, self._waiting = fill(self._waiting, self.ctx.size.value, idle, self._highest)
        return steps

    def _confirm_chain_ends(self, total: int | None) -> None:
        """Fewer rows than `total`: make sure every chain really reached its end.

        A keyset chain stops at its first short page, so a page the portal cut
        short in the middle looks just like the end of the list. Rows deleted
        during the read also make fewer than `total`, so the shortfall alone
        proves nothing: ask once more above each chain's last id (one command
        per chain). Any row there means a page came back short and rows after
        it were never read.
        """
        ctx, read = self.ctx, self.handover.rows
        if total is None or read >= total or ctx.cancel.is_set() or not self._ended:
            return
        query, method = ctx.query, ctx.method
        commands = {f"e{i}": (method, query.keyset_params(after=after, before=before))
                    for i, (after, before) in enumerate(self._ended)}
        result = ctx.client.batch_all(commands)
        for label in commands:
            if result.rows(label, method, say("reading.confirming_end")):
                raise IncompleteReadError(
                    say("reading.short_after_short_page", method=method, read=read,
                        total=total), method=method)
        log.debug("%s: %d rows of %d; the rest was deleted during the read",
                  method, read, total)
