"""A graceful shutdown, as clients see it: told in-band, time to finish, a clear end."""

from __future__ import annotations

import anyio
import grpc
import pytest

from nexy_stream.client import Client, GoingAway, ServerError, TextChunk
from tests.clock import ManualClock
from tests.wire import RawSession, commit_frame, text_frame

pytestmark = pytest.mark.anyio


async def test_live_sessions_are_told_and_can_still_finish(start):
    clock = ManualClock()  # the grace runs out when the test says
    server = await start(clock=clock)
    async with grpc.aio.insecure_channel(server.target) as channel:
        finishing, lingering = RawSession(channel), RawSession(channel)
        for session in (finishing, lingering):
            await session.open()
            await session.exchange(text_frame(1, "almost done"))
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.stop, 30.0)
            notice = (await finishing.recv()).going_away
            assert notice.time_left.ToMilliseconds() == 30_000
            assert (await lingering.recv()).WhichOneof("kind") == "going_away"
            await finishing.send(commit_frame())
            answer = await finishing.drain()
            assert answer.text == "almost done" and answer.code is grpc.StatusCode.OK
            clock.advance(30.0)
            late = await lingering.drain()
        assert late.code is grpc.StatusCode.UNAVAILABLE
        assert late.details == "the server shut down before the session ended; open it again"
        assert late.frames[-1].error.fatal
    assert len(server.registry) == 0


async def test_the_sdk_surfaces_the_notice(start):
    clock = ManualClock()
    server = await start(clock=clock)
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        await s.interim("wait for it")
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.stop, 30.0)
            events = []
            with pytest.raises(ServerError) as raised:
                async for event in s:
                    events.append(event)
                    clock.advance(30.0)  # told: now the grace runs out
        assert events == [GoingAway(30.0)]
        assert raised.value.code is grpc.StatusCode.UNAVAILABLE and raised.value.fatal
        assert not any(isinstance(e, TextChunk) for e in events)
