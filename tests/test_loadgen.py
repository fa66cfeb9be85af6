"""``nexy-stream load`` against the real server, and the utterances it draws."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import given, settings

from nexy_stream.app.config import ServerConfig
from nexy_stream.app.server import RunningServer, start_server
from nexy_stream.cli import main
from nexy_stream.loadgen import REALISTIC, Ending, SessionModel, Utterance, build_utterance
from nexy_stream.loadgen.strategies import utterances
from nexy_stream.pipeline import EchoPipeline, Output
from nexy_stream.session import CommittedRequest, Text


class TrimmingPipeline:
    """Echoes the text without its last character: a pipeline that loses data."""

    async def run(self, request: CommittedRequest) -> AsyncIterator[Output]:
        trimmed = CommittedRequest(request.session_id, request.device_id, request.text[:-1])
        async for item in EchoPipeline().run(trimmed):
            yield item


@contextmanager
def serving(pipeline: object) -> Iterator[RunningServer]:
    with start_blocking_portal(backend="asyncio") as portal:
        running = portal.call(start_server, ServerConfig(host="127.0.0.1", port=0), pipeline)
        yield running
        portal.call(running.stop, 0)


def load(target: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    args = ["load", "--target", target, "--sessions", "60", "--concurrency", "12"]
    code = main([*args, "--duration", "60", "--pace", "0", "--seed", "7", "--json", *extra])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)


def test_load_runs_realistic_sessions_and_every_invariant_holds(capsys):
    with serving(EchoPipeline()) as server:
        code, report = load(server.target, capsys)
        assert report["sessions_finished"] == 60
        assert report["sessions_unfinished"] == 0
        assert report["invariants_held"] is True, report["violations"]
        assert code == 0
        assert report["collect_frames"] > 60
        assert report["status_codes"]["OK"] > 0
        assert set(report["commit_to_first_output_ms"]) == {"p50", "p95", "p99"}
        assert len(server.registry) == 0


def test_load_reports_a_pipeline_that_loses_data(capsys):
    with serving(TrimmingPipeline()) as server:
        code, report = load(server.target, capsys)
        assert code == 1
        assert report["invariants_held"] is False
        assert any("echoed" in violation for violation in report["violations"])


def test_load_stops_at_its_duration_with_sessions_left(capsys):
    with serving(EchoPipeline()) as server:
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
    with serving(EchoPipeline()) as server:
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
