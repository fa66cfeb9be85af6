"""The interface between the session server and whatever answers the user (LLM, TTS)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from nexy_stream.session.values import CommittedRequest


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


class Pipeline(Protocol):
    """Runs once per committed session.

    ``run`` is an async generator. The server cancels it, or closes it at its ``yield``,
    the moment the client cancels or goes away, so an implementation must not shield its
    upstream calls from cancellation (no orphaned LLM requests). An exception ends the
    session with INTERNAL. A ``name`` attribute, when present (``EchoPipeline.name`` is
    ``"echo"``), is told to every session in ``accepted.pipeline``.
    """

    def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]: ...
