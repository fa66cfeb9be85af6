"""Fixtures: the real server on an ephemeral loopback port, and raw clients to talk to it."""

from __future__ import annotations

import asyncio
import inspect
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

try:
    import sniffio
except ImportError:  # anyio no longer needs it; the openai client brings it
    sniffio = None

from nexy_stream.app.config import ServerConfig
from nexy_stream.app.server import RunningServer, start_server
from nexy_stream.auth import Authenticator
from nexy_stream.pipeline import EchoPipeline, Pipeline
from nexy_stream.server.clock import Clock
from nexy_stream.server.observer import SessionObserver
from nexy_stream.session import Limits
from tests.openai_stub import OpenAIStub, openai_pipeline, running_stub
from tests.system import Balancer, RedisServer, start_balancer, start_redis, system_program
from tests.threaded import serve_on_a_thread

StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"  # grpc.aio runs under anyio's asyncio backend only


@pytest.fixture(scope="session")
async def one_event_loop(anyio_backend: str) -> AsyncIterator[None]:
    """Holds anyio's test runner, so every async test runs on one event loop.

    grpc.aio delivers each completion to the loop that started the operation. When a test's
    loop closes while an abandoned call is still being torn down, the late completion is
    handed to a closed loop and raises "Event loop is closed" inside whichever test runs
    next. One loop for the whole session leaves no closed loop to hand it to.

    Loops of other threads still come and go: the synchronous client runs its own. grpc.aio
    binds every loop to one completion queue, so this loop may read a late completion of a
    closed thread loop and fail to hand it over; nothing waits for it any more, so that one
    error (and only that one) is dropped instead of failing whichever test runs next.
    """
    loop = asyncio.get_running_loop()
    handler = loop.get_exception_handler()

    def drop_completions_of_closed_loops(
        loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        if _late_completion_of_a_closed_loop(context.get("exception")):
            return
        if handler is None:
            loop.default_exception_handler(context)
        else:
            handler(loop, context)

    loop.set_exception_handler(drop_completions_of_closed_loops)
    try:
        yield
    finally:
        loop.set_exception_handler(handler)


def _late_completion_of_a_closed_loop(error: object) -> bool:
    if not isinstance(error, RuntimeError) or str(error) != "Event loop is closed":
        return False
    frames = traceback.extract_tb(error.__traceback__)
    return any(
        frame.name.endswith("_handle_events") and "completion_queue" in frame.filename
        for frame in frames
    )


@pytest.fixture(autouse=True)
def _async_tests_share_one_loop(request: pytest.FixtureRequest) -> None:
    # Only async tests: pulling anyio's parametrized backend fixture into a synchronous
    # hypothesis state machine's closure breaks hypothesis's pytest plugin.
    if inspect.iscoroutinefunction(request.function):
        request.getfixturevalue("one_event_loop")


@pytest.fixture(autouse=True)
def _sync_tests_may_start_a_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Once `one_event_loop` holds anyio's runner, anyio marks the main thread as running
    asyncio (in sniffio's context variable, when sniffio is installed), and `anyio.run` in a
    synchronous test (a CLI command's own loop) refuses to start. No loop of the runner's runs
    during a synchronous test, so the mark is cleared around it."""
    if sniffio is None or inspect.iscoroutinefunction(request.function):
        yield
        return
    token = sniffio.current_async_library_cvar.set(None)
    try:
        yield
    finally:
        sniffio.current_async_library_cvar.reset(token)


@pytest.fixture
async def start() -> AsyncIterator[StartServer]:
    """Starts servers on 127.0.0.1:0 and stops them after the test."""
    running: list[RunningServer] = []

    async def _start(
        pipeline: Pipeline | None = None,
        limits: Limits | None = None,
        observers: tuple[SessionObserver, ...] = (),
        interceptors: tuple[grpc.aio.ServerInterceptor, ...] = (),
        clock: Clock | None = None,
        authenticator: Authenticator | None = None,
        **config: object,
    ) -> RunningServer:
        config = {"host": "127.0.0.1", "port": 0, **config}
        settings = ServerConfig(limits=limits or Limits(), **config)  # type: ignore[arg-type]
        server = await start_server(
            settings,
            pipeline or EchoPipeline(),
            observers,
            interceptors,
            clock,
            authenticator,
        )
        running.append(server)
        return server

    yield _start
    for server in running:
        await server.stop(0)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    """A local OpenAI-compatible API (tests/openai_stub.py) on loopback."""
    with running_stub() as running:
        yield running


@pytest.fixture
async def serve_openai(start: StartServer, stub: OpenAIStub) -> AsyncIterator[StartServer]:
    """Starts servers whose pipeline is the openai pipeline against the stub: the pipeline's
    settings as keywords, the server's (``ServerConfig`` fields, ``limits``) in ``config``."""
    pipelines: list[Any] = []

    async def _serve(config: dict[str, Any] | None = None, **settings: Any) -> RunningServer:
        pipeline = openai_pipeline(stub, **settings)
        pipelines.append(pipeline)
        return await start(pipeline, **(config or {}))

    yield _serve
    for pipeline in pipelines:
        await pipeline.aclose()


@pytest.fixture
async def server(start: StartServer) -> RunningServer:
    return await start()


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(server.target) as opened:
        yield opened


@pytest.fixture(scope="session")
def threaded_server() -> Iterator[RunningServer]:
    """The real server on an event loop thread of its own, for synchronous tests (the sync
    client, CLI commands that run their own loop). One for the session: its loop then
    outlives every call made to it (see `one_event_loop`)."""
    with serve_on_a_thread() as threaded:
        yield threaded.server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Debian's redis-server on 127.0.0.1, an ephemeral port, nothing persisted."""
    program = system_program("redis-server")
    with start_redis(program, tmp_path_factory.mktemp("redis")) as running:
        yield running


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[Balancer]:
    """deploy/haproxy/haproxy.cfg, addresses set to local ports, in front of two real
    `nexy-stream serve` processes; both pass haproxy's gRPC health check."""
    program = system_program("haproxy")
    with start_balancer(program, tmp_path) as running:
        yield running
