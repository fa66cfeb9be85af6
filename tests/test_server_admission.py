"""Admission and server-wide bounds on the real server: who may start a session, what all
sessions may hold, how long a stream may stay silent before its open, and a shutdown that
loses no utterance in flight. Deadlines are moved by a manual clock, never waited for."""

from __future__ import annotations

import anyio
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from nexy_stream.ops.config import OpsConfig
from nexy_stream.session import Limits
from tests.clock import ManualClock
from tests.legacy_wire import LegacyClient, assert_answered, assert_collect_ok, new_session_id
from tests.ops_client import scrape, value
from tests.pipelines import OneBigPiecePipeline
from tests.waiting import until
from tests.wire import (
    RawSession,
    cancel_frame,
    commit_frame,
    open_frame,
    screenshot_frame,
    text_frame,
)

pytestmark = pytest.mark.anyio


async def test_a_stream_that_never_opens_is_counted_then_dropped(start):
    clock = ManualClock()
    server = await start(clock=clock, ops=OpsConfig(metrics_port=0))
    async with grpc.aio.insecure_channel(server.target) as channel:
        silent = RawSession(channel)
        await silent.call.wait_for_connection()
        await until(lambda: server.hosting.awaiting_open() == 1, "the stream is hosted")
        assert value(await scrape(server.ops.metrics_port), "nexy_streams_awaiting_open") == 1
        clock.advance(Limits().open_timeout_s)
        answer = await silent.drain()
    assert answer.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert answer.details == "no open frame came within 5s (open_timeout)"
    assert value(await scrape(server.ops.metrics_port), "nexy_streams_awaiting_open") == 0


async def test_an_open_session_gets_the_idle_timeout_not_the_open_timeout(start):
    clock = ManualClock()
    server = await start(clock=clock, limits=Limits(idle_timeout_s=30.0, open_timeout_s=5.0))
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        clock.advance(10.0)  # past the open timeout: an open session does not care
        ack = await session.exchange(text_frame(1, "still here"))
        assert ack.collect_ack.highest_applied_seq == 1
        clock.advance(30.0)
        answer = await session.drain()
    assert answer.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert answer.details == "no frame came for 30s (idle_timeout)"


async def test_the_byte_budget_bounds_all_sessions_together(start):
    # Without resumption, so an answer is not kept (and counted) after its session ends.
    limits = Limits(resume_ttl_s=0)
    server = await start(limits=limits, max_buffered_bytes=1000, ops=OpsConfig(metrics_port=0))
    async with grpc.aio.insecure_channel(server.target) as channel:
        first, second = RawSession(channel), RawSession(channel)
        await first.open()
        await second.open()
        held = await first.exchange(screenshot_frame(1, b"x" * 900))
        assert held.collect_ack.result == 1  # APPLIED
        refused = await second.exchange(text_frame(1, "y" * 200))
        ack = refused.collect_ack
        assert ack.result == 4  # REJECTED, non-fatal
        assert ack.error.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
        assert ack.error.limit == "max_buffered_bytes" and not ack.error.fatal
        assert "max_buffered_bytes=1000" in ack.error.message
        figures = await scrape(server.ops.metrics_port)
        assert value(figures, "nexy_budget_bytes", kind="held") == 900
        assert value(figures, "nexy_budget_bytes", kind="limit") == 1000
        small = await second.exchange(text_frame(1, "fits"))  # the seq was not consumed
        assert small.collect_ack.result == 1
        await first.send(commit_frame("done"))
        assert (await first.drain()).code is grpc.StatusCode.OK
        await until(lambda: server.hosting.budget.held == len("fits"), "the budget is given back")


async def test_one_address_cannot_take_every_session(start):
    server = await start(max_sessions_per_peer=2)
    async with grpc.aio.insecure_channel(server.target) as channel:
        for _ in range(2):
            await RawSession(channel).open()
        third = RawSession(channel)
        await third.send(open_frame())
        answer = await third.drain()
    assert answer.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_sessions_per_peer=2" in answer.details
    assert "127.0.0.1" in answer.details


async def test_a_refused_session_is_never_counted_as_started(start):
    server = await start(ops=OpsConfig(metrics_port=0))
    session_id = new_session_id()
    async with grpc.aio.insecure_channel(server.target) as channel:
        await RawSession(channel).open(session_id)
        twin = RawSession(channel)
        await twin.send(open_frame(session_id))
        assert (await twin.drain()).code is grpc.StatusCode.ALREADY_EXISTS
        figures = await scrape(server.ops.metrics_port)
    assert value(figures, "nexy_sessions_started_total", protocol="stream") == 1
    assert value(figures, "nexy_sessions_ended_total", protocol="stream", outcome="refused") == 1


async def test_a_committed_session_id_never_runs_twice(start):
    server = await start()
    session_id = new_session_id()
    async with grpc.aio.insecure_channel(server.target) as channel:
        first = RawSession(channel)
        await first.open(session_id)
        await first.send(commit_frame("once"))
        assert (await first.drain()).text == "once"
        again = RawSession(channel)
        await again.send(open_frame(session_id))
        answer = await again.drain()
    assert answer.code is grpc.StatusCode.FAILED_PRECONDITION
    assert "already committed" in answer.details


async def test_an_output_written_as_the_session_ends_is_counted(start):
    """The last output's write is blocked (it is larger than every flow-control window) when
    the client cancels; once the client reads on, it completes, and the end says so."""
    pipeline = OneBigPiecePipeline(12 * 1024 * 1024)
    server = await start(pipeline)
    options = [("grpc.max_receive_message_length", 16 * 1024 * 1024)]
    async with grpc.aio.insecure_channel(server.target, options=options) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame("a long answer"))
        with anyio.fail_after(10):
            await pipeline.big_started.wait()
        await session.send(cancel_frame("the user barged in"))
        answer = await session.drain()
    outputs = [frame for frame in answer.frames if frame.HasField("output")]
    end = answer.frames[-1].end
    assert end.reason == 2  # CANCELLED
    assert end.output_frames == len(outputs) == 2
    assert end.timings.HasField("commit_to_first_output")


async def test_a_stopping_server_keeps_a_legacy_utterance_in_flight(start):
    server = await start(shutdown_grace_s=30.0)
    session_id = new_session_id()
    async with grpc.aio.insecure_channel(server.target) as channel:
        legacy = LegacyClient(channel)
        assert_collect_ok(await legacy.collect(session_id, 1, "turn off the"))
        # Far less than the grace: the stop ends as soon as no session is left.
        with anyio.fail_after(15):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(server.stop)
                await until_not_serving(channel)
                newcomer = RawSession(channel)
                await newcomer.send(open_frame())
                refused = await newcomer.drain()
                assert refused.code is grpc.StatusCode.UNAVAILABLE
                assert "shutting down" in refused.details
                # The utterance collected before the stop is finished and answered.
                assert_collect_ok(await legacy.collect(session_id, 2, "turn off the lights"))
                assert_answered(await legacy.commit(session_id), "turn off the lights")
    assert len(server.registry) == 0


async def until_not_serving(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service="")

    async def not_serving() -> bool:
        reply = await health.Check(request)
        return bool(reply.status == health_pb2.HealthCheckResponse.NOT_SERVING)

    await until(not_serving, "the health service says NOT_SERVING")
