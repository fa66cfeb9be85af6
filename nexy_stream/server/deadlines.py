"""One watcher for the deadlines of every session of a server, and for its shutdown.

An idle open stream is the common case (a user holding push-to-talk), so a session has no
timer task of its own: one task sleeps until the earliest deadline of all. Frames move a
session's deadline later all the time; that costs nothing here, because a popped deadline
is checked against the actor's current one and pushed back if it moved. Only a shutdown
moves deadlines earlier, and it pushes them again itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from nexy_stream.session import Effect, Event, Phase, ShuttingDown, Tick

if TYPE_CHECKING:
    from nexy_stream.server.hosting import HostedSession

Apply = Callable[[Effect | None], Awaitable[None]]


class _Watched:
    """A watched session, how to carry out what it decides, and the task group it runs in."""

    __slots__ = ("apply", "session", "tasks")

    def __init__(self, session: HostedSession, apply: Apply, tasks: anyio.abc.TaskGroup) -> None:
        self.session, self.apply, self.tasks = session, apply, tasks


class Deadlines:
    """Tells each watched session when its deadline passes (``Tick``) and, once, that the
    server is shutting down (``ShuttingDown``), running the effect in the session's own
    task group so it is written and cancelled like any of its frames.

    Runs as a plain asyncio task that :meth:`aclose` cancels and awaits: ``start_server``
    and ``RunningServer.stop`` may run in different tasks, which a task group cannot span.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watched]] = []
        self._order = itertools.count()  # ties never compare the entries
        self._watched: set[_Watched] = set()
        self._time_left_s: float | None = None
        self._sleeping_until = math.inf
        self._wakeup: anyio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def watching(
        self, session: HostedSession, apply: Apply, tasks: anyio.abc.TaskGroup
    ) -> Iterator[None]:
        """Watches one session for as long as the block runs."""
        entry = _Watched(session, apply, tasks)
        self._watched.add(entry)
        if self._time_left_s is None:
            self._push(entry)
        else:  # opened while the server stops
            tasks.start_soon(self._deliver, entry, ShuttingDown(self._time_left_s))
        try:
            yield
        finally:
            self._watched.discard(entry)  # its heap entry is dropped when it comes up

    def announce_shutdown(self, time_left_s: float) -> None:
        if self._time_left_s is not None:
            return
        self._time_left_s = time_left_s
        for entry in list(self._watched):
            entry.tasks.start_soon(self._deliver, entry, ShuttingDown(time_left_s))

    def _push(self, entry: _Watched) -> None:
        at = entry.session.actor.deadline
        heapq.heappush(self._heap, (at, next(self._order), entry))
        if at < self._sleeping_until and self._wakeup is not None:
            self._wakeup.set()
        if len(self._heap) > 2 * len(self._watched) + 64:  # many ended sessions
            self._heap = [item for item in self._heap if item[2] in self._watched]
            heapq.heapify(self._heap)

    async def _deliver(self, entry: _Watched, event: Event) -> None:
        await entry.apply(entry.session.handle(event))
        if entry in self._watched and entry.session.actor.phase is not Phase.ENDED:
            self._push(entry)  # its deadline may be earlier now, or later

    async def _run(self) -> None:
        while True:
            self._wakeup = anyio.Event()
            self._sleeping_until = self._heap[0][0] if self._heap else math.inf
            with anyio.CancelScope(deadline=self._sleeping_until):
                await self._wakeup.wait()
            now = anyio.current_time()
            while self._heap and self._heap[0][0] <= now:
                _, _, entry = heapq.heappop(self._heap)
                if entry not in self._watched:
                    continue
                if entry.session.actor.deadline > now:
                    self._push(entry)  # frames came since: not due yet
                else:
                    entry.tasks.start_soon(self._deliver, entry, Tick())
