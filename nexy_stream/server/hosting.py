"""What every transport hosts its sessions with, whatever its wire protocol."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from nexy_stream.server.deadlines import Deadlines
from nexy_stream.server.observer import SessionObserver, WireProtocol
from nexy_stream.session import Effect, Event, Limits, SessionActor


class HostedSession:
    """An actor with its clock and its observers: what every transport drives, so the
    observers see every step of every session."""

    def __init__(
        self,
        limits: Limits,
        protocol: WireProtocol,
        observers: tuple[SessionObserver, ...],
    ) -> None:
        # The event loop's clock (what anyio.current_time reads), without anyio's layers:
        # it is read twice per frame.
        self._clock = asyncio.get_running_loop().time
        self.actor = SessionActor(limits, self._clock())
        self.protocol = protocol
        self._observers = observers

    def handle(self, event: Event) -> Effect | None:
        effect = self.actor.handle(event, self._clock())
        for observer in self._observers:
            observer.step(self.actor, event, effect, self.protocol)
        return effect


@dataclass(frozen=True)
class Hosting:
    """The limits, observers and deadline watcher shared by all of a server's sessions, and
    the name of the pipeline that answers them (sent in ``accepted``)."""

    limits: Limits
    observers: tuple[SessionObserver, ...] = ()
    deadlines: Deadlines = field(default_factory=Deadlines)
    pipeline_name: str = ""

    def session(self, protocol: WireProtocol) -> HostedSession:
        return HostedSession(self.limits, protocol, self.observers)
