"""The live sessions of one server process, by owner and session id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from nexy_stream.session import Owner, SessionActor

Key = tuple[Owner, str]
"""A session's identity: its owner and its (canonical) session id."""


def key_of(actor: SessionActor) -> Key:
    return (actor.owner, actor.session_id)


def quota_holder(actor: SessionActor) -> str:
    """Whose session quota a session counts against: its principal, or without one its
    network address (a deployed legacy client, or any client of a server without auth)."""
    owner = actor.owner
    return f"principal:{owner.principal}" if owner.principal else f"peer:{actor.peer}"


class SessionRegistry:
    """Knows every live session; one live session per key.

    Admission adds an actor once it is admitted and removes it when its host closes it, on
    every path; an empty registry after the last stream closes is the proof that nothing
    was left behind. It also counts the live sessions of each quota holder.
    """

    def __init__(self) -> None:
        self._live: dict[Key, SessionActor] = {}
        self._held: Counter[str] = Counter()

    def add(self, actor: SessionActor) -> None:
        self._live[key_of(actor)] = actor
        self._held[quota_holder(actor)] += 1

    def remove(self, actor: SessionActor) -> None:
        key = key_of(actor)
        if self._live.get(key) is actor:
            del self._live[key]
            holder = quota_holder(actor)
            self._held[holder] -= 1
            if not self._held[holder]:
                del self._held[holder]

    def get(self, key: Key) -> SessionActor | None:
        return self._live.get(key)

    def held_by(self, holder: str) -> int:
        return self._held[holder]

    def __contains__(self, key: Key) -> bool:
        return key in self._live

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[SessionActor]:
        return iter(list(self._live.values()))
