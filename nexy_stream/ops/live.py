"""The live sessions of a server and the protocol each one came over."""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterator

from nexy_stream.server.hosting import Hosting
from nexy_stream.server.observer import WireProtocol
from nexy_stream.session import Phase, SessionActor

LIVE_PHASES = (Phase.COLLECTING, Phase.PROCESSING)


class LiveSessions:
    """Reads the session registry; remembers which protocol carries each actor.

    The registry is the truth about liveness (a host removes its actor on every path
    out), so nothing here counts up and down. The protocol map holds actors weakly: a
    forgotten actor leaves it by itself. It may be read from the metrics thread: copying
    the registry and looking an actor up are single operations under the GIL.
    """

    def __init__(self, hosting: Hosting) -> None:
        self._hosting = hosting
        self._registry = hosting.registry
        self._protocols: weakref.WeakKeyDictionary[SessionActor, WireProtocol] = (
            weakref.WeakKeyDictionary()
        )

    def note(self, actor: SessionActor, protocol: WireProtocol) -> None:
        self._protocols[actor] = protocol

    def __iter__(self) -> Iterator[tuple[SessionActor, WireProtocol]]:
        for actor in self._registry:
            if actor.phase in LIVE_PHASES:
                yield actor, self._protocols.get(actor, WireProtocol.STREAM)

    def counts(self) -> Counter[tuple[Phase, WireProtocol]]:
        return Counter((actor.phase, protocol) for actor, protocol in self)

    def now(self) -> float:
        """The server clock's now, which the actors' figures are measured by."""
        return self._hosting.clock.now()

    def buffered_bytes(self) -> tuple[int, int]:
        """Text bytes and screenshot bytes held in the buffers of the live sessions."""
        text = screenshots = 0
        for actor, _ in self:
            text += actor.text_bytes
            screenshots += actor.screenshot_bytes
        return text, screenshots

    def awaiting_resume(self) -> int:
        """Live sessions whose stream was lost, waiting for their client to resume them."""
        return sum(1 for actor, _ in self if actor.detached)

    def budget(self) -> tuple[int, int | None]:
        """Bytes all sessions hold against ``max_buffered_bytes``, and that budget."""
        budget = self._hosting.budget
        return budget.held, budget.limit

    def awaiting_open(self) -> int:
        """Streams open but not yet opened as sessions (no valid open frame yet)."""
        return self._hosting.awaiting_open()
