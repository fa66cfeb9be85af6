"""The steps every transport takes with a hosted actor, whatever its wire protocol.

The v1 stream and the legacy endpoint both run the pipeline and watch the session's
deadline the same way; only how an output or a verdict reaches the client differs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing

import anyio
import grpc

from nexy_stream.pipeline import Output, Pipeline
from nexy_stream.server.hosting import HostedSession
from nexy_stream.session import (
    CommittedRequest,
    Disconnected,
    Effect,
    OutputSent,
    PipelineFailed,
    PipelineFinished,
    ShuttingDown,
    Tick,
)

logger = logging.getLogger(__name__)

STATUS = {code.value[0]: code for code in grpc.StatusCode}
"""gRPC status codes by wire number (the numbers :class:`nexy_stream.session.Code` uses)."""

Apply = Callable[[Effect | None], Awaitable[None]]


async def run_pipeline(
    session: HostedSession,
    pipeline: Pipeline,
    request: CommittedRequest,
    send: Callable[[Output], Awaitable[None]],
) -> Effect | None:
    """Sends every output of one committed request; returns the actor's closing verdict.

    Only what the pipeline raises is a pipeline failure (a ``Fail`` verdict that ends its
    session, never the server). A ``send`` that fails means the client is gone (grpcio
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
            except Exception as exc:
                logger.exception("pipeline failed for session %s", request.session_id)
                return session.handle(PipelineFailed(type(exc).__name__))
            try:
                await send(item)
            except Exception:
                return session.handle(Disconnected())
            session.handle(OutputSent())
    return session.handle(PipelineFinished())


async def watch_deadline(session: HostedSession, apply: Apply) -> None:
    """Tells the actor when its deadline passes, and once when the server starts shutting
    down; runs until cancelled. One task does both: an idle session costs one task less."""
    announced = False
    while True:
        time_left: float | None = None
        with anyio.CancelScope(deadline=session.actor.deadline):
            if announced:
                await anyio.sleep_forever()
            time_left = await session.shutdown.wait()
        if time_left is not None and not announced:
            announced = True
            await apply(session.handle(ShuttingDown(time_left)))
        else:
            await apply(session.handle(Tick()))
