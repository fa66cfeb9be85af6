"""Real pipelines with observable behaviour, for tests (they run in-process, nothing faked)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio

from nexy_stream.pipeline import EchoPipeline, Output, TextOutput
from nexy_stream.session import CommittedRequest


class CountingPipeline:
    """The echo pipeline, recording every request it ran."""

    def __init__(self) -> None:
        self.requests: list[CommittedRequest] = []
        self._echo = EchoPipeline()

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        self.requests.append(request)
        async for item in self._echo.run(request):
            yield item


class GatedPipeline:
    """Sends one text output, then waits for ``release``; records whether it was stopped
    (cancelled while waiting, or closed while suspended at a yield)."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.release = anyio.Event()
        self.cancelled = anyio.Event()
        self.runs = 0

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        self.runs += 1
        self.started.set()
        finished = False
        try:
            yield TextOutput("first")
            await self.release.wait()
            yield TextOutput(" last")
            finished = True
        finally:
            if not finished:
                self.cancelled.set()


class FailingPipeline:
    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        yield TextOutput("partial")
        raise RuntimeError("upstream model unavailable")
