"""Keeps legacy sessions between calls: one hosted actor per utterance, outliving its calls.

An old client spends one short call per collect chunk and one for the commit, so the actor
cannot live in a call the way it lives in a v1 stream. The keeper holds it (and registers it
in the same :class:`SessionRegistry` as v1 streams, so one live session id is one session
whatever the protocol), orders the calls of a session with a lock, expires collected state
that is never committed, and remembers which commits run for which hardware id.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio

from nexy_stream._proto import streaming_pb2 as pb
from nexy_stream.server.drive import OutputWrites
from nexy_stream.server.hosting import HostedSession, Hosting
from nexy_stream.server.observer import WireProtocol
from nexy_stream.server.registry import SessionRegistry
from nexy_stream.session import (
    Cancel,
    Code,
    Effect,
    Fail,
    Finish,
    Open,
    Refuse,
    ScreenSize,
    SessionActor,
    SessionError,
    Tick,
)


@dataclass(eq=False)
class LegacySession:
    """One utterance of an old client: its actor and what orders and stops its calls."""

    hosted: HostedSession
    hardware_id: str
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    # The scope of the commit call's pipeline while it runs; cancelling it stops the run.
    running: anyio.CancelScope | None = None
    outputs: OutputWrites[pb.StreamResponse] | None = None  # the commit call's writes
    last: Finish | Fail | None = None
    closed: bool = False

    @property
    def actor(self) -> SessionActor:
        return self.hosted.actor

    def end(self, effect: Effect | None) -> None:
        """Keeps a terminal verdict for the commit call and stops its pipeline."""
        if isinstance(effect, Finish | Fail):
            self.last = effect
            if self.outputs is not None:
                self.outputs.drain()
            if self.running is not None:
                self.running.cancel()


class LegacySessions:
    """The legacy sessions of one server, by canonical session id.

    Once a commit ran, its session id is remembered for ``idle_timeout_s`` (at most
    ``max_live`` ids), so a collect or a repeated commit that arrives late gets
    FAILED_PRECONDITION instead of leaving a buffer behind or running the pipeline twice.
    """

    def __init__(
        self,
        registry: SessionRegistry,
        hosting: Hosting,
    ) -> None:
        self.limits = hosting.limits
        self.deadlines = hosting.deadlines
        self._registry = registry
        self._hosting = hosting
        self._sessions: dict[str, LegacySession] = {}
        self._committed: dict[str, float] = {}  # session id -> forgotten at (monotonic)
        self._running: dict[str, set[LegacySession]] = {}  # hardware id -> running commits
        self._changed = anyio.Event()
        self._expiry: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    # -- calls -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def locked(
        self, session_id: str, hardware_id: str, screen: ScreenSize | None
    ) -> AsyncIterator[LegacySession | SessionError]:
        """The session, opened on first use, held for one call; or why the call is refused."""
        while True:
            found = self._sessions.get(session_id) or self._open(session_id, hardware_id, screen)
            if isinstance(found, SessionError):
                yield found
                return
            async with found.lock:
                if found.closed or self._expired(found):
                    continue  # it ended while this call waited: start afresh
                if found.hardware_id != hardware_id:
                    yield SessionError(
                        Code.FAILED_PRECONDITION,
                        f"session {session_id} belongs to another hardware_id",
                    )
                    return
                yield found
                return

    def start_commit(self, session: LegacySession) -> anyio.CancelScope:
        session.running = anyio.CancelScope()
        self._running.setdefault(session.hardware_id, set()).add(session)
        return session.running

    def interrupt(self, hardware_id: str) -> list[str]:
        """Cancels the running commits of a hardware id; the ids of those it stopped."""
        stopped = []
        for session in list(self._running.get(hardware_id, ())):
            effect = session.hosted.handle(Cancel("interrupted by InterruptSession"))
            if isinstance(effect, Finish | Fail):
                session.end(effect)
                stopped.append(session.actor.session_id)
        return sorted(stopped)

    def close(self, session: LegacySession) -> None:
        """Forgets a session that ended; every path out of a session comes here."""
        if session.closed:
            return
        session.closed = True
        session_id = session.actor.session_id
        if self._sessions.get(session_id) is session:
            del self._sessions[session_id]
        self._registry.remove(session.actor)
        running = self._running.get(session.hardware_id)
        if running is not None:
            running.discard(session)
            if not running:
                del self._running[session.hardware_id]
        if session.actor.committed_at is not None:
            self._forget_committed(anyio.current_time())
            self._committed[session_id] = anyio.current_time() + self.limits.idle_timeout_s
            while len(self._committed) > self._registry.max_live:
                del self._committed[next(iter(self._committed))]

    def _open(
        self, session_id: str, hardware_id: str, screen: ScreenSize | None
    ) -> LegacySession | SessionError:
        self._forget_committed(anyio.current_time())
        if session_id in self._committed:
            return SessionError(
                Code.FAILED_PRECONDITION,
                f"session {session_id} is already committed; the pipeline runs once per session",
            )
        hosted = self._hosting.session(WireProtocol.LEGACY)
        effect = hosted.handle(Open(session_id, hardware_id, screen=screen))
        if isinstance(effect, Fail):
            return effect.error
        refusal = self._registry.add(hosted.actor)
        if refusal is not None:
            hosted.handle(Refuse(refusal))
            return refusal
        session = LegacySession(hosted, hardware_id)
        self._sessions[session_id] = session
        self._changed.set()
        return session

    def _forget_committed(self, now: float) -> None:
        # Every id gets the same time to live, so the oldest ones come first.
        while self._committed and next(iter(self._committed.values())) <= now:
            del self._committed[next(iter(self._committed))]

    def _expired(self, session: LegacySession) -> bool:
        """Ends a collecting session whose deadline passed; whether it did."""
        if session.running is not None or session.actor.deadline > anyio.current_time():
            return False
        session.hosted.handle(Tick())
        self.close(session)
        return True

    # -- the server's lifetime ---------------------------------------------------------------

    def start(self) -> None:
        """Starts expiring collected state (called by ``start_server``).

        A plain asyncio task rather than a task group: ``start_server`` and
        ``RunningServer.stop`` may run in different tasks (a blocking portal), which a task
        group's scope cannot span. :meth:`aclose` cancels and awaits it.
        """
        self._expiry = asyncio.get_running_loop().create_task(self._expire())

    async def aclose(self) -> None:
        """Stops the expiry and ends every session still collecting (server stop)."""
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
        for session in list(self._sessions.values()):
            session.end(session.hosted.handle(Cancel("the server stopped")))
            self.close(session)

    async def _expire(self) -> None:
        """Sleeps until the earliest deadline of a collecting session, then ends it."""
        while True:
            self._changed = anyio.Event()
            waiting = [s for s in self._sessions.values() if s.running is None]
            deadline = min((s.actor.deadline for s in waiting), default=math.inf)
            with anyio.CancelScope(deadline=deadline):
                await self._changed.wait()  # a new session may have an earlier deadline
            now = anyio.current_time()
            for session in waiting:
                if session.actor.deadline <= now:
                    async with session.lock:
                        if not session.closed:
                            self._expired(session)
