"""The SDK's output budget against the real server: an application that does not read holds
the server's pipeline back (HTTP/2 flow control), and nothing is lost or stuck because of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest

from nexy_stream.app.server import RunningServer
from nexy_stream.client import (
    AudioChunk,
    Client,
    Committed,
    Ended,
    EndReason,
    Event,
    Session,
    SyncClient,
)
from nexy_stream.session import Limits
from tests.conftest import StartServer
from tests.pipelines import FloodPipeline
from tests.waiting import settled

pytestmark = pytest.mark.anyio

BUDGET = 256 * 1024
# 32 MiB of answer: several times what the HTTP/2 windows and socket buffers between the
# server and an SDK that stopped reading can hold (about 6 MiB on loopback).
CHUNKS, CHUNK_BYTES = 1024, 32 * 1024
# Well under those windows: the server keeps at most twice this much of an answer.
HELD_BACK = Limits(max_replay_bytes=1024 * 1024)


def assert_complete(events: list[Event], pipeline: FloodPipeline) -> None:
    """The whole answer, in order: every piece once, with its own content."""
    committed, *pieces, ended = events
    assert isinstance(committed, Committed)
    assert len(pieces) == pipeline.chunks
    assert all(
        isinstance(piece, AudioChunk) and piece.data == pipeline.piece(index)
        for index, piece in enumerate(pieces)
    )
    assert isinstance(ended, Ended) and ended.reason is EndReason.COMPLETED
    assert ended.output_frames == pipeline.chunks


@asynccontextmanager
async def unread_long_answer(
    start: StartServer,
) -> AsyncIterator[tuple[Session, FloodPipeline, RunningServer]]:
    """A committed session whose long answer the application has not read yet."""
    pipeline = FloodPipeline(CHUNKS, CHUNK_BYTES)
    server = await start(pipeline=pipeline, limits=HELD_BACK)
    async with (
        Client(server.target, output_budget=BUDGET) as client,
        client.session(device_id="mac-1") as s,
    ):
        await s.commit("tell me a long story")
        yield s, pipeline, server


async def test_an_application_that_does_not_read_holds_the_pipeline_back(start: StartServer):
    async with unread_long_answer(start) as (s, pipeline, server):
        assert await pipeline.held_back(server) < CHUNKS // 2
        with anyio.fail_after(20):
            events = [event async for event in s]
    assert_complete(events, pipeline)


async def test_cancel_is_not_stuck_behind_a_full_budget(start: StartServer):
    async with unread_long_answer(start) as (s, pipeline, server):
        assert await pipeline.held_back(server) < CHUNKS // 2
        with anyio.fail_after(10):
            ended = await s.cancel("the user interrupted")
        assert ended is not None and ended.reason is EndReason.CANCELLED
        unread = [event async for event in s]
        assert unread[1:] == [ended] and isinstance(unread[0], Committed)  # pieces were stale
    assert pipeline.produced < CHUNKS
    await settled(server)


async def test_a_piece_larger_than_the_budget_is_delivered(start: StartServer):
    pipeline = FloodPipeline(chunks=3, chunk_bytes=4 * BUDGET)
    server = await start(pipeline=pipeline)
    async with (
        Client(server.target, output_budget=BUDGET) as client,
        client.session(device_id="mac-1") as s,
    ):
        await s.commit("one long breath")
        with anyio.fail_after(20):
            events = [event async for event in s]
    assert_complete(events, pipeline)


async def test_the_sync_face_holds_the_pipeline_back_too(start: StartServer):
    pipeline = FloodPipeline(CHUNKS, CHUNK_BYTES)
    server = await start(pipeline=pipeline, limits=HELD_BACK)

    def application() -> tuple[int, list[Event]]:
        with (
            SyncClient(server.target, output_budget=BUDGET) as client,
            client.session(device_id="mac-1") as s,
        ):
            s.commit("tell me a long story")
            produced = anyio.from_thread.run(pipeline.held_back, server)
            return produced, list(s)

    with anyio.fail_after(40):
        produced, events = await anyio.to_thread.run_sync(application)
    assert produced < CHUNKS // 2
    assert_complete(events, pipeline)
