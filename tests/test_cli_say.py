"""`nexy-stream say` as a user meets it: the answer's audio as a WAV file, the utterance
from stdin, a server going away, Ctrl-C and a reader that stops reading."""

from __future__ import annotations

import os
import re
import wave

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from nexy_stream.cli import main
from tests.cli import NEXY_STREAM, ctrl_c, free_port, nexy_stream, read_all, start_cli
from tests.pipelines import GatedPipeline

pytestmark = pytest.mark.anyio

LONG = "one two three four five six seven eight nine ten eleven twelve"


def test_say_plays_an_utterance_and_prints_the_answer(threaded_server, tmp_path, capsys):
    shot = tmp_path / "screen.png"
    shot.write_bytes(b"\x89PNG not really")
    argv = ["say", "what is on my screen", "--target", threaded_server.target]
    code = main([*argv, "--screenshot", str(shot), "--interim-delay", "0"])
    out = capsys.readouterr().out
    assert code == 0
    assert "committed: 'what is on my screen' + screenshot" in out
    assert "\nwhat is on my screen\n" in out
    assert re.search(r"commit -> first output\s+server\s+[\d.]+ ms\s+client\s+[\d.]+ ms", out)
    assert "5 interims" in out


def test_say_without_interims(threaded_server, capsys):
    assert main(["say", "hello", "--target", threaded_server.target, "--no-interims"]) == 0
    out = capsys.readouterr().out
    assert "committed: 'hello'\n" in out and "0 interims" in out


async def test_say_reports_an_unreachable_server_in_one_line():
    # A process of its own: grpc.aio hands the abandoned connection's late completions to
    # the loop that started it, which must not be one a test closes before another runs.
    target = f"127.0.0.1:{free_port()}"
    done = await nexy_stream("say", "hello", "--target", target)
    assert (done.code, done.out) == (1, "")
    assert done.err.startswith("nexy-stream say: UNAVAILABLE: ") and done.err.count("\n") == 1


def test_out_writes_the_answers_audio_as_sent(threaded_server, tmp_path, capsys):
    answer = tmp_path / "answer.wav"
    argv = ["say", "hello", "--target", threaded_server.target, "--interim-delay", "0"]
    assert main([*argv, "--out", str(answer)]) == 0
    assert "[audio 0.25 s]" in capsys.readouterr().out
    with wave.open(str(answer), "rb") as wav:  # the echo pipeline's tone: 0.25 s, 48 kHz mono
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (48_000, 1, 2)
        assert wav.getnframes() == 12_000


async def test_out_without_audio_in_the_answer_writes_no_file(start, tmp_path):
    pipeline = GatedPipeline()
    pipeline.release.set()  # text only, at once
    server = await start(pipeline)
    answer = tmp_path / "answer.wav"
    done = await nexy_stream("say", "hi", "--target", server.target, "--out", str(answer))
    assert done.code == 0 and "first last" in done.out
    assert done.err == f"nexy-stream say: the answer had no audio: {answer} not written\n"
    assert not answer.exists()


def test_out_into_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    missing = tmp_path / "nope" / "answer.wav"
    with pytest.raises(SystemExit) as exited:
        main(["say", "hi", "--target", "127.0.0.1:9", "--out", str(missing)])
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith(f"nexy-stream say: error: --out {missing}: No such")


async def test_the_utterance_comes_from_stdin_when_it_is_a_dash(threaded_server):
    target = threaded_server.target
    done = await nexy_stream("say", "-", "--target", target, stdin=b"what is\n  on my screen\n")
    assert done.code == 0, done.err
    assert "committed: 'what is on my screen'" in done.out

    done = await nexy_stream("say", "-", "--target", target, stdin=b" \n")
    assert (done.code, done.out) == (2, "")
    assert done.err == "nexy-stream say: error: nothing to say: the utterance is empty (stdin)\n"


async def test_a_server_going_away_is_shown_and_the_answer_still_comes(start):
    pipeline = GatedPipeline()  # the answer waits until say has shown the notice
    server = await start(pipeline)
    process = await start_cli("say", LONG, "--target", server.target, "--interim-delay", "0")
    async with process, anyio.create_task_group() as tasks:
        assert process.stdout is not None and process.stderr is not None
        out = BufferedByteReceiveStream(process.stdout)
        err = BufferedByteReceiveStream(process.stderr)
        with anyio.fail_after(60):
            assert (await out.receive_until(b"\n", 1 << 16)).startswith(b"committed: ")
            tasks.start_soon(server.stop, 30)  # going_away now; the answer has 30 s to finish
            notice = (await err.receive_until(b"\n", 1 << 16)).decode()
            pipeline.release.set()
            rest = await read_all(out)
            err_rest = await read_all(err)
            assert await process.wait() == 0, err_rest
    assert "first last\n" in rest and "ended: completed" in rest
    assert notice.startswith("nexy-stream say: the server is going away: the answer has 30.0 s")


async def test_ctrl_c_ends_it_quietly_with_130(start):
    server = await start(GatedPipeline())  # never released: the answer is under way
    args = ("say", LONG, "--target", server.target, "--interim-delay", "0")
    done = await ctrl_c(*args, once=b"committed: ")  # the answer is under way
    assert (done.code, done.err) == (130, "")  # no traceback, nothing at all


def head_1(fd: int) -> bytes:
    """What `head -1` does: reads a line, then closes its end of the pipe."""
    with open(fd, "rb", buffering=0) as head:
        return head.readline()


async def test_a_reader_that_goes_away_ends_it_quietly(start):
    """`nexy-stream say ... | head -1`: no `Broken pipe`, no traceback."""
    pipeline = GatedPipeline()  # the rest of the answer comes once the pipe is closed
    server = await start(pipeline)
    read_end, write_end = os.pipe()  # stdout is a pipe this test closes, as `head` does
    command = [NEXY_STREAM, "say", LONG, "--target", server.target, "--interim-delay", "0"]
    process = await anyio.open_process(command, stdout=write_end)
    os.close(write_end)
    async with process:
        assert process.stderr is not None
        with anyio.fail_after(60):
            first = await anyio.to_thread.run_sync(head_1, read_end)
            assert first.startswith(b"committed: ")  # then `head -1` exits: the pipe is closed
            pipeline.release.set()
            assert await process.wait() == 141
            err = await read_all(BufferedByteReceiveStream(process.stderr))
    assert err == ""
