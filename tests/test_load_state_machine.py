"""Many concurrent sessions against the real server, explored by a hypothesis state machine.

Rules open sessions and drive them frame by frame (in order, with gaps, stale, repeated,
screenshots that repeat), commit, cancel or drop them, and play bursts of whole utterances
concurrently (the same utterances ``nexy-stream load`` plays). A model says what must
happen; after every step the server's live sessions, its pipeline runs and its metrics must
agree with it. Hypothesis runs rules synchronously, so an anyio blocking portal owns the
event loop, the server and the channel, and every rule calls into it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from dataclasses import dataclass

import anyio
import grpc
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream._proto.nexy.stream.v1 import session_pb2_grpc as rpc
from nexy_stream.app.server import RunningServer
from nexy_stream.loadgen import TROUBLED, Ending, SessionModel, SessionRecord, codec, drive
from nexy_stream.loadgen.strategies import utterances
from nexy_stream.ops.config import OpsConfig
from nexy_stream.session import CollectResult, Limits, Screenshot, Text, TextMode
from tests.pipelines import CountingPipeline
from tests.threaded import serve_on_a_thread
from tests.waiting import until
from tests.wire import Answer, RawSession

# Few distinct screenshots, so repeats (duplicates) are common.
SHOTS = tuple(Screenshot(bytes([n]) * (16 + n), "image/webp", 4, 4) for n in range(3))
RESULTS = {
    pb.COLLECT_RESULT_APPLIED: CollectResult.APPLIED,
    pb.COLLECT_RESULT_STALE: CollectResult.STALE,
    pb.COLLECT_RESULT_DUPLICATE_SCREENSHOT: CollectResult.DUPLICATE_SCREENSHOT,
}
# grpc.aio hands the server an end of stream when a client drops a stream, the same as a
# half-close, so a session dropped before its commit may end as cancelled.
DROPPED_BEFORE_COMMIT = ("cancelled", "disconnected")

words = st.lists(
    st.sampled_from(["open", "safari", "Zürich", "please", "東京"]), min_size=1, max_size=3
)
texts = st.builds(
    lambda ws, delta: Text(" ".join(ws), TextMode.DELTA if delta else TextMode.SNAPSHOT),
    words,
    st.booleans(),
)


@dataclass
class Live:
    """A session opened step by step, with the model of its buffer."""

    wire: RawSession
    model: SessionModel


class Outcomes:
    """How many sessions ended each way; interrupted ones may have ended two ways."""

    def __init__(self) -> None:
        self.sure: Counter[str] = Counter()
        self.either: list[tuple[str, str]] = []

    def bounds(self, outcome: str) -> tuple[int, int]:
        maybe = sum(outcome in pair for pair in self.either)
        return self.sure[outcome], self.sure[outcome] + maybe

    @property
    def total(self) -> int:
        return sum(self.sure.values()) + len(self.either)


class LoadMachine(RuleBasedStateMachine):
    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        self.pipeline = CountingPipeline()
        # Sessions end when their stream is lost here (no resume): this machine models the
        # collect/commit rules under load; resumption is explored in test_resume.py.
        self._serving = serve_on_a_thread(
            self.pipeline, limits=Limits(resume_ttl_s=0), ops=OpsConfig(metrics_port=0)
        )
        threaded = self._serving.__enter__()
        self.portal = threaded.portal
        self.server: RunningServer = threaded.server
        self.channel: grpc.aio.Channel = self.portal.call(self._open_channel)
        self.live: dict[str, Live] = {}
        self.committed: dict[str, str] = {}  # ran the pipeline exactly once, with this text
        self.interrupted: dict[str, str] = {}  # committed, then dropped: ran at most once
        self.opened = 0
        self.outcomes = Outcomes()
        self.collect_results: Counter[CollectResult] = Counter()

    async def _open_channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.server.target)

    # -- step-by-step sessions -----------------------------------------------------------

    @rule(target=sessions)
    def open_session(self) -> str:
        session_id = str(uuid.uuid4())

        async def opened() -> RawSession:
            wire = RawSession(self.channel)
            await wire.open(session_id)
            return wire

        self.live[session_id] = Live(self.portal.call(opened), SessionModel())
        self.opened += 1
        return session_id

    def _collect(self, session_id: str, seq: int, payload: Text | Screenshot) -> None:
        live = self.live[session_id]
        expected = live.model.collect(seq, payload)
        frame = codec.collect_frame(seq, payload)
        ack = self.portal.call(live.wire.exchange, frame).collect_ack
        assert RESULTS[ack.result] is expected, (seq, ack)
        assert (ack.chunk_seq, ack.highest_applied_seq) == (seq, live.model.highest_applied_seq)
        assert ack.applied_chunks == live.model.applied_chunks
        assert ack.buffered_text_bytes == len(live.model.text.encode())
        self.collect_results[expected] += 1

    def _seq(self, session_id: str, how: str, step: int) -> int:
        highest = self.live[session_id].model.highest_applied_seq
        if how == "stale" and highest:
            return max(1, highest - step)  # a repeat (step 0) or an older frame
        return highest + 1 + (step if how == "gap" else 0)

    @rule(
        session_id=sessions,
        text=texts,
        how=st.sampled_from(["next", "gap", "stale"]),
        step=st.integers(0, 3),
    )
    def collect_text(self, session_id: str, text: Text, how: str, step: int) -> None:
        self._collect(session_id, self._seq(session_id, how, step), text)

    @rule(
        session_id=sessions,
        shot=st.sampled_from(SHOTS),
        how=st.sampled_from(["next", "stale"]),
        step=st.integers(0, 2),
    )
    def collect_screenshot(self, session_id: str, shot: Screenshot, how: str, step: int) -> None:
        self._collect(session_id, self._seq(session_id, how, step), shot)

    @rule(session_id=consumes(sessions), final=st.none() | texts)
    def commit(self, session_id: str, final: Text | None) -> None:
        live = self.live.pop(session_id)
        expected = live.model.commit(final)
        answer: Answer
        if expected is None:  # nothing to commit: rejected, the session goes on; then cancelled
            reply = self.portal.call(live.wire.exchange, codec.commit_frame(final))
            assert (reply.error.code, reply.error.fatal) == (
                grpc.StatusCode.INVALID_ARGUMENT.value[0],
                False,
            )
            self._cancel(session_id, live)
            return
        self.portal.call(live.wire.send, codec.commit_frame(final))
        answer = self.portal.call(live.wire.drain)
        assert answer.code == grpc.StatusCode.OK, answer
        assert answer.frames[0].commit_accepted.text == expected
        assert answer.text == expected  # the echo pipeline shows exactly what was committed
        assert answer.kinds()[-1] == "end"
        assert answer.frames[-1].end.reason == pb.END_REASON_COMPLETED
        self.committed[session_id] = expected
        self.outcomes.sure["committed"] += 1

    @rule(session_id=consumes(sessions))
    def cancel(self, session_id: str) -> None:
        self._cancel(session_id, self.live.pop(session_id))

    def _cancel(self, session_id: str, live: Live) -> None:
        self.portal.call(live.wire.send, codec.cancel_frame("changed my mind"))
        answer = self.portal.call(live.wire.drain)
        assert answer.code == grpc.StatusCode.OK, answer
        assert [f.end.reason for f in answer.frames] == [pb.END_REASON_CANCELLED]
        self.outcomes.sure["cancelled"] += 1

    @rule(session_id=consumes(sessions))
    def disconnect(self, session_id: str) -> None:
        live = self.live.pop(session_id)
        self.portal.call(self._drop, live.wire)
        self.outcomes.either.append(DROPPED_BEFORE_COMMIT)

    @staticmethod
    async def _drop(wire: RawSession) -> None:
        wire.call.cancel()

    # -- whole utterances, concurrently ---------------------------------------------------

    @precondition(lambda self: len(self.live) < 40)
    @rule(batch=st.lists(utterances(TROUBLED), min_size=1, max_size=24))
    def burst(self, batch: list) -> None:
        records: list[SessionRecord] = self.portal.call(self._play, batch)
        for record in records:
            assert not record.violations, record.violations
            assert record.failure is None, record.failure
            self._account(record)

    async def _play(self, batch: list) -> list[SessionRecord]:
        stub = rpc.SessionServiceStub(self.channel)
        records: list[SessionRecord] = []

        async def play(utterance: object) -> None:
            records.append(await drive(stub, str(uuid.uuid4()), utterance))  # type: ignore[arg-type]

        async with anyio.create_task_group() as tasks:
            for utterance in batch:
                tasks.start_soon(play, utterance)
        return records

    def _account(self, record: SessionRecord) -> None:
        self.opened += 1
        self.collect_results.update(record.predicted)
        ending, sid = record.ending, record.session_id
        if record.cancel_raced_end:  # the client lost the end: either may have happened
            self.interrupted[sid] = record.expected_text or ""
            self.outcomes.either.append(("committed", "cancelled"))
        elif ending is Ending.CANCEL_AFTER_COMMIT and record.completed:
            self.committed[sid] = record.expected_text or ""
            self.outcomes.sure["committed"] += 1
        elif ending is Ending.COMMIT and record.expected_text is not None:
            self.committed[sid] = record.expected_text
            self.outcomes.sure["committed"] += 1
        elif ending is Ending.DISCONNECT_AFTER_COMMIT and record.expected_text is not None:
            self.interrupted[sid] = record.expected_text
            self.outcomes.either.append(("committed", "disconnected"))
        elif ending is Ending.CANCEL_AFTER_COMMIT and record.expected_text is not None:
            self.interrupted[sid] = record.expected_text
            self.outcomes.sure["cancelled"] += 1
        elif ending in (Ending.DISCONNECT, Ending.DISCONNECT_AFTER_COMMIT):
            self.outcomes.either.append(DROPPED_BEFORE_COMMIT)
        else:  # cancelled, or committed nothing and cancelled by half-closing
            self.outcomes.sure["cancelled"] += 1

    # -- what must hold after every step -------------------------------------------------

    @invariant()
    def live_sessions_match_the_model(self) -> None:
        expected = set(self.live)
        live = self.portal.call(self._settled_registry, expected)
        assert live == expected, f"server-only: {live - expected}, model-only: {expected - live}"

    async def _settled_registry(self, expected: set[str]) -> set[str]:
        """The server's live session ids once it has noticed every dropped stream."""

        def live() -> set[str]:
            return {actor.session_id for actor in self.server.registry}

        with contextlib.suppress(AssertionError):  # the invariant tells what differs
            await until(lambda: live() == expected, "the server noticed every dropped stream")
        return live()

    @invariant()
    def pipeline_ran_once_per_commit(self) -> None:
        runs = Counter(request.session_id for request in self.pipeline.requests)
        texts = {request.session_id: request.text for request in self.pipeline.requests}
        for session_id, text in self.committed.items():
            assert runs[session_id] == 1, (session_id, runs[session_id])
            assert texts[session_id] == text
        for session_id, text in self.interrupted.items():
            assert runs[session_id] <= 1
            assert texts.get(session_id, text) == text
        stray = set(runs) - set(self.committed) - set(self.interrupted)
        assert not stray, f"the pipeline ran for sessions that never committed: {stray}"

    @invariant()
    def metrics_agree(self) -> None:
        metrics = self.server.ops.metrics
        assert metrics is not None

        def sample(name: str, **labels: str) -> float:
            found = metrics.registry.get_sample_value(name, {"protocol": "stream", **labels})
            assert found is not None, (name, labels)
            return found

        assert sample("nexy_sessions_started_total") == self.opened
        for result in (
            CollectResult.APPLIED,
            CollectResult.STALE,
            CollectResult.DUPLICATE_SCREENSHOT,
        ):
            counted = sample("nexy_collect_frames_total", result=result.value)
            assert counted == self.collect_results[result], result
        ended = {
            outcome: sample("nexy_sessions_ended_total", outcome=outcome)
            for outcome in ("committed", "cancelled", "disconnected")
        }
        assert sum(ended.values()) == self.outcomes.total
        for outcome, count in ended.items():
            low, high = self.outcomes.bounds(outcome)
            assert low <= count <= high, (outcome, count, low, high)
        for outcome in ("timed_out", "refused", "error"):
            assert sample("nexy_sessions_ended_total", outcome=outcome) == 0

    def teardown(self) -> None:
        try:
            for live in self.live.values():
                self.portal.call(self._drop, live.wire)
            self.live.clear()
            assert self.portal.call(self._settled_registry, set()) == set()
        finally:
            self.portal.call(self.channel.close)
            self._serving.__exit__(None, None, None)


# No shrinking: replays race the server's tasks, so hypothesis would call them flaky; the
# failing example is reported step by step anyway.
LoadMachine.TestCase.settings = settings(
    max_examples=8,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.generate],
)
test_load_state_machine = pytest.mark.timeout(300)(LoadMachine.TestCase)
