"""What every transport hosts its sessions with, whatever its wire protocol."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import anyio

from nexy_stream.server.observer import SessionObserver, WireProtocol
from nexy_stream.session import Effect, Event, Limits, SessionActor


class ShutdownNotice:
    """Tells every live session, once, that the server is stopping and how long they have.

    The event is made on first use, inside the server's event loop.
    """

    def __init__(self) -> None:
        self._announced: anyio.Event | None = None
        self.time_left_s = 0.0

    @property
    def _event(self) -> anyio.Event:
        if self._announced is None:
            self._announced = anyio.Event()
        return self._announced

    def announce(self, time_left_s: float) -> None:
        if not self._event.is_set():
            self.time_left_s = time_left_s
            self._event.set()

    async def wait(self) -> float:
        """Returns the time left once the shutdown is announced."""
        await self._event.wait()
        return self.time_left_s


class HostedSession:
    """An actor with its clock and its observers: what every transport drives, so the
    observers see every step of every session."""

    def __init__(
        self,
        limits: Limits,
        protocol: WireProtocol,
        observers: tuple[SessionObserver, ...],
        shutdown: ShutdownNotice,
    ) -> None:
        # The event loop's clock (what anyio.current_time reads), without anyio's layers:
        # it is read twice per frame.
        self._clock = asyncio.get_running_loop().time
        self.actor = SessionActor(limits, self._clock())
        self.protocol = protocol
        self.shutdown = shutdown
        self._observers = observers

    def handle(self, event: Event) -> Effect | None:
        effect = self.actor.handle(event, self._clock())
        for observer in self._observers:
            observer.step(self.actor, event, effect, self.protocol)
        return effect


@dataclass(frozen=True)
class Hosting:
    """The limits, observers and shutdown notice shared by all of a server's sessions."""

    limits: Limits
    observers: tuple[SessionObserver, ...] = ()
    shutdown: ShutdownNotice = field(default_factory=ShutdownNotice)

    def session(self, protocol: WireProtocol) -> HostedSession:
        return HostedSession(self.limits, protocol, self.observers, self.shutdown)
