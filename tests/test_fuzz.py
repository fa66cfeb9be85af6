"""A fuzz run over every method a client reaches: 10 000+ malformed frames and requests on
Session, StreamAudio, InterruptSession and Watch (see ``tests/fuzzing.py``), against one
real server with authentication on.

Afterwards the server still serves, every status it sent (in band or as the call's status)
is one the protocol names, and its log holds no traceback and no error. Frames go in
batches on a few streams without waiting for each answer, so the run exercises the decoders
rather than the round trips; the limits are small, so frames "as large as a frame may be"
are cheap.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from typing import Any

import anyio
import grpc
import pytest
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from nexy_stream._proto import streaming_pb2 as legacy_pb
from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.legacy.servicer import LEGACY_SERVICE
from nexy_stream.ops.admin import WATCH_METHOD
from nexy_stream.server.service import SESSION_SERVICE
from nexy_stream.session import Limits
from tests.auth_keys import authenticator, bearer
from tests.fuzzing import Fuzzer
from tests.legacy_wire import LegacyClient, assert_answered, new_session_id
from tests.wire import RawSession, commit_frame, open_frame

pytestmark = pytest.mark.anyio

SEED = 20261124
FRAME_LIMIT = 192 * 1024
LIMITS = Limits(max_screenshot_bytes=128 * 1024, max_frame_bytes=FRAME_LIMIT)
# Malformed frames (or requests) per method: 10 000 in all.
SESSION_FRAMES, STREAM_AUDIO, INTERRUPTS, WATCHES = 6000, 2500, 1000, 500
FRAMES_PER_STREAM = 250
CONCURRENT_CALLS = 16
S = grpc.StatusCode
# What the protocol answers malformed input with; never UNKNOWN or INTERNAL (a handler
# that raised), never anything the docs do not name.
EXPECTED = {
    S.OK,
    S.INVALID_ARGUMENT,
    S.FAILED_PRECONDITION,
    S.RESOURCE_EXHAUSTED,
    S.ALREADY_EXISTS,
    S.UNAUTHENTICATED,
}


class Tally:
    """What the fuzz run sent and what came back."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.statuses: Counter[S] = Counter()
        self.in_band: Counter[int] = Counter()  # codes of v1 error frames
        self.lost = 0  # statuses the client never saw (see local_write_failure)

    def status(self, code: S | None) -> None:
        if code is not None:
            self.statuses[code] += 1


async def test_malformed_frames_on_every_method_leave_the_server_serving(start, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    auth, user, admin = authenticator(tmp_path)
    server = await start(authenticator=auth, limits=LIMITS)
    fuzz = Fuzzer(random.Random(SEED), FRAME_LIMIT)
    tally = Tally()
    # Session calls carry a credential (else nothing past it is read); legacy calls now and
    # then do not, or carry a bad one.
    credentials = [bearer(user), bearer(admin), (), (("authorization", "Bearer nxs_wrong"),)]
    options = [("grpc.max_receive_message_length", 2 * FRAME_LIMIT)]
    async with grpc.aio.insecure_channel(server.target, options=options) as channel:
        with anyio.fail_after(240):
            while tally.sent["Session"] < SESSION_FRAMES:
                await fuzz_session(channel, fuzz, tally, bearer(fuzz.rng.choice((user, admin))))
            await fuzz_unary(channel, fuzz, tally, credentials, bearer(admin))
        await assert_still_serving(channel, bearer(user))
    assert sum(tally.sent.values()) >= 10_000, tally.sent
    assert set(tally.statuses) <= EXPECTED, tally.statuses
    assert set(tally.in_band) <= {code.value[0] for code in EXPECTED}, tally.in_band
    assert tally.lost < tally.statuses.total() / 10, tally.lost
    assert S.INVALID_ARGUMENT in tally.statuses and S.RESOURCE_EXHAUSTED in tally.statuses
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks[:5]]


async def fuzz_session(
    channel: grpc.aio.Channel, fuzz: Fuzzer, tally: Tally, credential: Any
) -> None:
    """One stream: usually a valid open, then a batch of malformed frames written without
    waiting for answers, while every answer is read."""
    call = channel.stream_stream(
        f"/{SESSION_SERVICE}/Session", response_deserializer=pb.ServerFrame.FromString
    )(metadata=credential)

    async def write() -> None:
        frames = [fuzz.any(pb.ClientFrame) for _ in range(FRAMES_PER_STREAM)]
        if fuzz.rng.random() < 0.9:  # else the first frame itself is malformed
            frames.insert(0, open_frame().SerializeToString())
        try:
            for frame in frames:
                await call.write(frame)
                tally.sent["Session"] += 1
            await call.done_writing()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return  # the server ended the stream (a fatal frame): the next stream goes on

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(write)
        tally.status(await read_all(call, tally))


async def read_all(call: Any, tally: Tally) -> S | None:
    """Reads a call to its end; its status, or None when the client cancelled it."""
    try:
        while (frame := await call.read()) is not grpc.aio.EOF:
            if isinstance(frame, pb.ServerFrame) and frame.HasField("error"):
                tally.in_band[frame.error.code] += 1
    except grpc.aio.AioRpcError as error:
        if local_write_failure(error):
            tally.lost += 1
            return None
        return error.code()
    code: S = await call.code()
    return code


def local_write_failure(error: grpc.aio.AioRpcError) -> bool:
    """The client wrote while the server was ending the stream: grpcio's client then sets
    INTERNAL on the call itself ("Internal error from Core", a failed send), and the
    server's own status never reaches it."""
    return (
        error.code() is S.INTERNAL
        and error.details() == "Internal error from Core"
        and "SendMessageOperation" in (error.debug_error_string() or "")
    )


async def fuzz_unary(
    channel: grpc.aio.Channel,
    fuzz: Fuzzer,
    tally: Tally,
    credentials: list[Any],
    admin: Any,
) -> None:
    """StreamAudio, InterruptSession and Watch calls, a few at a time."""
    stream_audio = channel.unary_stream(f"/{LEGACY_SERVICE}/StreamAudio")
    interrupt = channel.unary_unary(f"/{LEGACY_SERVICE}/InterruptSession")
    watch = channel.unary_stream(WATCH_METHOD, response_deserializer=apb.WatchEvent.FromString)
    plan: list[tuple[str, type[Message]]] = [
        *[("StreamAudio", legacy_pb.StreamRequest)] * STREAM_AUDIO,
        *[("InterruptSession", legacy_pb.InterruptRequest)] * INTERRUPTS,
        *[("Watch", apb.WatchRequest)] * WATCHES,
    ]
    fuzz.rng.shuffle(plan)
    slots = anyio.Semaphore(CONCURRENT_CALLS)

    async def one(method: str, raw: bytes, credential: Any) -> None:
        async with slots:
            tally.sent[method] += 1
            if method == "StreamAudio":
                tally.status(await read_all(stream_audio(raw, metadata=credential), tally))
            elif method == "InterruptSession":
                try:
                    await interrupt(raw, metadata=credential)
                    tally.status(S.OK)
                except grpc.aio.AioRpcError as error:
                    tally.status(error.code())
            else:
                call = watch(raw, metadata=admin)
                try:
                    await call.read()  # the snapshot, or the refusal
                    tally.status(S.OK)
                except grpc.aio.AioRpcError as error:
                    tally.status(error.code())
                finally:
                    call.cancel()

    async with anyio.create_task_group() as tasks:
        for method, kind in plan:
            await slots.acquire()  # no more than a few requests built ahead
            slots.release()
            tasks.start_soon(one, method, fuzz.any(kind), fuzz.rng.choice(credentials))


async def assert_still_serving(channel: grpc.aio.Channel, credential: Any) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    status = (await health.Check(health_pb2.HealthCheckRequest(service=""))).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    session = RawSession(channel, credential)
    await session.open()
    await session.send(commit_frame("still here"))
    assert (await session.drain()).text == "still here"
    legacy = LegacyClient(channel, "hw-after-fuzz")
    assert_answered(await legacy.commit(new_session_id(), "and here"), "and here")
