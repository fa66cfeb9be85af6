"""The `openai` pipeline through the real server and real gRPC, against a local stub that
speaks the real HTTP protocols (SSE chat completions, streamed PCM speech)."""

from __future__ import annotations

import base64
import io
import socket
from contextlib import aclosing
from typing import Any

import anyio
import grpc
import pytest
from PIL import Image

from nexy_stream.app.server import RunningServer
from nexy_stream.pipeline import AudioOutput, CommitSignal, Stage, StageTiming, TextOutput
from nexy_stream.session import CommittedRequest, Limits
from tests.clock import ManualClock
from tests.openai_stub import OpenAIStub, openai_pipeline
from tests.waiting import until
from tests.wire import Answer, RawSession, cancel_frame, commit_frame, screenshot_frame

pytestmark = pytest.mark.anyio

QUESTION = "what is on my screen"
WAIT_S = 10  # generous: the stub holds forever, so only the server can end a wait sooner


async def ask(server: RunningServer, *frames: Any) -> Answer:
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        for frame in frames:
            await session.send(frame)
        await session.send(commit_frame(QUESTION))
        return await session.drain()


async def read_until(session: RawSession, kind: str) -> list[Any]:
    """Frames up to and including the first output of ``kind`` (text or audio)."""
    frames = []
    with anyio.fail_after(WAIT_S):
        while True:
            frame = await session.recv()
            frames.append(frame)
            if frame.WhichOneof("kind") == "output" and frame.output.HasField(kind):
                return frames


async def stub_saw_a_disconnect(stub: OpenAIStub) -> bool:
    return await anyio.to_thread.run_sync(stub.disconnected.wait, WAIT_S)


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


async def test_text_then_each_sentence_s_audio_in_order(serve_openai, stub):
    server = await serve_openai()
    answer = await ask(server)
    assert answer.code is grpc.StatusCode.OK
    assert answer.text == "".join(stub.behaviour.answer)
    spoken = [r.body["input"] for r in stub.requests if r.path == "/v1/audio/speech"]
    assert spoken == ["Hello there, friend.", "How are you?"]
    kinds = [
        "audio" if f.output.HasField("audio") else "text"
        for f in answer.frames
        if f.WhichOneof("kind") == "output"
    ]
    first_audio = kinds.index("audio")
    assert "".join(f.output.text for f in answer.frames[: first_audio + 2]).startswith(
        "Hello there, friend."
    )
    assert answer.frames[-1].WhichOneof("kind") == "end"
    assert {(a.sample_rate_hz, a.channels) for a in answer.audio} == {(48_000, 1)}
    heard = sum(len(a.data) for a in answer.audio)
    sent = stub.behaviour.speech_bytes_per_char * sum(len(text) for text in spoken)
    assert abs(heard - 2 * sent) <= 16  # 24 kHz resampled to 48 kHz, every sample kept


async def test_the_first_sentence_is_spoken_while_the_llm_still_writes(serve_openai, stub):
    stub.behaviour.chat_hold_after = 2  # "Hello there, friend." and " How", then it waits
    server = await serve_openai()
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame(QUESTION))
        before = await read_until(session, "audio")
        assert "".join(f.output.text for f in before) == "Hello there, friend. How"
        stub.release.set()
        rest = await session.drain()
    assert rest.code is grpc.StatusCode.OK
    assert rest.text == " are you?"


async def test_the_pipeline_times_the_llm_s_first_token_and_the_first_speech_byte(stub):
    stub.behaviour.first_token_delay_s = 0.05
    stub.behaviour.speech_first_byte_delay_s = 0.05
    pipeline = openai_pipeline(stub)
    try:
        async with aclosing(pipeline.run(CommittedRequest("s", "d", QUESTION))) as items:
            got = [item async for item in items]
    finally:
        await pipeline.aclose()  # type: ignore[attr-defined]
    timings = [item for item in got if isinstance(item, StageTiming)]
    assert [t.stage for t in timings] == [Stage.LLM_FIRST_TOKEN, Stage.TTS_FIRST_BYTE]
    assert all(t.seconds >= 0.05 for t in timings)  # the stub waited that long
    kinds = [type(item) for item in got]
    assert got.index(timings[0]) < kinds.index(TextOutput)
    assert got.index(timings[1]) < kinds.index(AudioOutput)


async def test_the_screenshot_goes_as_a_downscaled_image_part(serve_openai, stub):
    server = await serve_openai(max_image_side=640)
    answer = await ask(server, screenshot_frame(1, png(3000, 2000), mime_type="image/png"))
    assert answer.code is grpc.StatusCode.OK
    (chat,) = [r for r in stub.requests if r.path == "/v1/chat/completions"]
    assert chat.body["stream"] is True and chat.body["model"] == "stub-llm"
    text, image = chat.body["messages"][-1]["content"]
    assert text == {"type": "text", "text": QUESTION}
    prefix = "data:image/jpeg;base64,"
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith(prefix)
    sent = Image.open(io.BytesIO(base64.b64decode(image["image_url"]["url"][len(prefix) :])))
    assert (sent.format, sent.size) == ("JPEG", (640, 427))


async def test_without_a_screenshot_the_question_is_plain_text(serve_openai, stub):
    server = await serve_openai()
    await ask(server)
    (chat,) = [r for r in stub.requests if r.path == "/v1/chat/completions"]
    assert chat.body["messages"][-1] == {"role": "user", "content": QUESTION}
    assert chat.body["messages"][0]["role"] == "system"


async def test_the_api_keys_are_sent(serve_openai, stub):
    server = await serve_openai(tts_api_key="sk-speech")
    await ask(server)
    keys = {r.path: r.headers.get("authorization") for r in stub.requests}
    assert keys == {
        "/v1/chat/completions": "Bearer sk-test",
        "/v1/audio/speech": "Bearer sk-speech",
    }


async def test_without_a_key_no_authorization_header_is_sent(serve_openai, stub):
    server = await serve_openai(llm_api_key="")
    answer = await ask(server)
    assert answer.code is grpc.StatusCode.OK
    assert [r.headers.get("authorization") for r in stub.requests] == [None, None, None]


async def test_text_only_makes_no_speech_request(serve_openai, stub):
    server = await serve_openai(no_tts=True)
    answer = await ask(server)
    assert answer.code is grpc.StatusCode.OK and not answer.audio
    assert answer.text == "".join(stub.behaviour.answer)
    assert stub.paths() == ["/v1/chat/completions"]


@pytest.mark.parametrize(
    ("where", "status", "code", "details"),
    [
        ("chat", 503, grpc.StatusCode.UNAVAILABLE, "the LLM answered HTTP 503"),
        ("chat", 429, grpc.StatusCode.UNAVAILABLE, "the LLM answered HTTP 429"),
        ("chat", 401, grpc.StatusCode.INTERNAL, "the LLM answered HTTP 401"),
        ("chat", 400, grpc.StatusCode.INTERNAL, "the LLM answered HTTP 400"),
        ("speech", 500, grpc.StatusCode.UNAVAILABLE, "the speech service answered HTTP 500"),
        ("speech", 404, grpc.StatusCode.INTERNAL, "the speech service answered HTTP 404"),
    ],
)
async def test_upstream_errors_end_the_session_with_their_status(
    serve_openai, stub, where, status, code, details
):
    errors = stub.behaviour.chat_errors if where == "chat" else stub.behaviour.speech_errors
    errors.append(status)
    server = await serve_openai()
    answer = await ask(server)
    assert answer.code is code
    expected = f"the pipeline failed: {details}: the stub was told to answer {status}"
    assert answer.details == expected
    assert answer.frames[-1].error.fatal and answer.frames[-1].error.message == expected


async def test_an_unreachable_llm_is_unavailable(serve_openai, stub):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    server = await serve_openai(llm_base_url=closed)
    answer = await ask(server)
    assert answer.code is grpc.StatusCode.UNAVAILABLE
    assert answer.details.startswith("the pipeline failed: the LLM could not be reached (")


async def test_a_failed_request_is_retried_before_its_answer_begins(serve_openai, stub):
    stub.behaviour.chat_errors.append(503)
    server = await serve_openai(upstream_retries=1)
    answer = await ask(server)
    assert answer.code is grpc.StatusCode.OK
    assert answer.text == "".join(stub.behaviour.answer)
    assert stub.paths().count("/v1/chat/completions") == 2


async def test_an_unreadable_screenshot_is_an_invalid_argument(serve_openai, stub):
    server = await serve_openai()
    answer = await ask(server, screenshot_frame(1, b"not an image", mime_type="image/png"))
    assert answer.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "the screenshot (image/png, 12 bytes) is not an image" in answer.details
    assert stub.requests == []


@pytest.mark.parametrize("how", ["cancel", "disconnect", "deadline"])
async def test_ending_a_session_closes_the_llm_request_at_once(serve_openai, stub, how):
    stub.behaviour.chat_hold_after = 1  # answers one chunk, then holds the request open
    # A disconnect ends the session at once when it cannot be resumed (resume_ttl 0); with
    # resumption, when the resume_ttl passes (test_server_session covers that wait).
    limits = {
        "cancel": None,
        "disconnect": Limits(resume_ttl_s=0),
        "deadline": Limits(max_duration_s=2),
    }[how]
    clock = ManualClock()  # the deadline passes when the test says
    server = await serve_openai({"limits": limits, "clock": clock})
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame(QUESTION))
        await read_until(session, "text")
        if how == "cancel":
            await session.send(cancel_frame())
        elif how == "disconnect":
            session.call.cancel()
        else:
            clock.advance(2)
        assert await stub_saw_a_disconnect(stub)
        assert [path for path, _ in stub.disconnects] == ["/v1/chat/completions"]
        if how != "disconnect":
            answer = await session.drain()
            expected = grpc.StatusCode.OK if how == "cancel" else grpc.StatusCode.DEADLINE_EXCEEDED
            assert answer.code is expected


async def test_a_cancel_closes_the_speech_request_at_once(serve_openai, stub):
    stub.behaviour.speech_hold_after = 1
    server = await serve_openai()
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame(QUESTION))
        await read_until(session, "audio")
        await session.send(cancel_frame())
        assert await stub_saw_a_disconnect(stub)
        assert [path for path, _ in stub.disconnects] == ["/v1/audio/speech"]
        assert (await session.drain()).frames[-1].end.reason == 2  # END_REASON_CANCELLED


async def test_a_client_that_does_not_read_holds_the_pipeline_back(serve_openai, stub):
    total = 64 * 1024 * 1024  # far more than every buffer on the way together
    stub.behaviour.speech_total_bytes = total
    stub.behaviour.speech_chunk_bytes = 96_000
    server = await serve_openai()
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.send(commit_frame(QUESTION))  # and read nothing
        await until(stub.speech_held_back.is_set, "the pipeline holds the speech back", 60)
        assert stub.speech_bytes_sent < total / 2
        await session.send(cancel_frame())
        assert await stub_saw_a_disconnect(stub)


@pytest.mark.parametrize("speculate_tts", [False, True])
async def test_a_prepared_answer_speaks_only_once_committed(stub, speculate_tts):
    """Pulled directly (no anyio scope may wrap a step of a generator that holds a task
    group): a step that never came would be caught by the suite's per-test timeout."""
    pipeline = openai_pipeline(stub, speculate_tts=speculate_tts)
    committed = CommitSignal()
    answer = "".join(stub.behaviour.answer)

    def spoken() -> list[str]:
        return [r.body["input"] for r in stub.requests if r.path == "/v1/audio/speech"]

    try:
        request = CommittedRequest("s", "d", QUESTION)
        async with aclosing(pipeline.prepare(request, committed)) as items:  # type: ignore[attr-defined]
            text, before = "", []
            while text != answer:  # the LLM's whole answer, held before the commit
                before.append(item := await anext(items))
                text += item.text if isinstance(item, TextOutput) else ""
            if speculate_tts:  # the first sentence is spoken already, and only it
                while not any(isinstance(item, AudioOutput) for item in before):
                    before.append(await anext(items))
                assert spoken() == ["Hello there, friend."]
            else:  # nothing is spoken: given time, a speech request would have reached it
                await anyio.sleep(0.5)
                assert spoken() == [] and not any(isinstance(i, AudioOutput) for i in before)
            committed.set()
            after = [item async for item in items]
    finally:
        await pipeline.aclose()  # type: ignore[attr-defined]
    assert spoken() == ["Hello there, friend.", "How are you?"]
    assert any(isinstance(item, AudioOutput) for item in after)
