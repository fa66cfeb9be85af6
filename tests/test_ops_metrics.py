"""/metrics of the real server, scraped over HTTP while sessions run."""

from __future__ import annotations

import socket

import grpc
import pytest

from nexy_stream.ops.config import OpsConfig
from tests.legacy_wire import LegacyClient, assert_answered, assert_collect_ok, new_session_id
from tests.ops_client import committed_session, scrape, value
from tests.wire import RawSession, cancel_frame, open_frame, text_frame

pytestmark = pytest.mark.anyio


async def test_metrics_follow_sessions_as_they_run(start):
    server = await start(ops=OpsConfig(metrics_port=0))
    port = server.ops.metrics_port
    assert port is not None
    before = await scrape(port)
    assert value(before, "nexy_sessions_started_total", protocol="stream") == 0
    assert value(before, "nexy_live_sessions", phase="collecting", protocol="stream") == 0

    async with grpc.aio.insecure_channel(server.target) as channel:
        live = RawSession(channel)
        await live.open(device_id="device-live")
        await live.exchange(text_frame(1, "hello there"))
        await live.exchange(text_frame(1, "hello there"))  # stale
        during = await scrape(port)
        assert value(during, "nexy_live_sessions", phase="collecting", protocol="stream") == 1
        assert value(during, "nexy_buffered_bytes", kind="text") == len("hello there")
        assert value(during, "nexy_sessions_started_total", protocol="stream") == 1
        assert value(during, "nexy_collect_frames_total", protocol="stream", result="applied") == 1
        assert value(during, "nexy_collect_frames_total", protocol="stream", result="stale") == 1

        answer = await committed_session(channel, texts=("one", "one two"))
        assert answer.code == grpc.StatusCode.OK
        refused = RawSession(channel)
        await refused.send(open_frame(session_id="not-a-uuid"))
        assert (await refused.drain()).code == grpc.StatusCode.INVALID_ARGUMENT

        after = await scrape(port)
        await live.send(cancel_frame("changed my mind"))
        assert (await live.drain()).code == grpc.StatusCode.OK
        gone = await scrape(port)
    ended = "nexy_sessions_ended_total"
    assert value(after, ended, protocol="stream", outcome="committed") == 1
    assert value(after, ended, protocol="stream", outcome="refused") == 1
    assert value(after, "nexy_live_sessions", phase="collecting", protocol="stream") == 1
    assert value(gone, "nexy_live_sessions", phase="collecting", protocol="stream") == 0
    assert value(gone, ended, protocol="stream", outcome="cancelled") == 1
    assert value(gone, "nexy_buffered_bytes", kind="text") == 0
    assert value(after, "nexy_collect_frames_total", protocol="stream", result="applied") == 3
    first_output = "nexy_commit_to_first_output_seconds_count"
    assert value(after, first_output, protocol="stream") == 1
    pipeline = "nexy_pipeline_duration_seconds_count"
    assert value(after, pipeline, protocol="stream", outcome="committed") == 1
    assert all("session" not in dict(labels) for _, labels in after)  # never a session id


async def test_metrics_are_off_unless_asked_for(start):
    server = await start()
    assert server.ops.metrics_port is None
    assert server.ops.metrics is None


async def test_legacy_sessions_carry_their_protocol_label(start):
    server = await start(ops=OpsConfig(metrics_port=0))
    port = server.ops.metrics_port
    assert port is not None
    async with grpc.aio.insecure_channel(server.target) as channel:
        legacy = LegacyClient(channel)
        session = new_session_id()
        assert_collect_ok(await legacy.collect(session, 1, "open"))
        assert_collect_ok(await legacy.collect(session, 2, "open safari"))
        during = await scrape(port)
        assert_answered(await legacy.commit(session), "open safari")
        after = await scrape(port)
    assert value(during, "nexy_live_sessions", phase="collecting", protocol="legacy") == 1
    assert value(during, "nexy_live_sessions", phase="collecting", protocol="stream") == 0
    assert value(during, "nexy_collect_frames_total", protocol="legacy", result="applied") == 2
    assert value(after, "nexy_sessions_started_total", protocol="legacy") == 1
    assert value(after, "nexy_sessions_ended_total", protocol="legacy", outcome="committed") == 1
    assert value(after, "nexy_commit_to_first_output_seconds_count", protocol="legacy") == 1
    assert value(after, "nexy_sessions_started_total", protocol="stream") == 0


async def test_a_taken_metrics_port_is_named_in_the_error(start):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=rf"127\.0\.0\.1:{port} \(metrics\)"):
            await start(ops=OpsConfig(metrics_port=port))
