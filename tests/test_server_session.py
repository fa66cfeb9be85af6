"""The v1 session service end to end: real server on loopback, raw generated stubs."""

from __future__ import annotations

import logging
import uuid

import anyio
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.logformat import FIELDS
from nexy_stream.ops.config import OpsConfig
from nexy_stream.session import Limits
from nexy_stream.status import verdict_limit
from tests.clock import ManualClock
from tests.pipelines import CountingPipeline, FailingPipeline, GatedPipeline
from tests.waiting import settled, until
from tests.wire import (
    DELTA,
    RawSession,
    cancel_frame,
    commit_frame,
    open_frame,
    screenshot_frame,
    text_frame,
)

pytestmark = pytest.mark.anyio


async def test_happy_path_echoes_the_merged_utterance(start):
    pipeline = CountingPipeline()
    server = await start(pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        accepted = await session.open()
        assert accepted.limits.max_text_bytes == Limits().max_text_bytes
        assert accepted.limits.idle_timeout.seconds == 30
        results, highs = [], []
        for frame in (
            text_frame(1, "what is"),
            screenshot_frame(2, b"webp-bytes"),
            text_frame(3, "what is on my"),
            screenshot_frame(4, b"webp-bytes"),  # same content: not stored again
            text_frame(3, "stale"),  # retry of an applied seq: dropped
            text_frame(5, "what is on my screen"),
        ):
            ack = (await session.exchange(frame)).collect_ack
            results.append(pb.CollectResult.Name(ack.result))
            highs.append(ack.highest_applied_seq)
        assert results == [
            "COLLECT_RESULT_APPLIED",
            "COLLECT_RESULT_APPLIED",
            "COLLECT_RESULT_APPLIED",
            "COLLECT_RESULT_DUPLICATE_SCREENSHOT",
            "COLLECT_RESULT_STALE",
            "COLLECT_RESULT_APPLIED",
        ]
        assert highs == [1, 2, 3, 4, 4, 5]
        await session.send(commit_frame("?", DELTA))
        answer = await session.drain()
    assert answer.code is grpc.StatusCode.OK
    committed = answer.frames[0].commit_accepted
    assert committed.text == "what is on my screen?"
    assert committed.has_screenshot and committed.highest_applied_seq == 5
    assert answer.text == "what is on my screen?"
    (audio,) = answer.audio
    assert audio.encoding == pb.AUDIO_ENCODING_PCM_S16LE
    assert (audio.sample_rate_hz, audio.channels) == (48_000, 1)
    assert len(audio.data) > 0 and any(audio.data)
    end = answer.frames[-1].end
    assert end.reason == pb.END_REASON_COMPLETED
    assert end.output_frames == len(answer.frames) - 2
    assert end.timings.HasField("commit_to_first_output") and end.timings.HasField("pipeline")
    assert [r.text for r in pipeline.requests] == ["what is on my screen?"]
    assert pipeline.requests[0].screenshot.data == b"webp-bytes"
    await settled(server)


async def test_acks_carry_the_highest_applied_seq(channel):
    session = RawSession(channel)
    await session.open()
    highs = []
    for seq in (2, 7, 3, 7, 9):
        highs.append((await session.exchange(text_frame(seq, f"t{seq}"))).collect_ack)
    assert [a.highest_applied_seq for a in highs] == [2, 7, 7, 7, 9]
    assert [a.chunk_seq for a in highs] == [2, 7, 3, 7, 9]
    assert highs[-1].applied_chunks == 3


async def test_a_bad_first_frame_is_refused_and_the_server_keeps_serving(server, channel):
    session = RawSession(channel)
    await session.send(text_frame(1, "hello"))
    answer = await session.drain()
    assert answer.code is grpc.StatusCode.FAILED_PRECONDITION
    assert answer.details == "the first frame must be open, got collect"
    (frame,) = answer.frames
    assert frame.error.fatal and frame.error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    session = RawSession(channel)
    await session.open()
    await session.send(commit_frame("still serving"))
    assert (await session.drain()).text == "still serving"
    await settled(server)


@pytest.mark.parametrize(
    ("frame", "code", "needle"),
    [
        (open_frame("nope"), grpc.StatusCode.INVALID_ARGUMENT, "session_id must be a UUID"),
        (open_frame(device_id="unknown"), grpc.StatusCode.INVALID_ARGUMENT, "device_id"),
        (pb.ClientFrame(), grpc.StatusCode.INVALID_ARGUMENT, "no kind set"),
    ],
)
async def test_a_bad_open_is_refused(channel, frame, code, needle):
    session = RawSession(channel)
    await session.send(frame)
    answer = await session.drain()
    assert answer.code is code and needle in answer.details


async def test_undecodable_bytes_get_a_clear_error(channel):
    call = channel.stream_stream(
        "/nexy.stream.v1.SessionService/Session",
        request_serializer=None,
        response_deserializer=pb.ServerFrame.FromString,
    )()
    await call.write(b"\xff\xff\xff")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        while await call.read() is not grpc.aio.EOF:
            pass
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "not a nexy.stream.v1.ClientFrame" in raised.value.details()


def session_ends(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """The figures of every session-end log line so far."""
    return [getattr(r, FIELDS) for r in caplog.records if r.name == "nexy_stream.sessions"]


async def test_an_oversized_frame_ends_its_session_as_resource_exhausted(start, caplog):
    limits = Limits(max_screenshot_bytes=1024, max_frame_bytes=2048)
    server = await start(limits=limits, ops=OpsConfig(metrics_port=0))
    caplog.set_level(logging.INFO, logger="nexy_stream.sessions")
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        frame = screenshot_frame(1, b"x" * 4096)
        await session.send(frame)
        answer = await session.drain()
        size = frame.ByteSize()
        expected = f"the frame in bytes is {size}, over max_frame_bytes=2048"
        assert (answer.code, answer.details) == (grpc.StatusCode.RESOURCE_EXHAUSTED, expected)
        (error,) = [f.error for f in answer.frames if f.HasField("error")]
        assert (error.message, error.limit, error.fatal) == (expected, "max_frame_bytes", True)
        await settled(server)
        (ended,) = session_ends(caplog)
        assert ended["outcome"] == "error"
        assert (ended["error_code"], ended["error"]) == ("RESOURCE_EXHAUSTED", expected)
        assert server.ops.metrics is not None
        counted = server.ops.metrics.registry.get_sample_value(
            "nexy_sessions_ended_total", {"protocol": "stream", "outcome": "error"}
        )
        assert counted == 1
        session = RawSession(channel)  # the server serves on
        await session.open()
        await session.send(commit_frame("fine"))
        assert (await session.drain()).text == "fine"


async def test_a_frame_far_over_the_limit_is_cut_by_grpc_and_the_server_serves_on(start):
    # gRPC only shows the server an end of stream: without resumption the session ends at once
    # (with it, it would wait resume_ttl for a resume its client will not send).
    limits = Limits(max_screenshot_bytes=1024, max_frame_bytes=2048, resume_ttl_s=0)
    server = await start(limits=limits)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(screenshot_frame(1, b"x" * (server.config.transport_max_frame_bytes)))
        answer = await session.drain()
        assert answer.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        await settled(server)
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame("fine"))
        assert (await session.drain()).text == "fine"


async def test_limits_reject_the_frame_not_the_session(start):
    pipeline = CountingPipeline()
    server = await start(pipeline, limits=Limits(max_text_bytes=10, max_chunks=2))
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.exchange(text_frame(1, "hello"))
        ack = (await session.exchange(text_frame(2, "hello world!"))).collect_ack
        assert ack.result == pb.COLLECT_RESULT_REJECTED
        assert ack.error.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
        assert ack.error.limit == "max_text_bytes" and not ack.error.fatal
        assert ack.error.message == "the text in UTF-8 bytes is 12, over max_text_bytes=10"
        await session.exchange(text_frame(2, "hello you"))
        ack = (await session.exchange(text_frame(3, "hi"))).collect_ack
        assert ack.error.limit == "max_chunks"
        error = (await session.exchange(commit_frame(" and more", DELTA))).error
        assert error.limit == "max_text_bytes" and not error.fatal
        await session.send(commit_frame())
        answer = await session.drain()
    assert answer.text == "hello you"
    assert [r.text for r in pipeline.requests] == ["hello you"]


async def test_second_commit_and_late_collect_start_nothing(start):
    pipeline = GatedPipeline()
    server = await start(pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame("once"))
        assert (await session.recv()).commit_accepted.text == "once"
        assert (await session.recv()).output.text == "first"
        error = (await session.exchange(commit_frame("twice"))).error
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0] and not error.fatal
        ack = (await session.exchange(text_frame(1, "late"))).collect_ack
        assert ack.result == pb.COLLECT_RESULT_REJECTED
        pipeline.release.set()
        answer = await session.drain()
    assert answer.text == " last" and answer.kinds()[-1] == "end"
    assert pipeline.runs == 1


async def test_cancel_before_commit_discards_the_buffer(start):
    pipeline = CountingPipeline()
    server = await start(pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.exchange(text_frame(1, "never mind"))
        await session.send(cancel_frame("user let go"))
        answer = await session.drain()
    assert answer.code is grpc.StatusCode.OK
    assert answer.frames[-1].end.reason == pb.END_REASON_CANCELLED
    assert pipeline.requests == []
    await settled(server)


async def test_cancel_after_commit_stops_the_pipeline(start):
    pipeline = GatedPipeline()
    server = await start(pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame("stop me"))
        await session.recv()  # commit_accepted
        await session.recv()  # first output
        await session.send(cancel_frame())
        answer = await session.drain()
    assert answer.kinds() == ["end"]  # nothing after the cancel but the end
    assert answer.frames[0].end.reason == pb.END_REASON_CANCELLED
    assert pipeline.cancelled.is_set()
    await settled(server)


async def test_client_disconnect_cancels_the_pipeline_at_once_without_resumption(start):
    pipeline = GatedPipeline()
    server = await start(pipeline, limits=Limits(resume_ttl_s=0))
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame("then vanish"))
        await session.recv()
        session.call.cancel()
        with anyio.fail_after(10):
            await pipeline.cancelled.wait()
    await settled(server)


async def test_a_vanished_client_is_waited_for_then_its_pipeline_stops(start):
    clock = ManualClock()
    pipeline = GatedPipeline()
    server = await start(pipeline, clock=clock, limits=Limits(resume_ttl_s=30.0))
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame("then vanish"))
        await session.recv()
        session.call.cancel()
        await until(lambda: all(actor.detached for actor in server.registry), "detached")
        assert len(server.registry) == 1 and not pipeline.cancelled.is_set()
        clock.advance(30.0)
        with anyio.fail_after(10):
            await pipeline.cancelled.wait()
    await settled(server)


async def test_half_close_before_commit_cancels(server, channel):
    session = RawSession(channel)
    await session.open()
    await session.exchange(text_frame(1, "abandoned"))
    await session.call.done_writing()
    answer = await session.drain()
    assert answer.frames[-1].end.reason == pb.END_REASON_CANCELLED
    await settled(server)


async def test_half_close_after_commit_still_gets_the_answer(channel):
    session = RawSession(channel)
    await session.open()
    await session.send(commit_frame("read only now"))
    await session.call.done_writing()
    answer = await session.drain()
    assert answer.text == "read only now" and answer.code is grpc.StatusCode.OK


async def test_a_failing_pipeline_ends_its_session_only(start):
    server = await start(FailingPipeline())
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame("break"))
        answer = await session.drain()
        assert answer.text == "partial"
        assert answer.code is grpc.StatusCode.INTERNAL
        assert answer.details == "the pipeline failed: RuntimeError"
        assert answer.frames[-1].error.fatal
        await settled(server)


async def test_idle_sessions_time_out_with_a_clear_error(start):
    clock = ManualClock()
    server = await start(clock=clock, limits=Limits(idle_timeout_s=0.2))
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.exchange(text_frame(1, "and then silence"))
        clock.advance(0.2)
        answer = await session.drain()
        # The status says it is the server's verdict too: grpc.aio drops the frames a client
        # has not read once the status has come, so the error frame may be lost.
        trailing = await session.call.trailing_metadata()
    assert answer.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert answer.details == "no frame came for 0.2s (idle_timeout)"
    assert answer.frames[-1].error.limit == "idle_timeout"
    assert verdict_limit(trailing) == "idle_timeout"
    await settled(server)


async def test_a_live_session_id_cannot_be_opened_twice(server, channel):
    session_id = str(uuid.uuid4())
    first = RawSession(channel)
    await first.open(session_id)
    second = RawSession(channel)
    await second.send(open_frame(session_id.upper()))
    answer = await second.drain()
    assert answer.code is grpc.StatusCode.ALREADY_EXISTS
    assert session_id in answer.details
    await first.send(commit_frame("first wins"))
    assert (await first.drain()).text == "first wins"
    await settled(server)


async def test_capacity_is_bounded(start):
    server = await start(max_live_sessions=2)
    async with grpc.aio.insecure_channel(server.target) as channel:
        held = [RawSession(channel), RawSession(channel)]
        for session in held:
            await session.open()
        refused = RawSession(channel)
        await refused.send(open_frame())
        answer = await refused.drain()
        assert answer.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert answer.frames[-1].error.limit == "max_live_sessions"
        for session in held:
            await session.send(cancel_frame())
            await session.drain()
    await settled(server)


async def test_many_concurrent_sessions_each_get_their_own_answer(start):
    pipeline = CountingPipeline()
    server = await start(pipeline)
    answers: dict[int, str] = {}

    async def utterance(channel: grpc.aio.Channel, n: int) -> None:
        session = RawSession(channel)
        await session.open()
        words = [f"w{n}", "is", "number", str(n)]
        for seq in range(1, len(words) + 1):
            await session.exchange(text_frame(seq, " ".join(words[:seq])))
        await session.send(commit_frame())
        answers[n] = (await session.drain()).text

    async with (
        grpc.aio.insecure_channel(server.target) as channel,
        anyio.create_task_group() as tasks,
    ):
        for n in range(200):
            tasks.start_soon(utterance, channel, n)
    assert answers == {n: f"w{n} is number {n}" for n in range(200)}
    assert len(pipeline.requests) == 200
    await settled(server)


async def test_health_and_reflection_are_on(server, channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "nexy.stream.v1.SessionService"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo()
    await reflect.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    reply = await reflect.read()
    await reflect.done_writing()
    names = {s.name for s in reply.list_services_response.service}
    assert "nexy.stream.v1.SessionService" in names


async def test_max_duration_bounds_a_running_pipeline_after_half_close(start):
    pipeline = GatedPipeline()  # never released: only the deadline can end it
    clock = ManualClock()
    limits = Limits(idle_timeout_s=0.1, max_duration_s=0.5)
    server = await start(pipeline, clock=clock, limits=limits)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame("long answer"))
        assert (await session.recv()).commit_accepted.text == "long answer"
        assert (await session.recv()).output.text == "first"
        await session.call.done_writing()  # the reader is done; the watcher is not
        clock.advance(0.5)  # past the idle timeout too, which counts while collecting only
        answer = await session.drain()
    assert answer.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert answer.details == "the session lasted 0.5s (max_duration)"
    assert pipeline.cancelled.is_set()
    await settled(server)


async def test_deadlines_of_many_sessions_are_kept_apart(start):
    """Sessions that keep talking outlive the idle timeout; the silent ones do not."""
    clock = ManualClock()
    server = await start(clock=clock, limits=Limits(idle_timeout_s=0.6))
    async with grpc.aio.insecure_channel(server.target) as channel:
        talkers = [RawSession(channel) for _ in range(5)]
        silent = [RawSession(channel) for _ in range(5)]
        for session in talkers + silent:
            await session.open()
        for seq in range(1, 13):  # 1.2 s of talking, twice the idle timeout
            for session in talkers:
                await session.exchange(text_frame(seq, f"word {seq}"))
            clock.advance(0.1)
        for session in silent:
            assert (await session.drain()).code is grpc.StatusCode.DEADLINE_EXCEEDED
        for session in talkers:
            await session.send(commit_frame())
            assert (await session.drain()).text == "word 12"
    await settled(server)
