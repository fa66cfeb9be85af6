"""Speculative preparation on the real server: answers begun during collect, held until the
commit, adopted only when the commit is the request prepared.

The pipelines are real and observable (tests/pipelines.py): each answer says which run it
came from, and each run records whether it did its side effect and whether it has ended.
The server's clock is a ManualClock where the moment a preparation starts matters.
"""

from __future__ import annotations

import io
import logging
import re

import anyio
import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.app.server import RunningServer
from nexy_stream.cli.say import Request, say
from nexy_stream.client import Client, Ended
from nexy_stream.logformat import FIELDS
from nexy_stream.ops.config import OpsConfig
from nexy_stream.pipeline import EchoPipeline
from nexy_stream.session import Limits, Speculation, normalised
from tests.clock import ManualClock
from tests.legacy_wire import LegacyClient, assert_collect_ok, new_session_id
from tests.ops_client import next_event, scrape, value, watch
from tests.pipelines import FloodPipeline, PreparingEcho, RunRecord
from tests.waiting import settled, until
from tests.wire import Answer, RawSession, cancel_frame, commit_frame, resume_frame, text_frame

pytestmark = pytest.mark.anyio

RULES = Speculation(after_s=0.3, max_per_session=3)


def stable_frame(seq: int, text: str) -> pb.ClientFrame:
    frame = text_frame(seq, text)
    frame.collect.text.stable = True
    return frame


def tagged(answer: Answer) -> tuple[set[int], list[str]]:
    """The run numbers an answer's pieces carry, and its words."""
    pieces = [piece.split(":", 1) for piece in answer.text.split()]
    return {int(number) for number, _ in pieces}, [word for _, word in pieces]


def assert_one_run_of_the_commit(pipeline: PreparingEcho, answer: Answer) -> RunRecord:
    """The client saw exactly the output of one run, of a request equal to the committed
    one (after normalisation), and only that run did its side effect."""
    assert answer.code is grpc.StatusCode.OK, answer.details
    committed = next(f.commit_accepted for f in answer.frames if f.HasField("commit_accepted"))
    numbers, words = tagged(answer)
    assert len(numbers) == 1, numbers
    run = pipeline.runs[numbers.pop() - 1]
    assert words == [*run.text.split(), "done"]
    assert normalised(run.text) == normalised(committed.text)
    assert [r.number for r in pipeline.of(run.session_id) if r.effected] == [run.number]
    assert answer.frames[-1].end.timings.prepared == run.prepared
    return run


async def speculating(start, pipeline, clock=None, **config) -> RunningServer:
    return await start(pipeline, clock=clock, speculation=RULES, **config)  # type: ignore[no-any-return]


async def test_a_text_unchanged_for_a_moment_is_prepared_and_its_commit_adopts_it(start):
    clock, pipeline = ManualClock(), PreparingEcho()
    server = await speculating(start, pipeline, clock)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        accepted = await session.open()
        await session.exchange(text_frame(1, "what is on my screen"))
        clock.advance(0.2)
        await anyio.wait_all_tasks_blocked()  # the watcher has done what it would
        assert not pipeline.runs  # not yet: the text has not been the same for 0.3 s
        prepared = pipeline.prepared
        clock.advance(0.1)
        with anyio.fail_after(10):
            await prepared.wait()
        await session.send(commit_frame("What is on my screen?"))
        answer = await session.drain()
    run = assert_one_run_of_the_commit(pipeline, answer)
    assert run.prepared and run.text == "what is on my screen"
    assert answer.frames[0].commit_accepted.text == "What is on my screen?"  # as committed
    assert len(pipeline.of(accepted.session_id)) == 1  # the commit started nothing new
    timings = answer.frames[-1].end.timings
    assert timings.HasField("prepared_ahead")


async def test_a_commit_of_another_text_runs_afresh_and_the_preparation_did_nothing(start):
    pipeline = PreparingEcho()
    server = await speculating(start, pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        accepted = await session.open()
        await session.exchange(stable_frame(1, "what is on my screen"))
        await session.send(commit_frame("what is on my desk"))
        answer = await session.drain()
    run = assert_one_run_of_the_commit(pipeline, answer)
    assert not run.prepared and run.text == "what is on my desk"
    prepared, fresh = pipeline.of(accepted.session_id)
    await until(lambda: prepared.ended, "the discarded preparation stopped")
    assert prepared.prepared and not prepared.effected and fresh is run


async def test_each_revision_stops_the_running_preparation(start):
    pipeline = PreparingEcho(word_delay_s=30)  # never done on its own: only stopped
    server = await speculating(start, pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        accepted = await session.open()
        texts = ["open", "open safari", "open safari please"]
        for seq, text in enumerate(texts, start=1):
            await session.exchange(stable_frame(seq, text))
        await until(lambda: len(pipeline.of(accepted.session_id)) == 3, "three preparations")
        first, second, third = pipeline.of(accepted.session_id)
        await until(lambda: first.ended and second.ended, "the first two stopped")
        assert not third.ended
        await session.exchange(stable_frame(4, "open safari please now"))  # over the maximum
        await until(lambda: third.ended, "the third stopped")
        assert len(pipeline.of(accepted.session_id)) == 3
        await session.send(cancel_frame())
        await session.drain()
    assert not any(run.effected for run in pipeline.runs)


@pytest.mark.parametrize("how", ["cancel", "disconnect", "deadline", "shutdown"])
async def test_the_end_of_the_session_stops_its_preparation_at_once(start, how):
    clock, pipeline = ManualClock(), PreparingEcho(word_delay_s=30)
    limits = Limits(resume_ttl_s=0, idle_timeout_s=5.0)
    server = await speculating(start, pipeline, clock, limits=limits)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.exchange(stable_frame(1, "what is on my screen"))
        await until(lambda: len(pipeline.runs) == 1, "the preparation started")
        match how:
            case "cancel":
                await session.send(cancel_frame())
            case "disconnect":
                session.call.cancel()
            case "deadline":
                clock.advance(5.0)
            case "shutdown":
                await server.stop(0)
        (run,) = pipeline.runs
        await until(lambda: run.ended, f"the preparation stopped ({how})")
        if how != "disconnect":
            answer = await session.drain()
            assert not any(f.HasField("output") for f in answer.frames)
    assert not run.effected
    await settled(server)
    assert server.hosting.budget.held == 0


async def test_held_output_is_bounded_then_flows_once_adopted(start):
    chunk = 1024
    pipeline = PreparingFlood(chunks=64, chunk_bytes=chunk)
    held = 8 * chunk
    server = await start(pipeline, speculation=Speculation(max_held_bytes=held))
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.exchange(stable_frame(1, "a long answer"))
        # Held back: the preparation holds its bound (the piece past it waits to be added).
        await until(lambda: server.hosting.budget.held >= held, "the preparation holds its bound")
        assert pipeline.produced * chunk <= held + chunk
        await session.send(commit_frame())
        answer = await session.drain()
    assert answer.code is grpc.StatusCode.OK
    assert [a.data for a in answer.audio] == [pipeline.piece(i) for i in range(64)]
    assert answer.frames[-1].end.timings.prepared


class PreparingFlood(FloodPipeline):
    """The flood pipeline, prepared: the same pieces, as fast as it is let."""

    async def prepare(self, request, committed):  # type: ignore[no-untyped-def]
        async for item in self.run(request):
            yield item


async def test_the_sdk_s_stable_interim_prepares_at_once(start):
    pipeline = PreparingEcho()
    server = await speculating(start, pipeline, ManualClock())  # the clock never moves
    async with Client(server.target) as client, client.session(device_id="d") as s:
        await s.interim("what is on")
        await s.interim("what is on my screen", stable=True)
        await until(lambda: len(pipeline.runs) == 1, "prepared at the stable interim")
        await s.commit()
        ended = [event async for event in s if isinstance(event, Ended)]
    (run,) = pipeline.runs
    assert run.prepared and run.effected
    assert ended[0].timings.prepared and ended[0].timings.prepared_ahead is not None


async def test_an_adopted_answer_lingers_for_a_resume_then_goes_back_to_the_budget(start):
    """An ended session keeps its answer for its resume_ttl; a prepared one too (its run's
    log): a resume gets it again, and once the session expires its bytes go back."""
    clock, pipeline = ManualClock(), PreparingEcho()
    server = await speculating(start, pipeline, clock, limits=Limits(resume_ttl_s=5.0))
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        accepted = await session.open()
        await session.exchange(stable_frame(1, "what is on my screen"))
        await until(lambda: len(pipeline.runs) == 1, "prepared at the stable interim")
        await session.send(commit_frame("what is on my screen"))
        answer = await session.drain()
        assert assert_one_run_of_the_commit(pipeline, answer).prepared
        await settled(server)
        assert server.hosting.budget.held == len(answer.text.encode())  # kept for a resume
        again = RawSession(channel)
        await again.send(resume_frame(accepted.session_id, accepted.resume_token))
        replayed = await again.drain()
        assert replayed.text == answer.text
        assert replayed.frames[-1].end == answer.frames[-1].end
        clock.advance(5.0)
        later = RawSession(channel)  # a new session: the expired ones are let go
        await later.open()
        await later.send(cancel_frame())
        await later.drain()
    await settled(server)
    assert server.hosting.budget.held == 0
    assert len(pipeline.runs) == 1


async def test_metrics_feed_and_log_count_what_became_of_preparations(start, caplog):
    caplog.set_level(logging.INFO, logger="nexy_stream.sessions")
    pipeline = PreparingEcho()
    # Nothing lingers for a resume, so every byte held goes back once the sessions end.
    limits = Limits(resume_ttl_s=0)
    server = await speculating(start, pipeline, ops=OpsConfig(metrics_port=0), limits=limits)
    port = server.ops.metrics_port
    assert port is not None
    async with grpc.aio.insecure_channel(server.target) as channel:
        for texts, final in (
            (["what is", "what is on my screen"], "what is on my screen"),  # adopted
            (["what is on my screen"], "what is on my desk"),  # text_differs
            (["never mind"], None),  # cancelled: session_ended
        ):
            session = RawSession(channel)
            await session.open()
            for seq, text in enumerate(texts, start=1):
                await session.exchange(stable_frame(seq, text))
            await session.send(commit_frame(final) if final else cancel_frame())
            await session.drain()
    await settled(server)
    assert server.hosting.budget.held == 0  # what preparations held went back
    samples = await scrape(port)
    assert value(samples, "nexy_preparations_started_total") == 4
    assert value(samples, "nexy_preparations_adopted_total") == 1
    discarded = "nexy_preparations_discarded_total"
    for reason, count in (("revised", 1), ("text_differs", 1), ("session_ended", 1)):
        assert value(samples, discarded, reason=reason) == count, reason
    assert value(samples, discarded, reason="failed") == 0
    assert value(samples, "nexy_preparation_saved_seconds_count") == 1
    lines = [getattr(r, FIELDS) for r in caplog.records if r.name == "nexy_stream.sessions"]
    adopted, differed, ended = lines
    assert adopted["prepared"] is True and adopted["discarded_revised"] == 1
    assert differed["prepared"] is False and differed["discarded_text_differs"] == 1
    assert ended["discarded_session_ended"] == 1 and "prepared_ahead_s" not in ended


async def test_old_clients_sessions_are_never_prepared(start):
    clock, pipeline = ManualClock(), PreparingEcho()
    server = await speculating(start, pipeline, clock)
    async with grpc.aio.insecure_channel(server.target) as channel:
        legacy = LegacyClient(channel, "hw-1")
        session_id = new_session_id()
        assert_collect_ok(await legacy.collect(session_id, 1, "what is on my screen"))
        clock.advance(1.0)  # past the moment a v1 session would have prepared it
        await anyio.wait_all_tasks_blocked()
        assert not pipeline.runs
        reply = await legacy.commit(session_id)
    assert reply.code is grpc.StatusCode.OK and reply.text.endswith(":done")
    (run,) = pipeline.runs
    assert not run.prepared


async def test_a_pipeline_that_cannot_prepare_is_never_run_early(start):
    with pytest.raises(ValueError, match="can prepare"):
        await start(EchoPipeline(), speculation=RULES)


async def test_a_preparation_goes_on_while_its_session_waits_for_a_resume(start):
    pipeline = PreparingEcho()
    server = await speculating(start, pipeline, limits=Limits(resume_ttl_s=30.0))
    async with grpc.aio.insecure_channel(server.target) as channel:
        lost = RawSession(channel)
        accepted = await lost.open()
        await lost.exchange(stable_frame(1, "what is on my screen"))
        await until(lambda: len(pipeline.runs) == 1, "the preparation started")
        lost.call.cancel()
        await until(lambda: all(actor.detached for actor in server.registry), "detached")
        (prepared,) = pipeline.runs
        assert not prepared.ended  # the session lives on, and so does its preparation
        again = RawSession(channel)
        resume = pb.Resume(session_id=accepted.session_id, resume_token=accepted.resume_token)
        reply = await again.exchange(pb.ClientFrame(resume=resume))
        assert reply.resumed.highest_applied_seq == 1
        await again.send(commit_frame())
        answer = await again.drain()
    assert assert_one_run_of_the_commit(pipeline, answer) is prepared


async def test_say_marks_its_last_interim_stable_and_reports_the_prepared_answer(start):
    pipeline = PreparingEcho()
    server = await speculating(start, pipeline, ManualClock())  # only the hint can start it
    out = io.StringIO()
    request = Request("what is on my screen", "dev-say", None, True, interim_delay_s=0.2)
    await say(request, Client(server.target), out)
    (run,) = pipeline.runs
    assert run.prepared and run.text == "what is on my screen"
    assert re.search(r"prepared during collect: the answer came [\d.]+ ms sooner", out.getvalue())


async def test_the_feed_shows_what_became_of_the_preparations(start):
    pipeline = PreparingEcho()
    server = await speculating(start, pipeline)
    async with grpc.aio.insecure_channel(server.target) as channel:
        call = watch(channel, aggregate_interval=Duration(nanos=100_000_000))
        try:
            assert (await next_event(call)).WhichOneof("kind") == "snapshot"
            session = RawSession(channel)
            await session.open()
            await session.exchange(stable_frame(1, "what is"))
            await session.exchange(stable_frame(2, "what is on my screen"))
            await session.send(commit_frame())
            await session.drain()
            events, started, adopted, ahead = {}, 0, 0, 0
            with anyio.fail_after(10):  # every change of the session, and the aggregates
                while "ended" not in events or started < 2:
                    event = await next_event(call)
                    if event.HasField("session"):
                        events[event.session.WhichOneof("change")] = event.session
                    prepared = event.aggregate.preparations
                    started, adopted = started + prepared.started, adopted + prepared.adopted
                    ahead = max(ahead, event.aggregate.prepared_ahead.samples)
        finally:
            call.cancel()
    assert events["committed"].committed.prepared
    ended = events["ended"].ended
    assert ended.timings.prepared and ended.timings.HasField("prepared_ahead")
    assert (ended.preparations.started, ended.preparations.adopted) == (2, 1)
    discarded = [(d.reason, d.preparations) for d in ended.preparations.discarded]
    assert discarded == [(apb.DISCARD_REVISED, 1)]
    assert (started, adopted, ahead) == (2, 1, 1)


@pytest.mark.parametrize("how", ["revision", "cancel"])
async def test_a_stopped_preparation_closes_its_llm_request_at_once(serve_openai, stub, how):
    stub.behaviour.chat_hold_after = 1  # answers one chunk, then holds the request open
    server = await serve_openai({"speculation": RULES}, no_tts=True)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open()
        await session.exchange(stable_frame(1, "what is on my screen"))
        await until(lambda: len(stub.requests) == 1, "the LLM request of the preparation")
        if how == "revision":
            await session.exchange(text_frame(2, "what is on my desk"))
        else:
            await session.send(cancel_frame())
        gone = await anyio.to_thread.run_sync(stub.disconnected.wait, 10)
        assert gone and [path for path, _ in stub.disconnects] == ["/v1/chat/completions"]
        if how == "revision":
            await session.send(cancel_frame())
        await session.drain()
