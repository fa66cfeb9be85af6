"""deploy/haproxy/haproxy.cfg in front of two real servers: streams, not connections, are
balanced; a resumed session's header keeps it on one server; a draining server gets no
new stream while its own sessions finish through the proxy."""

from __future__ import annotations

import signal

import anyio
import grpc
import pytest

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
    """Commits and half-closes, as the load generator does (see tests/system.py)."""
    await session.send(commit_frame(text))
    await session.call.done_writing()
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
    assert haproxy.row("grpc", "FRONTEND")["conn_tot"] == "1"  # one client connection


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
        for _ in range(300):  # its health check fails: refused, or NOT_SERVING
            if haproxy.row("nexy", f"nexy-{draining + 1}")["status"] == "DOWN":
                break
            await anyio.sleep(0.2)
        else:
            raise AssertionError("haproxy never took the draining server out")
        await run_sessions(channel, 6)
        after = await started(haproxy)
        assert after[draining] == before[draining]
        assert after[1 - draining] == before[1 - draining] + 6
        told = 0
        for index, session in enumerate(lingering):  # each finishes where it began
            await session.send(commit_frame(f"still {index}"))
            await session.call.done_writing()
            answer = await session.drain()
            assert (answer.code, answer.text) == (grpc.StatusCode.OK, f"still {index}")
            told += "going_away" in answer.kinds()
        assert told == before[draining]
    assert await anyio.to_thread.run_sync(haproxy.backends[draining].served.wait) == 0
