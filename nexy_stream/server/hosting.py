"""What every transport hosts its sessions with, whatever its wire protocol."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

from nexy_stream.server.admission import Admission, Quotas
from nexy_stream.server.clock import Clock
from nexy_stream.server.deadlines import Deadlines
from nexy_stream.server.observer import SessionObserver, WireProtocol
from nexy_stream.server.registry import SessionRegistry
from nexy_stream.session import (
    Admit,
    Admitted,
    ByteBudget,
    Closed,
    Effect,
    Event,
    Limits,
    Phase,
    Refuse,
    SessionActor,
    Speculation,
)


class HostedSession:
    """An actor with its clock, its admission and its observers: what every transport
    drives, so the observers see every step of every session and admission answers every
    ``Admit`` the same way."""

    __slots__ = ("__weakref__", "_admission", "_hosting", "_now", "_observers", "actor", "protocol")

    def __init__(self, hosting: Hosting, protocol: WireProtocol, speculative: bool) -> None:
        self._now = hosting.clock.now
        self._hosting = hosting
        self._admission = hosting.admission
        self._observers = hosting.observers
        speculation = hosting.speculation if speculative else None
        self.actor = SessionActor(hosting.limits, self._now(), hosting.budget, speculation)
        self.protocol = protocol

    def handle(self, event: Event) -> Effect | None:
        if type(event) is Closed and self.actor.closed:
            return None  # closed once, whichever path got there first
        now = self._now()
        effect = self.actor.handle(event, now)
        for observer in self._observers:
            observer.step(self.actor, event, effect, self.protocol, now)
        if type(effect) is Admit:
            refusal = self._admission.admit(self.actor, now)
            return self.handle(Admitted() if refusal is None else Refuse(refusal))
        if type(event) is Closed:
            self._admission.release(self.actor, now)
            self._hosting.forget(self)
        return effect

    @property
    def deadline(self) -> float:
        return self.actor.deadline

    @property
    def ended(self) -> bool:
        return self.actor.phase is Phase.ENDED


@dataclass
class Hosting:
    """What all of a server's sessions share: limits, the byte budget, admission, the
    clock, the observers and the deadline watcher."""

    limits: Limits
    clock: Clock
    quotas: Quotas = field(default_factory=Quotas)
    budget: ByteBudget = field(default_factory=ByteBudget)
    observers: tuple[SessionObserver, ...] = ()
    registry: SessionRegistry = field(default_factory=SessionRegistry)
    # What Accepted names as the pipeline answering commits (clients, the load generator).
    pipeline_name: str = ""
    # Answers prepared during collect (None: never); only if the pipeline can prepare.
    speculation: Speculation | None = None

    def __post_init__(self) -> None:
        self.admission = Admission(self.registry, self.quotas)
        self.deadlines = Deadlines(self.clock)
        # Every hosted session until it is closed: streams that have not opened are in no
        # registry, yet they hold a connection and memory (an operator sees them counted),
        # and a stopping server waits for their last frames too.
        self.hosted: set[HostedSession] = set()
        self._drained: anyio.Event | None = None

    def session(self, protocol: WireProtocol, speculative: bool = False) -> HostedSession:
        """A new hosted session; ``speculative``: it prepares its answer during collect, as
        ``speculation`` says (its host runs the preparations)."""
        hosted = HostedSession(self, protocol, speculative)
        self.hosted.add(hosted)
        return hosted

    def forget(self, hosted: HostedSession) -> None:
        """A hosted session was closed."""
        self.hosted.discard(hosted)
        if self._drained is not None and not self.hosted:
            self._drained.set()

    async def drained(self) -> None:
        """Returns once every hosted session is closed (its last frame written)."""
        if self.hosted:
            self._drained = anyio.Event()
            await self._drained.wait()

    def awaiting_open(self) -> int:
        return sum(1 for hosted in list(self.hosted) if hosted.actor.phase is Phase.AWAITING_OPEN)
