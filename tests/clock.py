"""A clock the test moves by hand: deadlines pass when the test says, never by waiting."""

from __future__ import annotations

import anyio


class ManualClock:
    """Implements :class:`nexy_stream.server.clock.Clock`; time stands still until
    :meth:`advance`, which wakes every wait whose time has come."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._waiting: set[tuple[float, anyio.Event]] = set()

    def now(self) -> float:
        return self._now

    async def wait(self, wakeup: anyio.Event, until: float) -> None:
        if until <= self._now:
            return
        entry = (until, wakeup)
        self._waiting.add(entry)
        try:
            await wakeup.wait()
        finally:
            self._waiting.discard(entry)

    def advance(self, seconds: float) -> None:
        self._now += seconds
        for until, wakeup in list(self._waiting):
            if until <= self._now:
                wakeup.set()

    def set(self, now: float) -> None:
        self.advance(now - self._now)
