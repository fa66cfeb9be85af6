"""Real pipelines with observable behaviour, for tests (they run in-process, nothing faked):
each kind once, shared by every test that needs it."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

import anyio

from nexy_stream.app.server import RunningServer
from nexy_stream.pipeline import AudioOutput, CommitSignal, EchoPipeline, Output, TextOutput
from nexy_stream.pipeline.echo import tone
from nexy_stream.session import CommittedRequest
from tests.waiting import answer_held_back


class CountingPipeline(EchoPipeline):
    """The echo pipeline, recording every request it ran (one instance may serve several
    servers of a test)."""

    def __init__(self, word_delay_s: float = 0.0, tone_s: float = 0.25) -> None:
        super().__init__(word_delay_s=word_delay_s, tone_s=tone_s)
        self.requests: list[CommittedRequest] = []

    def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        self.requests.append(request)
        return super().run(request)


class FileCountingPipeline(CountingPipeline):
    """The counting echo for servers in processes of their own (``serve --pipeline
    tests.pipelines:FileCountingPipeline``): each run's session id also goes to the file
    named by ``$NEXY_TEST_RUNS``, so a test sees every run of every process."""

    def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        with open(os.environ["NEXY_TEST_RUNS"], "a") as runs:
            runs.write(request.session_id + "\n")
        return super().run(request)


class GatedPipeline:
    """Sends one text output, then waits for ``release`` (never set: it answers, then stalls
    until it is stopped, as an LLM that hangs); records its runs and whether it was stopped
    (cancelled while waiting, or closed while suspended at a yield)."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.release = anyio.Event()
        self.cancelled = anyio.Event()
        self.runs = 0
        self.requests: list[CommittedRequest] = []

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        self.runs += 1
        self.requests.append(request)
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
    """Fails (a RuntimeError) after ``words`` text outputs, each "partial"."""

    def __init__(self, words: int = 1) -> None:
        self.words = words

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        for _ in range(self.words):
            yield TextOutput("partial")
        raise RuntimeError("upstream model unavailable")


class FloodPipeline:
    """A long spoken answer: ``chunks`` audio pieces of ``chunk_bytes`` each, as fast as the
    server can send them; ``produced`` counts the pieces handed to the server so far. At
    48 kHz mono, so legacy clients get the very pieces too (nothing resampled)."""

    def __init__(self, chunks: int, chunk_bytes: int) -> None:
        self.chunks = chunks
        self.chunk_bytes = chunk_bytes
        self.produced = 0

    def piece(self, index: int) -> bytes:
        """The ``index``-th piece: its own content, so a lost or reordered piece shows."""
        return index.to_bytes(4, "big") * (self.chunk_bytes // 4)

    async def held_back(self, server: RunningServer) -> int:
        """Waits until ``server`` holds the pipeline back (its client does not read); returns
        how many pieces were produced by then. Bounded: a pipeline never held back fails the
        test instead of hanging it."""
        await answer_held_back(server, self.chunk_bytes)
        return self.produced

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        for index in range(self.chunks):
            self.produced += 1
            yield AudioOutput(self.piece(index), sample_rate_hz=48_000, channels=1)


class OneBigPiecePipeline:
    """A word, then one audio piece larger than every flow-control window between the
    server and a client: its write cannot complete until the client reads.
    ``big_started`` is set once the server has taken it (the writer is woken with it)."""

    def __init__(self, big_bytes: int) -> None:
        self.big_bytes = big_bytes
        self.big_started = anyio.Event()

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        yield TextOutput("here:")
        yield AudioOutput(bytes(self.big_bytes), sample_rate_hz=48_000, channels=1)
        self.big_started.set()


class SpeakingPipeline:
    """Speaks a 440 Hz tone for ``seconds`` at ``rate_hz`` with ``channels`` channels, the
    way a TTS streams it: in uneven pieces that tear sample frames across piece borders."""

    def __init__(self, rate_hz: int, channels: int, seconds: float) -> None:
        self.rate_hz = rate_hz
        self.channels = channels
        mono = tone(seconds, rate_hz)
        self.audio = b"".join(mono[i : i + 2] * channels for i in range(0, len(mono), 2))

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        yield TextOutput("hello")
        piece = 4801  # bytes: an odd number, so pieces end mid-sample
        for start in range(0, len(self.audio), piece):
            yield AudioOutput(self.audio[start : start + piece], self.rate_hz, self.channels)


@dataclass
class RunRecord:
    """One run of a :class:`PreparingEcho`: its request, whether it began before the
    commit, whether it did its side effect, and whether it has ended (closed or cancelled)."""

    number: int
    session_id: str
    text: str
    prepared: bool
    effected: bool = False
    ended: bool = False


class PreparingEcho:
    """A pipeline that can prepare. It echoes the text it was given word by word, each piece
    tagged with its run's number (``"3:what "``), then does its one side effect (counted in
    its record) once its session committed to it, and says ``"3:done"``. So an answer shows
    which run it came from, and whether a run that was thrown away did anything."""

    name = "preparing-echo"

    def __init__(self, word_delay_s: float = 0.0) -> None:
        self.word_delay_s = word_delay_s
        self.runs: list[RunRecord] = []
        self.prepared = anyio.Event()  # set at each preparation's start, then renewed

    def of(self, session_id: str) -> list[RunRecord]:
        return [run for run in self.runs if run.session_id == session_id]

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        async with aclosing(self._answer(request, None)) as items:
            async for item in items:
                yield item

    async def prepare(
        self, request: CommittedRequest, committed: CommitSignal
    ) -> AsyncGenerator[Output, None]:
        started, self.prepared = self.prepared, anyio.Event()
        started.set()
        async with aclosing(self._answer(request, committed)) as items:
            async for item in items:
                yield item

    async def _answer(
        self, request: CommittedRequest, committed: CommitSignal | None
    ) -> AsyncGenerator[Output, None]:
        record = RunRecord(
            len(self.runs) + 1, request.session_id, request.text, committed is not None
        )
        self.runs.append(record)
        try:
            for word in request.text.split():
                if self.word_delay_s:
                    await anyio.sleep(self.word_delay_s)
                yield TextOutput(f"{record.number}:{word} ")
            if committed is not None:
                await committed.wait()
            record.effected = True  # the side effect: never before the commit
            yield TextOutput(f"{record.number}:done")
        finally:
            record.ended = True


class SteppedPipeline:
    """Answers each session with ``words`` one at a time, each when the test allows it
    (:meth:`allow`), so a test can cut a stream at a chosen output; counts runs per session."""

    def __init__(self, words: list[str], held: bool = False) -> None:
        """``held``: a session's outputs wait for :meth:`allow` from the start (otherwise
        all are allowed until the test says otherwise)."""
        self.words = words
        self._default = 0 if held else len(words)
        self.runs: dict[str, int] = {}
        self._allowed: dict[str, int] = {}
        self._changed = anyio.Event()

    def allow(self, session_id: str, outputs: int) -> None:
        self._allowed[session_id] = outputs
        self._changed.set()
        self._changed = anyio.Event()

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        sid = request.session_id
        self.runs[sid] = self.runs.get(sid, 0) + 1
        for index, word in enumerate(self.words):
            while self._allowed.get(sid, self._default) <= index:
                await self._changed.wait()
            yield TextOutput(word)
