"""Who may start a session: the answer to the actor's ``Admit``, for every transport.

The actor checks a session's own frames; admission checks it against the rest of the
server: a live session of the same owner and id, a session that already ran its commit,
the server's capacity, the owner's (or address's) share of it, and a server that is
stopping. Only an admitted session is registered, accepted and observed as opened.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from nexy_stream.server.registry import Key, SessionRegistry, key_of, quota_holder
from nexy_stream.session import Code, SessionActor, SessionError


@dataclass(frozen=True, slots=True)
class Quotas:
    """Server-wide bounds on sessions (per-session bounds are the actor's ``Limits``)."""

    max_live_sessions: int = 10_000
    # One credential (or, without one, one network address) may hold this many at once.
    max_sessions_per_principal: int = 1_000
    max_sessions_per_peer: int = 1_000
    # How long a committed session id is remembered, so its commit never runs twice.
    committed_ttl_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_live_sessions", "max_sessions_per_principal", "max_sessions_per_peer"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.committed_ttl_s < 0:
            raise ValueError("committed_ttl_s cannot be negative")


def already_committed(session_id: str) -> SessionError:
    """A session id whose commit ran already (remembered here, or by a shared store)."""
    return SessionError(
        Code.FAILED_PRECONDITION,
        f"session {session_id} is already committed; the pipeline runs once per session",
    )


class Admission:
    """Admits sessions into the registry and lets them go, remembering committed ones."""

    def __init__(self, registry: SessionRegistry, quotas: Quotas) -> None:
        self.registry = registry
        self.quotas = quotas
        self._committed: OrderedDict[Key, float] = OrderedDict()  # key -> forgotten at
        self._stopping = False

    def admit(self, actor: SessionActor, now: float) -> SessionError | None:
        """Registers the session, or says why it may not start."""
        refusal = self._refusal(actor, now)
        if refusal is None:
            self.registry.add(actor)
        return refusal

    def release(self, actor: SessionActor, now: float) -> None:
        """The host closed the session: it leaves the registry; a committed one is
        remembered for ``committed_ttl_s``."""
        self.registry.remove(actor)
        if actor.committed and self.quotas.committed_ttl_s:
            self._forget(now)
            key = key_of(actor)
            self._committed[key] = now + self.quotas.committed_ttl_s
            self._committed.move_to_end(key)
            while len(self._committed) > self.quotas.max_live_sessions:
                self._committed.popitem(last=False)

    def stop_admitting(self) -> None:
        """The server is stopping: sessions that live go on, no new one starts."""
        self._stopping = True

    def was_committed(self, key: Key, now: float) -> bool:
        self._forget(now)
        return key in self._committed

    def _refusal(self, actor: SessionActor, now: float) -> SessionError | None:
        key, quotas = key_of(actor), self.quotas
        if self._stopping:
            return SessionError(
                Code.UNAVAILABLE, "the server is shutting down; open the session on another one"
            )
        if key in self.registry:
            return SessionError(Code.ALREADY_EXISTS, f"session {actor.session_id} is already live")
        if self.was_committed(key, now):
            return already_committed(actor.session_id)
        if len(self.registry) >= quotas.max_live_sessions:
            return SessionError.over_limit(
                "max_live_sessions",
                "the number of live sessions",
                len(self.registry) + 1,
                quotas.max_live_sessions,
            )
        holder = quota_holder(actor)
        limit, what = (
            ("max_sessions_per_principal", f"the live sessions of {actor.owner}")
            if actor.owner.principal
            else ("max_sessions_per_peer", f"the live sessions from {actor.peer or 'this peer'}")
        )
        maximum = getattr(quotas, limit)
        held = self.registry.held_by(holder)
        if held >= maximum:
            return SessionError.over_limit(limit, what, held + 1, maximum)
        return None

    def _forget(self, now: float) -> None:
        # Every key gets the same time to live, so the oldest come first.
        while self._committed and next(iter(self._committed.values())) <= now:
            self._committed.popitem(last=False)
