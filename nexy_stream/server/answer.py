"""A session's answer as its pipeline produces it: numbered outputs, kept for a resume.

The pipeline appends; whichever stream is attached writes them out, in order, from where
its client is. An output written once is kept while the outputs kept after being written
weigh at most ``max_replay_bytes``, so a client that lost its stream (and with it whatever
was in flight) gets them again; older ones are dropped, and a resume that needs one of
those fails clearly instead of leaving a gap. The pipeline runs ahead of the client by at
most ``max_replay_bytes`` of outputs not yet written, then waits: a slow or absent client
holds it back, and the answer never grows without bound. Every byte kept is counted in
the server's byte budget.

The answer of a speculative preparation starts as a log that no client reads yet: its
outputs are *held* within a smaller bound (``held_limit``) until the commit adopts it
(:meth:`OutputLog.release_hold`) or the preparation is dropped with its log.
"""

from __future__ import annotations

from collections import deque

import anyio

from nexy_stream.pipeline import Output, TextOutput
from nexy_stream.session import ByteBudget, OutputKind, PipelineFailed


def weight(item: Output) -> int:
    """What an output weighs against the bounds: its text's or its audio's bytes."""
    return len(item.text.encode()) if isinstance(item, TextOutput) else len(item.data)


def kind(item: Output) -> OutputKind:
    return OutputKind.TEXT if isinstance(item, TextOutput) else OutputKind.AUDIO


class OutputLog:
    def __init__(
        self, max_replay_bytes: int, budget: ByteBudget, held_limit: int | None = None
    ) -> None:
        self._max = max_replay_bytes
        self._unwritten_limit = max_replay_bytes if held_limit is None else held_limit
        self._budget = budget
        self._released = False
        self._kept: deque[tuple[Output, int]] = deque()  # from index self._first on
        self._first = 1
        self._next = 1  # the index the next output gets
        self._written = 0  # the highest index written to a client at least once
        self._replay_bytes = 0  # written and kept
        self._unwritten_bytes = 0
        self._complete = False
        self._failure: PipelineFailed | None = None
        self._changed = anyio.Event()

    @property
    def next_index(self) -> int:
        return self._next

    @property
    def complete(self) -> bool:
        """Whether the pipeline has produced its last output."""
        return self._complete

    def kept_from(self, index: int) -> bool:
        """Whether every output from ``index`` on can still be written (not yet dropped)."""
        return index >= self._first

    @property
    def held_bytes(self) -> int:
        return self._replay_bytes + self._unwritten_bytes

    async def append(self, item: Output) -> None:
        """Adds the next output; waits while the client is ``max_replay_bytes`` behind (or
        while the held limit is reached). A released log takes nothing more: a run stopped
        with its session may still be on its way out."""
        size = weight(item)
        while self._unwritten_bytes and self._unwritten_bytes + size > self._unwritten_limit:
            await self._wait()
        if self._released:
            return
        self._kept.append((item, size))
        self._next += 1
        self._unwritten_bytes += size
        self._budget.take_anyway(size)
        self._notify()

    def finish(self, failure: PipelineFailed | None = None) -> None:
        """The pipeline produced its last output; ``failure`` says how when it failed (its
        outputs are still written first, so the client sees what came before the error)."""
        self._complete = True
        self._failure = failure
        self._notify()

    @property
    def failure(self) -> PipelineFailed | None:
        return self._failure

    async def output(self, index: int) -> Output | None:
        """The output of this index, once produced; ``None`` when the answer ended before it.
        ``index`` must still be kept (see :meth:`kept_from`)."""
        while index >= self._next:
            if self._complete:
                return None
            await self._wait()
        if index < self._first:  # released: the session ended meanwhile
            return None
        return self._kept[index - self._first][0]

    def written(self, index: int) -> bool:
        """Notes that the output of ``index`` reached a client; whether for the first time.
        Once written it is kept for replay, and the oldest written ones beyond the replay
        bound are dropped."""
        if index <= self._written or index < self._first:  # or released meanwhile
            return False
        self._written = index
        size = self._kept[index - self._first][1]
        self._unwritten_bytes -= size
        self._replay_bytes += size
        while self._replay_bytes > self._max and self._first <= self._written:
            _, dropped = self._kept.popleft()
            self._first += 1
            self._replay_bytes -= dropped
            self._budget.give_back(dropped)
        self._notify()
        return True

    def release_hold(self) -> None:
        """The held outputs may go to a client: the log is an answer now, bounded as one."""
        self._unwritten_limit = self._max
        self._notify()

    def release(self) -> None:
        """The session (or the preparation) is over: everything kept goes, and its bytes go
        back to the budget."""
        self._released = True
        self._budget.give_back(self.held_bytes)
        self._kept.clear()
        self._replay_bytes = self._unwritten_bytes = 0
        self._first = self._next
        self._complete = True  # a writer waiting for more learns there is none
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _wait(self) -> None:
        await self._changed.wait()
