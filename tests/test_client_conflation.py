"""Conflation under HTTP/2 flow control, against a deliberately slow server.

The server is the real session service with two changes: a tiny flow-control window
(1 KiB, no auto-tuning) and a gate that keeps it from reading past the open frame until
the client has issued its whole burst. The client's writes then really block on flow
control, and everything the application says meanwhile must be conflated, not queued.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import anyio
import grpc
import pytest

from nexy_stream.app.config import ServerConfig
from nexy_stream.client import Client, Committed, TextChunk
from nexy_stream.pipeline import EchoPipeline
from nexy_stream.server.clock import LoopClock
from nexy_stream.server.hosting import Hosting
from nexy_stream.server.live import Sessions
from nexy_stream.server.service import SESSION_SERVICE, session_service
from nexy_stream.server.tasks import ServerTasks
from nexy_stream.session import Text, TextMode
from tests.recorder import Recorder

pytestmark = pytest.mark.anyio

BURST = 400
SLOW_WINDOW = [("grpc.http2.lookahead_bytes", 1024), ("grpc.http2.bdp_probe", 0)]


class GatedContext:
    """A servicer context whose reads after the first one wait for ``gate``."""

    def __init__(self, context: Any, gate: anyio.Event) -> None:
        self._context = context
        self._gate = gate
        self._reads = 0

    async def read(self) -> Any:
        if self._reads:
            await self._gate.wait()
        self._reads += 1
        return await self._context.read()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


@pytest.fixture
async def slow() -> AsyncIterator[SimpleNamespace]:
    """The real session service behind a gate and a 1 KiB flow-control window."""
    gate, recorder, config = anyio.Event(), Recorder(), ServerConfig(port=0)
    hosting = Hosting(config.limits, LoopClock(), observers=(recorder,))
    tasks = ServerTasks()
    await tasks.start()
    sessions = Sessions(hosting.budget, hosting.deadlines, "test", hosting.clock.now)
    service = session_service(EchoPipeline(), hosting, sessions, tasks)
    method = f"/{SESSION_SERVICE}/Session"
    real = service.service(SimpleNamespace(method=method, invocation_metadata=()))  # type: ignore[arg-type]
    assert real is not None

    async def gated(requests: Any, context: Any) -> None:
        await real.stream_stream(requests, GatedContext(context, gate))

    handler = grpc.stream_stream_rpc_method_handler(
        gated, response_serializer=real.response_serializer
    )
    server = grpc.aio.server(options=[*config.grpc_options(), *SLOW_WINDOW])
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(SESSION_SERVICE, {"Session": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield SimpleNamespace(target=f"127.0.0.1:{port}", gate=gate, recorder=recorder)
    await server.stop(0)
    await tasks.aclose()


async def test_a_burst_of_snapshots_is_conflated_to_the_newest(slow):
    words = [f"word{i:04d}" for i in range(BURST)]
    async with Client(slow.target) as client, client.session(device_id="mac-1") as s:
        await s.screenshot(b"first screen", mime_type="image/png")
        for i in range(BURST):
            await s.interim(" ".join(words[: i + 1]))
            if i == BURST // 2:
                await s.screenshot(b"second screen", mime_type="image/png")
        await s.commit()
        slow.gate.set()
        events = [event async for event in s]
    expected = " ".join(words)
    assert events[0] == Committed(expected, True, s.stats.applied)
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == expected
    sent = len(slow.recorder.collects)
    assert sent < BURST // 10, f"{sent} collect frames for {BURST} interims"
    assert s.stats.interims == BURST
    assert s.stats.conflated >= BURST - sent
    [request] = slow.recorder.dispatched
    assert request.screenshot is not None and request.screenshot.data == b"second screen"


async def test_pending_deltas_concatenate_and_a_snapshot_replaces_them(slow):
    # About 100 bytes each, so that ten frames fill the 1 KiB window whatever the timing.
    pieces = [
        Text(f"restart {i:04d}" * 8, TextMode.SNAPSHOT)
        if i % 97 == 0
        else Text(f" word {i:04d}" * 10, TextMode.DELTA)
        for i in range(BURST)
    ]
    expected = ""
    for piece in [*pieces, Text("!", TextMode.DELTA)]:
        expected = piece.merged_into(expected)
    async with Client(slow.target) as client, client.session(device_id="mac-1") as s:
        for piece in pieces:
            await s.interim(piece.text, delta=piece.mode is TextMode.DELTA)
        await s.commit("!", delta=True)
        slow.gate.set()
        events = [event async for event in s]
    assert events[0] == Committed(expected, False, s.stats.applied)
    assert len(slow.recorder.collects) < BURST // 10
