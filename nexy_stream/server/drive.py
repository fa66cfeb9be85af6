"""The steps every transport takes with a hosted actor, whatever its wire protocol.

The v1 stream and the legacy endpoint both run the pipeline the same way (and have their
deadlines watched by :class:`nexy_stream.server.deadlines.Deadlines`); only how an output
or a verdict reaches the client differs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Generic, TypeVar

import anyio
import grpc

from nexy_stream.pipeline import Output, Pipeline, PipelineError, StageTiming
from nexy_stream.server.hosting import HostedSession
from nexy_stream.session import (
    CommittedRequest,
    Disconnected,
    Effect,
    OutputSent,
    PipelineFailed,
    PipelineFinished,
)

logger = logging.getLogger(__name__)

STATUS = {code.value[0]: code for code in grpc.StatusCode}
"""gRPC status codes by wire number (the numbers :class:`nexy_stream.session.Code` uses)."""

OUTPUT_DRAIN_S = 5.0
"""How long an output write already in flight may still take once its session has ended."""

Frame = TypeVar("Frame")


class OutputWrites(Generic[Frame]):
    """Writes the pipeline's outputs so that the end of a session never tears one in half.

    grpc cannot take back a write it has begun, and refuses the next one (the session's last
    frame) until it completes. So once the session's scope is cancelled no new output write
    starts, and the one in flight, blocked by flow control when the client reads slowly,
    gets ``OUTPUT_DRAIN_S`` from :meth:`drain` for the client to read on before it is
    abandoned (the SDK discards unread output at once after a cancel).
    """

    def __init__(self, write: Callable[[Frame], Awaitable[None]]) -> None:
        self._write = write
        self._in_flight: anyio.CancelScope | None = None

    async def __call__(self, frame: Frame) -> None:
        await anyio.lowlevel.checkpoint_if_cancelled()
        with anyio.CancelScope(shield=True) as self._in_flight:
            await self._write(frame)

    def drain(self) -> None:
        """The session ended: the write in flight, if any, may finish within the drain time."""
        if self._in_flight is not None:
            self._in_flight.deadline = anyio.current_time() + OUTPUT_DRAIN_S


async def run_pipeline(
    session: HostedSession,
    pipeline: Pipeline,
    request: CommittedRequest,
    send: Callable[[Output], Awaitable[None]],
) -> Effect | None:
    """Sends every output of one committed request; returns the actor's closing verdict.

    Only what the pipeline raises is a pipeline failure (a ``Fail`` verdict that ends its
    session, never the server); a :class:`PipelineError` chooses its code and message.
    Stage timings are not sent. A ``send`` that fails means the client is gone (grpcio
    raises its internals before it cancels the handler): the session ends as disconnected.
    The generator is closed on every path, so an abandoned run releases its upstream calls
    at once.
    """
    async with aclosing(pipeline.run(request)) as outputs:
        while True:
            try:
                item = await anext(outputs)
            except StopAsyncIteration:
                break
            except PipelineError as exc:
                logger.warning("pipeline failed for session %s: %s", request.session_id, exc)
                return session.handle(PipelineFailed(exc.message, exc.code))
            except Exception as exc:
                logger.exception("pipeline failed for session %s", request.session_id)
                return session.handle(PipelineFailed(type(exc).__name__))
            if isinstance(item, StageTiming):
                continue
            try:
                await send(item)
            except Exception:
                return session.handle(Disconnected())
            session.handle(OutputSent())
    return session.handle(PipelineFinished())
