"""Keeps legacy sessions between calls: one hosted actor per utterance, outliving its calls.

An old client spends one short call per collect chunk and one for the commit, so the actor
cannot live in a call the way it lives in a v1 stream. The keeper holds it from its first
call to its end: admitted and registered like a v1 session (same registry, budgets and
quotas), watched by the server's one deadline watcher (so collected state that is never
committed expires), and closed on every path. It also knows which commits run for which
owner (principal and hardware id), for InterruptSession.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nexy_stream._proto import streaming_pb2 as pb
from nexy_stream.server.hosting import HostedSession, Hosting
from nexy_stream.server.observer import WireProtocol
from nexy_stream.server.registry import Key
from nexy_stream.server.scope import HostScope
from nexy_stream.session import (
    Cancel,
    Closed,
    Effect,
    Fail,
    Finish,
    Open,
    Owner,
    ScreenSize,
    SessionActor,
    SessionError,
    ShuttingDown,
    Tick,
)


@dataclass(eq=False)
class LegacySession:
    """One utterance of an old client: its actor, and its commit call's scope once it runs."""

    hosted: HostedSession
    keeper: LegacySessions
    scope: HostScope[pb.StreamResponse] | None = None
    closed: bool = field(default=False)

    @property
    def actor(self) -> SessionActor:
        return self.hosted.actor

    # -- what the deadline watcher needs (see server.deadlines.Watched) ---------------------

    @property
    def deadline(self) -> float:
        return self.hosted.deadline

    @property
    def ended(self) -> bool:
        return self.closed or self.hosted.ended

    def deliver(self, event: Tick | ShuttingDown) -> None:
        self.end(self.hosted.handle(event))

    def end(self, effect: Effect | None) -> None:
        """Carries out a terminal verdict: the commit call running, if any, stops and writes
        it; a session between calls has no one to tell, and is closed at once."""
        if self.scope is not None:
            self.scope.conclude(effect)
        elif isinstance(effect, Finish | Fail):
            self.keeper.close(self)


class LegacySessions:
    """The legacy sessions of one server, by owner and canonical session id."""

    def __init__(self, hosting: Hosting) -> None:
        self.limits = hosting.limits
        self._hosting = hosting
        self._sessions: dict[Key, LegacySession] = {}
        self._running: dict[Owner, set[LegacySession]] = {}  # owner -> running commits

    def __len__(self) -> int:
        return len(self._sessions)

    def session(
        self, owner: Owner, session_id: str, hardware_id: str, screen: ScreenSize | None, peer: str
    ) -> LegacySession | SessionError:
        """The owner's session of this id, opened (and admitted) on first use; or why the
        call is refused. Another owner's session of the same id is never found: it is not
        this owner's to collect into, commit or probe."""
        found = self._sessions.get((owner, session_id))
        if found is not None:
            return found
        hosted = self._hosting.session(WireProtocol.LEGACY)
        effect = hosted.handle(Open(session_id, hardware_id, screen=screen, owner=owner, peer=peer))
        if isinstance(effect, Fail):
            hosted.handle(Closed())
            return effect.error
        session = LegacySession(hosted, self)
        self._sessions[(owner, session_id)] = session
        self._hosting.deadlines.watch(session)
        return session

    def start_commit(self, session: LegacySession, scope: HostScope[pb.StreamResponse]) -> None:
        session.scope = scope
        self._running.setdefault(session.actor.owner, set()).add(session)

    def interrupt(self, owner: Owner) -> list[str]:
        """Cancels the running commits of one owner (the same principal, or none, and the
        same hardware id); the ids of those it stopped."""
        stopped = []
        for session in list(self._running.get(owner, ())):
            effect = session.hosted.handle(Cancel("interrupted by InterruptSession"))
            if isinstance(effect, Finish | Fail):
                session.end(effect)
                stopped.append(session.actor.session_id)
        return sorted(stopped)

    def close(self, session: LegacySession) -> None:
        """Forgets a session that ended; every path out of a session comes here, once."""
        if session.closed:
            return
        session.closed = True
        actor = session.actor
        key = (actor.owner, actor.session_id)
        if self._sessions.get(key) is session:
            del self._sessions[key]
        self._hosting.deadlines.unwatch(session)
        running = self._running.get(actor.owner)
        if running is not None:
            running.discard(session)
            if not running:
                del self._running[actor.owner]
        session.hosted.handle(Closed())

    def close_all(self) -> None:
        """Ends every session still collecting (the server stopped)."""
        for session in list(self._sessions.values()):
            session.end(session.hosted.handle(Cancel("the server stopped")))
            self.close(session)
