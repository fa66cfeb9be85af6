"""A watcher that does not read never slows the sessions: it loses events and is told."""

from __future__ import annotations

import anyio
import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream.ops.config import OpsConfig
from nexy_stream.ops.feed import Watcher, WatchFilter
from tests.ops_client import committed_session, next_event, watch

pytestmark = pytest.mark.anyio

SESSIONS = 30  # 5 events each: far more than a stalled watcher's window and queue hold
# A small HTTP/2 window on the watcher's side, so its stream stalls after a few events.
STALLED_CLIENT = [("grpc.http2.lookahead_bytes", 1024), ("grpc.http2.bdp_probe", 0)]
QUIET = Duration(seconds=3600)


async def stalled_watcher(server):
    channel = grpc.aio.insecure_channel(server.target, options=STALLED_CLIENT)
    call = watch(channel, aggregate_interval=QUIET)
    await call.wait_for_connection()
    return channel, call


async def run_sessions(server, count: int) -> None:
    async with grpc.aio.insecure_channel(server.target) as channel:
        for n in range(count):
            answer = await committed_session(channel, f"device-{n}")
            assert answer.code == grpc.StatusCode.OK


async def test_a_stalled_watcher_skips_events_and_is_told_how_many(start):
    server = await start(ops=OpsConfig(feed_buffer=4, feed_max_skipped=1_000_000))
    channel, call = await stalled_watcher(server)
    async with channel:
        await run_sessions(server, SESSIONS)  # all complete while the watcher never reads
        skipped = received = 0
        with anyio.fail_after(30):
            # Drops at the very end are told on the next event: sessions go on until one comes.
            async with anyio.create_task_group() as tasks:

                async def more_sessions() -> None:
                    while True:
                        await run_sessions(server, 1)

                tasks.start_soon(more_sessions)
                while skipped == 0:
                    event = await next_event(call)
                    skipped += event.skipped
                    received += event.HasField("session")
                tasks.cancel_scope.cancel()
    assert received < SESSIONS * 5
    assert skipped > 0


async def test_a_watcher_too_far_behind_is_disconnected_saying_why(start):
    server = await start(ops=OpsConfig(feed_buffer=4, feed_max_skipped=20))
    channel, call = await stalled_watcher(server)
    async with channel:
        await run_sessions(server, SESSIONS)
        with anyio.fail_after(30), pytest.raises(grpc.aio.AioRpcError) as dropped:
            while True:
                await next_event(call)
    assert dropped.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "fell behind" in (dropped.value.details() or "")
    assert "feed_max_skipped=20" in (dropped.value.details() or "")


async def test_a_watcher_queue_keeps_count_of_what_it_lost():
    watcher = Watcher(WatchFilter(), capacity=2, max_skipped=10)
    events = [apb.SessionEvent(session_id=str(n)) for n in range(6)]
    for event in events[:5]:
        watcher.offer(event)
    taken = [await watcher.take(), await watcher.take()]
    watcher.offer(events[5])
    taken.append(await watcher.take())
    assert [(q.payload.session_id, q.skipped) for q in taken if q] == [("0", 0), ("1", 0), ("5", 3)]
    for _ in range(12):
        watcher.offer(events[0])
    assert watcher.reason is not None
    assert watcher.reason.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert await watcher.take() is None
