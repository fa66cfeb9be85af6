"""PCM s16le audio converted to one rate and channel count, chunk by chunk, off the loop.

Pipelines produce speech at whatever rate their TTS speaks (OpenAI-compatible speech is
24 kHz); deployed clients play 48 kHz mono. soxr (a real resampler) keeps its filter state
between chunks, so chunk borders leave no clicks, and the work runs on a worker thread: a
second of audio costs milliseconds of CPU that must never stall the other sessions.
"""

from __future__ import annotations

import anyio.to_thread
import numpy as np
import soxr

SAMPLE_WIDTH = 2  # bytes per s16le sample


class PcmConverter:
    """Converts one stream of PCM s16le chunks to ``rate_hz`` with ``channels`` channels.

    One converter per stream of audio (one answer): it remembers the resampler's state and a
    torn trailing sample frame, which is completed by the next chunk instead of being lost.
    Call :meth:`finish` after the last chunk for the samples the filter still holds.
    A change of input format mid-stream finishes the old stream first.
    """

    def __init__(self, rate_hz: int, channels: int = 1) -> None:
        if rate_hz <= 0 or channels <= 0:
            raise ValueError(f"rate and channels must be positive, got {rate_hz} Hz, {channels}")
        self.rate_hz = rate_hz
        self.channels = channels
        self._source: tuple[int, int] | None = None  # (rate, channels) of the input
        self._stream: soxr.ResampleStream | None = None
        self._torn = b""

    async def convert(self, data: bytes, rate_hz: int, channels: int) -> bytes:
        """The chunk in the output format (possibly empty while the filter fills)."""
        if rate_hz <= 0 or channels <= 0:
            raise ValueError(
                f"audio needs a positive rate and channel count, got {rate_hz} Hz and "
                f"{channels} channels"
            )
        whole = len(data) % (SAMPLE_WIDTH * channels) == 0
        if (rate_hz, channels) == (self.rate_hz, self.channels) and self._source is None and whole:
            return data  # already in the output format: no copy, no thread
        head = b""
        if self._source != (rate_hz, channels):
            head = await self.finish()
            self._source = (rate_hz, channels)
        return head + await anyio.to_thread.run_sync(self._convert, data, False)

    async def finish(self) -> bytes:
        """The samples the resampler still holds; the converter can then start afresh."""
        if self._source is None:
            return b""
        tail = await anyio.to_thread.run_sync(self._convert, b"", True)
        self._source, self._stream, self._torn = None, None, b""
        return tail

    def _convert(self, data: bytes, last: bool) -> bytes:
        assert self._source is not None
        rate_hz, channels = self._source
        data = self._torn + data
        frame = SAMPLE_WIDTH * channels
        whole = len(data) - len(data) % frame
        self._torn = data[whole:]
        samples = np.frombuffer(data[:whole], dtype="<i2").reshape(-1, channels)
        samples = _mixed(samples, self.channels)
        if rate_hz == self.rate_hz:
            return samples.astype("<i2").tobytes()
        if self._stream is None:
            self._stream = soxr.ResampleStream(
                rate_hz, self.rate_hz, self.channels, dtype="int16", quality="HQ"
            )
        out = self._stream.resample_chunk(samples.astype(np.int16), last=last)
        return np.ascontiguousarray(out, dtype="<i2").tobytes()


def _mixed(samples: np.ndarray, channels: int) -> np.ndarray:
    """``samples`` (frames x channels) mixed down to mono, or mono copied to ``channels``."""
    if samples.shape[1] == channels:
        return samples
    mono: np.ndarray = samples.mean(axis=1).round().astype(np.int16).reshape(-1, 1)
    return mono if channels == 1 else np.repeat(mono, channels, axis=1)
