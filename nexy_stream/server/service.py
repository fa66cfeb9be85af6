"""The v1 session service: one :class:`SessionStream` per call."""

from __future__ import annotations

from typing import Any

import grpc

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.pipeline import Pipeline, preparing
from nexy_stream.server.callers import Authenticate, anyone
from nexy_stream.server.hosting import Hosting
from nexy_stream.server.live import Sessions
from nexy_stream.server.runs import Preparer
from nexy_stream.server.stream import SessionStream
from nexy_stream.server.tasks import ServerTasks
from nexy_stream.session import SessionError

SESSION_SERVICE = pb.DESCRIPTOR.services_by_name["SessionService"].full_name


def session_service(
    pipeline: Pipeline,
    hosting: Hosting,
    sessions: Sessions,
    tasks: ServerTasks,
    authenticate: Authenticate = anyone,
) -> grpc.GenericRpcHandler[Any, Any]:
    """The v1 session service. Frames arrive as raw bytes and are decoded by the stream
    host, so an undecodable frame gets an in-band answer instead of a transport error.

    The caller is authenticated before any frame is read: a refused caller's stream ends
    with the refusal (a fatal ``error`` frame and its status), never admitted; an accepted
    one's sessions belong to its owner. With ``hosting.speculation`` and a pipeline that
    can prepare, sessions prepare their answers during collect."""
    prepares = preparing(pipeline)
    speculation = hosting.speculation
    preparer = (
        Preparer(prepares, tasks, speculation.max_held_bytes)
        if prepares is not None and speculation is not None
        else None
    )

    async def session(
        _requests: object, context: grpc.aio.ServicerContext[bytes, pb.ServerFrame]
    ) -> None:
        owner = authenticate(context.invocation_metadata())
        if isinstance(owner, SessionError):
            await SessionStream(context, pipeline, hosting, sessions, tasks).refuse(owner)
        else:
            stream = SessionStream(context, pipeline, hosting, sessions, tasks, owner, preparer)
            await stream.run()

    return grpc.method_handlers_generic_handler(
        SESSION_SERVICE,
        {
            "Session": grpc.stream_stream_rpc_method_handler(
                session, response_serializer=pb.ServerFrame.SerializeToString
            )
        },
    )
