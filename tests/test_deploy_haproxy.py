"""deploy/haproxy/haproxy.cfg in front of two real servers: streams, not connections, are
balanced; a resumed session's header keeps it on one server; a draining server gets no
new stream while its own sessions finish through the proxy."""

from __future__ import annotations

import signal

import grpc
import pytest

from nexy_stream.client import Client, Ended, EndReason, ServerError, TextChunk
from tests.ops_client import scrape, value
from tests.system import Balancer
from tests.wire import RawSession, commit_frame

pytestmark = pytest.mark.anyio

Metadata = tuple[tuple[str, str], ...]


async def started(balancer: Balancer) -> list[int]:
    """Sessions started on each server."""
    return [
        int(value(await scrape(b.metrics_port), "nexy_sessions_started_total", protocol="stream"))
        for b in balancer.backends
    ]


async def open_sessions(channel: grpc.aio.Channel, count: int, metadata: Metadata = ()):
    sessions = []
    for _ in range(count):
        session = RawSession(channel, metadata)
        await session.open()
        sessions.append(session)
    return sessions


async def commit(session: RawSession, text: str) -> None:
    """Commits, and half-closes on the last frame (as the SDK does)."""
    await session.send(commit_frame(text))
    answer = await session.drain()
    assert (answer.code, answer.text) == (grpc.StatusCode.OK, text)


async def run_sessions(channel: grpc.aio.Channel, count: int, metadata: Metadata = ()) -> None:
    """``count`` sessions open at once on one channel, then each committed."""
    for index, session in enumerate(await open_sessions(channel, count, metadata)):
        await commit(session, f"utterance {index}")


async def test_the_streams_of_one_connection_are_spread_over_both_servers(haproxy):
    async with grpc.aio.insecure_channel(haproxy.target) as channel:
        await run_sessions(channel, 10)
    assert sum(await started(haproxy)) == 10
    assert min(await started(haproxy)) >= 2  # per stream, not per connection
    assert (await haproxy.row("grpc", "FRONTEND"))["conn_tot"] == "1"  # one client connection


async def test_streams_with_one_session_id_header_stay_on_one_server(haproxy):
    resumed = (("x-nexy-session-id", "7c1f3c8e-5a8e-4d0b-9f7e-2b1d3c4e5f60"),)
    async with grpc.aio.insecure_channel(haproxy.target) as channel:
        await run_sessions(channel, 6, resumed)
    assert sorted(await started(haproxy)) == [0, 6]


async def test_a_draining_server_finishes_its_sessions_and_gets_no_new_one(haproxy):
    async with grpc.aio.insecure_channel(haproxy.target) as channel:
        lingering = await open_sessions(channel, 4)
        before = await started(haproxy)
        draining = next(index for index, count in enumerate(before) if count)
        haproxy.backends[draining].served.signal(signal.SIGTERM)
        await haproxy.taken_out(f"nexy-{draining + 1}")  # its health check fails
        await run_sessions(channel, 6)
        after = await started(haproxy)
        assert after[draining] == before[draining]
        assert after[1 - draining] == before[1 - draining] + 6
        told = 0
        for index, session in enumerate(lingering):  # each finishes where it began
            await session.send(commit_frame(f"still {index}"))
            answer = await session.drain()
            assert (answer.code, answer.text) == (grpc.StatusCode.OK, f"still {index}")
            told += "going_away" in answer.kinds()
        assert told == before[draining]
    assert await haproxy.backends[draining].served.exited() == 0


async def test_sdk_sessions_and_cancels_end_cleanly_through_haproxy(haproxy):
    """HAProxy 2.6 turns the reset gRPC sends for a stream its client still has open into a
    cancellation that can lose the end. The SDK half-closes on the last frame and the server
    waits for it, so every session ends with its end, however fast the answer."""
    async with Client(haproxy.target) as client:
        for index in range(30):
            async with client.session(device_id="sdk") as session:
                await session.interim("utterance")
                await session.commit(f"utterance {index}")
                events = [event async for event in session]
            assert isinstance(events[-1], Ended), events
            assert events[-1].reason is EndReason.COMPLETED
            said = "".join(e.text for e in events if isinstance(e, TextChunk))
            assert said == f"utterance {index}"
        for _ in range(10):
            async with client.session(device_id="sdk") as session:
                await session.interim("never mind")
                ended = await session.cancel()
            assert ended is not None and ended.reason is EndReason.CANCELLED
        taken = "7c1f3c8e-5a8e-4d0b-9f7e-2b1d3c4e5f61"
        async with client.session(device_id="sdk", session_id=taken):
            with pytest.raises(ServerError) as refused:  # a fatal error, not a cancellation
                async with client.session(device_id="sdk", session_id=taken):
                    pass
    assert refused.value.code is grpc.StatusCode.ALREADY_EXISTS
