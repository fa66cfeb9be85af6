"""Hosts one session actor on one bidirectional gRPC stream: the thin I/O layer."""

from __future__ import annotations

import asyncio
import dataclasses

import anyio
import anyio.abc
import grpc
from google.protobuf.message import DecodeError

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.pipeline import Output, Pipeline
from nexy_stream.server import codec
from nexy_stream.server.hosting import Hosting
from nexy_stream.server.observer import WireProtocol
from nexy_stream.server.peers import peer_host
from nexy_stream.server.scope import HostScope
from nexy_stream.session import (
    ANONYMOUS,
    Accept,
    Ack,
    Closed,
    Disconnected,
    Dispatch,
    Effect,
    Event,
    Fail,
    Finish,
    GoAway,
    HalfClosed,
    Open,
    Owner,
    Refuse,
    Reject,
    SessionError,
    ShuttingDown,
    Tick,
    Unreadable,
)
from nexy_stream.status import end_call


class SessionStream:
    """Reads frames into the actor and carries out its effects.

    The frame reader runs in the handler's own task, inside a task group that holds, after
    commit, the pipeline, and any deadline or shutdown notice the server's one deadline
    watcher delivers; an idle session has no task of its own. A terminal effect cancels the
    group (through the session's :class:`HostScope`), so nothing of the session runs once
    its last frame is due; a vanished client cancels the handler, which cancels the group
    the same way. The actor is told ``Closed`` on every path out, after the last frame.
    """

    def __init__(
        self,
        context: grpc.aio.ServicerContext[bytes, pb.ServerFrame],
        pipeline: Pipeline,
        hosting: Hosting,
        owner: Owner = ANONYMOUS,
    ) -> None:
        self._context = context
        self._pipeline = pipeline
        self._session = hosting.session(WireProtocol.STREAM)
        self._deadlines = hosting.deadlines
        self._owner = owner
        self._actor = self._session.actor
        # grpc allows one write in flight per call; asyncio's lock takes no checkpoint when
        # free, which is every frame but those racing the pipeline.
        self._write_lock = asyncio.Lock()
        self._scope = HostScope(self._session, self._write)
        self._tasks: anyio.abc.TaskGroup | None = None

    async def run(self) -> None:
        try:
            try:
                with self._scope.cancel_scope:
                    async with anyio.create_task_group() as tasks:
                        self._tasks = tasks
                        with self._deadlines.watching(self):
                            await self._read_frames()
                            # The client only reads now; a terminal effect (the pipeline's
                            # end, a deadline) cancels this wait like everything else.
                            await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                # The client went away (or the server stopped): clean up and let it
                # propagate; swallowing it leaks the call in grpcio.
                self._session.handle(Disconnected())
                raise
            await self._send_last()
        finally:
            self._session.handle(Closed())

    async def refuse(self, error: SessionError) -> None:
        """Ends the stream with ``error`` before reading any frame (a caller that may not
        open sessions): the session is refused, never admitted."""
        try:
            self._scope.conclude(self._session.handle(Refuse(error)))
            await self._send_last()
        finally:
            self._session.handle(Closed())

    # -- what the deadline watcher needs (see deadlines.Watched) ----------------------------

    @property
    def deadline(self) -> float:
        return self._actor.deadline

    @property
    def ended(self) -> bool:
        return self._scope.verdict is not None or self._session.ended

    def deliver(self, event: Tick | ShuttingDown) -> None:
        effect = self._session.handle(event)
        if not self._scope.conclude(effect) and effect is not None and self._tasks is not None:
            self._tasks.start_soon(self._apply, effect)

    # -- frames in, effects out -------------------------------------------------------------

    async def _read_frames(self) -> None:
        while not await self._read_frame():
            pass

    async def _read_frame(self) -> bool:
        """Reads one frame into the actor; whether it was the client's last. A function of
        its own, so that no frame stays referenced while the next one is awaited: a large
        screenshot the budget refused would stay in memory as long as its stream idles."""
        raw = await self._context.read()
        if raw is grpc.aio.EOF:  # type: ignore[attr-defined]  # grpc-stubs lags grpc.aio
            await self._apply(self._session.handle(HalfClosed()))
            return True
        await self._apply(self._session.handle(self._decode(raw)))
        return False

    def _decode(self, raw: bytes) -> Event:
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
        match effect:  # the most frequent first: one ack per collect frame
            case Ack():
                await self._write(codec.ack(effect))
            case None:
                return
            case Accept():
                self._deadlines.moved_earlier(self)
                await self._write(codec.accepted(effect))
            case Reject():
                await self._write(codec.failure(effect.error, fatal=False))
            case GoAway():
                await self._write(codec.going_away(effect))
            case Dispatch():
                await self._write(codec.commit_accepted(effect))
                assert self._tasks is not None
                self._tasks.start_soon(
                    self._scope.run_pipeline, self._pipeline, effect.request, _encode
                )
            case Finish() | Fail():
                self._scope.conclude(effect)

    async def _write(self, frame: pb.ServerFrame) -> None:
        async with self._write_lock:
            try:
                await self._context.write(frame)
            except Exception:  # grpcio raises internal errors once the peer is gone
                self._session.handle(Disconnected())
                self._scope.cancel_scope.cancel()

    async def _send_last(self) -> None:
        """The verdict's frame, with the session's figures as they are now: an output whose
        write completed after the verdict was sent, and counts."""
        match self._scope.verdict:
            case Finish(reason):
                actor = self._actor
                now = anyio.current_time()
                await self._write(codec.end(reason, actor.timings(now), actor.output_frames))
            case Fail(error):
                await self._write(codec.failure(error, fatal=True))
                end_call(self._context, error)


async def _encode(item: Output) -> pb.ServerFrame:
    return codec.output(item)
