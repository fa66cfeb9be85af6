"""Hosts a session on one bidirectional gRPC stream: the thin I/O layer of the v1 protocol.

A stream starts a session (``open``) or takes over one whose stream was lost (``resume``);
either way it then reads frames into the session's actor, carries out its effects, writes
the session's answer from where its client is, and, when the session has a verdict, its
last frame.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import anyio
import anyio.abc
import grpc
from google.protobuf.message import DecodeError

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.pipeline import Output, Pipeline
from nexy_stream.server import codec
from nexy_stream.server.hosting import Hosting
from nexy_stream.server.live import LiveSession, OutputWrites, Sessions
from nexy_stream.server.observer import WireProtocol
from nexy_stream.server.peers import peer_host
from nexy_stream.server.runs import Preparer
from nexy_stream.server.tasks import ServerTasks
from nexy_stream.session import (
    ANONYMOUS,
    Accept,
    Ack,
    Code,
    CommitRepeated,
    Dispatch,
    Effect,
    Event,
    Fail,
    Finish,
    FrameTooLarge,
    GoAway,
    HalfClosed,
    HandedOver,
    Open,
    Owner,
    Phase,
    Reattached,
    Refuse,
    Reject,
    Rejoin,
    Resumed,
    SessionError,
    Unreadable,
)
from nexy_stream.status import end_call

_TAKEN_OVER = SessionError(Code.ABORTED, "the session was resumed on another stream")
HALF_CLOSE_GRACE_S = 1.0
"""How long an end of stream before commit waits for the call's cancellation (a dropped
connection) before it counts as the client's half-close."""
CLIENT_CLOSE_WAIT_S = 1.0
"""How long a stream waits, after its last frame, for its client to half-close (what it
still sends is dropped). gRPC resets a stream that ends while its client side is open
(``RST_STREAM(NO_ERROR)``), and HAProxy 2.6 passes that on as a cancellation that can lose
the end; a client half-closes on the last frame (the SDK does), so the call then ends with
both sides closed."""


class SessionStream:
    """One stream of a session: implements :class:`nexy_stream.server.live.Attachment`.

    The frame reader runs in the handler's own task, inside a task group that also holds,
    after commit, the writer of the answer; an idle session has no task of its own (its
    deadlines are the server's one watcher's). The session's verdict cancels the group, so
    nothing of the stream runs once its last frame is due; a vanished client cancels the
    handler, and the session then waits for a resume (or ends, if it cannot be resumed).
    """

    def __init__(
        self,
        context: grpc.aio.ServicerContext[bytes, pb.ServerFrame],
        pipeline: Pipeline,
        hosting: Hosting,
        sessions: Sessions,
        tasks: ServerTasks,
        owner: Owner = ANONYMOUS,
        preparer: Preparer | None = None,
    ) -> None:
        self._context = context
        self._pipeline = pipeline
        self._hosting = hosting
        self._sessions = sessions
        self._server_tasks = tasks
        self._owner = owner
        # grpc allows one write in flight per call; asyncio's lock takes no checkpoint when
        # free, which is every frame but those racing the answer.
        self._write_lock = asyncio.Lock()
        self._outputs = OutputWrites(self._write)
        self._scope = anyio.CancelScope()
        self._tasks: anyio.abc.TaskGroup | None = None
        self._taken_over = False
        self._client_closed = False  # the client half-closed its side
        self._pending_read: asyncio.Future[Any] | None = None  # after commit (see _read)
        resumable = hosting.limits.resume_ttl_s > 0
        hosted = hosting.session(WireProtocol.STREAM, speculative=preparer is not None)
        self._session = sessions.host(hosted, resumable, self, preparer)

    async def run(self) -> None:
        try:
            await self._run()
            await self._until_client_closed()
        finally:
            if self._pending_read is not None:
                self._pending_read.cancel()

    async def _run(self) -> None:
        try:
            try:
                with self._scope:
                    async with anyio.create_task_group() as tasks:
                        self._tasks = tasks
                        await self._read_frames()
                        # The client only reads now; the session's verdict cancels this wait.
                        await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                # The client went away (or the server stopped): the session learns it, and
                # the cancellation propagates (swallowing it leaks the call in grpcio).
                self._session.lost(self)
                raise
            if self._taken_over:
                end_call(self._context, _TAKEN_OVER)
                self._client_closed = True  # nothing to wait for: its client moved on
                return
            await self._send_last()
        finally:
            session = self._session
            if session.attachment is self and session.verdict is not None:
                # Its last frame is written, or could not be: either way the client may not
                # have it (a connection can die with it), so the session lingers for a resume.
                session.close(linger=True)

    async def refuse(self, error: SessionError) -> None:
        """Ends the stream with ``error`` before reading any frame (a caller that may not
        open sessions): the session is refused, never admitted."""
        try:
            self._session.handle(Refuse(error))
            await self._send_last()
        finally:
            self._session.close()
        await self._until_client_closed()

    async def _until_client_closed(self) -> None:
        """After the last frame: waits a moment for the client's half-close, dropping
        what it still sends (``CLIENT_CLOSE_WAIT_S``)."""
        with anyio.move_on_after(CLIENT_CLOSE_WAIT_S):
            while not self._client_closed:
                try:
                    raw = await self._read()
                except Exception:  # grpcio raises internal errors once the peer is gone
                    return
                self._client_closed = raw is grpc.aio.EOF  # type: ignore[attr-defined]

    async def _read(self) -> Any:
        """The next message, or EOF. After commit, when a read may be waiting as the session
        ends, the read is a future of its own that the end leaves running rather than
        abandons: grpcio answers a read that follows an abandoned one with an end of stream
        at once, and the wait for the client's half-close must see the real one. (Before
        commit frames come fast, and a plain read costs less.)"""
        if self._pending_read is None:
            if self._session.actor.phase is not Phase.PROCESSING:
                return await self._context.read()
            self._pending_read = asyncio.ensure_future(self._context.read())
        raw = await asyncio.shield(self._pending_read)
        self._pending_read = None
        return raw

    # -- what the session needs of its stream (live.Attachment) ------------------------------

    def concluded(self) -> None:
        self._outputs.drain()
        self._scope.cancel()

    def notify(self, effect: GoAway) -> None:
        if self._tasks is not None:
            self._tasks.start_soon(self._write, codec.going_away(effect))

    def taken_over(self) -> None:
        self._taken_over = True
        self._scope.cancel()

    # -- frames in, effects out -------------------------------------------------------------

    async def _read_frames(self) -> None:
        # Not one read more once the session has its verdict (a refused open, a bad frame):
        # the scope's cancel would abandon it, and grpcio answers the read after an abandoned
        # one with an end of stream at once, so the wait for the client's half-close would
        # end at once too, and a proxy could drop the verdict's frame (CLIENT_CLOSE_WAIT_S).
        while not self._scope.cancel_called and not await self._read_frame():
            pass

    async def _read_frame(self) -> bool:
        """Reads one frame into the actor; whether it was the client's last. A function of
        its own, so that no frame stays referenced while the next one is awaited: a large
        screenshot the budget refused would stay in memory as long as its stream idles."""
        raw = await self._read()
        if raw is grpc.aio.EOF:  # type: ignore[attr-defined]  # grpc-stubs lags grpc.aio
            self._client_closed = True
            if self._session.resume_token and self._session.actor.phase is Phase.COLLECTING:
                # A dropped connection shows as an end of stream first and cancels the call
                # a moment later: wait for that before taking it for a half-close (a
                # cancel), or a session its client means to resume would be lost.
                await anyio.sleep(HALF_CLOSE_GRACE_S)
            await self._apply(self._session.handle(HalfClosed()))
            return True
        await self._apply(self._session.handle(self._decode(raw)))
        return False

    def _decode(self, raw: bytes) -> Event:
        if len(raw) > self._session.actor.limits.max_frame_bytes:  # gRPC's own limit is higher
            return FrameTooLarge(len(raw))
        try:
            frame = pb.ClientFrame.FromString(raw)
        except DecodeError:
            return Unreadable("not a nexy.stream.v1.ClientFrame")
        event = codec.decode(frame)
        if event is None:
            return Unreadable("the frame has no kind set")
        if type(event) is Open:  # who is calling is the transport's knowledge
            return dataclasses.replace(
                event, owner=self._owner, peer=peer_host(self._context.peer())
            )
        return event

    async def _apply(self, effect: Effect | None) -> None:
        session = self._session
        match effect:  # the most frequent first: one ack per collect frame
            case Ack():
                await self._write(codec.ack(effect))
            case None | Finish() | Fail():
                return  # a verdict was carried out by the session already
            case Accept():
                self._sessions.add(session)
                self._hosting.deadlines.moved_earlier(session)
                pipeline = self._hosting.pipeline_name
                await self._write(codec.accepted(effect, pipeline, session.resume_token))
            case Reject():
                await self._write(codec.failure(effect.error, fatal=False))
            case GoAway():
                await self._write(codec.going_away(effect))
            case Dispatch():
                # The run starts before the frame is written: a stream cut during that write
                # leaves a committed session whose resume finds its answer under way.
                session.dispatch(effect, self._pipeline, self._server_tasks)
                await self._write(codec.commit_accepted(effect))
                assert self._tasks is not None
                self._tasks.start_soon(session.write_answer, 1, self._write_output, self)
            case CommitRepeated():
                await self._write(codec.commit_accepted(effect.dispatch))
            case Rejoin():
                await self._rejoin(effect)
            case Resumed():  # pragma: no cover  (the found session answers, in _rejoin)
                return

    async def _rejoin(self, rejoin: Rejoin) -> None:
        """Takes over the session the resume names, or refuses this stream clearly."""
        placeholder = self._session
        found = self._sessions.get((self._owner, rejoin.session_id))
        problem = self._rejoin_problem(found, rejoin)
        if problem is not None or found is None:
            placeholder.handle(Refuse(problem or _NOT_FOUND))
            return
        placeholder.handle(HandedOver())
        placeholder.close()
        self._session = found
        first = rejoin.last_output_index + 1
        answer = found.answer
        if found.verdict is not None:  # it ended: what the client missed, then its end again
            actor = found.actor
            resumed = Resumed(actor.session_id, actor.highest_applied_seq, actor.dispatched)
            await self._write(codec.resumed(resumed, first if answer is not None else 1))
            for index in range(first, answer.next_index if answer is not None else first):
                assert answer is not None
                item = await answer.output(index)
                assert item is not None
                await self._write(codec.output(item, index))
            self._scope.cancel()  # the verdict's frame follows (run)
            return
        found.attach(self)
        reattached = found.handle(Reattached())
        assert isinstance(reattached, Resumed)
        await self._write(codec.resumed(reattached, first if answer is not None else 1))
        if answer is not None and self._tasks is not None:
            self._tasks.start_soon(found.write_answer, first, self._write_output, self)

    def _rejoin_problem(self, found: LiveSession | None, rejoin: Rejoin) -> SessionError | None:
        if not self._sessions.lives_here(rejoin.resume_token):
            return SessionError(
                Code.UNAVAILABLE,
                "the session lives on another server process: route a resumed stream by "
                "its x-nexy-session-id header (or open a new session)",
            )
        if found is None or not found.owns(rejoin.resume_token):
            return _NOT_FOUND
        answer = found.answer
        if answer is not None and not answer.kept_from(rejoin.last_output_index + 1):
            return SessionError(
                Code.OUT_OF_RANGE,
                f"outputs after {rejoin.last_output_index} are no longer kept (max_replay_bytes="
                f"{found.actor.limits.max_replay_bytes}); open a new session",
                "max_replay_bytes",
            )
        return None

    async def _write_output(self, index: int, item: Output) -> bool:
        return await self._outputs(codec.output(item, index))

    async def _write(self, frame: pb.ServerFrame) -> None:
        async with self._write_lock:
            try:
                await self._context.write(frame)
            except Exception:  # grpcio raises internal errors once the peer is gone
                self._session.lost(self)
                self._scope.cancel()

    async def _send_last(self) -> None:
        """The verdict's frame, with the session's figures as they are now: an output whose
        write completed after the verdict was sent, and counts."""
        actor = self._session.actor
        match self._session.verdict:
            case Finish(reason):
                now = self._hosting.clock.now()
                await self._write(codec.end(reason, actor.timings(now), actor.output_frames))
            case Fail(error):
                await self._write(codec.failure(error, fatal=True))
                end_call(self._context, error)


_NOT_FOUND = SessionError(
    Code.NOT_FOUND,
    "no session to resume with this id and token: it ended, its resume_ttl passed, or the "
    "token is not its own; open a new session",
)
