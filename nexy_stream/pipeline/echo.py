"""The embedded default pipeline: needs no network, shows exactly what was committed."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import anyio

from nexy_stream.pipeline.base import AudioOutput, Output, TextOutput
from nexy_stream.pipeline.registry import PipelineFactory, setting
from nexy_stream.session.values import CommittedRequest

_WORD = re.compile(r"\s*\S+\s*")


def tone(seconds: float, sample_rate_hz: int, frequency_hz: float = 440.0) -> bytes:
    """A sine tone as PCM s16le mono, faded in and out so it does not click."""
    count = int(seconds * sample_rate_hz)
    fade = max(1, count // 10)
    samples = []
    for i in range(count):
        envelope = min(1.0, i / fade, (count - 1 - i) / fade)
        samples.append(
            int(12000 * envelope * math.sin(2 * math.pi * frequency_hz * i / sample_rate_hz))
        )
    return struct.pack(f"<{count}h", *samples)


class EchoPipeline:
    """Streams the committed text back word by word (the words join to the exact text),
    then a short tone, so a client sees precisely what the server committed."""

    name = "echo"  # what sessions are told answers them (Accepted.pipeline)

    def __init__(
        self, word_delay_s: float = 0.0, tone_s: float = 0.25, sample_rate_hz: int = 48_000
    ) -> None:
        self.word_delay_s = word_delay_s
        self.sample_rate_hz = sample_rate_hz
        self._tone = tone(tone_s, sample_rate_hz)

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Output, None]:
        for match in _WORD.finditer(request.text):
            if self.word_delay_s:
                await anyio.sleep(self.word_delay_s)
            yield TextOutput(match.group())
        yield AudioOutput(self._tone, self.sample_rate_hz, channels=1)


@dataclass(frozen=True, slots=True)
class EchoSettings:
    echo_word_delay: float = setting(0.0, "seconds between echoed words")


def _build(settings: EchoSettings) -> EchoPipeline:
    if settings.echo_word_delay < 0:
        raise ValueError(f"--echo-word-delay must not be negative, got {settings.echo_word_delay}")
    return EchoPipeline(word_delay_s=settings.echo_word_delay)


factory = PipelineFactory(
    "echo", EchoSettings, _build, "the committed text back word by word, then a tone (no network)"
)
