"""The steps every transport takes with a hosted actor, whatever its wire protocol.

The v1 stream and the legacy endpoint both run the pipeline the same way (and have their
deadlines watched by :class:`nexy_stream.server.deadlines.Deadlines`); only how an output
or a verdict reaches the client differs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing

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
)

logger = logging.getLogger(__name__)

STATUS = {code.value[0]: code for code in grpc.StatusCode}
"""gRPC status codes by wire number (the numbers :class:`nexy_stream.session.Code` uses)."""


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
