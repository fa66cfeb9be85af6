"""Fixtures: the real server on an ephemeral loopback port, and raw clients to talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest

from nexy_stream.pipeline import EchoPipeline, Pipeline
from nexy_stream.server import RunningServer, ServerConfig, start_server
from nexy_stream.session import Limits

StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # grpc.aio runs under anyio's asyncio backend only


@pytest.fixture
async def start() -> AsyncIterator[StartServer]:
    """Starts servers on 127.0.0.1:0 and stops them after the test."""
    running: list[RunningServer] = []

    async def _start(
        pipeline: Pipeline | None = None, limits: Limits | None = None, **config: object
    ) -> RunningServer:
        settings = ServerConfig(host="127.0.0.1", port=0, limits=limits or Limits(), **config)  # type: ignore[arg-type]
        server = await start_server(settings, pipeline or EchoPipeline())
        running.append(server)
        return server

    yield _start
    for server in running:
        await server.stop(0)


@pytest.fixture
async def server(start: StartServer) -> RunningServer:
    return await start()


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(server.target) as opened:
        yield opened
