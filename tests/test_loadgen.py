"""``nexy-stream load`` against the real server, and the utterances it draws."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator

import anyio
import pytest
from hypothesis import given, settings

from nexy_stream.cli import main
from nexy_stream.loadgen import (
    REALISTIC,
    Ending,
    LoadPlan,
    LoadReport,
    SessionModel,
    Utterance,
    build_utterance,
    run_load,
)
from nexy_stream.loadgen.strategies import utterances
from nexy_stream.pipeline import AudioOutput, EchoPipeline, Output, TextOutput
from nexy_stream.session import CommittedRequest, Dispatch, GoAway, Limits, Text
from tests.pipelines import FailingPipeline, GatedPipeline
from tests.threaded import serve_on_a_thread


class TrimmingPipeline:
    """Echoes the text without its last character: a pipeline that loses data, and says it
    is the echo pipeline."""

    name = "echo"

    async def run(self, request: CommittedRequest) -> AsyncIterator[Output]:
        trimmed = CommittedRequest(request.session_id, request.device_id, request.text[:-1])
        async for item in EchoPipeline().run(trimmed):
            yield item


def load(target: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    args = ["load", "--target", target, "--sessions", "60", "--concurrency", "12"]
    code = main([*args, "--duration", "60", "--pace", "0", "--seed", "7", "--json", *extra])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)


def test_load_runs_realistic_sessions_and_every_invariant_holds(capsys):
    with serve_on_a_thread() as server:
        code, report = load(server.target, capsys)
        assert report["sessions_finished"] == 60
        assert report["sessions_unfinished"] == 0
        assert report["invariants_held"] is True, report["violations"]
        assert code == 0
        assert report["collect_frames"] > 60
        assert report["status_codes"]["OK"] > 0
        assert set(report["commit_to_first_output_ms"]) == {"p50", "p95", "p99"}
        # Sessions whose client went away on purpose wait for a resume; nothing else is left.
        registry = server.server.registry
        server.until(lambda: all(actor.detached for actor in registry), "only detached are left")


def test_load_reports_a_pipeline_that_loses_data(capsys):
    with serve_on_a_thread(TrimmingPipeline()) as server:
        code, report = load(server.target, capsys)
        assert code == 1
        assert report["invariants_held"] is False
        assert any("echoed" in violation for violation in report["violations"])


class ShoutingPipeline:
    """Any other pipeline: answers in capitals and stereo speech, and has no name."""

    async def run(self, request: CommittedRequest) -> AsyncIterator[Output]:
        yield TextOutput(request.text.upper())
        yield AudioOutput(b"\x01\x00" * 2 * 240, sample_rate_hz=24_000, channels=2)


class CrackedAudioPipeline:
    """Sends audio that is not whole PCM s16le frames: a promise of the contract, whatever
    the pipeline."""

    async def run(self, request: CommittedRequest) -> AsyncIterator[Output]:
        yield AudioOutput(b"\x00" * 3, sample_rate_hz=24_000, channels=1)


def test_load_checks_any_pipeline_by_the_contract_and_the_echo_only_for_echo(capsys):
    with serve_on_a_thread(ShoutingPipeline()) as server:
        code, report = load(server.target, capsys, "--sessions", "20")
    assert report["invariants_held"] is True, report["violations"]
    assert (code, report["passed"]) == (0, True)
    assert report["pipeline"] == "ShoutingPipeline" and report["exact_echo_checked"] == 0

    with serve_on_a_thread() as server:
        _, report = load(server.target, capsys, "--sessions", "20")
    assert report["pipeline"] == "echo" and report["exact_echo_checked"] > 0


def test_load_finds_a_broken_promise_of_a_pipeline_that_is_not_the_echo(capsys):
    with serve_on_a_thread(CrackedAudioPipeline()) as server:
        code, report = load(server.target, capsys, "--sessions", "20")
    assert code == 1 and report["invariants_held"] is False
    assert any("not whole PCM s16le frames" in v for v in report["violations"])


def test_load_counts_failed_sessions_apart_from_broken_promises(capsys):
    with serve_on_a_thread(FailingPipeline()) as server:
        code, report = load(server.target, capsys, "--sessions", "20")
    assert code == 1 and report["passed"] is False
    assert report["invariants_held"] is True, report["violations"]  # the contract allows it
    assert report["sessions_failed"] > 0 and report["status_codes"]["INTERNAL"] > 0
    assert "INTERNAL: the pipeline failed" in report["failures"][0]


class EffectSeen:
    """A session observer that opens a gate at the first effect of one kind."""

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.seen = anyio.Event()

    def step(
        self, actor: object, event: object, effect: object, protocol: object, now: float
    ) -> None:
        if isinstance(effect, self.kind):
            self.seen.set()


@pytest.mark.anyio
async def test_a_server_going_away_breaks_no_promise_and_ends_the_run(start):
    pipeline = GatedPipeline()  # answers wait until the server has announced its stop
    dispatched, going_away = EffectSeen(Dispatch), EffectSeen(GoAway)
    server = await start(pipeline, observers=(dispatched, going_away))
    plan = LoadPlan(server.target, sessions=10_000, concurrency=4, duration_s=600, pace=0)
    reports: list[LoadReport] = []

    async def run() -> None:
        reports.append(await run_load(plan))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run)
            await dispatched.seen.wait()  # a session is in the pipeline
            tasks.start_soon(server.stop, 30)
            await going_away.seen.wait()
            pipeline.release.set()
    report = reports[0]
    assert report.stopped is not None and report.stopped.startswith("lost the server: ")
    assert report.tally.told_going_away >= 1
    assert report.invariants_held, report.tally.violations
    assert report.tally.failed_sessions == 0, report.tally.failures
    assert report.unfinished == 0


def test_dropped_streams_are_resumed_and_every_resume_keeps_its_promises(capsys):
    with serve_on_a_thread() as server:
        code, report = load(server.target, capsys, "--drop-rate", "1")
    assert report["invariants_held"] is True, report["violations"]
    assert (code, report["passed"]) == (0, True), report["failures"]
    # Every session that commits and reads its answer had its stream dropped once.
    assert report["resumptions"] == report["endings"]["commit"] > 0
    assert report["exact_echo_checked"] > 0


def test_a_server_that_cannot_resume_breaks_the_promise_dropped_sessions_check(capsys):
    with serve_on_a_thread(limits=Limits(resume_ttl_s=0)) as server:
        code, report = load(server.target, capsys, "--drop-rate", "1", "--sessions", "20")
    assert code == 1 and report["invariants_held"] is False
    assert any("resume answered" in v for v in report["violations"]), report["violations"]


def test_a_drop_rate_is_a_share(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["load", "--drop-rate", "1.5"])
    assert exited.value.code == 2
    assert "--drop-rate: must be from 0 to 1, got 1.5" in capsys.readouterr().err


def test_load_stops_at_its_duration_with_sessions_left(capsys):
    with serve_on_a_thread() as server:
        code, report = load(server.target, capsys, "--sessions", "100000", "--duration", "0.5")
        assert code == 0
        assert 0 < report["sessions_started"] < 100000
        assert report["sessions_unfinished"] == 0


def test_the_same_seed_draws_the_same_utterance():
    assert build_utterance(random.Random(42)) == build_utterance(random.Random(42))
    assert build_utterance(random.Random(42)) != build_utterance(random.Random(43))


@settings(max_examples=200, deadline=None)
@given(utterances(REALISTIC))
def test_utterances_stay_within_the_default_limits(utterance: Utterance):
    model = SessionModel()
    for chunk in utterance.chunks:
        assert chunk.seq > 0
        model.collect(chunk.seq, chunk.payload)
        assert len(model.text.encode()) < 4096
    if utterance.ending is Ending.COMMIT and isinstance(utterance.final_text, Text):
        assert model.commit(utterance.final_text)  # a final text never leaves it empty


def test_load_from_several_processes_plays_the_same_utterances(capsys):
    with serve_on_a_thread() as server:
        _, alone = load(server.target, capsys)
        code, shared = load(server.target, capsys, "--processes", "3")
    assert code == 0, shared["violations"]
    assert shared["sessions_finished"] == 60
    assert shared["endings"] == alone["endings"]
    assert shared["collect_frames"] == alone["collect_frames"]


def test_more_processes_than_concurrent_sessions_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["load", "--sessions", "60", "--concurrency", "12", "--processes", "13"])
    assert exited.value.code == 2
    assert "--processes 13 needs at least as many" in capsys.readouterr().err
