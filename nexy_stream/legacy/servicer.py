"""``streaming.StreamingService``: old clients' calls, driven into the same session actors.

A collect call feeds its chunk to the session's actor and answers ``collect_ok``; a commit
call feeds the commit, runs the v1 server's pipeline exactly once and streams the output in
the old shape. Every buffer rule is the actor's; this module only translates.
"""

from __future__ import annotations

from typing import Any

import anyio
import grpc

from nexy_stream._proto import streaming_pb2 as pb
from nexy_stream.legacy import codec
from nexy_stream.legacy.audio import PlayablePipeline
from nexy_stream.legacy.keeper import LegacySession, LegacySessions
from nexy_stream.legacy.merge import commit_text, merge
from nexy_stream.pipeline import Output, Pipeline
from nexy_stream.server.drive import STATUS, OutputWrites, run_pipeline
from nexy_stream.server.requests import decoded
from nexy_stream.session import (
    Ack,
    Code,
    Commit,
    CommittedRequest,
    Disconnected,
    Dispatch,
    Effect,
    EndReason,
    Fail,
    Finish,
    Refuse,
    Reject,
    SessionError,
)
from nexy_stream.session.ids import device_problem

LEGACY_SERVICE = pb.DESCRIPTOR.services_by_name["StreamingService"].full_name

Context = grpc.aio.ServicerContext[bytes, pb.StreamResponse]


class LegacyService:
    def __init__(self, sessions: LegacySessions, pipeline: Pipeline) -> None:
        self._sessions = sessions
        self._pipeline = PlayablePipeline(pipeline)  # audio as old clients play it
        self._limits = sessions.limits

    # -- StreamAudio ---------------------------------------------------------------------

    async def stream_audio(self, raw: bytes, context: Context) -> None:
        request = codec.stream_request(raw, self._limits)
        if isinstance(request, SessionError):
            await self._refuse(context, request)
            return
        if request.phase == pb.REQUEST_PHASE_COLLECT:
            problem = await self._collect(request)
            if problem is not None:
                await self._refuse(context, problem)
                return
            await context.write(codec.end(codec.COLLECT_OK))
            return
        # COMMIT, or UNSPECIFIED: the oldest clients' single request is its own commit.
        dispatched = await self._dispatch(request)
        if isinstance(dispatched, SessionError):
            await self._refuse(context, dispatched)
            return
        await self._process(*dispatched, context)

    async def _collect(self, request: pb.StreamRequest) -> SessionError | None:
        call = codec.identify(request, self._limits)
        if isinstance(call, SessionError):
            return call
        problem = codec.chunk_seq_problem(request)
        if problem is not None:
            return problem
        shot = call.screenshot
        async with self._sessions.locked(
            call.session_id, request.hardware_id, call.screen
        ) as session:
            if isinstance(session, SessionError):
                return session
            text = (
                merge(session.actor.text, request.chunk_text)
                if request.HasField("chunk_text")
                else None
            )
            for event in codec.collect_events(request.chunk_seq, text, shot):
                effect = session.hosted.handle(event)
                if isinstance(effect, Ack) and effect.error is not None:
                    return effect.error
        return None

    async def _dispatch(
        self, request: pb.StreamRequest
    ) -> tuple[LegacySession, CommittedRequest] | SessionError:
        """Commits the session (opening it first when nothing was collected)."""
        call = codec.identify(request, self._limits)
        if isinstance(call, SessionError):
            return call
        session_id, shot = call.session_id, call.screenshot
        async with self._sessions.locked(session_id, request.hardware_id, call.screen) as session:
            if isinstance(session, SessionError):
                return session
            if session.running is not None:
                return SessionError(
                    Code.RESOURCE_EXHAUSTED, f"session {session_id} is already being processed"
                )
            final_text = commit_text(session.actor.text, request.prompt)
            effect = session.hosted.handle(Commit(final_text, shot))
            if isinstance(effect, Dispatch):
                self._sessions.start_commit(session)
                return session, effect.request
            # Old clients treat a refused commit as the end of the utterance: so does the server.
            error = _error_of(effect)
            session.hosted.handle(Refuse(error))
            self._sessions.close(session)
            return error

    async def _process(
        self, session: LegacySession, request: CommittedRequest, context: Context
    ) -> None:
        """Runs the pipeline once, then writes the last message.

        No client deadline bounds the call: a vanished client cancels this handler, which
        cancels the pipeline at once; InterruptSession and the session's own deadline stop
        it through ``session.running``.
        """
        running = session.running
        assert running is not None
        session.outputs = outputs = OutputWrites(context.write)

        async def send(item: Output) -> None:
            await outputs(codec.output(item))

        async def pipeline() -> None:
            session.end(await run_pipeline(session.hosted, self._pipeline, request, send))
            running.cancel()  # the run is over (no verdict when the client is gone)

        async def apply(effect: Effect | None) -> None:
            session.end(effect)

        try:
            with running:
                async with anyio.create_task_group() as tasks:
                    with self._sessions.deadlines.watching(session.hosted, apply, tasks):
                        await pipeline()
        except anyio.get_cancelled_exc_class():
            session.hosted.handle(Disconnected())
            raise  # swallowing it leaks the call in grpcio
        finally:
            self._sessions.close(session)
        match session.last:
            case Finish(reason):
                done = codec.COMPLETED if reason is EndReason.COMPLETED else codec.INTERRUPTED
                await context.write(codec.end(done))
            case Fail(error):
                if session.actor.output_frames:
                    await context.write(codec.failure(error))  # after data: the message only
                else:
                    await self._refuse(context, error)

    @staticmethod
    async def _refuse(context: Context, error: SessionError) -> None:
        """One error_message, and the call closes with the error's status code."""
        await context.write(codec.failure(error))
        context.set_code(STATUS[int(error.code)])
        context.set_details(error.message)

    # -- InterruptSession ----------------------------------------------------------------

    async def interrupt_session(
        self, raw: bytes, context: grpc.aio.ServicerContext[bytes, pb.InterruptResponse]
    ) -> pb.InterruptResponse:
        request = decoded(pb.InterruptRequest, raw)
        if isinstance(request, SessionError):
            context.set_code(STATUS[int(request.code)])
            context.set_details(request.message)
            return pb.InterruptResponse(success=False, message=request.message)
        problem = device_problem(request.hardware_id, self._limits.max_id_chars, "hardware_id")
        if problem is not None:
            return pb.InterruptResponse(success=False, message=problem.message)
        stopped = self._sessions.interrupt(request.hardware_id)
        message = (
            f"interrupted {len(stopped)} running session(s)"
            if stopped
            else "nothing was running for this hardware_id"
        )
        return pb.InterruptResponse(success=True, interrupted_sessions=stopped, message=message)


def _error_of(effect: Effect | None) -> SessionError:
    if isinstance(effect, Reject | Fail):
        return effect.error
    return SessionError(Code.INTERNAL, f"the commit was not dispatched ({type(effect).__name__})")


def legacy_service(
    sessions: LegacySessions, pipeline: Pipeline
) -> grpc.GenericRpcHandler[Any, Any]:
    """The handlers of ``streaming.StreamingService``, for ``add_generic_rpc_handlers``."""
    service = LegacyService(sessions, pipeline)
    return grpc.method_handlers_generic_handler(
        LEGACY_SERVICE,
        {
            "StreamAudio": grpc.unary_stream_rpc_method_handler(
                service.stream_audio,
                request_deserializer=None,  # bytes: decoded by the handler
                response_serializer=pb.StreamResponse.SerializeToString,
            ),
            "InterruptSession": grpc.unary_unary_rpc_method_handler(
                service.interrupt_session,
                request_deserializer=None,
                response_serializer=pb.InterruptResponse.SerializeToString,
            ),
        },
    )
