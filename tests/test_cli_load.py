"""`nexy-stream load` as a user meets it: no server, Ctrl-C, a log file or a terminal."""

from __future__ import annotations

import json
from io import StringIO

import pytest

from nexy_stream.cli.load import Progress
from nexy_stream.loadgen import LoadTally
from nexy_stream.pipeline import EchoPipeline
from tests.cli import Terminal, ctrl_c, free_port, nexy_stream

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
    # Gated on the first progress line (a plain line: not a terminal): the run is under way.
    done = await ctrl_c("load", "--target", server.target, *args, once=b"\n", on_stderr=True)
    assert done.code == 130
    report = json.loads(done.out, parse_constant=no_nan)
    assert report["stopped"] == "interrupted"
    assert report["passed"] is False and report["violations"] == []
    assert report["sessions_started"] >= 1
    assert "sessions" in done.err
    for text in (done.out, done.err):
        assert "Traceback" not in text and "\x1b" not in text  # no escape codes in a pipe


async def test_the_text_report_says_it_was_interrupted(start):
    server = await start(EchoPipeline(word_delay_s=0.2))
    args = ("--sessions", "1000", "--concurrency", "2", "--duration", "600")
    done = await ctrl_c("load", "--target", server.target, *args, once=b"\n", on_stderr=True)
    assert done.code == 130
    assert done.out.splitlines()[-1] == "stopped early: interrupted"
    assert "nan" not in done.out


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
