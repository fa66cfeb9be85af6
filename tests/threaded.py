"""The real server on an event loop thread of its own, for synchronous tests (the sync client,
CLI commands that run their own loop, hypothesis state machines)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from anyio.from_thread import BlockingPortal, start_blocking_portal

from nexy_stream.app.config import ServerConfig
from nexy_stream.app.server import RunningServer, start_server
from nexy_stream.pipeline import EchoPipeline, Pipeline
from nexy_stream.server.observer import SessionObserver
from tests.waiting import Condition, until


@dataclass(frozen=True)
class ThreadedServer:
    server: RunningServer
    portal: BlockingPortal  # runs code on the server's loop

    @property
    def target(self) -> str:
        return self.server.target

    def until(self, condition: Condition, what: str) -> None:
        """:func:`tests.waiting.until`, checked on the server's loop (where its state is)."""
        self.portal.call(until, condition, what)


@contextlib.contextmanager
def serve_on_a_thread(
    pipeline: Pipeline | None = None,
    observers: tuple[SessionObserver, ...] = (),
    interceptors: tuple[grpc.aio.ServerInterceptor, ...] = (),
    **config: object,
) -> Iterator[ThreadedServer]:
    """Starts a server on 127.0.0.1:0 (``config``: ServerConfig's fields) and stops it."""
    settings = ServerConfig(**{"host": "127.0.0.1", "port": 0, **config})  # type: ignore[arg-type]
    with start_blocking_portal(backend="asyncio") as portal:
        running = portal.call(
            start_server, settings, pipeline or EchoPipeline(), observers, interceptors
        )
        try:
            yield ThreadedServer(running, portal)
        finally:
            portal.call(running.stop, 0)
