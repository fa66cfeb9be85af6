"""A session on the server, whatever carries it: what it runs, its answer, where it goes.

A v1 session outlives a lost stream (its client resumes it on another), and a legacy
session outlives the calls that collect into it. So the session, not a stream, owns its
pipeline run (in the server's task group), its answer (an :class:`OutputLog`) and its
verdict; a stream or a legacy commit call *attaches* to it to write the answer out and,
at the end, the last frame. The same code runs a commit for both transports.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Generic, Protocol, TypeVar

import anyio

from nexy_stream.pipeline import Output, Pipeline
from nexy_stream.server.answer import OutputLog, kind
from nexy_stream.server.deadlines import Deadlines
from nexy_stream.server.hosting import HostedSession
from nexy_stream.server.registry import Key
from nexy_stream.server.runs import Preparer, Run
from nexy_stream.server.tasks import ServerTasks
from nexy_stream.session import (
    Ack,
    Adopt,
    ByteBudget,
    Closed,
    Detached,
    Disconnected,
    Dispatch,
    DropPreparation,
    Effect,
    Event,
    Fail,
    Finish,
    GoAway,
    Outcome,
    OutputSent,
    PipelineFinished,
    Prepare,
    ShuttingDown,
    Tick,
)

OUTPUT_DRAIN_S = 5.0
"""How long an output write already in flight may still take once its session has ended."""

Frame = TypeVar("Frame")


class Attachment(Protocol):
    """The transport side of a session: the stream (or call) its answer goes to."""

    def concluded(self) -> None:
        """The session has a verdict: stop, let the write in flight finish, write the last
        frame (the session's ``verdict``), then :meth:`LiveSession.close` it."""

    def notify(self, effect: GoAway) -> None:
        """Something to tell the client now, outside any frame of its own."""

    def taken_over(self) -> None:
        """The session was resumed on another stream: end this one, quietly."""


class OutputWrites(Generic[Frame]):
    """Writes outputs so that the end of a session never tears one in half.

    grpc cannot take back a write it has begun, and refuses the next one (the session's last
    frame) until it completes. So once the session's scope is cancelled no new output write
    starts, and the one in flight, blocked by flow control when the client reads slowly,
    gets ``OUTPUT_DRAIN_S`` from :meth:`drain` for the client to read on before it is
    abandoned (the SDK discards unread output at once after a cancel). A write that
    completes counts as sent, even after the session ended: the client has it.
    """

    def __init__(self, write: Callable[[Frame], Awaitable[None]]) -> None:
        self._write = write
        self._in_flight: anyio.CancelScope | None = None

    async def __call__(self, frame: Frame) -> bool:
        """Writes one output; whether it was written."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        with anyio.CancelScope(shield=True) as self._in_flight:
            await self._write(frame)
        return not self._in_flight.cancelled_caught

    def drain(self) -> None:
        """The session ended: the write in flight, if any, may finish within the drain time."""
        if self._in_flight is not None:
            self._in_flight.deadline = anyio.current_time() + OUTPUT_DRAIN_S


class LiveSession:
    """One session's life on the server, from its first frame to its close.

    With a ``preparer`` (the server speculates, and its pipeline can prepare), the session
    also runs the preparations its actor asks for during collect (see :mod:`.runs`): at
    most one at a time, in the server's task group like its run, stopped the moment the
    actor drops it or the session ends; at commit the actor adopts it as the run, or it is
    dropped and the commit runs afresh.
    """

    def __init__(
        self,
        hosted: HostedSession,
        sessions: Sessions,
        resumable: bool,
        preparer: Preparer | None = None,
    ) -> None:
        self.hosted = hosted
        self.actor = hosted.actor
        self._sessions = sessions
        self.resume_token = sessions.new_token() if resumable else ""
        self.answer: OutputLog | None = None  # from commit on
        self.verdict: Finish | Fail | None = None
        self.attachment: Attachment | None = None
        self._run: Run | None = None  # the commit's run: started then, or an adopted preparation
        self._preparer = preparer
        self._preparation: Run | None = None  # before commit, the one the actor asked for
        self._prepare_planned = False  # whether the deadline watcher knows the moment
        self._closed = False

    # -- events -----------------------------------------------------------------------------

    def handle(self, event: Event) -> Effect | None:
        """The actor's answer to ``event``; a terminal one concludes the session, and an end
        with nothing to say (its client is gone) stops what it runs and closes it."""
        effect = self.hosted.handle(event)
        if self._preparer is not None:
            self._speculate(effect)
        if not self.conclude(effect) and self.verdict is None and self.hosted.ended:
            self.close()  # which stops what it runs
        return effect

    def conclude(self, effect: Effect | None) -> bool:
        """Carries out a terminal verdict (the first one; later ones are its consequences):
        the pipeline stops, and the attached stream writes the last frame; with no stream
        attached there is no one to tell, and the session closes. Whether it was one."""
        if not isinstance(effect, Finish | Fail):
            return False
        if self.verdict is not None:
            return True
        self.verdict = effect
        self._stop_runs()
        if self.attachment is not None:
            self.attachment.concluded()
        else:  # while it waited for a resume: one that comes in time gets the verdict
            error = self.actor.error
            self.close(linger=error is None or error.limit != "resume_ttl")
        return True

    def close(self, linger: bool = False) -> None:
        """The host is done, and the actor is told ``Closed``. With ``linger`` (its last frame
        was written to a stream, or could not be), a resumable session that was admitted
        lingers for its ``resume_ttl``, answer and verdict kept: the connection may have
        died with that frame in it, and a resume then gets them again. Otherwise the
        answer's bytes go back at once."""
        if self._closed:
            return
        self._closed = True
        self.attachment = None
        self._stop_runs()
        admitted = self.actor.outcome is not Outcome.REFUSED
        if linger and admitted and self.resume_token and self.verdict is not None:
            self._sessions.linger(self, self.actor.limits.resume_ttl_s)
        else:
            self._sessions.forget(self)
            self.release()
        self.hosted.handle(Closed())

    def release(self) -> None:
        """What the session still holds goes back to the budget: its run's output log (the
        answer, or an adopted preparation's that no stream wrote yet)."""
        if self._run is not None:
            self._run.log.release()

    def _stop_runs(self) -> None:
        if self._run is not None:
            self._run.stop()
        self._drop_preparation()

    # -- the commit ---------------------------------------------------------------------------

    def dispatch(self, effect: Dispatch, pipeline: Pipeline, tasks: ServerTasks) -> OutputLog:
        """Starts the one run of the pipeline, owned by the server, not by a stream; unless
        the commit adopted the preparation, which is the run then and goes on."""
        self._drop_preparation()  # any not adopted (the commit's effect has dropped it)
        if self._run is None:
            log = OutputLog(self.actor.limits.max_replay_bytes, self._sessions.budget)
            self._run = Run.committed_run(log, self.handle)
            self._run.start(tasks, partial(pipeline.run, effect.request), self.actor.session_id)
        self.answer = self._run.log
        return self.answer

    # -- speculation --------------------------------------------------------------------------

    def _speculate(self, effect: Effect | None) -> None:
        """Carries out what the actor decided about its preparation, and makes sure the
        deadline watcher wakes it when a preparation is due."""
        step = effect.preparation if isinstance(effect, Ack | Dispatch) else effect
        if isinstance(step, Prepare):
            self._prepare(step)
        elif isinstance(step, DropPreparation):
            self._drop_preparation(step.number)
        elif isinstance(step, Adopt):
            self._adopt(step.number)
        planned = self.actor.prepare_due is not None
        if planned and not self._prepare_planned:  # the deadline moved earlier
            self._sessions.deadlines.moved_earlier(self)
        self._prepare_planned = planned

    def _prepare(self, step: Prepare) -> None:
        preparer = self._preparer
        assert preparer is not None
        self._drop_preparation()  # the one it replaces
        log = OutputLog(
            self.actor.limits.max_replay_bytes, self._sessions.budget, preparer.held_limit
        )
        run = self._preparation = Run(step.number, log, self.handle)
        prepare = partial(preparer.pipeline.prepare, step.request, run.committed)
        run.start(preparer.tasks, prepare, self.actor.session_id)

    def _adopt(self, number: int) -> None:
        prepared, self._preparation = self._preparation, None
        if prepared is not None and prepared.number == number:
            prepared.adopt()
            self._run = prepared
        elif prepared is not None:
            prepared.discard()

    def _drop_preparation(self, number: int = 0) -> None:
        """Stops the running preparation (only if it is ``number``, when given)."""
        prepared = self._preparation
        if prepared is not None and number in (0, prepared.number):
            self._preparation = None
            prepared.discard()

    async def write_answer(
        self, first: int, write: Callable[[int, Output], Awaitable[bool]], by: Attachment
    ) -> None:
        """Writes the answer from output ``first`` on as it comes, for the attached ``by``;
        once all of it is written, the session finishes (or fails, when its pipeline did).
        ``write`` says whether the output was written. A stream that is no longer attached
        (lost, or taken over) decides nothing: the next one's writer will."""
        answer = self.answer
        assert answer is not None
        index = first
        while (item := await answer.output(index)) is not None:
            if not await write(index, item):
                return
            if answer.written(index):
                self.hosted.handle(OutputSent(kind(item)))
            index += 1
        if self.attachment is by:
            self.handle(answer.failure or PipelineFinished())

    # -- streams ------------------------------------------------------------------------------

    def attach(self, attachment: Attachment) -> None:
        """Makes ``attachment`` the stream the session writes to; a previous one is ended."""
        previous, self.attachment = self.attachment, attachment
        if previous is not None and previous is not attachment:
            previous.taken_over()

    def lost(self, attachment: Attachment, resumable: bool = True) -> None:
        """The attached stream is gone. A resumable session waits for a resume (its pipeline
        goes on); any other ends as disconnected."""
        if self.attachment is not attachment:
            return  # it had been taken over already
        self.attachment = None
        if self.verdict is not None:
            self.close(linger=True)  # its last frame can no longer be written
            return
        self.handle(Detached() if resumable and self.resume_token else Disconnected())

    def owns(self, token: str) -> bool:
        """Whether ``token`` is this session's resume token (compared in constant time)."""
        return bool(self.resume_token) and hmac.compare_digest(
            token.encode(), self.resume_token.encode()
        )

    # -- what the deadline watcher needs (see deadlines.Watched) ------------------------------

    @property
    def deadline(self) -> float:
        return self.actor.deadline

    @property
    def ended(self) -> bool:
        return self.verdict is not None or self.hosted.ended

    def deliver(self, event: Tick | ShuttingDown) -> None:
        effect = self.handle(event)
        if isinstance(effect, GoAway) and self.attachment is not None:
            self.attachment.notify(effect)


class Sessions:
    """The live sessions of one transport's owners by key, for resumes and legacy calls, and
    the ended ones that linger for a resume that missed their end; and what every session
    of the server shares (the byte budget, the deadline watcher, the clock)."""

    def __init__(
        self,
        budget: ByteBudget,
        deadlines: Deadlines,
        instance: str,
        now: Callable[[], float],
        max_lingering: int = 10_000,
    ) -> None:
        self.budget = budget
        self.deadlines = deadlines
        self.instance = instance  # names this server process in resume tokens
        self._now = now
        self._max_lingering = max_lingering
        self._by_key: dict[Key, LiveSession] = {}
        # Ended sessions kept for a resume, oldest first (they all linger as long).
        self._lingering: OrderedDict[Key, tuple[LiveSession, float]] = OrderedDict()

    def new_token(self) -> str:
        return f"{self.instance}.{secrets.token_urlsafe(24)}"

    def host(
        self,
        hosted: HostedSession,
        resumable: bool = False,
        attachment: Attachment | None = None,
        preparer: Preparer | None = None,
    ) -> LiveSession:
        """A new session (attached to the stream that brings it, if any), watched for its
        deadlines from now on: a watcher may end it at once (a stopping server)."""
        session = LiveSession(hosted, self, resumable, preparer)
        if attachment is not None:
            session.attach(attachment)
        self.deadlines.watch(session)
        return session

    def lives_here(self, token: str) -> bool:
        """Whether a resume token was given by this server process."""
        return token.partition(".")[0] == self.instance

    def add(self, session: LiveSession) -> None:
        """Makes an admitted session findable by its owner and id (resumes, legacy calls)."""
        actor = session.actor
        self._by_key[(actor.owner, actor.session_id)] = session

    def get(self, key: Key) -> LiveSession | None:
        """The live session of this key, else one that ended and still lingers."""
        found = self._by_key.get(key)
        if found is not None:
            return found
        self._expire()  # the watcher's tick may come a moment later
        lingering = self._lingering.get(key)
        return lingering[0] if lingering is not None else None

    def linger(self, session: LiveSession, seconds: float) -> None:
        """Keeps an ended session findable (not live) for ``seconds``."""
        self.forget(session)
        actor = session.actor
        key = (actor.owner, actor.session_id)
        previous = self._lingering.pop(key, None)
        if previous is not None:
            previous[0].release()
        until = self._now() + seconds
        self._lingering[key] = (session, until)
        self._expire()
        self.deadlines.watch(_LingerExpiry(self, until))

    def _expire(self) -> None:
        """Releases the lingering sessions whose time is up (and the oldest past
        ``max_lingering``)."""
        now = self._now()
        while self._lingering:
            key, (session, until) = next(iter(self._lingering.items()))
            if until > now and len(self._lingering) <= self._max_lingering:
                return
            del self._lingering[key]
            session.release()

    def forget(self, session: LiveSession) -> None:
        actor = session.actor
        key = (actor.owner, actor.session_id)
        if self._by_key.get(key) is session:
            del self._by_key[key]
        self.deadlines.unwatch(session)

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[LiveSession]:
        return iter(list(self._by_key.values()))


class _LingerExpiry:
    """The end of one lingering session's ``resume_ttl``, for the deadline watcher: the
    session's answer goes back to the budget then, not at some later call."""

    __slots__ = ("_sessions", "deadline", "ended")

    def __init__(self, sessions: Sessions, deadline: float) -> None:
        self._sessions = sessions
        self.deadline = deadline
        self.ended = False

    def deliver(self, event: Tick | ShuttingDown) -> None:
        if isinstance(event, Tick):
            self._sessions._expire()
            self.ended = True
            self._sessions.deadlines.unwatch(self)
