"""One watcher for the deadlines of every session of a server, whatever its transport, and
for its shutdown.

An idle session is the common case (a user holding push-to-talk, a legacy client between
two calls), so a session has no timer task of its own: one task sleeps until the earliest
deadline of all. Frames move a session's deadline later all the time; that costs nothing
here, because a popped deadline is checked against the session's current one and pushed
back if it moved. A deadline moves earlier only at an open (from open_timeout to the idle
timeout) and at a shutdown, and both push it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
from collections.abc import Iterator
from typing import Protocol

import anyio

from nexy_stream.server.clock import Clock
from nexy_stream.session import ShuttingDown, Tick


class Watched(Protocol):
    """What the watcher needs of a session."""

    @property
    def deadline(self) -> float:
        """When it times out unless something happens first (the clock's seconds)."""

    @property
    def ended(self) -> bool: ...

    def deliver(self, event: Tick | ShuttingDown) -> None:
        """Hands the session a due deadline or the shutdown notice. Must not block: the
        session decides at once (its deadline moves or it ends) and does its I/O in its own
        tasks."""


class Deadlines:
    """Tells each watched session when its deadline passes (``Tick``) and, once, that the
    server is shutting down (``ShuttingDown``).

    Runs as a plain asyncio task that :meth:`aclose` cancels and awaits: ``start_server``
    and ``RunningServer.stop`` may run in different tasks, which a task group cannot span.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Watched]] = []
        self._order = itertools.count()  # ties never compare the entries
        self._watched: set[Watched] = set()
        self._time_left_s: float | None = None
        self._sleeping_until = math.inf
        self._wakeup = anyio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def watch(self, session: Watched) -> None:
        self._watched.add(session)
        if self._time_left_s is None:
            self._push(session)
        else:  # it started while the server stops
            self._deliver(session, ShuttingDown(self._time_left_s))

    def moved_earlier(self, session: Watched) -> None:
        """The session's deadline moved earlier than the watcher knew (an open frame ends the
        short wait for it; from then on the idle timeout counts)."""
        if session in self._watched:
            self._push(session)

    def unwatch(self, session: Watched) -> None:
        self._watched.discard(session)  # its heap entry is dropped when it comes up

    @contextlib.contextmanager
    def watching(self, session: Watched) -> Iterator[None]:
        """Watches one session for as long as the block runs."""
        self.watch(session)
        try:
            yield
        finally:
            self.unwatch(session)

    def announce_shutdown(self, time_left_s: float) -> None:
        if self._time_left_s is not None:
            return
        self._time_left_s = time_left_s
        for session in list(self._watched):
            self._deliver(session, ShuttingDown(time_left_s))

    def __len__(self) -> int:
        return len(self._watched)

    def _push(self, session: Watched) -> None:
        at = session.deadline
        heapq.heappush(self._heap, (at, next(self._order), session))
        if at < self._sleeping_until:
            self._wakeup.set()
        if len(self._heap) > 2 * len(self._watched) + 64:  # many ended sessions
            self._heap = [item for item in self._heap if item[2] in self._watched]
            heapq.heapify(self._heap)

    def _deliver(self, session: Watched, event: Tick | ShuttingDown) -> None:
        session.deliver(event)
        if session in self._watched and not session.ended:
            self._push(session)  # its deadline may be earlier now, or later

    async def _run(self) -> None:
        while True:
            self._wakeup = anyio.Event()
            self._sleeping_until = self._heap[0][0] if self._heap else math.inf
            await self._clock.wait(self._wakeup, self._sleeping_until)
            now = self._clock.now()
            due: list[Watched] = []
            while self._heap and self._heap[0][0] <= now:
                _, _, session = heapq.heappop(self._heap)
                if session in self._watched and not session.ended:
                    due.append(session)
            for session in due:
                if session.deadline > now:
                    self._push(session)  # frames came since: not due yet
                else:
                    self._deliver(session, Tick())
