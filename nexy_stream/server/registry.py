"""The live sessions of one server process."""

from __future__ import annotations

from collections.abc import Iterator

from nexy_stream.session import Code, SessionActor, SessionError


class SessionRegistry:
    """Knows every live session by id; refuses duplicates and sessions over capacity.

    Hosts add an actor once it is accepted and remove it on every path out; an empty
    registry after the last stream closes is the proof that nothing was left behind.
    """

    def __init__(self, max_live: int) -> None:
        self.max_live = max_live
        self._live: dict[str, SessionActor] = {}

    def add(self, actor: SessionActor) -> SessionError | None:
        if actor.session_id in self._live:
            return SessionError(Code.ALREADY_EXISTS, f"session {actor.session_id} is already live")
        if len(self._live) >= self.max_live:
            return SessionError.over_limit(
                "max_live_sessions",
                "the number of live sessions",
                len(self._live) + 1,
                self.max_live,
            )
        self._live[actor.session_id] = actor
        return None

    def remove(self, actor: SessionActor) -> None:
        if self._live.get(actor.session_id) is actor:
            del self._live[actor.session_id]

    def get(self, session_id: str) -> SessionActor | None:
        return self._live.get(session_id)

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[SessionActor]:
        return iter(list(self._live.values()))
