"""Where a legacy utterance waits between its calls: the seam between the endpoint and its
state.

The session actor keeps every rule; a store only finds the session a call is about (opening
or restoring it), lets the call's events run on it, and keeps what they left: in this
process (:class:`MemoryStore`, the embedded default), or in Redis for every process and
machine that shares it (:class:`nexy_stream.legacy.shared.RedisStore`). Either way the
commit pops the buffer exactly once, and the pipeline runs in the process whose call
committed it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from nexy_stream.legacy.keeper import LegacyCall, LegacySessions
from nexy_stream.server.live import LiveSession
from nexy_stream.session import Code, Dispatch, Owner, SessionError

T = TypeVar("T")
Apply = Callable[[LiveSession], T]  # a call's events, run on its session; what came of them


def already_processing(session_id: str) -> SessionError:
    """A commit for a session whose commit runs now (a client retrying too soon)."""
    return SessionError(Code.RESOURCE_EXHAUSTED, f"session {session_id} is already being processed")


class LegacyStore(Protocol):
    """What the legacy endpoint needs of a store."""

    @property
    def sessions(self) -> LegacySessions:
        """This process's legacy sessions (its running commits)."""

    async def interrupt(self, owner: Owner) -> list[str]:
        """Cancels the running commits of ``owner`` wherever they run (InterruptSession);
        the ids of those it stopped."""

    async def collect(
        self, call: LegacyCall, apply: Apply[SessionError | None]
    ) -> SessionError | None:
        """Runs ``apply`` (the collect events) on the utterance's session and keeps what it
        collected; what ``apply`` said, or why the call is refused."""

    async def commit(
        self, call: LegacyCall, apply: Apply[Dispatch | SessionError]
    ) -> tuple[LiveSession, Dispatch] | SessionError:
        """Runs ``apply`` (the commit) on the utterance's session. On ``Dispatch`` the
        buffer is popped, once for all processes: the session is this call's to run."""

    async def ran(self, session: LiveSession) -> None:
        """The run of a popped commit ended, however (the commit may not run again)."""

    async def held(self) -> int:
        """Utterances waiting for their next call (for tests and operators)."""

    async def aclose(self) -> None:
        """The server stopped: lets go of what this process holds."""


class MemoryStore:
    """The embedded default: an utterance's session stays live in this process between its
    calls, and expires with the session's own deadlines. Every call of one utterance must
    reach this process."""

    def __init__(self, sessions: LegacySessions) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> LegacySessions:
        return self._sessions

    async def collect(
        self, call: LegacyCall, apply: Apply[SessionError | None]
    ) -> SessionError | None:
        session = self._sessions.session(call)
        return session if isinstance(session, SessionError) else apply(session)

    async def commit(
        self, call: LegacyCall, apply: Apply[Dispatch | SessionError]
    ) -> tuple[LiveSession, Dispatch] | SessionError:
        session = self._sessions.session(call)
        if isinstance(session, SessionError):
            return session
        dispatched = apply(session)
        return dispatched if isinstance(dispatched, SessionError) else (session, dispatched)

    async def interrupt(self, owner: Owner) -> list[str]:
        return self._sessions.interrupt(owner)

    async def ran(self, session: LiveSession) -> None:
        """Admission remembers a committed session once it closes."""

    async def held(self) -> int:
        return len(self._sessions)

    async def aclose(self) -> None:
        self._sessions.close_all()
