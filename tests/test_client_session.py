"""The client SDK end to end against the real server on loopback."""

from __future__ import annotations

import uuid

import anyio
import grpc
import pytest

from nexy_stream.client import (
    AudioChunk,
    Client,
    Committed,
    Ended,
    EndReason,
    Event,
    ProtocolUsageError,
    Screenshot,
    ServerError,
    Session,
    TextChunk,
    TransportError,
)
from nexy_stream.session import Commit, Limits, Outcome
from tests.clock import ManualClock
from tests.conftest import StartServer
from tests.pipelines import GatedPipeline
from tests.recorder import Recorder

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG not really"


async def answer(session: Session) -> list[Event]:
    return [event async for event in session]


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextChunk))


def sdk_tasks() -> list[str]:
    return [t.name for t in anyio.get_running_tasks() if t.name.startswith("nexy_stream.client")]


async def test_happy_path(start: StartServer):
    recorder = Recorder()
    server = await start(observers=(recorder,))
    async with Client(server.target) as client:
        async with client.session(device_id="mac-1", screen=(1440, 900)) as s:
            for words in ("what", "what is", "what is on"):
                await s.interim(words)
            await s.screenshot(PNG, mime_type="image/png", width=10, height=10)
            await s.commit("what is on my screen")
            events = await answer(s)
        assert uuid.UUID(s.session_id)
        assert s.limits == server.config.limits
        assert s.pipeline == "echo"  # what answers the commit, as the server names it
    committed, *outputs, ended = events
    assert committed == Committed(
        "what is on my screen", has_screenshot=True, highest_applied_seq=s.stats.applied
    )
    assert text_of(outputs) == "what is on my screen"
    assert any(isinstance(e, AudioChunk) and e.sample_rate_hz == 48_000 for e in outputs)
    assert isinstance(ended, Ended) and ended.reason is EndReason.COMPLETED
    assert ended.output_frames == len(outputs)
    assert ended.timings.commit_to_first_output is not None
    assert ended.measured.commit_to_first_output is not None
    assert ended.measured.total >= ended.measured.collect
    seqs = [c.chunk_seq for c in recorder.collects]
    assert seqs == sorted(set(seqs)) and all(seq > 0 for seq in seqs)
    assert s.stats.interims == 3
    assert recorder.outcomes == [Outcome.COMMITTED]
    assert not sdk_tasks()


async def test_deltas_and_snapshots_merge_like_the_server(start: StartServer):
    recorder = Recorder()
    server = await start(observers=(recorder,))
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        await s.interim("hello")
        await s.interim(" wor", delta=True)
        await s.interim("hello world")
        await s.interim(" again", delta=True)
        await s.commit("!", delta=True)
        events = await answer(s)
    assert events[0] == Committed("hello world again!", False, s.stats.applied)
    assert [r.text for r in recorder.dispatched] == ["hello world again!"]


async def test_cancel_before_commit_discards_the_buffer(start: StartServer):
    recorder = Recorder()
    server = await start(observers=(recorder,))
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        await s.interim("never mind")
        ended = await s.cancel("user let go")
        assert ended is not None and ended.reason is EndReason.CANCELLED
        assert await answer(s) == [ended]
        assert await s.cancel() is ended  # a second cancel changes nothing
    assert recorder.dispatched == []
    assert recorder.outcomes == [Outcome.CANCELLED]
    assert len(server.registry) == 0


async def test_cancel_after_commit_stops_the_pipeline(start: StartServer):
    recorder = Recorder()
    server = await start(pipeline=GatedPipeline(), observers=(recorder,))
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        assert s.pipeline == "GatedPipeline"  # a pipeline with no name: its class's name
        await s.commit("tell me a long story")
        async for event in s:
            if isinstance(event, TextChunk):
                break
        ended = await s.cancel()
    assert ended is not None and ended.reason is EndReason.CANCELLED
    assert ended.output_frames == 1
    assert recorder.outcomes == [Outcome.CANCELLED]


async def test_leaving_the_block_cancels_and_leaves_nothing_running(start: StartServer):
    recorder = Recorder()
    server = await start(pipeline=GatedPipeline(), observers=(recorder,))
    async with Client(server.target) as client:
        with pytest.raises(ValueError, match="the application's own error"):
            async with client.session(device_id="mac-1") as s:
                await s.commit("hello")
                assert sdk_tasks()
                raise ValueError("the application's own error")
        assert not sdk_tasks()
        with anyio.fail_after(10):
            await recorder.first_end.wait()
    assert recorder.outcomes == [Outcome.CANCELLED]


async def test_commit_once_guard_raises_locally(start: StartServer):
    recorder = Recorder()
    server = await start(observers=(recorder,))
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        await s.commit("hello")
        with pytest.raises(ProtocolUsageError, match="already committed"):
            await s.commit("hello again")
        with pytest.raises(ProtocolUsageError, match="cannot follow commit"):
            await s.interim("more")
        with pytest.raises(ProtocolUsageError, match="cannot follow commit"):
            await s.screenshot(PNG, mime_type="image/png")
        events = await answer(s)
    assert s.stats.frames_sent == 2  # open and the one commit
    assert text_of(events) == "hello"
    assert len(recorder.dispatched) == 1
    assert sum(isinstance(event, Commit) for event, _ in recorder.steps) == 1


async def test_nothing_follows_cancel(server):
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        await s.cancel()
        with pytest.raises(ProtocolUsageError, match="cancelled"):
            await s.interim("hello")
        with pytest.raises(ProtocolUsageError, match="cancelled"):
            await s.commit("hello")


async def test_unchanged_screenshot_is_not_sent_again(start: StartServer):
    recorder = Recorder()
    server = await start(observers=(recorder,))
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        await s.screenshot(PNG, mime_type="image/png")
        await s.interim("what is this")
        await s.screenshot(PNG, mime_type="image/png")
        await s.commit(screenshot=Screenshot(PNG, "image/png"))
        events = await answer(s)
    assert s.stats.deduplicated == 2
    assert recorder.screenshots_received == 1
    assert events[0] == Committed("what is this", True, s.stats.applied)
    [request] = recorder.dispatched
    assert request.screenshot is not None and request.screenshot.data == PNG


async def test_a_changed_screenshot_replaces_the_old_one(start: StartServer):
    recorder = Recorder()
    server = await start(observers=(recorder,))
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        await s.screenshot(PNG, mime_type="image/png")
        await s.screenshot(PNG + b"2", mime_type="image/png")
        await s.commit("and now?")
        await answer(s)
    assert s.stats.deduplicated == 0
    [request] = recorder.dispatched
    assert request.screenshot is not None and request.screenshot.data == PNG + b"2"


async def test_rejected_interim_fails_the_session_with_the_limit(start: StartServer):
    recorder = Recorder()
    server = await start(limits=Limits(max_text_bytes=16), observers=(recorder,))
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        await s.interim("x" * 17)
        await s.commit()
        with pytest.raises(ServerError) as raised:
            await answer(s)
        with pytest.raises(ServerError):
            await s.interim("too late")
    error = raised.value
    assert error.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.limit == "max_text_bytes"
    assert "max_text_bytes=16" in error.message
    assert not error.fatal
    assert recorder.dispatched == []
    assert recorder.outcomes == [Outcome.CANCELLED]


async def test_rejected_commit_raises_the_server_error(server):
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        await s.commit("   ")
        with pytest.raises(ServerError, match="nothing to commit") as raised:
            await answer(s)
    assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT


async def test_duplicate_session_id_is_refused_on_entry(server):
    session_id = str(uuid.uuid4())
    async with Client(server.target) as client, client.session("mac-1", session_id=session_id):
        with pytest.raises(ServerError) as raised:
            async with client.session("mac-2", session_id=session_id):
                pytest.fail("a second live session with the same id was opened")
    assert raised.value.code is grpc.StatusCode.ALREADY_EXISTS
    assert raised.value.fatal


async def test_unknown_device_is_refused_on_entry(server):
    async with Client(server.target) as client:
        with pytest.raises(ServerError, match="device_id") as raised:
            async with client.session(device_id="unknown"):
                pass
    assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT


async def test_idle_session_ends_with_deadline_exceeded(start: StartServer):
    clock = ManualClock()
    server = await start(clock=clock, limits=Limits(idle_timeout_s=0.2))
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        clock.advance(0.2)
        with pytest.raises(ServerError) as raised:
            await answer(s)
        assert s.error is raised.value
    assert raised.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert raised.value.limit == "idle_timeout"


async def test_client_deadline_bounds_the_session(start: StartServer):
    server = await start(pipeline=GatedPipeline())  # never released: it answers, then hangs
    # Wherever the deadline finds the session (opening it, on a busy machine), it ends there.
    with pytest.raises(TransportError) as raised:
        async with (
            Client(server.target, deadline=0.5) as client,
            client.session(device_id="mac-1") as s,
        ):
            await s.commit("hello")
            await answer(s)
    assert raised.value.code is grpc.StatusCode.DEADLINE_EXCEEDED


async def test_no_server_is_a_transport_error():
    with anyio.fail_after(20):
        async with Client("127.0.0.1:9", open_timeout=10) as client:
            with pytest.raises(TransportError) as raised:
                async with client.session(device_id="mac-1"):
                    pass
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE
