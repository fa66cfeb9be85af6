"""The interface between the session server and whatever answers the user (LLM, TTS)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import anyio

from nexy_stream.session.errors import Code
from nexy_stream.session.values import CommittedRequest, Stage


@dataclass(frozen=True, slots=True)
class TextOutput:
    """A piece of the answer's text; the pieces concatenate to the whole answer."""

    text: str


@dataclass(frozen=True, slots=True)
class AudioOutput:
    """A piece of the answer's speech: raw PCM, signed 16-bit little-endian, interleaved."""

    data: bytes
    sample_rate_hz: int
    channels: int


Output = TextOutput | AudioOutput
"""What the client receives."""


@dataclass(frozen=True, slots=True)
class StageTiming:
    """How long one stage of this run took, as the pipeline measured it.

    Yielded among the outputs; the server records it and sends nothing for it. A duration
    rather than a moment, so the pipeline needs neither the server's clock nor its wire.
    """

    stage: Stage
    seconds: float


Item = Output | StageTiming
"""What a pipeline's run yields."""


class PipelineError(Exception):
    """Raised by a pipeline to end its session with this status code and message.

    The client gets both (after "the pipeline failed: "), and the server logs one line
    without a traceback: it is an expected failure, such as an upstream service being
    down. Any other exception also ends the session, with INTERNAL and only its type name.
    """

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@runtime_checkable
class Pipeline(Protocol):
    """Runs once per committed session.

    ``run`` is an async generator of :data:`Item`, driven and closed by one task. The
    server cancels it, or closes it at its ``yield``, the moment the client cancels or goes
    away, so an implementation must not shield its upstream calls from cancellation (no
    orphaned LLM requests). It raises :class:`PipelineError` to choose how its session
    fails. An optional ``name`` attribute (``EchoPipeline.name`` is ``"echo"``) is told to
    every session in ``accepted.pipeline``.
    """

    def run(self, request: CommittedRequest) -> AsyncGenerator[Item, None]: ...


class CommitSignal:
    """Tells a preparation when its session committed to it (see :class:`PreparingPipeline`).

    Set by the server when the commit adopts the preparation; a preparation that is
    discarded is stopped instead (closed, or cancelled while it waits), never set.
    """

    def __init__(self) -> None:
        self._committed = anyio.Event()

    def is_set(self) -> bool:
        return self._committed.is_set()

    async def wait(self) -> None:
        """Returns once the session has committed to this preparation (at once if it has)."""
        await self._committed.wait()

    def set(self) -> None:
        """The server's: the session committed to this preparation."""
        self._committed.set()


@runtime_checkable
class PreparingPipeline(Pipeline, Protocol):
    """A pipeline that can begin an answer before the commit (``serve --speculate``).

    ``prepare(request, committed)`` is a run of ``request`` (the interim text so far) that
    the server starts during collect: an async generator of the same items as ``run``,
    driven, closed and cancelled the same way. The server holds what it yields. If the
    commit is that same request, the server sets ``committed`` and keeps pulling: the
    preparation *is* the run, and its held items are the start of the answer. Otherwise it
    is stopped at once and the commit runs ``run`` afresh; a preparation may be stopped at
    any point before the commit.

    So before ``await committed.wait()`` a preparation may only do what can be thrown away
    (an LLM request, computing); anything with an effect outside (a tool call, a message
    sent, a record written, a speech request the user might never hear) waits for it.
    """

    def prepare(
        self, request: CommittedRequest, committed: CommitSignal
    ) -> AsyncGenerator[Item, None]: ...


def preparing(pipeline: Pipeline) -> PreparingPipeline | None:
    """The pipeline, if it can prepare answers before the commit; else ``None``."""
    return pipeline if isinstance(pipeline, PreparingPipeline) else None


def pipeline_name(pipeline: Pipeline) -> str:
    """The name a pipeline reports: its ``name`` attribute, else its class's name."""
    name = getattr(pipeline, "name", None)
    return name if isinstance(name, str) and name else type(pipeline).__name__
