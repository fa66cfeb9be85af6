"""End to end behind a real L7 balancer: haproxy (deploy/haproxy/haproxy.cfg), two
``nexy-stream serve --legacy-store redis://...`` processes and Redis, all on loopback. The
load generator and legacy clients run through haproxy while one server is killed; no
committed utterance may be lost or run twice."""

from __future__ import annotations

import collections
import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import anyio
import grpc
import pytest

from nexy_stream.loadgen import LoadPlan, LoadReport, LoadTally, run_load
from tests.legacy_wire import LegacyClient, Reply, assert_collect_ok, new_session_id
from tests.system import Balancer, RedisServer, start_balancer, system_program

pytestmark = pytest.mark.anyio

PIPELINE = "tests.pipelines:FileCountingPipeline"
KILL_AFTER = 25  # load generator sessions finished before one server is killed
COLLECTED = 20  # legacy utterances collected before the kill, committed after it
# What a client may see of a server killed under it: each is a clear error, not an answer.
SERVER_GONE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}


@pytest.fixture
def balanced(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[Balancer, Path]]:
    """haproxy before two servers sharing one Redis; the file their pipelines log runs to."""
    redis_server.command("FLUSHDB")
    runs = tmp_path / "runs"
    runs.touch()
    flags = ("--legacy-store", redis_server.url, "--pipeline", PIPELINE)
    env = {"NEXY_TEST_RUNS": str(runs)}
    with start_balancer(system_program("haproxy"), tmp_path, *flags, env=env) as balancer:
        yield balancer, runs


async def collect_utterance(client: LegacyClient, session: str, words: list[str]) -> None:
    for seq in range(1, len(words) + 1):
        assert_collect_ok(await client.collect(session, seq, " ".join(words[:seq])))


def answered_or_gone(reply: Reply, text: str) -> bool:
    """The whole answer (True), or a clear error of a server that went away (False)."""
    if reply.code is grpc.StatusCode.OK:
        assert reply.text == text and reply.last.end_message == "completed", reply
        return True
    assert reply.code in SERVER_GONE, (reply.code, reply.details)
    return False


async def test_a_server_killed_under_load_loses_no_committed_utterance(balanced):
    balancer, runs = balanced
    plan = LoadPlan(
        balancer.target, sessions=120, concurrency=8, duration_s=90, pace=0.05, drain_s=30
    )
    halfway = anyio.Event()
    reports: list[LoadReport] = []
    legacy_answers: dict[str, bool] = {}

    def progress(tally: LoadTally, _elapsed: float) -> None:
        if tally.finished >= KILL_AFTER:
            halfway.set()

    async def load() -> None:
        reports.append(await run_load(plan, progress))

    async def legacy_during_the_kill(client: LegacyClient, index: int) -> None:
        """A whole legacy utterance while a server dies: each call answered or refused
        clearly, and a commit whose call failed may not run twice if sent again."""
        session = new_session_id()
        text = f"during {index}"
        with contextlib.suppress(AssertionError):  # a collect the dying server dropped
            await collect_utterance(client, session, text.split())
        for _ in range(3):  # as a client would, after an error
            if answered_or_gone(await client.commit(session), text):
                legacy_answers[session] = True
                return
            await anyio.sleep(1)  # a client's back-off, not a wait for something

    async with grpc.aio.insecure_channel(balancer.target) as channel:
        client = LegacyClient(channel)
        collected = {new_session_id(): f"collected before {i} the kill" for i in range(COLLECTED)}
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(load)
            for session, text in collected.items():  # calls spread over both servers
                await collect_utterance(client, session, text.split())
            with anyio.fail_after(120):
                await halfway.wait()
            balancer.backends[0].served.signal(signal.SIGKILL)
            for index in range(10):
                tasks.start_soon(legacy_during_the_kill, client, index)
        await balancer.taken_out("nexy-1")
        assert (
            int((await balancer.row("nexy", "nexy-1"))["stot"]) > KILL_AFTER
        )  # it served, then died
        for session, text in collected.items():  # their collects reached both servers
            reply = await client.commit(session)
            assert (reply.code, reply.text) == (grpc.StatusCode.OK, text), reply.details

    [report] = reports
    data = report.as_dict()
    assert report.invariants_held, data["violations"]
    assert data["stopped"] is None and data["sessions_unfinished"] == 0, data
    assert data["sessions_finished"] >= 100, data  # the run went on past the kill
    assert data["pipeline"] == "echo"  # each answer was checked to be the exact echo
    for failure in data["failures"]:  # only sessions the killed server held
        assert any(code.name in failure for code in SERVER_GONE), failure
    ran = collections.Counter(runs.read_text().split())
    assert max(ran.values()) == 1, ran.most_common(3)  # no commit ran twice, anywhere
    for session in [*collected, *legacy_answers]:
        assert ran[session] == 1
    assert len(legacy_answers) >= 5  # most utterances during the kill were answered
