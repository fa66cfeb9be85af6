"""A session observer that keeps what the server saw, to check a client against it."""

from __future__ import annotations

import anyio

from nexy_stream.server.observer import WireProtocol
from nexy_stream.session import (
    Collect,
    CommittedRequest,
    Dispatch,
    Effect,
    Event,
    Outcome,
    Phase,
    Screenshot,
    SessionActor,
)


class Recorder:
    def __init__(self) -> None:
        self.steps: list[tuple[Event, Effect | None]] = []
        self.outcomes: list[Outcome] = []
        # Actors, not their id(): an id is reused once its actor is freed.
        self._ended: set[SessionActor] = set()
        self.first_end = anyio.Event()

    def step(
        self,
        actor: SessionActor,
        event: Event,
        effect: Effect | None,
        protocol: WireProtocol,
        now: float,
    ) -> None:
        self.steps.append((event, effect))
        if actor.phase is Phase.ENDED and actor not in self._ended:
            self._ended.add(actor)
            assert actor.outcome is not None
            self.outcomes.append(actor.outcome)
            self.first_end.set()

    @property
    def collects(self) -> list[Collect]:
        return [event for event, _ in self.steps if isinstance(event, Collect)]

    @property
    def dispatched(self) -> list[CommittedRequest]:
        return [effect.request for _, effect in self.steps if isinstance(effect, Dispatch)]

    @property
    def screenshots_received(self) -> int:
        """Screenshots that crossed the wire, in collect or commit frames."""
        return sum(
            isinstance(getattr(event, "payload", None), Screenshot)
            or isinstance(getattr(event, "screenshot", None), Screenshot)
            for event, _ in self.steps
        )
