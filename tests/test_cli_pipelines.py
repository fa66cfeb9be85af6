"""`nexy-stream serve --pipeline ...` as a user runs it: a real process, flags and env."""

from __future__ import annotations

import os

import grpc
import pytest

from nexy_stream.client import Client, Ended
from tests.cli import nexy_stream, serve_refuses
from tests.processes import serving
from tests.waiting import until
from tests.wire import RawSession, commit_frame

pytestmark = pytest.mark.anyio


async def ask(target: str, question: str) -> tuple[str, int]:
    """The answer's text and how many bytes of audio came with it."""
    async with grpc.aio.insecure_channel(target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame(question))
        answer = await session.drain()
        assert answer.code is grpc.StatusCode.OK, answer.details
        return answer.text, sum(len(a.data) for a in answer.audio)


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (
            ["--pipeline", "nosuch"],
            "nexy-stream serve: no pipeline named 'nosuch' (known: echo, openai); "
            "or give package.module:factory",
        ),
        (
            ["--pipeline", "tests.custom_pipelines:failing"],
            "nexy-stream serve: pipeline tests.custom_pipelines:failing failed to start: "
            "RuntimeError: no GPU on this machine",
        ),
        (
            ["--pipeline", "tests.custom_pipelines:not_a_pipeline"],
            "nexy-stream serve: pipeline tests.custom_pipelines:not_a_pipeline made a int, "
            "which is not a Pipeline (it needs a method run(request) that is an async generator)",
        ),
        (
            ["--pipeline", "tests.custom_pipelines:clashing"],
            "nexy-stream serve: pipeline clashing: its setting --port clashes with a flag of serve",
        ),
        (
            ["--llm-model", "gpt-x"],
            "nexy-stream serve: --llm-model is a setting of the openai pipeline, and this "
            "server runs echo (--pipeline openai to run it)",
        ),
        (
            ["--echo-word-delay", "-1"],
            "nexy-stream serve: pipeline echo: --echo-word-delay must not be negative, got -1.0",
        ),
        (
            ["--speculate"],
            "nexy-stream serve: --speculate: the echo pipeline cannot prepare answers before "
            "the commit (it has no prepare(request, committed) step); drop --speculate, or run "
            "a pipeline that can, such as openai",
        ),
        (
            ["--speculate-after", "0.5"],
            "nexy-stream serve: error: --speculate-after needs --speculate",
        ),
        (
            ["--speculate", "--speculate-max", "0"],
            "nexy-stream serve: error: argument --speculate-max: must be positive, got 0",
        ),
    ],
)
async def test_a_pipeline_that_cannot_run_stops_serve_with_one_line(flags, line):
    assert await serve_refuses(*flags) == [line]


async def test_a_module_that_does_not_import_is_named(tmp_path):
    (tmp_path / "broken.py").write_text("import not_installed_anywhere\n")
    done = await nexy_stream("serve", "--pipeline", "broken:factory", cwd=tmp_path)
    assert done.code == 2
    assert done.err.splitlines() == [
        "nexy-stream serve: cannot import broken: ModuleNotFoundError: "
        "No module named 'not_installed_anywhere'"
    ]


async def test_help_lists_the_settings_of_every_built_in_and_of_the_chosen_pipeline():
    done = await nexy_stream("serve", "--pipeline", "tests.custom_pipelines:shout", "--help")
    assert done.code == 0
    out = done.out
    for flag in ("--pipeline", "--echo-word-delay", "--llm-base-url", "--no-tts", "--shout-marks"):
        assert flag in out
    assert "NEXY_STREAM_SHOUT_TOKEN or SHOUT_TOKEN, a secret token" in out
    assert "NEXY_STREAM_LLM_API_KEY or OPENAI_API_KEY" in out
    assert "--shout-token" not in out and "--llm-api-key" not in out  # keys never as flags


async def test_a_module_factory_gets_its_settings_from_flags_then_the_environment():
    flags = ("--pipeline", "tests.custom_pipelines:shout", "--shout-marks", "3")
    env = {"NEXY_STREAM_SHOUT_PREFIX": "> ", "NEXY_STREAM_SHOUT_MARKS": "9", "SHOUT_TOKEN": "t0k"}
    async with serving(*flags, env=env) as (served, target):
        assert await ask(target, "hello") == ("> HELLO!!! [t0k]", 0)
        assert await served.stopped() == 0


async def test_an_installed_package_adds_a_pipeline_by_name(tmp_path):
    (tmp_path / "loudpkg").mkdir()
    (tmp_path / "loudpkg" / "__init__.py").write_text(
        "from tests.custom_pipelines import shout as factory\n"
    )
    info = tmp_path / "loudpkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: loudpkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nexy_stream.pipelines]\nloud = loudpkg:factory\n")
    path = os.pathsep.join([str(tmp_path), os.getcwd()])
    listed = await nexy_stream("serve", "--help", env={"PYTHONPATH": path})
    assert "echo, openai, loud, or package.module:factory" in " ".join(listed.out.split())
    flags = ("--pipeline", "loud", "--shout-whisper")
    async with serving(*flags, env={"PYTHONPATH": path}) as (served, target):
        assert await ask(target, "HELLO") == ("hello!", 0)
        assert await served.stopped() == 0


async def test_the_openai_pipeline_from_the_command_line(stub):
    flags = ("--pipeline", "openai", "--llm-base-url", stub.base_url, "--tts-voice", "nova")
    env = {"NEXY_STREAM_LLM_API_KEY": "sk-from-env", "NEXY_STREAM_TTS_MODEL": "stub-tts"}
    async with serving(*flags, env=env) as (served, target):
        text, audio_bytes = await ask(target, "hello")
        assert await served.stopped() == 0
    assert text == "".join(stub.behaviour.answer) and audio_bytes > 0
    speech = [r for r in stub.requests if r.path == "/v1/audio/speech"]
    assert {r.body["voice"] for r in speech} == {"nova"}
    assert {r.body["model"] for r in speech} == {"stub-tts"}
    assert {r.headers["authorization"] for r in stub.requests} == {"Bearer sk-from-env"}


async def test_serve_speculates_with_the_openai_pipeline(stub):
    flags = ("--pipeline", "openai", "--llm-base-url", stub.base_url, "--no-tts")
    flags += ("--speculate", "--speculate-after", "0.2", "--speculate-max", "1")
    async with serving(*flags) as (served, target):
        async with Client(target) as client, client.session(device_id="d") as s:
            await s.interim("what is on my screen", stable=True)
            await until(lambda: len(stub.requests) == 1, "the answer is being prepared")
            await s.commit()
            ended = [event async for event in s if isinstance(event, Ended)]
        assert await served.stopped() == 0
    assert ended[0].timings.prepared
    assert [r.path for r in stub.requests] == ["/v1/chat/completions"]  # no second request
