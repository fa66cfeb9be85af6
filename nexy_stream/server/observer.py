"""The one place where transports report what their sessions do.

Every transport (the v1 stream, the legacy endpoint) drives its actor through
:class:`HostedSession`, which tells the observers about every step. Metrics, the admin
feed and logs are observers; none of them is called from anywhere else.
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol

import anyio

from nexy_stream.session import Effect, Event, Limits, SessionActor


class WireProtocol(Enum):
    """Which wire protocol carried a session; a bounded metric label."""

    STREAM = "stream"
    LEGACY = "legacy"


class SessionObserver(Protocol):
    def step(
        self, actor: SessionActor, event: Event, effect: Effect | None, protocol: WireProtocol
    ) -> None:
        """Called after every event the actor handled, with the effect it decided.

        Must not block or raise: it runs on the session's hot path.
        """


class HostedSession:
    """An actor with its clock and its observers: what every transport drives."""

    def __init__(
        self, limits: Limits, protocol: WireProtocol, observers: tuple[SessionObserver, ...] = ()
    ) -> None:
        self.actor = SessionActor(limits, anyio.current_time())
        self.protocol = protocol
        self._observers = observers

    def handle(self, event: Event) -> Effect | None:
        effect = self.actor.handle(event, anyio.current_time())
        for observer in self._observers:
            observer.step(self.actor, event, effect, self.protocol)
        return effect
