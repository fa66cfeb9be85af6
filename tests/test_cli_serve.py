"""`nexy-stream serve` as `make run` starts it: a real process, configured by flags and env."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import grpc
import pytest

from tests.wire import RawSession, commit_frame

pytestmark = pytest.mark.anyio


def start_serve(
    *flags: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "nexy_stream", "serve", "--port", "0", *flags],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"serving nexy.stream.v1 .* on (\S+) \(", line)
        if found:
            return process, found.group(1)
    process.kill()
    raise AssertionError(f"the server did not start (exit {process.wait()})")


async def test_serve_answers_and_stops_cleanly_on_sigterm():
    process, target = start_serve("--max-text-bytes", "40", env={"NEXY_STREAM_IDLE_TIMEOUT": "7"})
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            session = RawSession(channel)
            accepted = await session.open()
            assert accepted.limits.max_text_bytes == 40  # from the flag
            assert accepted.limits.idle_timeout.seconds == 7  # from the environment
            await session.send(commit_frame("from a process"))
            assert (await session.drain()).text == "from a process"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_a_bad_environment_value_is_reported():
    result = subprocess.run(
        [sys.executable, "-m", "nexy_stream", "serve"],
        env={**os.environ, "NEXY_STREAM_PORT": "fifty"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "NEXY_STREAM_PORT='fifty' is not a valid int" in result.stderr


def test_inconsistent_limits_are_reported():
    result = subprocess.run(
        [sys.executable, "-m", "nexy_stream", "serve", "--max-frame-bytes", "10"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "max_frame_bytes must exceed max_screenshot_bytes" in result.stderr
