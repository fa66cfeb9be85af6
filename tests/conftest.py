"""Fixtures: the real server on an ephemeral loopback port, and raw clients to talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import grpc
import pytest
from anyio.from_thread import start_blocking_portal

from nexy_stream.pipeline import EchoPipeline, Pipeline
from nexy_stream.server import RunningServer, ServerConfig, start_server
from nexy_stream.server.observer import SessionObserver
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
        pipeline: Pipeline | None = None,
        limits: Limits | None = None,
        observers: tuple[SessionObserver, ...] = (),
        interceptors: tuple[grpc.aio.ServerInterceptor, ...] = (),
        **config: object,
    ) -> RunningServer:
        settings = ServerConfig(host="127.0.0.1", port=0, limits=limits or Limits(), **config)  # type: ignore[arg-type]
        server = await start_server(settings, pipeline or EchoPipeline(), observers, interceptors)
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


@pytest.fixture
def threaded_server() -> Iterator[RunningServer]:
    """The real server on an event loop thread of its own, for synchronous tests (the sync
    client, CLI commands that run their own loop)."""
    with start_blocking_portal(backend="asyncio") as portal:
        settings = ServerConfig(host="127.0.0.1", port=0)
        running = portal.call(start_server, settings, EchoPipeline())
        yield running
        portal.call(running.stop, 0)
