"""The interface between the session server and whatever answers the user (LLM, TTS)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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


def pipeline_name(pipeline: Pipeline) -> str:
    """The name a pipeline reports: its ``name`` attribute, else its class's name."""
    name = getattr(pipeline, "name", None)
    return name if isinstance(name, str) and name else type(pipeline).__name__
