"""The one place where transports report what their sessions do.

Every transport (the v1 stream, the legacy endpoint) drives its actor through
:class:`nexy_stream.server.hosting.HostedSession`, which tells the observers about every
step. Metrics, the admin feed and logs are observers; none of them is called from
anywhere else.
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol

from nexy_stream.session import Effect, Event, SessionActor


class WireProtocol(Enum):
    """Which wire protocol carried a session; a bounded metric label."""

    STREAM = "stream"
    LEGACY = "legacy"


class SessionObserver(Protocol):
    def step(
        self,
        actor: SessionActor,
        event: Event,
        effect: Effect | None,
        protocol: WireProtocol,
        now: float,
    ) -> None:
        """Called after every event the actor handled, with the effect it decided and the
        time it was handled at (the server clock's ``now``). The actor is read, never
        changed. Must not block or raise: it runs on the session's hot path.
        """
