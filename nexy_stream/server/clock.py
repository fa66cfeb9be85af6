"""The one clock a server's sessions and deadlines read: the event loop's, or a test's.

Every deadline of a session (open, idle, duration, shutdown) is a comparison with this
clock's ``now``, and the deadline watcher sleeps on it; so a test that replaces it moves
time forward by hand and never waits for a real timeout.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import anyio


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""

    async def wait(self, wakeup: anyio.Event, until: float) -> None:
        """Returns when ``wakeup`` is set or the clock reaches ``until``, whichever first."""


class LoopClock:
    """The event loop's clock (what anyio.current_time reads), read directly: it is read
    twice per frame, and anyio's layers would double the cost."""

    def __init__(self) -> None:
        self.now = asyncio.get_running_loop().time

    async def wait(self, wakeup: anyio.Event, until: float) -> None:
        with anyio.CancelScope(deadline=until):
            await wakeup.wait()
