"""Pipeline audio in the one format deployed clients play: PCM s16le, 48 kHz, mono."""

from __future__ import annotations

import sys
from array import array

from nexy_stream.pipeline import AudioOutput

SAMPLE_RATE_HZ = 48_000
CHANNELS = 1


def _samples(data: bytes, channels: int) -> array[int]:
    whole = len(data) - len(data) % (2 * channels)  # a torn trailing frame is dropped
    samples = array("h", data[:whole])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _to_bytes(samples: array[int]) -> bytes:
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def _mono(samples: array[int], channels: int) -> array[int]:
    """The channels averaged into one."""
    if channels == 1:
        return samples
    return array(
        "h",
        (sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels)),
    )


def _resampled(samples: array[int], rate_hz: int) -> array[int]:
    """Linear interpolation to 48 kHz, chunk by chunk (good enough for speech)."""
    if rate_hz == SAMPLE_RATE_HZ or not samples:
        return samples
    count = len(samples) * SAMPLE_RATE_HZ // rate_hz
    last = len(samples) - 1
    out = array("h", bytes(2 * count))
    for i in range(count):
        position = i * rate_hz / SAMPLE_RATE_HZ
        left = min(int(position), last)
        right = min(left + 1, last)
        fraction = position - left
        out[i] = round(samples[left] + (samples[right] - samples[left]) * fraction)
    return out


def legacy_pcm(audio: AudioOutput) -> bytes:
    """The audio as 48 kHz mono s16le; unchanged (no copy) when it already is."""
    if audio.sample_rate_hz == SAMPLE_RATE_HZ and audio.channels == CHANNELS:
        return audio.data
    if audio.sample_rate_hz <= 0 or audio.channels <= 0:
        raise ValueError(
            f"audio needs a positive rate and channel count, got {audio.sample_rate_hz} Hz "
            f"and {audio.channels} channels"
        )
    mono = _mono(_samples(audio.data, audio.channels), audio.channels)
    return _to_bytes(_resampled(mono, audio.sample_rate_hz))
