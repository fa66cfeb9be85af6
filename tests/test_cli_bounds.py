"""The server-wide bounds of `nexy-stream serve`: byte counts with units, one-line errors
naming the flag, and the flags reaching a real server process."""

from __future__ import annotations

import grpc
import pytest

from nexy_stream.cli.sizes import byte_size, format_bytes
from tests.cli import serve_refuses
from tests.processes import serving
from tests.wire import RawSession, open_frame, screenshot_frame

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("536870912", 536870912),
        ("512MiB", 512 * 2**20),
        ("512 mib", 512 * 2**20),
        ("1.5GiB", 3 * 2**29),
        ("500MB", 500_000_000),
        ("2kb", 2000),
        ("7B", 7),
        (" 1TiB ", 2**40),
    ],
)
def test_a_byte_count_is_bytes_or_a_number_with_a_unit(text, count):
    assert byte_size(text) == count


@pytest.mark.parametrize("text", ["", "MiB", "12XB", "-5", "1e9", "5 M", "0x10"])
def test_anything_else_is_not_a_byte_count(text):
    with pytest.raises(ValueError, match="not a byte count"):
        byte_size(text)


def test_a_count_reads_as_an_operator_reads_it():
    assert [format_bytes(n) for n in (512, 2048, 3 * 2**29, 6319017984)] == [
        "512B",
        "2KiB",
        "1.5GiB",
        "5.89GiB",
    ]


@pytest.mark.parametrize(
    ("flags", "env", "said"),
    [
        (("--max-buffered-bytes", "0"), {}, "--max-buffered-bytes must be above 0, got 0"),
        (("--max-buffered-bytes", "lots"), {}, "argument --max-buffered-bytes: invalid"),
        (
            (),
            {"NEXY_STREAM_MAX_BUFFERED_BYTES": "8 MB!"},
            "NEXY_STREAM_MAX_BUFFERED_BYTES (for --max-buffered-bytes)",
        ),
        (
            ("--max-sessions-per-principal", "0"),
            {},
            "--max-sessions-per-principal: must be positive",
        ),
        (("--max-live-sessions", "0"), {}, "--max-live-sessions: must be positive, got 0"),
        (
            ("--max-sessions-per-peer", "-3"),
            {},
            "--max-sessions-per-peer: must be positive, got -3",
        ),
        (("--open-timeout", "0"), {}, "--open-timeout: must be positive, got 0"),
    ],
)
async def test_a_bad_bound_is_one_line_naming_the_flag(flags, env, said):
    line = (await serve_refuses(*flags, env=env))[-1]  # after the usage, where argparse says it
    assert line.startswith("nexy-stream") and said in line


async def test_the_bounds_reach_the_server():
    flags = ("--max-buffered-bytes", "1KiB", "--max-sessions-per-peer", "1")
    # Seconds, not tenths: each stream of the test must still open within it on a busy machine.
    async with serving(*flags, "--open-timeout", "3") as (served, target):
        async with grpc.aio.insecure_channel(target) as channel:
            session = RawSession(channel)
            await session.open()
            ack = (await session.exchange(screenshot_frame(1, b"x" * 1025))).collect_ack
            assert ack.error.limit == "max_buffered_bytes"
            assert "max_buffered_bytes=1024" in ack.error.message
            second = RawSession(channel)
            await second.send(open_frame())
            assert "max_sessions_per_peer=1" in (await second.drain()).details
            await session.call.done_writing()  # ends the first: a slot is free again
            await session.drain()
            silent = await RawSession(channel).drain()  # never opens
            assert silent.code is grpc.StatusCode.DEADLINE_EXCEEDED
            assert silent.details == "no open frame came within 3s (open_timeout)"
        assert await served.stopped() == 0
