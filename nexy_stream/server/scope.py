"""What a host owns while one of its sessions runs, the same for every transport.

The v1 stream and the legacy endpoint differ only in how an output or the last frame
reaches the client; what runs, what stops it, and what the client is owed at the end are
kept here, by :class:`HostScope`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Generic, TypeVar

import anyio

from nexy_stream.pipeline import Output, Pipeline
from nexy_stream.server.hosting import HostedSession
from nexy_stream.session import (
    CommittedRequest,
    Disconnected,
    Effect,
    Fail,
    Finish,
    OutputSent,
    PipelineFailed,
    PipelineFinished,
)

logger = logging.getLogger(__name__)

OUTPUT_DRAIN_S = 5.0
"""How long an output write already in flight may still take once its session has ended."""

Frame = TypeVar("Frame")


class OutputWrites(Generic[Frame]):
    """Writes the pipeline's outputs so that the end of a session never tears one in half.

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


class HostScope(Generic[Frame]):
    """One session's run on a host: the cancel scope of everything it runs, the writes of
    its pipeline's outputs, and the verdict (``Finish`` or ``Fail``) owed to the client as
    its last frame.

    The first terminal verdict is kept and cancels the scope, whoever reaches it (a frame,
    the pipeline's end, a deadline, an interrupt), so nothing of the session runs once its
    last frame is due, and an output being written is let finish first.
    """

    def __init__(self, session: HostedSession, write_output: Callable[[Frame], Awaitable[None]]):
        self.session = session
        self.cancel_scope = anyio.CancelScope()
        self.verdict: Finish | Fail | None = None
        self._outputs = OutputWrites(write_output)

    def conclude(self, effect: Effect | None) -> bool:
        """Keeps a terminal verdict and stops everything the session runs; whether it was
        one (the first; later ones are consequences of it)."""
        if not isinstance(effect, Finish | Fail):
            return False
        if self.verdict is None:
            self.verdict = effect
        self._outputs.drain()
        self.cancel_scope.cancel()
        return True

    async def run_pipeline(
        self,
        pipeline: Pipeline,
        request: CommittedRequest,
        encode: Callable[[Output], Awaitable[Frame]],
    ) -> None:
        """Sends every output of one committed request, then concludes with the actor's
        verdict.

        Only what the pipeline raises is a pipeline failure (a ``Fail`` verdict that ends
        its session, never the server). A write that fails means the client is gone
        (grpcio raises its internals before it cancels the handler): the session ends as
        disconnected. The generator is closed on every path, so an abandoned run releases
        its upstream calls at once.
        """
        session = self.session
        async with aclosing(pipeline.run(request)) as outputs:
            while True:
                try:
                    item = await anext(outputs)
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    logger.exception("pipeline failed for session %s", request.session_id)
                    self.conclude(session.handle(PipelineFailed(type(exc).__name__)))
                    return
                frame = await encode(item)
                try:
                    sent = await self._outputs(frame)
                except Exception:
                    session.handle(Disconnected())
                    self.cancel_scope.cancel()
                    return
                if sent:
                    session.handle(OutputSent())
        self.conclude(session.handle(PipelineFinished()))
