"""A session outlives a lost stream: it is resumed on a new one, nothing applied twice,
nothing received twice, the pipeline run once. Streams are cut by a loopback proxy the tests
control (``tests/tcp_cut.py``), as a dropped connection would cut them."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import grpc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from google.protobuf.duration_pb2 import Duration
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.client import (
    Client,
    Committed,
    Ended,
    EndReason,
    Resumption,
    ServerError,
    TextChunk,
    TransportError,
)
from nexy_stream.ops.config import OpsConfig
from nexy_stream.session import Limits
from tests.cli import read_all, start_cli
from tests.clock import ManualClock
from tests.ops_client import changes, next_event, scrape, session_events, value, watch
from tests.pipelines import CountingPipeline, SteppedPipeline
from tests.tcp_cut import cuttable
from tests.waiting import until
from tests.wire import (
    RawSession,
    commit_frame,
    open_frame,
    resume_frame,
    text_frame,
)

pytestmark = pytest.mark.anyio

WORDS = ["one ", "two ", "three ", "four ", "five"]
ANSWER = "".join(WORDS)


async def lost(server, session_id: str) -> None:  # type: ignore[no-untyped-def]
    """Waits until the server knows the session's stream is gone."""
    await until(
        lambda: any(a.session_id == session_id and a.detached for a in server.registry),
        f"session {session_id} waits for a resume",
    )


# -- the protocol, frame by frame -------------------------------------------------------------


async def test_a_session_cut_mid_collect_goes_on_from_what_was_applied(start):
    pipeline = CountingPipeline()
    server = await start(pipeline)
    async with cuttable(server.target) as proxy:
        async with grpc.aio.insecure_channel(proxy.target) as cut_channel:
            first = RawSession(cut_channel)
            accepted = await first.open()
            assert accepted.resume_token and accepted.resume_ttl.seconds == 30
            await first.exchange(text_frame(1, "turn off"))
            await first.exchange(text_frame(2, "turn off the"))
            proxy.cut()
            await lost(server, accepted.session_id)
        async with grpc.aio.insecure_channel(server.target) as channel:
            second = RawSession(channel)
            resumed = (
                await second.exchange(resume_frame(accepted.session_id, accepted.resume_token))
            ).resumed
            assert resumed.highest_applied_seq == 2 and not resumed.HasField("committed")
            assert resumed.next_output_index == 1
            ack = (await second.exchange(text_frame(2, "turn off the"))).collect_ack
            assert ack.result == pb.COLLECT_RESULT_STALE  # sent again: never applied twice
            await second.exchange(text_frame(3, "turn off the lights"))
            await second.send(commit_frame())
            answer = await second.drain()
    assert answer.text == "turn off the lights"
    assert [r.text for r in pipeline.requests] == ["turn off the lights"]


async def test_operators_see_a_session_waiting_for_its_resume_and_resumed(start):
    server = await start(ops=OpsConfig(metrics_port=0))
    port = server.ops.metrics_port

    async def figures() -> tuple[float, float, float]:
        samples = await scrape(port)
        return (
            value(samples, "nexy_sessions_awaiting_resume"),
            value(samples, "nexy_streams_lost_total"),
            value(samples, "nexy_sessions_resumed_total"),
        )

    resumed_so_far = 0

    async def aggregate_with(awaiting: int) -> None:
        """Reads the aggregates (one every 0.1 s) until one has ``awaiting`` sessions
        awaiting a resume, adding up the sessions they say were resumed."""
        nonlocal resumed_so_far
        with anyio.fail_after(30):
            while True:
                figures = (await next_event(aggregates)).aggregate
                resumed_so_far += figures.resumed
                if figures.awaiting_resume == awaiting:
                    return

    async with grpc.aio.insecure_channel(server.target) as channel:
        feed = watch(channel, aggregate_interval=Duration(seconds=3600))
        aggregates = watch(channel, device_id="none", aggregate_interval=Duration(nanos=10**8))
        for call in (feed, aggregates):
            assert (await next_event(call)).WhichOneof("kind") == "snapshot"
        async with (
            cuttable(server.target) as proxy,
            grpc.aio.insecure_channel(proxy.target) as cut_channel,
        ):
            first = RawSession(cut_channel)
            accepted = await first.open(device_id="laptop-7")
            sid = accepted.session_id
            await first.exchange(text_frame(1, "turn off"))
            proxy.cut()
            await lost(server, sid)
        opened, _collected, stream_lost = await session_events(feed, 3)
        assert changes([opened, stream_lost]) == ["opened", "stream_lost"]
        assert stream_lost.session_id == sid and stream_lost.stream_lost.resume_ttl.seconds == 30
        assert await figures() == (1, 1, 0)
        await aggregate_with(awaiting=1)
        snapshot = await next_event(watch(channel, aggregate_interval=Duration(seconds=3600)))
        (waiting,) = snapshot.snapshot.sessions
        assert waiting.session_id == sid and waiting.awaiting_resume

        second = RawSession(channel)
        reply = await second.exchange(resume_frame(sid, accepted.resume_token))
        assert reply.HasField("resumed")
        (resumed,) = await session_events(feed, 1)
        assert resumed.resumed == apb.Resumed(highest_applied_seq=1, committed=False)
        assert await figures() == (0, 1, 1)
        await aggregate_with(awaiting=0)
        assert resumed_so_far == 1
        await second.send(commit_frame())
        assert (await second.drain()).text == "turn off"
        rest = await session_events(feed, 3)
        assert changes(rest) == ["committed", "first_output", "ended"]
        assert rest[-1].ended.outcome == apb.OUTCOME_COMMITTED
        for call in (feed, aggregates):
            call.cancel()


async def test_a_session_cut_mid_answer_gets_what_it_missed_then_the_rest(start):
    pipeline = SteppedPipeline(WORDS)
    server = await start(pipeline)
    async with cuttable(server.target) as proxy:
        async with grpc.aio.insecure_channel(proxy.target) as cut_channel:
            first = RawSession(cut_channel)
            accepted = await first.open()
            sid = accepted.session_id
            pipeline.allow(sid, 2)
            await first.send(commit_frame("count to five"))
            assert (await first.recv()).HasField("commit_accepted")
            got = await first.recv()
            assert (got.output.index, got.output.text) == (1, "one ")
            proxy.cut()  # "two " may or may not have reached the client: it says it has 1
            await lost(server, sid)
        pipeline.allow(sid, len(WORDS))  # the pipeline goes on while the client is away
        async with grpc.aio.insecure_channel(server.target) as channel:
            second = RawSession(channel)
            reply = await second.exchange(resume_frame(sid, accepted.resume_token, 1))
            assert reply.resumed.committed.text == "count to five"
            assert reply.resumed.next_output_index == 2
            answer = await second.drain()
    assert [f.output.index for f in answer.frames if f.HasField("output")] == [2, 3, 4, 5]
    assert "one " + answer.text == ANSWER
    assert answer.frames[-1].end.reason == pb.END_REASON_COMPLETED
    assert answer.frames[-1].end.output_frames == len(WORDS)
    assert pipeline.runs == {sid: 1}


async def test_a_client_that_lost_the_end_gets_it_again(start):
    """The end may be lost with the connection it was written to: an ended session lingers
    for its resume_ttl, and a resume gets what it missed and the end again."""
    pipeline = SteppedPipeline(WORDS)
    server = await start(pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        first = RawSession(channel)
        accepted = await first.open()
        await first.send(commit_frame("count"))
        answer = await first.drain()
        assert answer.frames[-1].HasField("end")  # as if it had been lost
        await until(lambda: len(server.registry) == 0, "the session ended")
        again = RawSession(channel)
        reply = await again.exchange(resume_frame(accepted.session_id, accepted.resume_token, 3))
        assert reply.resumed.committed.text == "count"
        rest = await again.drain()
    assert [f.output.index for f in rest.frames if f.HasField("output")] == [4, 5]
    assert rest.frames[-1].end == answer.frames[-1].end
    assert pipeline.runs == {accepted.session_id: 1}


async def test_a_lingering_answer_goes_back_to_the_budget_when_its_resume_ttl_passes(start):
    """Nothing else needs to happen on the server: the deadline watcher releases it."""
    clock = ManualClock()
    server = await start(clock=clock, limits=Limits(resume_ttl_s=30))
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        accepted = await session.open()
        await session.send(commit_frame("keep me a while"))
        answer = await session.drain()
        assert answer.text == "keep me a while"
        await until(lambda: len(server.registry) == 0, "the session ended")
        kept = server.hosting.budget.held  # the answer (text and audio), for a resume
        assert kept >= len("keep me a while")
        clock.advance(29)
        await anyio.wait_all_tasks_blocked()
        assert server.hosting.budget.held == kept
        clock.advance(1)
        await until(lambda: server.hosting.budget.held == 0, "the answer is released")
        again = RawSession(channel)
        refused = await again.exchange(resume_frame(accepted.session_id, accepted.resume_token))
        assert refused.error.code == grpc.StatusCode.NOT_FOUND.value[0]


async def test_a_resume_that_does_not_own_the_session_learns_nothing(start):
    server = await start()
    async with grpc.aio.insecure_channel(server.target) as channel:
        owner = RawSession(channel)
        accepted = await owner.open()
        sid, token = accepted.session_id, accepted.resume_token
        wrong_token = RawSession(channel)
        await wrong_token.send(resume_frame(sid, token[:-4] + "AAAA"))
        unknown = RawSession(channel)
        await unknown.send(resume_frame(str(open_frame().open.session_id), token))
        answers = [await wrong_token.drain(), await unknown.drain()]
        # The same answer whether the session exists or not: nothing to probe.
        assert {a.code for a in answers} == {grpc.StatusCode.NOT_FOUND}
        assert answers[0].details == answers[1].details
        assert (await owner.exchange(text_frame(1, "still mine"))).collect_ack.result == 1


async def test_a_resume_that_reached_another_process_says_how_to_route_it(start):
    server = await start()
    async with grpc.aio.insecure_channel(server.target) as channel:
        stray = RawSession(channel)
        await stray.send(resume_frame(str(open_frame().open.session_id), "elsewhere.token"))
        answer = await stray.drain()
    assert answer.code is grpc.StatusCode.UNAVAILABLE
    assert "x-nexy-session-id" in answer.details


async def test_outputs_no_longer_kept_fail_the_resume_clearly(start):
    pipeline = SteppedPipeline(["a" * 600, "b" * 600, "c" * 600, "d"])
    server = await start(pipeline, limits=Limits(max_replay_bytes=1000))
    async with cuttable(server.target) as proxy:
        async with grpc.aio.insecure_channel(proxy.target) as cut_channel:
            first = RawSession(cut_channel)
            accepted = await first.open()
            pipeline.allow(accepted.session_id, 3)  # the answer goes on after the cut
            await first.send(commit_frame("long"))
            answer_so_far = [await first.recv() for _ in range(4)]  # accepted + 3 outputs
            assert answer_so_far[-1].output.index == 3
            proxy.cut()
            await lost(server, accepted.session_id)
        async with grpc.aio.insecure_channel(server.target) as channel:
            second = RawSession(channel)
            await second.send(resume_frame(accepted.session_id, accepted.resume_token, 0))
            answer = await second.drain()
    assert answer.code is grpc.StatusCode.OUT_OF_RANGE
    assert "max_replay_bytes=1000" in answer.details


async def test_the_commit_sent_again_after_a_resume_is_the_same_commit(start):
    pipeline = SteppedPipeline(WORDS)
    server = await start(pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        first = RawSession(channel)
        accepted = await first.open()
        sid = accepted.session_id
        pipeline.allow(sid, 0)
        await first.send(commit_frame("count"))
        assert (await first.recv()).HasField("commit_accepted")
        second = RawSession(channel)  # the first stream is still open: this one takes over
        reply = await second.exchange(resume_frame(sid, accepted.resume_token))
        assert reply.resumed.committed.text == "count"
        assert (await first.drain()).code is grpc.StatusCode.ABORTED
        again = await second.exchange(commit_frame("count"))
        assert again.commit_accepted.text == "count"  # recognised, not run again
        pipeline.allow(sid, len(WORDS))
        answer = await second.drain()
    assert answer.text == ANSWER
    assert pipeline.runs == {sid: 1}


# -- the SDK resumes by itself ------------------------------------------------------------------

CUT_POINTS = st.one_of(
    st.tuples(st.just("collect"), st.integers(0, 3)),
    st.just(("commit", 0)),
    st.tuples(st.just("answer"), st.integers(0, len(WORDS) - 1)),
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cuts=st.lists(CUT_POINTS, min_size=1, max_size=2, unique=True))
async def test_the_application_sees_every_output_once_whatever_the_cuts(start, cuts):
    pipeline = SteppedPipeline(WORDS)
    server = await start(pipeline)
    interims = ["count", "count to", "count to five", "count to five please"]
    async with (
        cuttable(server.target) as proxy,
        Client(proxy.target) as client,
        client.session(device_id="laptop") as s,
    ):
        sid = s.session_id
        pipeline.allow(sid, 0)
        for index, text in enumerate(interims):
            await s.interim(text)
            if ("collect", index) in cuts:
                await (
                    anyio.lowlevel.checkpoint()
                )  # let the sender pick it up: in flight, or not yet
                proxy.cut()
        await s.commit()
        if ("commit", 0) in cuts:
            await until(lambda: sid in pipeline.runs, "the commit reached the pipeline")
            proxy.cut()
        events = await read_cutting(s, pipeline, proxy, cuts)
    committed = [e for e in events if isinstance(e, Committed)]
    assert len(committed) == 1 and committed[0].text == "count to five please"
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == ANSWER
    assert isinstance(events[-1], Ended) and events[-1].reason is EndReason.COMPLETED
    assert pipeline.runs == {sid: 1}
    # The end follows the last word at once: a cut after it may find the stream over already.
    if set(cuts) != {("answer", len(WORDS) - 1)}:
        assert s.stats.resumptions >= 1
    await until(lambda: len(server.registry) == 0, "the session is over on the server")


async def read_cutting(s, pipeline, proxy, cuts) -> list:  # type: ignore[no-untyped-def]
    """Reads the answer, one output allowed at a time, cutting the stream where asked."""
    events, texts = [], 0
    with anyio.fail_after(30):
        while not events or not isinstance(events[-1], Ended):
            pipeline.allow(s.session_id, texts + 1)
            event = await s.next_event()
            assert event is not None
            events.append(event)
            if isinstance(event, TextChunk):
                if ("answer", texts) in cuts:
                    proxy.cut()
                texts += 1
    return events


async def test_the_sdk_opens_again_when_the_first_connection_is_dropped(start):
    server = await start(CountingPipeline())
    async with cuttable(server.target) as proxy, Client(proxy.target) as client:
        proxy.refuse_next()
        async with client.session(device_id="laptop") as s:
            await s.commit("hello")
            events = [e async for e in s]
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == "hello"
    assert s.stats.resumptions == 1


async def test_without_resumption_a_cut_is_a_transport_error(start):
    pipeline = SteppedPipeline(WORDS)
    server = await start(pipeline)
    async with (
        cuttable(server.target) as proxy,
        Client(proxy.target, resume=False) as client,
        client.session(device_id="laptop") as s,
    ):
        pipeline.allow(s.session_id, 1)
        await s.commit("count")
        with pytest.raises(TransportError):
            async for event in s:
                if isinstance(event, TextChunk):
                    proxy.cut()


async def test_a_session_the_server_no_longer_has_fails_clearly(start):
    clock = ManualClock()
    server = await start(clock=clock, limits=Limits(resume_ttl_s=30))
    # Tries for as long as the resume_ttl the server gave (30 s), however slow the machine.
    patient = Resumption(attempts=1000, backoff_s=0.05, max_backoff_s=0.1)
    async with (
        cuttable(server.target) as proxy,
        Client(proxy.target, resume=patient) as client,
        client.session(device_id="laptop") as s,
    ):
        await s.interim("count")
        await until(lambda: s.stats.applied == 1, "the interim is applied")
        proxy.refuse_next(10_000)  # the client cannot come back yet...
        proxy.cut()
        await lost(server, s.session_id)
        clock.advance(30)  # ...until its resume_ttl has passed
        await until(lambda: len(server.registry) == 0, "the session ended")
        proxy.refuse_next(0)
        with pytest.raises(ServerError) as failed:
            await s.commit()
            async for _ in s:
                pass
    assert failed.value.code is grpc.StatusCode.NOT_FOUND
    assert "resume_ttl passed" in failed.value.message


async def test_say_shows_a_resumption_when_it_happens(start):
    pipeline = SteppedPipeline(WORDS, held=True)
    server = await start(pipeline)
    async with cuttable(server.target) as proxy:
        process = await start_cli("say", "count to five", "--target", proxy.target, "--no-interims")
        async with process:
            assert process.stdout is not None and process.stderr is not None
            with anyio.fail_after(60):
                await until(lambda: len(pipeline.runs) == 1, "the commit reached the pipeline")
                (sid,) = pipeline.runs
                proxy.cut()
                await lost(server, sid)
                pipeline.allow(sid, len(WORDS))
                out = await read_all(BufferedByteReceiveStream(process.stdout))
                err = await read_all(BufferedByteReceiveStream(process.stderr))
                assert await process.wait() == 0, err
    assert ANSWER in out and "1 resumed" in out
    assert "the stream was lost and the session resumed (1 time)" in err
