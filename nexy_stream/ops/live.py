"""The live sessions of a server and the protocol each one came over."""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterator

from nexy_stream.server.observer import WireProtocol
from nexy_stream.server.registry import SessionRegistry
from nexy_stream.session import Phase, SessionActor

LIVE_PHASES = (Phase.COLLECTING, Phase.PROCESSING)


class LiveSessions:
    """Reads the session registry; remembers which protocol carries each actor.

    The registry is the truth about liveness (a host removes its actor on every path
    out), so nothing here counts up and down. The protocol map holds actors weakly: a
    forgotten actor leaves it by itself. It may be read from the metrics thread: copying
    the registry and looking an actor up are single operations under the GIL.
    """

    def __init__(self, registry: SessionRegistry) -> None:
        self._registry = registry
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

    def buffered_bytes(self) -> tuple[int, int]:
        """Text bytes and screenshot bytes held in the buffers of the live sessions."""
        text = screenshots = 0
        for actor, _ in self:
            text += actor.text_bytes
            shot = actor.screenshot
            screenshots += len(shot.data) if shot is not None else 0
        return text, screenshots
