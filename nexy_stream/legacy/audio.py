"""Pipeline audio in the one format deployed clients play: PCM s16le, 48 kHz, mono."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from nexy_stream.pipeline import AudioOutput, Item, Pipeline
from nexy_stream.pipeline.audio import PcmConverter
from nexy_stream.session import CommittedRequest

SAMPLE_RATE_HZ = 48_000
CHANNELS = 1


class PlayablePipeline:
    """Runs a pipeline with its audio converted, piece by piece, to what old clients play.

    One :class:`PcmConverter` per run (one answer): the resampler keeps its state from piece
    to piece, so borders leave no clicks, and works on a worker thread, never on the event
    loop that serves every session. The samples it still holds at the end come out as a
    last piece, before the answer's end. Audio it cannot convert (a rate or channel count
    that is not positive) fails the run like any pipeline error.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    async def run(self, request: CommittedRequest) -> AsyncGenerator[Item, None]:
        converter = PcmConverter(SAMPLE_RATE_HZ, CHANNELS)
        async with aclosing(self._pipeline.run(request)) as outputs:
            async for item in outputs:
                if not isinstance(item, AudioOutput):
                    yield item
                    continue
                data = await converter.convert(item.data, item.sample_rate_hz, item.channels)
                if data:  # empty while the resampler's filter fills
                    yield AudioOutput(data, SAMPLE_RATE_HZ, CHANNELS)
        tail = await converter.finish()
        if tail:
            yield AudioOutput(tail, SAMPLE_RATE_HZ, CHANNELS)
