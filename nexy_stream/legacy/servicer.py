"""``streaming.StreamingService``: old clients' calls, driven into the same session actors.

A collect call feeds its chunk to the session's actor and answers ``collect_ok``; a commit
call feeds the commit, runs the v1 server's pipeline exactly once and streams the output in
the old shape. Every buffer rule is the actor's; this module only translates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import grpc
from google.protobuf.message import Message

from nexy_stream._proto import streaming_pb2 as pb
from nexy_stream.legacy import codec
from nexy_stream.legacy.audio import PlayablePipeline
from nexy_stream.legacy.keeper import LegacyCall
from nexy_stream.legacy.merge import commit_text, merge
from nexy_stream.legacy.store import LegacyStore, already_processing
from nexy_stream.pipeline import Output, Pipeline
from nexy_stream.server.callers import Authenticate, anyone
from nexy_stream.server.live import LiveSession
from nexy_stream.server.peers import peer_host
from nexy_stream.server.requests import decoded
from nexy_stream.server.tasks import ServerTasks
from nexy_stream.session import (
    Ack,
    Code,
    Commit,
    Dispatch,
    Effect,
    EndReason,
    Fail,
    Finish,
    Owner,
    Refuse,
    Reject,
    SessionError,
)
from nexy_stream.session.ids import device_problem
from nexy_stream.status import end_call

LEGACY_SERVICE = pb.DESCRIPTOR.services_by_name["StreamingService"].full_name

Context = grpc.aio.ServicerContext[bytes, pb.StreamResponse]
M = TypeVar("M", bound=Message)


class LegacyService:
    """``authenticate`` says whom a call's sessions belong to (its principal, or no one
    when the deployed client sent no credential) or refuses the call; the owner then also
    carries the call's hardware id, so a session is reached only by its own device."""

    def __init__(
        self,
        store: LegacyStore,
        pipeline: Pipeline,
        tasks: ServerTasks,
        authenticate: Authenticate = anyone,
    ) -> None:
        self._store = store
        self._pipeline = PlayablePipeline(pipeline)  # audio as old clients play it
        self._tasks = tasks
        self._limits = store.sessions.limits
        self._authenticate = authenticate

    def _call(
        self,
        decode: Callable[[bytes], M | SessionError],
        raw: bytes,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> tuple[Owner, M] | SessionError:
        """Who calls and what they ask, or why the call is refused (the credential first)."""
        caller = self._authenticate(context.invocation_metadata())
        if isinstance(caller, SessionError):
            return caller
        request = decode(raw)
        if isinstance(request, SessionError):
            return request
        return caller, request

    # -- StreamAudio ---------------------------------------------------------------------

    async def stream_audio(self, raw: bytes, context: Context) -> None:
        call = self._call(lambda raw: codec.stream_request(raw, self._limits), raw, context)
        if isinstance(call, SessionError):
            await _refuse(context, call)
            return
        caller, request = call
        if request.phase == pb.REQUEST_PHASE_COLLECT:
            problem = await self._collect(request, caller, context)
            if problem is not None:
                await _refuse(context, problem)
                return
            await context.write(codec.end(codec.COLLECT_OK))
            return
        # COMMIT, or UNSPECIFIED: the oldest clients' single request is its own commit.
        dispatched = await self._dispatch(request, caller, context)
        if isinstance(dispatched, SessionError):
            await _refuse(context, dispatched)
            return
        await self._process(*dispatched, context)

    async def _collect(
        self, request: pb.StreamRequest, caller: Owner, context: Context
    ) -> SessionError | None:
        call = codec.identify(request, self._limits)
        if isinstance(call, SessionError):
            return call
        problem = codec.chunk_seq_problem(request)
        if problem is not None:
            return problem

        def collect(session: LiveSession) -> SessionError | None:
            text = (
                merge(session.actor.text, request.chunk_text)
                if request.HasField("chunk_text")
                else None
            )
            for event in codec.collect_events(request.chunk_seq, text, call.screenshot):
                effect = session.handle(event)
                if isinstance(effect, Ack) and effect.error is not None:
                    return effect.error
            return None

        return await self._store.collect(_legacy_call(request, call, caller, context), collect)

    async def _dispatch(
        self, request: pb.StreamRequest, caller: Owner, context: Context
    ) -> tuple[LiveSession, Dispatch] | SessionError:
        """Commits the session (opening it first when nothing was collected)."""
        call = codec.identify(request, self._limits)
        if isinstance(call, SessionError):
            return call

        def commit(session: LiveSession) -> Dispatch | SessionError:
            if session.answer is not None:
                return already_processing(call.session_id)
            final_text = commit_text(session.actor.text, request.prompt)
            effect = session.handle(Commit(final_text, call.screenshot))
            if isinstance(effect, Dispatch):
                return effect
            # Old clients treat a refused commit as the end of the utterance: so does the server.
            error = _error_of(effect)
            session.handle(Refuse(error))
            return error

        return await self._store.commit(_legacy_call(request, call, caller, context), commit)

    async def _process(self, session: LiveSession, dispatch: Dispatch, context: Context) -> None:
        """Runs the pipeline once, then writes the last message and closes the session."""

        async def write(item: Output) -> None:
            await context.write(codec.output(item))

        try:
            try:
                await self._store.sessions.run(
                    session, dispatch, self._pipeline, self._tasks, write
                )
            finally:
                with anyio.CancelScope(shield=True):
                    await self._store.ran(session)
            await _send_last(session, context)
        finally:
            session.close()

    # -- InterruptSession ----------------------------------------------------------------

    async def interrupt_session(
        self, raw: bytes, context: grpc.aio.ServicerContext[bytes, pb.InterruptResponse]
    ) -> pb.InterruptResponse:
        """Stops the caller's own running commits only: those of the same principal (or of
        none) and the same hardware id."""
        call = self._call(lambda raw: decoded(pb.InterruptRequest, raw), raw, context)
        if isinstance(call, SessionError):
            end_call(context, call)
            return pb.InterruptResponse(success=False, message=call.message)
        caller, request = call
        problem = device_problem(request.hardware_id, self._limits.max_id_chars, "hardware_id")
        if problem is not None:
            return pb.InterruptResponse(success=False, message=problem.message)
        stopped = await self._store.interrupt(
            dataclasses.replace(caller, hardware_id=request.hardware_id)
        )
        message = (
            f"interrupted {len(stopped)} running session(s)"
            if stopped
            else "nothing was running for this hardware_id"
        )
        return pb.InterruptResponse(success=True, interrupted_sessions=stopped, message=message)


def _legacy_call(
    request: pb.StreamRequest, call: codec.Identified, caller: Owner, context: Context
) -> LegacyCall:
    """Whose utterance the call is about: its principal (if it sent a credential) and its
    hardware id together."""
    owner = dataclasses.replace(caller, hardware_id=request.hardware_id)
    peer = peer_host(context.peer())
    return LegacyCall(owner, call.session_id, request.hardware_id, call.screen, peer)


async def _send_last(session: LiveSession, context: Context) -> None:
    match session.verdict:
        case Finish(reason):
            done = codec.COMPLETED if reason is EndReason.COMPLETED else codec.INTERRUPTED
            await context.write(codec.end(done))
        case Fail(error):
            if session.actor.output_frames:
                await context.write(codec.failure(error))  # after data: the message only
            else:
                await _refuse(context, error)


async def _refuse(context: Context, error: SessionError) -> None:
    """One error_message, and the call closes with the error's status code."""
    await context.write(codec.failure(error))
    end_call(context, error)


def _error_of(effect: Effect | None) -> SessionError:
    if isinstance(effect, Reject | Fail):
        return effect.error
    return SessionError(Code.INTERNAL, f"the commit was not dispatched ({type(effect).__name__})")


def legacy_service(
    store: LegacyStore,
    pipeline: Pipeline,
    tasks: ServerTasks,
    authenticate: Authenticate = anyone,
) -> grpc.GenericRpcHandler[Any, Any]:
    """The handlers of ``streaming.StreamingService``, for ``add_generic_rpc_handlers``."""
    service = LegacyService(store, pipeline, tasks, authenticate)
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
