"""The legacy sessions of this process: one live session per utterance, outliving its calls.

An old client spends one short call per collect chunk and one for the commit, so the
session cannot live in a call the way a v1 session lives in its stream. The keeper finds
it (or opens it, admitted like a v1 session: same registry, budgets and quotas) for a
call, by its owner and id; the server's one deadline watcher expires collected state that
is never committed; the commit call attaches to it to write the answer. The keeper also
knows which commits run for which owner (principal and hardware id), for InterruptSession.

Where an utterance waits between its calls is the store's choice (:mod:`.store`): here,
in this process (the embedded default), or in a shared store that another process restores
it from for its next call (``Open.collected``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from nexy_stream.pipeline import Output, Pipeline
from nexy_stream.server.hosting import Hosting
from nexy_stream.server.live import LiveSession, OutputWrites, Sessions
from nexy_stream.server.observer import WireProtocol
from nexy_stream.server.registry import Key
from nexy_stream.server.tasks import ServerTasks
from nexy_stream.session import (
    Accept,
    Cancel,
    Collected,
    Dispatch,
    Fail,
    GoAway,
    HandedOver,
    Open,
    Owner,
    Resumed,
    ScreenSize,
    SessionError,
)


@dataclass(frozen=True, slots=True)
class LegacyCall:
    """Whose utterance a call is about, and what its session opens with."""

    owner: Owner  # its principal (if it sent a credential) and its hardware id together
    session_id: str  # canonical
    hardware_id: str
    screen: ScreenSize | None
    peer: str

    @property
    def key(self) -> Key:
        return (self.owner, self.session_id)


class LegacySessions:
    """The legacy sessions of one server, by owner and canonical session id."""

    def __init__(self, hosting: Hosting, sessions: Sessions) -> None:
        self.limits = hosting.limits
        self.clock = hosting.clock
        self.budget = hosting.budget
        self._hosting = hosting
        self._sessions = sessions
        self._running: dict[Owner, set[LiveSession]] = {}  # owner -> running commits

    def __len__(self) -> int:
        return sum(1 for s in self._sessions if s.hosted.protocol is WireProtocol.LEGACY)

    def session(self, call: LegacyCall) -> LiveSession | SessionError:
        """The owner's session of this id, opened (and admitted) on first use; or why the
        call is refused. Another owner's session of the same id is never found: it is not
        this owner's to collect into, commit or probe."""
        return self.found(call.key) or self.open(call)

    def found(self, key: Key) -> LiveSession | None:
        """The live legacy session of this owner and id in this process, if any."""
        found = self._sessions.get(key)
        if found is not None and found.hosted.protocol is WireProtocol.LEGACY:
            return found
        return None

    def open(
        self, call: LegacyCall, collected: Collected | None = None
    ) -> LiveSession | SessionError:
        """A new session for ``call``, admitted; with ``collected``, it takes up what earlier
        calls left in a shared store. Or why the call is refused."""
        session = self._sessions.host(self._hosting.session(WireProtocol.LEGACY))
        effect = session.handle(
            Open(
                call.session_id,
                call.hardware_id,
                screen=call.screen,
                owner=call.owner,
                peer=call.peer,
                collected=collected,
            )
        )
        if isinstance(effect, Fail):  # concluded and closed: no call is attached yet
            return effect.error
        assert isinstance(effect, Accept | Resumed)
        self._sessions.add(session)
        self._hosting.deadlines.moved_earlier(session)
        return session

    @staticmethod
    def hand_over(session: LiveSession) -> None:
        """The session's buffer is in a shared store now: this process lets it go without
        a verdict (the call that commits it, here or elsewhere, ends it)."""
        session.handle(HandedOver())
        session.close()

    def running_owners(self) -> list[Owner]:
        """The owners whose commits run in this process now."""
        return list(self._running)

    def interrupt(self, owner: Owner) -> list[str]:
        """Cancels the running commits of one owner (the same principal, or none, and the
        same hardware id); the ids of those it stopped."""
        stopped = []
        for session in list(self._running.get(owner, ())):
            if session.handle(Cancel("interrupted by InterruptSession")) is not None:
                stopped.append(session.actor.session_id)
        return sorted(stopped)

    async def run(
        self,
        session: LiveSession,
        dispatch: Dispatch,
        pipeline: Pipeline,
        tasks: ServerTasks,
        write: Callable[[Output], Awaitable[None]],
    ) -> None:
        """Runs the commit and writes its answer through the commit call (until the session
        has a verdict; the caller then writes the last message and closes the session)."""
        owner = session.actor.owner
        self._running.setdefault(owner, set()).add(session)
        call = CommitCall(session, write)
        try:
            await call.run(dispatch, pipeline, tasks)
        finally:
            running = self._running[owner]
            running.discard(session)
            if not running:
                del self._running[owner]

    def close_all(self) -> None:
        """Ends every legacy session still collecting (the server stopped)."""
        for session in list(self._sessions):
            if session.hosted.protocol is WireProtocol.LEGACY:
                session.handle(Cancel("the server stopped"))
                session.close()


class CommitCall:
    """A legacy commit call, attached to its session while the answer is written
    (implements :class:`nexy_stream.server.live.Attachment`)."""

    def __init__(self, session: LiveSession, write: Callable[[Output], Awaitable[None]]) -> None:
        self._session = session
        self._outputs = OutputWrites(write)
        self._scope = anyio.CancelScope()

    async def run(self, dispatch: Dispatch, pipeline: Pipeline, tasks: ServerTasks) -> None:
        """Writes the answer until the session has a verdict. No client deadline bounds the
        call: a vanished client cancels this handler, which ends the session at once;
        InterruptSession and the session's own deadlines end it through its verdict."""
        session = self._session
        session.attach(self)
        session.dispatch(dispatch, pipeline, tasks)
        try:
            with self._scope:
                await session.write_answer(1, self._write, self)
        except anyio.get_cancelled_exc_class():
            session.lost(self, resumable=False)
            raise

    async def _write(self, _index: int, item: Output) -> bool:
        return await self._outputs(item)

    def concluded(self) -> None:
        self._outputs.drain()
        self._scope.cancel()

    def notify(self, effect: GoAway) -> None:
        """Deployed clients have no frame for it: their commit simply goes on."""

    def taken_over(self) -> None:  # pragma: no cover  (legacy sessions are never resumed)
        self._scope.cancel()
