"""`nexy-stream load` as a user meets it: no server, Ctrl-C, a log file or a terminal."""

from __future__ import annotations

import json
import signal
from io import StringIO

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from nexy_stream.cli.load import Progress
from nexy_stream.loadgen import LoadTally
from nexy_stream.pipeline import EchoPipeline
from tests.cli import Terminal, free_port, nexy_stream, read_all, start_cli

pytestmark = pytest.mark.anyio


def no_nan(constant: str) -> float:
    raise AssertionError(f"{constant} in the JSON report")


async def test_no_server_is_one_line_at_once():
    target = f"127.0.0.1:{free_port()}"
    done = await nexy_stream("load", "--target", target, "--sessions", "1000", "--duration", "60")
    assert done.code == 1
    assert done.out == ""  # no report: nothing "finished", no nan percentiles, no violations
    assert done.err.startswith(f"nexy-stream load: cannot reach {target}: UNAVAILABLE: ")
    assert done.err.count("\n") == 1, done.err


async def test_ctrl_c_prints_the_partial_report(start):
    server = await start(EchoPipeline(word_delay_s=0.2))
    args = ("--sessions", "1000", "--concurrency", "4", "--duration", "600", "--json")
    process = await start_cli("load", "--target", server.target, *args)
    async with process:
        assert process.stdout is not None and process.stderr is not None
        err = BufferedByteReceiveStream(process.stderr)
        with anyio.fail_after(60):
            # The first progress line: the run is under way (a plain line: not a terminal).
            progress = await err.receive_until(b"\n", 1 << 16)
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 130
            out = await read_all(BufferedByteReceiveStream(process.stdout))
            rest = await read_all(err)
    report = json.loads(out, parse_constant=no_nan)
    assert report["stopped"] == "interrupted"
    assert report["passed"] is False and report["violations"] == []
    assert report["sessions_started"] >= 1
    assert b"sessions" in progress
    for text in (progress.decode(), rest, out):
        assert "Traceback" not in text and "\x1b" not in text  # no escape codes in a pipe


async def test_the_text_report_says_it_was_interrupted(start):
    server = await start(EchoPipeline(word_delay_s=0.2))
    args = ("--sessions", "1000", "--concurrency", "2", "--duration", "600")
    process = await start_cli("load", "--target", server.target, *args)
    async with process:
        assert process.stdout is not None and process.stderr is not None
        with anyio.fail_after(60):
            await BufferedByteReceiveStream(process.stderr).receive_until(b"\n", 1 << 16)
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 130
            out = await read_all(BufferedByteReceiveStream(process.stdout))
    assert out.splitlines()[-1] == "stopped early: interrupted"
    assert "nan" not in out


def test_the_progress_line_is_redrawn_in_a_terminal_and_plain_elsewhere():
    tally = LoadTally(started=3, finished=1, frames=10)
    terminal, log = Terminal(), StringIO()
    for stream in (terminal, log):
        progress = Progress(stream)
        for elapsed_s in (0.5, 1.0, 6.0):
            progress(tally, elapsed_s)
        progress.done()
    assert terminal.getvalue().count("\r\x1b[2K") == 3 and terminal.getvalue().endswith("\n")
    lines = log.getvalue().splitlines()
    assert "\x1b" not in log.getvalue() and "\r" not in log.getvalue()
    assert [line.split("s ")[0].strip() for line in lines] == ["0.5", "6.0"]  # every 5 s
