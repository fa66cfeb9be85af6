"""The admin feed of the real server: snapshot, ordered lifecycle events, aggregates."""

from __future__ import annotations

import logging

import anyio
import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.ops.admin import WATCH_METHOD
from nexy_stream.ops.config import OpsConfig
from tests.ops_client import changes, committed_session, next_event, session_events, watch
from tests.waiting import until
from tests.wire import RawSession, cancel_frame, text_frame

pytestmark = pytest.mark.anyio

QUIET = Duration(seconds=3600)  # no aggregates in between


async def test_a_snapshot_then_the_events_of_a_session_in_order(server, channel):
    waiting = RawSession(channel)
    accepted = await waiting.open(device_id="device-waiting")
    await waiting.exchange(text_frame(1, "still talking"))
    call = watch(channel, aggregate_interval=QUIET)
    first = await next_event(call)
    assert first.WhichOneof("kind") == "snapshot"
    assert first.snapshot.matching == 1
    (live,) = first.snapshot.sessions
    assert (live.session_id, live.device_id) == (accepted.session_id, "device-waiting")
    assert (live.phase, live.protocol) == (apb.PHASE_COLLECTING, apb.PROTOCOL_STREAM)
    assert (live.applied_chunks, live.buffered_text_bytes) == (1, len("still talking"))

    answer = await committed_session(channel, "device-b", texts=("one", "one two"))
    events = await session_events(call, 6)
    assert changes(events) == [
        "opened",
        "collected",
        "collected",
        "committed",
        "first_output",
        "ended",
    ]
    assert {e.device_id for e in events} == {"device-b"}
    assert len({e.session_id for e in events}) == 1
    opened, one, two, committed, first_output, ended = events
    assert opened.opened.HasField("client")
    assert [one.collected.chunk_seq, two.collected.chunk_seq] == [1, 2]
    assert two.collected.result == pb.COLLECT_RESULT_APPLIED
    assert two.collected.buffered_text_bytes == len("one two")
    assert committed.committed.applied_chunks == 2
    assert first_output.first_output.HasField("commit_to_first_output")
    assert ended.ended.outcome == apb.OUTCOME_COMMITTED
    assert ended.ended.output_frames == sum(1 for f in answer.frames if f.HasField("output"))
    assert ended.ended.timings.HasField("pipeline")
    call.cancel()


async def test_filters_by_device_and_by_outcome(server, channel):
    by_device = watch(channel, device_id="device-b", aggregate_interval=QUIET)
    by_outcome = watch(channel, outcomes=[apb.OUTCOME_CANCELLED], aggregate_interval=QUIET)
    for call in (by_device, by_outcome):
        assert (await next_event(call)).WhichOneof("kind") == "snapshot"

    await committed_session(channel, "device-a")  # matches neither filter
    cancelled = RawSession(channel)
    await cancelled.open(device_id="device-b")
    await cancelled.exchange(text_frame(1, "never mind"))
    await cancelled.send(cancel_frame())
    await cancelled.drain()

    device_events = await session_events(by_device, 3)
    assert changes(device_events) == ["opened", "collected", "ended"]
    assert {e.device_id for e in device_events} == {"device-b"}
    (only,) = await session_events(by_outcome, 1)
    assert (only.device_id, only.ended.outcome) == ("device-b", apb.OUTCOME_CANCELLED)
    for call in (by_device, by_outcome):
        call.cancel()


async def test_aggregates_count_ends_and_latencies(server, channel):
    call = watch(channel, aggregate_interval=Duration(nanos=100_000_000))
    for device in ("device-1", "device-2"):
        await committed_session(channel, device)
    committed = 0
    with anyio.fail_after(30):
        while committed < 2:
            event = await next_event(call)
            if event.HasField("aggregate"):
                aggregate = event.aggregate
                committed += sum(c.sessions for c in aggregate.ended)
                assert aggregate.interval.ToNanoseconds() > 0
    assert aggregate.commit_to_first_output.samples >= 1
    assert aggregate.commit_to_first_output.HasField("p99")
    assert aggregate.pipeline.samples >= 1
    call.cancel()


@pytest.mark.parametrize(
    ("request_fields", "named"),
    [
        ({"aggregate_interval": Duration(nanos=1_000_000)}, "aggregate_interval"),
        ({"outcomes": [apb.OUTCOME_UNSPECIFIED]}, "outcomes"),
        ({"device_id": "d" * 129}, "device_id"),
    ],
)
async def test_a_bad_watch_request_is_refused_saying_why(channel, request_fields, named):
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await next_event(watch(channel, **request_fields))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert named in (refused.value.details() or "")


async def test_the_admin_service_can_have_a_port_of_its_own(start):
    server = await start(ops=OpsConfig(admin_port=0))
    assert server.ops.admin_target is not None
    async with grpc.aio.insecure_channel(server.target) as public:
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await next_event(watch(public))
        assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED
    async with grpc.aio.insecure_channel(server.ops.admin_target) as admin:
        assert (await next_event(watch(admin))).WhichOneof("kind") == "snapshot"


async def test_stopping_the_server_ends_its_watchers(start):
    server = await start()
    async with grpc.aio.insecure_channel(server.target) as channel:
        call = watch(channel)
        await next_event(call)
        await server.stop(30)  # returns once nothing runs: a watcher does not hold it up
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            while True:
                await next_event(call)
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "stopping" in (ended.value.details() or "")


def assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """No record at WARNING or above and no traceback: what a bad or vanished watcher must
    leave in the server's log."""
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]
    assert "Traceback" not in caplog.text


async def test_an_undecodable_watch_request_is_invalid_argument_and_quiet(channel, caplog):
    garbage = channel.unary_stream(WATCH_METHOD, response_deserializer=apb.WatchEvent.FromString)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await next_event(garbage(b"\xff\xff\xff"))  # a field tag with no end
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid nexy.admin.v1.WatchRequest" in (refused.value.details() or "")
    assert (await next_event(watch(channel))).WhichOneof("kind") == "snapshot"  # serves on
    assert_quiet(caplog)


WATCHERS = 40


async def test_watchers_that_vanish_under_load_leave_a_quiet_log(server, channel, caplog):
    """Watchers go away while events are being written to them: each write that fails
    because its watcher is gone must end the call without a traceback."""
    done = anyio.Event()

    async def load() -> None:
        while not done.is_set():
            await committed_session(channel)

    async with anyio.create_task_group() as tasks:
        for _ in range(4):
            tasks.start_soon(load)
        for n in range(WATCHERS):
            call = watch(channel, aggregate_interval=Duration(nanos=100_000_000))
            for _ in range(n % 5):
                await next_event(call)
            call.cancel()
        # Every vanished watcher is gone from the server before the log is read.
        await until(lambda: not len(server.ops.feed), "no watcher is left", bound_s=30)
        done.set()
    assert_quiet(caplog)


async def test_a_watcher_ended_while_its_first_event_is_written_gets_its_status(start, caplog):
    """The feed closes at every moment of a watcher's first write, one server per moment:
    each watcher still gets UNAVAILABLE, and the log stays quiet."""
    for spins in range(40):
        server = await start()
        async with grpc.aio.insecure_channel(server.target) as channel:
            call = watch(channel)
            with anyio.fail_after(10):
                while not len(server.ops.feed):
                    await anyio.lowlevel.checkpoint()
                for _ in range(spins):
                    await anyio.lowlevel.checkpoint()
                server.ops.feed.close()
                with pytest.raises(grpc.aio.AioRpcError) as ended:
                    while True:
                        await next_event(call)
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
        await server.stop(0)
    assert_quiet(caplog)
