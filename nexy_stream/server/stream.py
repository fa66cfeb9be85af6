"""Hosts one session actor on one bidirectional gRPC stream: the thin I/O layer."""

from __future__ import annotations

import asyncio

import anyio
import grpc
from google.protobuf.message import DecodeError

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.pipeline import Output, Pipeline
from nexy_stream.server import codec
from nexy_stream.server.drive import STATUS, OutputWrites, run_pipeline
from nexy_stream.server.hosting import Hosting
from nexy_stream.server.observer import WireProtocol
from nexy_stream.server.registry import SessionRegistry
from nexy_stream.session import (
    Accept,
    Ack,
    CommittedRequest,
    Disconnected,
    Dispatch,
    Effect,
    Event,
    Fail,
    Finish,
    FrameTooLarge,
    GoAway,
    HalfClosed,
    Refuse,
    Reject,
    Unreadable,
)


class SessionStream:
    """Reads frames into the actor and carries out its effects.

    The frame reader runs in the handler's own task, inside a task group that holds, after
    commit, the pipeline, and any deadline or shutdown notice the server's one deadline
    watcher delivers; an idle session has no task of its own. A terminal effect cancels the
    group, so nothing of the session runs once its last frame is written; a vanished client
    cancels the handler, which cancels the group the same way.
    """

    def __init__(
        self,
        context: grpc.aio.ServicerContext[bytes, pb.ServerFrame],
        registry: SessionRegistry,
        pipeline: Pipeline,
        hosting: Hosting,
    ) -> None:
        self._context = context
        self._registry = registry
        self._pipeline = pipeline
        self._session = hosting.session(WireProtocol.STREAM)
        self._deadlines = hosting.deadlines
        self._actor = self._session.actor
        # grpc allows one write in flight per call; asyncio's lock takes no checkpoint when
        # free, which is every frame but those racing the pipeline.
        self._write_lock = asyncio.Lock()
        self._last: Finish | Fail | None = None
        self._outputs = OutputWrites(self._write)
        self._tasks: anyio.abc.TaskGroup | None = None

    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                with self._deadlines.watching(self._session, self._apply, tasks):
                    await self._read_frames()
                    # The client only reads now; a terminal effect (the pipeline's end, a
                    # deadline) cancels this wait like everything else of the session.
                    await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            # The client went away (or the server stopped): clean up and let it propagate,
            # swallowing it leaks the call in grpcio.
            self._handle(Disconnected())
            raise
        finally:
            self._registry.remove(self._actor)
        await self._send_last()

    def _handle(self, event: Event) -> Effect | None:
        return self._session.handle(event)

    async def _read_frames(self) -> None:
        while True:
            raw = await self._context.read()
            if raw is grpc.aio.EOF:  # type: ignore[attr-defined]  # grpc-stubs lags grpc.aio
                await self._apply(self._handle(HalfClosed()))
                return
            await self._apply(self._handle(self._decode(raw)))

    def _decode(self, raw: bytes) -> Event:
        if len(raw) > self._actor.limits.max_frame_bytes:  # gRPC's own limit is higher
            return FrameTooLarge(len(raw))
        try:
            frame = pb.ClientFrame.FromString(raw)
        except DecodeError:
            return Unreadable("not a nexy.stream.v1.ClientFrame")
        return codec.decode(frame) or Unreadable("the frame has no kind set")

    async def _apply(self, effect: Effect | None) -> None:
        match effect:  # the most frequent first: one ack per collect frame
            case Ack():
                await self._write(codec.ack(effect))
            case None:
                return
            case Accept():
                refusal = self._registry.add(self._actor)
                if refusal is not None:
                    await self._apply(self._handle(Refuse(refusal)))
                    return
                await self._write(codec.accepted(effect))
            case Reject():
                await self._write(codec.failure(effect.error, fatal=False))
            case GoAway():
                await self._write(codec.going_away(effect))
            case Dispatch():
                await self._write(codec.commit_accepted(effect))
                assert self._tasks is not None
                self._tasks.start_soon(self._run_pipeline, effect.request)
            case Finish() | Fail():
                self._last = effect
                self._outputs.drain()
                assert self._tasks is not None
                self._tasks.cancel_scope.cancel()

    async def _run_pipeline(self, request: CommittedRequest) -> None:
        async def send(item: Output) -> None:
            await self._outputs(codec.output(item))

        await self._apply(await run_pipeline(self._session, self._pipeline, request, send))

    async def _write(self, frame: pb.ServerFrame) -> None:
        async with self._write_lock:
            try:
                await self._context.write(frame)
            except Exception:  # grpcio raises internal errors once the peer is gone
                self._handle(Disconnected())
                if self._tasks is not None:
                    self._tasks.cancel_scope.cancel()

    async def _send_last(self) -> None:
        match self._last:
            case Finish():
                await self._write(codec.end(self._last))
            case Fail(error):
                await self._write(codec.failure(error, fatal=True))
                self._context.set_code(STATUS[int(error.code)])
                self._context.set_details(error.message)
