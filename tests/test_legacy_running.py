"""A legacy commit while its pipeline runs: InterruptSession, a vanished client, failures."""

from __future__ import annotations

import anyio
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from nexy_stream.session import Limits
from tests import legacy_stores
from tests.legacy_stores import held
from tests.legacy_wire import LegacyClient, assert_refused, drain, new_session_id
from tests.pipelines import FailingPipeline, FloodPipeline, GatedPipeline
from tests.waiting import settled
from tests.wire import RawSession, cancel_frame, commit_frame

pytestmark = pytest.mark.anyio
# Every test runs against both legacy stores (in memory, and shared in Redis).
legacy_store = legacy_stores.legacy_store
start = legacy_stores.start


async def first_response(call: grpc.aio.UnaryStreamCall) -> str:
    response = await call.read()
    return str(response.WhichOneof("content"))


async def test_interrupt_cancels_the_running_pipeline(start):
    pipeline = GatedPipeline()
    server = await start(pipeline)
    session = new_session_id()
    async with grpc.aio.insecure_channel(server.target) as channel:
        client = LegacyClient(channel)
        call = client.start(client.commit_request(session, "tell me a story"))
        assert await first_response(call) == "text_chunk"
        answer = await client.interrupt()
        assert answer.success
        assert list(answer.interrupted_sessions) == [session]
        assert "interrupted 1" in answer.message
        last = await call.read()
        assert last.end_message == "interrupted"
        assert await call.read() is grpc.aio.EOF
        assert await call.code() is grpc.StatusCode.OK
    assert pipeline.cancelled.is_set()
    assert len(server.registry) == 0


async def test_interrupt_ends_in_band_while_the_client_reads_slowly(start):
    """The interrupt lands while flow control holds an output write: the write may finish
    as the client reads on, and the last message still comes."""
    pipeline = FloodPipeline(chunks=1024, chunk_bytes=32 * 1024)  # far more than the windows
    server = await start(pipeline, limits=Limits(max_replay_bytes=1024 * 1024))  # < windows
    async with grpc.aio.insecure_channel(server.target) as channel:
        client = LegacyClient(channel)
        call = client.start(client.commit_request(new_session_id(), "tell me a long story"))
        assert await pipeline.held_back(server) < pipeline.chunks  # the client has read nothing
        assert len((await client.interrupt()).interrupted_sessions) == 1
        with anyio.fail_after(20):
            reply = await drain(call)
    assert reply.code is grpc.StatusCode.OK, reply.details
    assert reply.last.end_message == "interrupted"
    assert len(reply.audio) < pipeline.chunks
    await settled(server)


async def test_interrupt_touches_only_its_own_hardware_id(start):
    pipeline = GatedPipeline()
    server = await start(pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        client = LegacyClient(channel)
        running = new_session_id()
        call = client.start(client.commit_request(running, "hello"))
        await first_response(call)
        collecting = new_session_id()
        await client.collect(collecting, 1, "next utterance")
        answer = await client.interrupt("hw-other")
        assert answer.success
        assert list(answer.interrupted_sessions) == []
        assert "nothing was running" in answer.message
        assert not pipeline.cancelled.is_set()
        assert list((await client.interrupt()).interrupted_sessions) == [running]
        assert (await call.read()).end_message == "interrupted"
        assert await held(server) == 1  # the collected next utterance is kept


@pytest.mark.parametrize("hardware_id", ["", "unknown", "UNKNOWN"])
async def test_interrupt_needs_a_hardware_id(legacy_client, hardware_id):
    answer = await legacy_client.interrupt(hardware_id)
    assert not answer.success
    assert "hardware_id" in answer.message
    assert list(answer.interrupted_sessions) == []


async def test_a_vanished_client_cancels_the_pipeline_at_once(start):
    pipeline = GatedPipeline()
    server = await start(pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        client = LegacyClient(channel)
        call = client.start(client.commit_request(new_session_id(), "hello"))
        assert await first_response(call) == "text_chunk"
        call.cancel()  # the client sets no deadline: it just goes away
        with anyio.fail_after(10):
            await pipeline.cancelled.wait()
        await settled(server)
        assert (
            await client.collect(new_session_id(), 1, "still serving")
        ).code is grpc.StatusCode.OK


async def test_a_pipeline_failing_before_any_data_is_internal(start):
    server = await start(FailingPipeline(words=0))
    async with grpc.aio.insecure_channel(server.target) as channel:
        reply = await LegacyClient(channel).commit(new_session_id(), "hello")
    assert_refused(reply, grpc.StatusCode.INTERNAL, "RuntimeError")
    assert len(server.registry) == 0


async def test_a_pipeline_failing_after_data_ends_with_one_error_message(start):
    server = await start(FailingPipeline(words=2))
    async with grpc.aio.insecure_channel(server.target) as channel:
        reply = await LegacyClient(channel).commit(new_session_id(), "hello")
    assert reply.kinds() == ["text_chunk", "text_chunk", "error_message"]
    assert "RuntimeError" in reply.last.error_message
    assert reply.code is grpc.StatusCode.OK
    assert len(server.registry) == 0


async def test_a_legacy_commit_and_a_v1_stream_share_the_pipeline(start):
    pipeline = GatedPipeline()
    server = await start(pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        client = LegacyClient(channel)
        legacy_call = client.start(client.commit_request(new_session_id(), "legacy"))
        await first_response(legacy_call)
        v1 = RawSession(channel)
        await v1.open(device_id="hw-1")
        await v1.send(commit_frame("stream"))
        assert (await v1.recv()).WhichOneof("kind") == "commit_accepted"
        assert (await v1.recv()).output.text == "first"
        assert pipeline.runs == 2
        # InterruptSession stops legacy commits only: v1 clients cancel in-band.
        assert len((await client.interrupt()).interrupted_sessions) == 1
        await v1.send(cancel_frame("done here"))
        assert (await v1.drain()).code is grpc.StatusCode.OK
    await settled(server)


async def test_health_and_reflection_list_the_legacy_service(server, channel):
    health = health_pb2_grpc.HealthStub(channel)
    status = await health.Check(health_pb2.HealthCheckRequest(service="streaming.StreamingService"))
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = await call.read()
    await call.done_writing()
    names = {s.name for s in listed.list_services_response.service}
    assert "streaming.StreamingService" in names


@pytest.fixture
def legacy_client(channel: grpc.aio.Channel) -> LegacyClient:
    return LegacyClient(channel)
