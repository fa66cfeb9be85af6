"""The legacy endpoint's collect and commit calls, over real gRPC with the frozen contract."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio
import grpc
import numpy as np
import pytest

from nexy_stream._proto import streaming_pb2 as pb
from nexy_stream.app.server import RunningServer
from nexy_stream.pipeline import AudioOutput, Output, TextOutput
from nexy_stream.session import CommittedRequest, Limits
from tests import legacy_stores
from tests.clock import ManualClock
from tests.conftest import StartServer
from tests.legacy_stores import held, memory_only
from tests.legacy_wire import (
    COLLECT,
    COMMIT,
    UNSPECIFIED,
    LegacyClient,
    Reply,
    assert_answered,
    assert_collect_ok,
    assert_refused,
    drain,
    new_session_id,
    webp,
)
from tests.pipelines import CountingPipeline, GatedPipeline, SpeakingPipeline
from tests.waiting import settled, until
from tests.wire import RawSession, open_frame

pytestmark = pytest.mark.anyio
# Every test runs against both legacy stores (in memory, and shared in Redis).
legacy_store = legacy_stores.legacy_store
start = legacy_stores.start


@pytest.fixture
def pipeline() -> CountingPipeline:
    return CountingPipeline(tone_s=0.01)


@pytest.fixture
async def served(start: StartServer, pipeline: CountingPipeline) -> RunningServer:
    return await start(pipeline)


@pytest.fixture
async def channel(served: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(served.target) as opened:
        yield opened


@pytest.fixture
def legacy(channel: grpc.aio.Channel) -> LegacyClient:
    return LegacyClient(channel)


# -- collect ------------------------------------------------------------------------------


async def test_collect_is_acked_and_only_buffered(legacy, pipeline, served):
    session = new_session_id()
    assert_collect_ok(await legacy.collect(session, 1, "open"))
    assert_collect_ok(await legacy.collect(session, 2, "open safari"))
    assert pipeline.requests == []
    assert await held(served) == 1
    assert_answered(await legacy.commit(session), "open safari")
    assert await held(served) == 0
    assert len(pipeline.requests) == 1
    assert len(served.registry) == 0


async def test_stale_or_repeated_chunk_is_dropped(legacy):
    session = new_session_id()
    assert_collect_ok(await legacy.collect(session, 2, "hello world"))
    assert_collect_ok(await legacy.collect(session, 1, "goodbye"))  # older: dropped
    assert_collect_ok(await legacy.collect(session, 2, "goodbye"))  # repeated: dropped
    assert_answered(await legacy.commit(session), "hello world")


async def test_revised_snapshot_replaces_instead_of_gluing(legacy):
    session = new_session_id()
    await legacy.collect(session, 1, "open safari")
    await legacy.collect(session, 2, "Open Safari.")
    assert_answered(await legacy.commit(session), "Open Safari.")


async def test_tail_chunk_is_appended(legacy):
    session = new_session_id()
    await legacy.collect(session, 1, "open safari")
    await legacy.collect(session, 2, "and mail")
    assert_answered(await legacy.commit(session), "open safari and mail")


async def test_a_delta_repeating_the_end_is_kept_once(legacy):
    session = new_session_id()
    await legacy.collect(session, 1, "open the")
    await legacy.collect(session, 2, "the door")
    assert_answered(await legacy.commit(session), "open the door")


async def test_screenshot_and_text_share_one_chunk_seq(legacy, pipeline):
    session = new_session_id()
    first, second = b"RIFF-first-webp", b"RIFF-second-webp"
    await legacy.collect(session, 1, "look", screenshot=webp(first))
    await legacy.collect(session, 1, "stale", screenshot=webp(second))  # the same call again
    await legacy.collect(session, 2, screenshot=webp(second))
    assert_answered(await legacy.commit(session), "look")
    shot = pipeline.requests[0].screenshot
    assert shot is not None
    assert (shot.data, shot.mime_type) == (second, "image/webp")


async def test_any_uuid_spelling_names_the_same_session(legacy):
    session = uuid.uuid4()
    await legacy.collect(str(session).upper(), 1, "hello")
    await legacy.collect("{" + str(session) + "}", 2, "hello there")
    assert_answered(await legacy.commit(session.urn), "hello there")


# -- commit -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("collected", "prompt", "expected"),
    [
        (["open safari"], "Open Safari.", "Open Safari."),  # the full final text replaces
        (["open safari"], "and mail", "open safari and mail"),  # a tail is appended
        (["open safari"], "", "open safari"),  # no prompt: what was collected
    ],
)
async def test_commit_merges_collected_text_with_its_prompt(legacy, collected, prompt, expected):
    session = new_session_id()
    for seq, text in enumerate(collected, start=1):
        await legacy.collect(session, seq, text)
    assert_answered(await legacy.commit(session, prompt), expected)


@pytest.mark.parametrize("phase", [UNSPECIFIED, COMMIT])
async def test_commit_without_collect_is_the_old_single_request(legacy, pipeline, phase, served):
    session = new_session_id()
    request = legacy.commit_request(session, "hello there", phase, screenshot=webp(b"img"))
    reply = await legacy.call(request)
    assert_answered(reply, "hello there")
    assert pipeline.requests[0].screenshot is not None
    assert pipeline.requests[0].device_id == "hw-1"
    assert len(served.registry) == 0


async def test_audio_has_the_shape_old_clients_play(legacy):
    reply = await legacy.commit(new_session_id(), "hi")
    (chunk,) = reply.audio
    assert (chunk.dtype, chunk.sample_rate, chunk.channels) == ("int16", 48_000, 1)
    assert list(chunk.shape) == [len(chunk.audio_data) // 2]
    assert any(chunk.audio_data)  # audible: all-zero PCM would count as silence
    assert reply.kinds() == ["text_chunk", "audio_chunk", "end_message"]


async def test_a_24k_stereo_answer_reaches_old_clients_as_48k_mono(start):
    seconds = 0.5
    server = await start(SpeakingPipeline(24_000, channels=2, seconds=seconds))
    async with grpc.aio.insecure_channel(server.target) as channel:
        reply = await LegacyClient(channel).commit(new_session_id(), "speak")
    assert_answered(reply, "hello")
    assert reply.audio
    for chunk in reply.audio:
        assert (chunk.dtype, chunk.sample_rate, chunk.channels) == ("int16", 48_000, 1)
        assert list(chunk.shape) == [len(chunk.audio_data) // 2]
        assert len(chunk.audio_data) % 2 == 0
    pcm = b"".join(chunk.audio_data for chunk in reply.audio)
    assert abs(len(pcm) // 2 - seconds * 48_000) <= 2  # the whole answer, tail included
    spectrum = np.abs(np.fft.rfft(np.frombuffer(pcm, dtype="<i2")))
    loudest_hz = np.fft.rfftfreq(len(pcm) // 2, 1 / 48_000)[int(np.argmax(spectrum))]
    assert abs(loudest_hz - 440) <= 3  # the same pitch: resampled, not replayed faster


class RatelessPipeline:
    async def run(self, request: CommittedRequest) -> AsyncIterator[Output]:
        yield TextOutput("hello")
        yield AudioOutput(b"\x01\x00" * 480, sample_rate_hz=0, channels=1)


async def test_audio_with_no_rate_fails_the_answer_with_internal(start):
    server = await start(RatelessPipeline())
    async with grpc.aio.insecure_channel(server.target) as channel:
        reply = await LegacyClient(channel).commit(new_session_id(), "speak")
    assert reply.kinds() == ["text_chunk", "error_message"]  # after data: the message only
    assert "the pipeline failed: ValueError" in reply.last.error_message


async def test_empty_commit_with_nothing_collected_is_invalid(legacy, served):
    reply = await legacy.commit(new_session_id(), "  ")
    assert_refused(reply, grpc.StatusCode.INVALID_ARGUMENT, "nothing to commit")
    assert len(served.registry) == 0


async def test_a_collect_after_its_commit_is_refused_and_not_stored(legacy, pipeline, served):
    session = new_session_id()
    await legacy.collect(session, 1, "hello")
    assert_answered(await legacy.commit(session), "hello")
    late = await legacy.collect(session, 2, "hello again")
    assert_refused(late, grpc.StatusCode.FAILED_PRECONDITION, "already committed")
    repeated = await legacy.commit(session, "hello")
    assert_refused(repeated, grpc.StatusCode.FAILED_PRECONDITION, "once")
    assert len(pipeline.requests) == 1
    assert len(served.registry) == 0


async def test_concurrent_collects_and_commit_are_serialized(legacy, pipeline, served):
    session = new_session_id()
    words = [f"w{i}" for i in range(1, 13)]
    replies: dict[int, Reply] = {}

    async def collect(seq: int) -> None:
        replies[seq] = await legacy.collect(session, seq, " ".join(words[:seq]))

    async def commit() -> None:
        replies[0] = await legacy.commit(session, " ".join(words))

    await legacy.collect(session, 1, "w1")  # the session exists before the race starts
    async with anyio.create_task_group() as tasks:
        for seq in range(2, len(words) + 1):
            tasks.start_soon(collect, seq)
        tasks.start_soon(commit)
    assert_answered(replies.pop(0), " ".join(words))
    for reply in replies.values():  # each collect came before the commit, or was refused
        if reply.kinds() != ["end_message"]:
            assert_refused(reply, grpc.StatusCode.FAILED_PRECONDITION)
    assert len(pipeline.requests) == 1
    assert len(served.registry) == 0


async def test_a_second_commit_while_processing_is_resource_exhausted(start):
    server = await start(GatedPipeline())  # answers a word, then waits: it runs until cancelled
    session = new_session_id()
    async with grpc.aio.insecure_channel(server.target) as channel:
        client = LegacyClient(channel)
        first = client.start(client.commit_request(session, "one two three four five six"))
        assert (await first.read()).HasField("text_chunk")  # the pipeline runs
        second = await client.commit(session, "again")
        assert_refused(second, grpc.StatusCode.RESOURCE_EXHAUSTED, "already being processed")
        first.cancel()
    await settled(server)


# -- bad input ------------------------------------------------------------------------------

BAD_IDS = [
    ("", new_session_id(), "hardware_id"),
    ("UnKnown", new_session_id(), "hardware_id"),
    ("h" * 129, new_session_id(), "hardware_id has 129 characters, over 128"),
    ("unknown", "not-a-uuid", "hardware_id"),  # the hardware id is checked first
    ("hw-1", "not-a-uuid", "session_id must be a UUID version 4"),
    ("hw-1", str(uuid.uuid1()), "version 1"),
    ("hw-1", "", "session_id"),
]


@pytest.mark.parametrize(("hardware_id", "session_id", "named"), BAD_IDS)
async def test_bad_ids_are_invalid_argument(legacy, hardware_id, session_id, named, served):
    collect = await legacy.collect(session_id, 1, "hi", hardware_id=hardware_id)
    assert_refused(collect, grpc.StatusCode.INVALID_ARGUMENT, named)
    commit = await legacy.commit(session_id, "hi", hardware_id=hardware_id)
    assert_refused(commit, grpc.StatusCode.INVALID_ARGUMENT, named)
    assert len(served.registry) == 0


@pytest.fixture
async def small(start: StartServer) -> AsyncIterator[tuple[LegacyClient, RunningServer]]:
    limits = Limits(max_text_bytes=16, max_chunks=2, max_screenshot_bytes=8, max_frame_bytes=4096)
    server = await start(limits=limits)
    async with grpc.aio.insecure_channel(server.target) as channel:
        yield LegacyClient(channel), server


async def test_oversized_fields_are_refused_with_their_limit(small):
    small, server = small
    session = new_session_id()
    text = await small.collect(session, 1, "x" * 17)
    assert_refused(text, grpc.StatusCode.RESOURCE_EXHAUSTED, "max_text_bytes=16")
    shot = await small.collect(session, 2, screenshot=webp(b"123456789"))
    assert_refused(shot, grpc.StatusCode.RESOURCE_EXHAUSTED, "max_screenshot_bytes=8")
    await small.collect(session, 3, "a")
    await small.collect(session, 4, "ab")
    chunks = await small.collect(session, 5, "abc")
    assert_refused(chunks, grpc.StatusCode.RESOURCE_EXHAUSTED, "max_chunks=2")
    prompt = await small.commit(session, "y" * 17)
    assert_refused(prompt, grpc.StatusCode.RESOURCE_EXHAUSTED, "max_text_bytes=16")
    assert len(server.registry) == 0  # a refused commit ends the utterance


async def test_an_oversized_request_is_resource_exhausted_naming_max_frame_bytes(small):
    small, server = small
    session = new_session_id()
    request = small.request(session, phase=COLLECT, chunk_seq=1, screenshot=webp(b"x" * 4000))
    size = request.ByteSize()
    assert size > 4096
    assert_refused(
        await small.call(request),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"the request in bytes is {size}, over max_frame_bytes=4096",
    )
    assert len(server.registry) == 0  # nothing was opened or stored
    assert_answered(await small.commit(session, "fits"), "fits")


@pytest.mark.parametrize(
    ("fields", "code", "named"),
    [
        ({"chunk_seq": 0}, grpc.StatusCode.INVALID_ARGUMENT, "chunk_seq must be above 0"),
        ({"screenshot": "not base64!"}, grpc.StatusCode.INVALID_ARGUMENT, "base64"),
        ({}, grpc.StatusCode.INVALID_ARGUMENT, "needs text or a screenshot"),
        ({"screen_width": 0, "screen_height": 10}, grpc.StatusCode.INVALID_ARGUMENT, "screen"),
    ],
)
async def test_malformed_collect_is_refused(legacy, fields, code, named):
    fields.setdefault("chunk_seq", 1)
    request = legacy.request(new_session_id(), phase=1, **fields)
    assert_refused(await legacy.call(request), code, named)


@pytest.mark.parametrize("phase", [3, 99, -1])
@pytest.mark.parametrize("prompt", ["", "do it"])
async def test_an_unknown_phase_is_invalid_argument_and_runs_nothing(
    legacy, pipeline, served, phase, prompt
):
    session = new_session_id()
    assert_collect_ok(await legacy.collect(session, 1, "collected"))
    request = legacy.request(session, phase=phase, chunk_seq=1, prompt=prompt, chunk_text="more")
    assert_refused(
        await legacy.call(request),
        grpc.StatusCode.INVALID_ARGUMENT,
        f"phase {phase} is not a request phase",
        "0 REQUEST_PHASE_UNSPECIFIED",
        "1 REQUEST_PHASE_COLLECT",
        "2 REQUEST_PHASE_COMMIT",
    )
    assert pipeline.requests == []
    assert_answered(await legacy.commit(session), "collected")  # nothing was stored


async def test_an_undecodable_request_is_invalid_argument_and_the_server_serves_on(legacy, channel):
    garbage = b"\xff\xff\xff"  # a field tag with no end: no StreamRequest decodes from it
    stream_audio = channel.unary_stream(
        "/streaming.StreamingService/StreamAudio",
        response_deserializer=pb.StreamResponse.FromString,
    )
    refused = await drain(stream_audio(garbage))
    assert_refused(refused, grpc.StatusCode.INVALID_ARGUMENT, "not a valid streaming.StreamRequest")

    interrupt = channel.unary_unary("/streaming.StreamingService/InterruptSession")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await interrupt(garbage)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid streaming.InterruptRequest" in (raised.value.details() or "")

    assert_answered(await legacy.commit(new_session_id(), "still here"), "still here")


async def test_another_hardware_id_never_reaches_the_session(legacy):
    """A session belongs to the hardware id that collected it: another one that sends the
    same session id reaches a session of its own, so it can neither add to, commit, nor
    even tell apart the first one."""
    session = new_session_id()
    assert_collect_ok(await legacy.collect(session, 1, "hello"))
    assert_collect_ok(await legacy.collect(session, 2, "hijack", hardware_id="hw-2"))
    stranger = await legacy.commit(session, hardware_id="hw-2")
    assert_answered(stranger, "hijack")  # its own words, nothing of the first device's
    assert_answered(await legacy.commit(session), "hello")


async def test_too_many_live_sessions_is_resource_exhausted(start, legacy_store):
    memory_only(legacy_store, "an utterance counts as live only while one of its calls runs")
    server = await start(max_live_sessions=1)
    async with grpc.aio.insecure_channel(server.target) as channel:
        client = LegacyClient(channel)
        await client.collect(new_session_id(), 1, "holds the only slot")
        reply = await client.commit(new_session_id(), "hello")
        assert_refused(reply, grpc.StatusCode.RESOURCE_EXHAUSTED, "max_live_sessions")


# -- one registry for both protocols ------------------------------------------------------


async def test_both_protocols_share_the_registry_and_its_capacity(start, legacy_store):
    memory_only(legacy_store, "an utterance counts as live only while one of its calls runs")
    server = await start(max_live_sessions=2)
    async with grpc.aio.insecure_channel(server.target) as channel:
        legacy = LegacyClient(channel)
        assert_collect_ok(await legacy.collect(new_session_id(), 1, "one"))
        v1 = RawSession(channel)
        await v1.open()
        assert len(server.registry) == 2
        full = await legacy.collect(new_session_id(), 1, "three")
        assert_refused(full, grpc.StatusCode.RESOURCE_EXHAUSTED, "max_live_sessions")
        late_v1 = RawSession(channel)
        await late_v1.send(open_frame())
        assert (await late_v1.drain()).code is grpc.StatusCode.RESOURCE_EXHAUSTED


# -- expiry ---------------------------------------------------------------------------------


async def test_uncommitted_state_expires(start):
    clock = ManualClock()  # the server's; Redis expires the shared store's copy by its own
    server = await start(clock=clock, limits=Limits(idle_timeout_s=0.2))
    session = new_session_id()

    async def nothing_held() -> bool:
        return await held(server) == 0

    async with grpc.aio.insecure_channel(server.target) as channel:
        client = LegacyClient(channel)
        assert_collect_ok(await client.collect(session, 1, "forgotten"))
        clock.advance(0.2)
        await until(nothing_held, "the collected state expired")
        await settled(server)
        reply = await client.commit(session)  # the buffer is gone: nothing to commit
        assert_refused(reply, grpc.StatusCode.INVALID_ARGUMENT, "nothing to commit")


async def test_stopping_the_server_forgets_collected_state(start, legacy_store):
    memory_only(legacy_store, "another server commits what this one collected (test_legacy_shared)")
    server = await start()
    async with grpc.aio.insecure_channel(server.target) as channel:
        await LegacyClient(channel).collect(new_session_id(), 1, "pending")
    assert len(server.registry) == 1
    await server.stop(0)
    assert len(server.registry) == 0
