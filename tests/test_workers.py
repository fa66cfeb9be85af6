"""`nexy-stream serve --workers N`: real processes on one port, supervised."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
from collections.abc import Callable

import grpc
import pytest

from nexy_stream.app.config import ServerConfig
from nexy_stream.app.supervisor import restart_delay, worker_configs
from nexy_stream.cli import main
from nexy_stream.cli.serve import worker_count
from nexy_stream.ops.config import OpsConfig
from tests.cli import nexy_stream
from tests.ops_client import Samples, scrape, value
from tests.processes import Served, serving
from tests.waiting import until
from tests.wire import RawSession, commit_frame, text_frame

pytestmark = pytest.mark.anyio

SESSIONS = 16  # over as many connections: all on one worker has odds of 2**-15


def workers(*flags: str) -> contextlib.AbstractAsyncContextManager[tuple[Served, str]]:
    """``serve --workers 2``, its public address once every worker serves."""
    every_worker = r"serving nexy\.stream\.v1 .* on (\S+) \(\w+\) with 2 workers"
    return serving("--workers", "2", *flags, ready=every_worker)


async def worker_pids(served: Served) -> list[int]:
    """The process ids of both workers, as each logged it serves."""
    return [int((await served.line(rf"worker {n} \(pid (\d+)\) serving"))[0][1]) for n in (0, 1)]


async def sessions_on_own_connections(
    stack: contextlib.AsyncExitStack, target: str, count: int = SESSIONS
) -> list[RawSession]:
    """Open sessions, each over a connection of its own, so the kernel spreads them."""
    sessions = []
    for _ in range(count):
        channel = grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        await stack.enter_async_context(channel)
        session = RawSession(channel)
        await session.open()
        sessions.append(session)
    return sessions


async def commit_all(sessions: list[RawSession], text: str) -> None:
    for session in sessions:
        await session.send(commit_frame(text))
        answer = await session.drain()
        assert (answer.code, answer.text) == (grpc.StatusCode.OK, text)


async def scrape_until(port: int, holds: Callable[[Samples], bool]) -> Samples:
    """Scrapes until ``holds`` (the workers publish their live figures every second)."""
    samples: Samples = {}

    async def scraped() -> bool:
        nonlocal samples
        samples = await scrape(port)
        return holds(samples)

    await until(scraped, "the metrics match", bound_s=30)
    return samples


async def test_workers_share_the_port_and_one_metrics_endpoint():
    async with workers("--metrics-port", "0", "--max-buffered-bytes", "10MiB") as (served, target):
        found, _ = await served.line(r"Prometheus metrics of all workers on http://\S+:(\d+)/")
        metrics_port = int(found[1])
        async with contextlib.AsyncExitStack() as stack:
            sessions = await sessions_on_own_connections(stack, target)
            await scrape_until(
                metrics_port,
                lambda s: (
                    value(s, "nexy_live_sessions", phase="collecting", protocol="stream")
                    == SESSIONS
                ),
            )
            await commit_all(sessions, "hello")
        samples = await scrape_until(
            metrics_port,
            lambda s: value(s, "nexy_live_sessions", phase="processing", protocol="stream") == 0,
        )
        assert value(samples, "nexy_sessions_started_total", protocol="stream") == SESSIONS
        assert value(samples, "nexy_worker_restarts_total") == 0
        # Each worker holds half the budget: together, the one the operator gave.
        assert value(samples, "nexy_budget_bytes", kind="limit") == 10 * 1024 * 1024
        assert value(samples, "nexy_streams_awaiting_open") == 0
        for index in (0, 1):  # both workers served sessions
            await served.line(rf"session ended worker={index} ")
        assert await served.stopped() == 0


async def test_a_crashed_worker_is_started_again_and_logged():
    async with workers("--metrics-port", "0") as (served, target):
        found, _ = await served.line(r"Prometheus metrics of all workers on http://\S+:(\d+)/")
        metrics_port = int(found[1])
        found, after = await served.line(r"worker 0 \(pid (\d+)\) serving")
        os.kill(int(found[1]), signal.SIGKILL)
        _, after = await served.line(
            r"worker 0 ended \(killed by SIGKILL\) after [\d.]+s; starting it again in 0\.5s",
            after,
        )
        again, _ = await served.line(r"worker 0 \(pid (\d+)\) serving", after)
        assert again[1] != found[1]
        async with contextlib.AsyncExitStack() as stack:
            await commit_all(await sessions_on_own_connections(stack, target, 4), "still here")
        assert value(await scrape(metrics_port), "nexy_worker_restarts_total") == 1
        assert await served.stopped() == 0


async def test_sigterm_drains_every_worker_with_the_same_grace():
    async with workers("--shutdown-grace", "60") as (served, target):
        async with contextlib.AsyncExitStack() as stack:
            sessions = await sessions_on_own_connections(stack, target)
            for session in sessions:
                await session.exchange(text_frame(1, "almost"))
            served.signal(signal.SIGTERM)
            for session in sessions:
                notice = await session.recv()
                assert notice.WhichOneof("kind") == "going_away"
                assert 50 < notice.going_away.time_left.seconds <= 60
            await commit_all(sessions, "done in time")
        assert await served.exited() == 0
        await served.line(r"SIGTERM: stopping 2 workers \(grace 60s\)")


async def test_a_worker_that_does_not_drain_makes_the_exit_status_3():
    async with workers("--shutdown-grace", "60") as (served, target):
        pids = await worker_pids(served)
        async with contextlib.AsyncExitStack() as stack:
            sessions = await sessions_on_own_connections(stack, target)
            served.signal(signal.SIGTERM)
            for session in sessions:  # each worker holding a session is draining now
                assert (await session.recv()).WhichOneof("kind") == "going_away"
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):  # an idle one may be done
                    os.kill(pid, signal.SIGKILL)
            assert await served.exited() == 3


async def test_workers_drain_by_themselves_when_the_supervisor_dies():
    async with workers() as (served, target):
        pids = await worker_pids(served)
        async with contextlib.AsyncExitStack() as stack:
            (session,) = await sessions_on_own_connections(stack, target, 1)
            served.signal(signal.SIGKILL)
            assert (await session.recv()).WhichOneof("kind") == "going_away"  # its lifeline
            await commit_all([session], "after the supervisor")
        await served.line(r"the supervisor is gone: stopping .* worker=\d")
        await until(lambda: not any(alive(pid) for pid in pids), "no worker outlives it", 30)


def alive(pid: int) -> bool:
    """Runs (an ended child not yet reaped by its new parent is a zombie: not running)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_worker_that_cannot_start_stops_the_others_with_status_1():
    failing = "tests.custom_pipelines:failing"  # each worker builds its own pipeline
    done = await nexy_stream("serve", "--port", "0", "--workers", "2", "--pipeline", failing)
    assert done.code == 1
    assert re.search(r"worker \d ended \(exit status 1\) before it served", done.err)
    assert f"pipeline {failing} failed to start: RuntimeError: no GPU on this machine" in done.err


async def test_a_port_taken_by_another_program_is_reported():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = await nexy_stream("serve", "--port", str(port), "--workers", "2")
    assert done.code == 2  # checked before starting
    assert done.err.startswith("nexy-stream serve: error: --host 127.0.0.1 --port ")
    assert f"cannot listen on 127.0.0.1:{port}" in done.err


async def test_one_process_does_not_share_its_port_unless_it_is_a_worker(start):
    alone = await start()
    with pytest.raises(OSError, match="cannot listen"):
        await start(port=alone.port)
    first = await start(reuse_port=True)
    second = await start(port=first.port, reuse_port=True)
    assert second.port == first.port


def test_each_worker_gets_its_share_of_the_byte_budget():
    config = ServerConfig(max_buffered_bytes=1000, ops=OpsConfig(metrics_port=9100))
    shares = worker_configs(config, 3, port=50051)
    assert [c.max_buffered_bytes for c in shares] == [333, 333, 333]
    assert {(c.port, c.reuse_port, c.ops.metrics_port, c.ops.metrics_shared) for c in shares} == {
        (50051, True, None, True)
    }


def test_the_restart_back_off_doubles_up_to_half_a_minute():
    assert [restart_delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_worker_counts():
    assert worker_count("auto") == len(os.sched_getaffinity(0))
    assert worker_count("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="must be positive, got 0, or auto"):
        worker_count("0")


def test_a_bad_worker_count_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--workers", "none"])
    assert exited.value.code == 2
    assert "argument --workers: 'none' is not a whole number, or auto" in capsys.readouterr().err
