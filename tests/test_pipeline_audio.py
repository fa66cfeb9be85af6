"""PcmConverter: pipeline audio at any rate and channel count, chunk by chunk, to one format."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from nexy_stream.pipeline.audio import PcmConverter
from nexy_stream.pipeline.echo import tone

pytestmark = pytest.mark.anyio

OUT_HZ = 48_000
PITCH_HZ = 440.0


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.int64)


def stereo(mono: bytes, right_gain: float = 1.0) -> bytes:
    left = samples(mono)
    right = np.round(left * right_gain).astype(np.int64)
    return np.column_stack([left, right]).astype("<i2").tobytes()


def pitch(data: bytes, rate_hz: int) -> float:
    """The strongest frequency of the signal."""
    spectrum = np.abs(np.fft.rfft(samples(data)))
    return float(np.fft.rfftfreq(len(data) // 2, 1 / rate_hz)[int(np.argmax(spectrum))])


async def converted(data: bytes, rate_hz: int, channels: int, cuts: list[int]) -> bytes:
    """``data`` through one converter, cut at the given byte offsets, then the tail."""
    converter = PcmConverter(OUT_HZ)
    out, start = b"", 0
    for end in [*cuts, len(data)]:
        out += await converter.convert(data[start:end], rate_hz, channels)
        start = end
    return out + await converter.finish()


def chunks_of(data: bytes, size: int) -> list[int]:
    return list(range(size, len(data), size))


@pytest.mark.parametrize("rate_hz", [16_000, 22_050, 24_000, 44_100])
async def test_a_rate_becomes_48k_with_its_duration_and_pitch_kept(rate_hz: int) -> None:
    seconds = 0.5
    source = tone(seconds, rate_hz, PITCH_HZ)
    out = await converted(source, rate_hz, 1, chunks_of(source, 2 * rate_hz // 50))  # 20 ms
    assert abs(len(out) // 2 - seconds * OUT_HZ) <= 2
    assert abs(pitch(out, OUT_HZ) - PITCH_HZ) <= 3


async def test_stereo_is_mixed_down_to_mono() -> None:
    converter = PcmConverter(OUT_HZ)
    assert await converter.convert(pcm(100, 300, -100, -300), OUT_HZ, 2) == pcm(200, -200)


async def test_stereo_at_another_rate_becomes_48k_mono() -> None:
    source = stereo(tone(0.5, 24_000, PITCH_HZ), right_gain=0.5)
    out = await converted(source, 24_000, 2, chunks_of(source, 4 * 2400))
    assert abs(len(out) // 2 - 0.5 * OUT_HZ) <= 2
    assert abs(pitch(out, OUT_HZ) - PITCH_HZ) <= 3
    loudest = int(np.max(np.abs(samples(out))))
    assert 0.6 * 12_000 < loudest < 0.9 * 12_000  # the mean of full and half amplitude


async def test_a_frame_torn_across_chunks_is_completed_not_lost() -> None:
    source = stereo(tone(0.1, OUT_HZ, PITCH_HZ))  # no resampling: the mix is exact
    whole = await converted(source, OUT_HZ, 2, [])
    assert await converted(source, OUT_HZ, 2, [1, 3, 6, 1001, 4095]) == whole


async def test_torn_chunks_resample_like_whole_ones() -> None:
    source = tone(0.25, 24_000, PITCH_HZ)
    whole = await converted(source, 24_000, 1, [])
    torn = await converted(source, 24_000, 1, [1, 3, 1001, 5000, 5001, 7777])
    assert len(torn) == len(whole)
    assert int(np.max(np.abs(samples(torn) - samples(whole)))) <= 4  # rounding, not a shift


async def test_a_format_change_mid_stream_flushes_the_first_part() -> None:
    first, second = tone(0.25, 24_000, PITCH_HZ), stereo(tone(0.25, 16_000, PITCH_HZ))
    converter = PcmConverter(OUT_HZ)
    out = await converter.convert(first, 24_000, 1)
    out += await converter.convert(second, 16_000, 2)
    out += await converter.convert(tone(0.25, OUT_HZ, PITCH_HZ), OUT_HZ, 1)
    out += await converter.finish()
    assert abs(len(out) // 2 - 0.75 * OUT_HZ) <= 4


async def test_audio_already_at_48k_mono_passes_through_without_a_copy() -> None:
    converter = PcmConverter(OUT_HZ)
    data = pcm(1, -2, 3)
    assert await converter.convert(data, OUT_HZ, 1) is data
    assert await converter.finish() == b""  # nothing held back


async def test_a_torn_sample_at_48k_mono_is_held_for_the_next_chunk() -> None:
    converter = PcmConverter(OUT_HZ)
    data = pcm(1, -2, 3, -4)
    pieces = [await converter.convert(data[a:b], OUT_HZ, 1) for a, b in [(0, 3), (3, 5), (5, 8)]]
    assert [len(piece) % 2 for piece in pieces] == [0, 0, 0]  # whole samples only
    assert b"".join(pieces) + await converter.finish() == data


async def test_the_tail_is_what_the_filter_held() -> None:
    converter = PcmConverter(OUT_HZ)
    head = await converter.convert(tone(0.1, 24_000, PITCH_HZ), 24_000, 1)
    tail = await converter.finish()
    assert tail and len(head + tail) // 2 == 0.1 * OUT_HZ
    assert await converter.finish() == b""  # finished: it starts afresh
    again = await converter.convert(tone(0.1, 24_000, PITCH_HZ), 24_000, 1)
    assert again + await converter.finish() == head + tail


@pytest.mark.parametrize(("rate_hz", "channels"), [(0, 1), (24_000, 0), (-1, 1)])
async def test_a_format_that_is_not_positive_is_refused(rate_hz: int, channels: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        await PcmConverter(OUT_HZ).convert(pcm(1, 2), rate_hz, channels)
