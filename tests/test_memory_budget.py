"""The byte budget measured from outside: a real `nexy-stream serve` process, many clients
sending large screenshots over both protocols, and the server's resident memory.

Without the budget, every session would keep its screenshot: SESSIONS x SHOT_BYTES (384 MiB
here) on top of the baseline. With it, the server holds at most BUDGET of them; the rest is
what is in flight at once (a frame being received, decoded and checked: a few copies of
one screenshot per concurrent call, base64 text on the legacy endpoint) and the sessions'
own bookkeeping. That is the stated slack.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import grpc
import psutil
import pytest

from tests.legacy_wire import LegacyClient, new_session_id, webp
from tests.processes import serving
from tests.wire import RawSession, screenshot_frame

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
BUDGET = 48 * MIB
SHOT_BYTES = 2 * MIB
SESSIONS_PER_PROTOCOL = 96  # 192 screenshots: 384 MiB, eight times the budget
CALLS_AT_ONCE_PER_PROTOCOL = 2
# In flight: per concurrent call a few copies of a screenshot (the frame, its bytes, the
# decoded message; base64 text and its decoding on the legacy endpoint), plus the sessions'
# bookkeeping and what the allocator keeps. Measured: about 50 MiB (about 420 MiB over the
# baseline without the budget).
SLACK = 112 * MIB


@contextmanager
def peak_rss(pid: int) -> Iterator[list[int]]:
    """Samples the process's resident memory every 10 ms while the block runs."""
    process, samples, done = psutil.Process(pid), [], threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            samples.append(process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        done.set()
        sampler.join(timeout=10)
        samples.append(process.memory_info().rss)


def shot(index: int) -> bytes:
    """A large screenshot, its own content (so no de-duplication), cheap to build."""
    return index.to_bytes(4, "big") * (SHOT_BYTES // 4)


async def test_many_large_screenshots_stay_within_the_budget():
    results: list[str] = []  # "held", or why the screenshot was refused
    held: list[RawSession] = []
    async with (
        serving("--max-buffered-bytes", f"{BUDGET // MIB}MiB") as (served, target),
        grpc.aio.insecure_channel(target) as channel,
    ):
        warm = RawSession(channel)  # the first session loads what every session uses
        await warm.open()
        await warm.exchange(screenshot_frame(1, b"warm"))
        baseline = psutil.Process(served.process.pid).memory_info().rss

        async def v1(indices: range) -> None:
            for index in indices:
                session = RawSession(channel)
                await session.open()
                held.append(session)  # kept open: its screenshot, if taken, stays held
                ack = (await session.exchange(screenshot_frame(1, shot(index)))).collect_ack
                results.append(ack.error.limit or "held")

        async def legacy(indices: range) -> None:
            for index in indices:
                client = LegacyClient(channel, f"device-{index}")
                shot_b64 = webp(shot(SESSIONS_PER_PROTOCOL + index))
                reply = await client.collect(new_session_id(), 1, screenshot=shot_b64)
                results.append("held" if reply.code is grpc.StatusCode.OK else reply.details)

        with peak_rss(served.process.pid) as samples, anyio.fail_after(120):
            async with anyio.create_task_group() as tasks:
                for worker in range(CALLS_AT_ONCE_PER_PROTOCOL):
                    share = range(worker, SESSIONS_PER_PROTOCOL, CALLS_AT_ONCE_PER_PROTOCOL)
                    tasks.start_soon(v1, share)
                    tasks.start_soon(legacy, share)
        for session in held:
            session.call.cancel()
    assert 0 < results.count("held") <= BUDGET // SHOT_BYTES
    assert all("max_buffered_bytes" in r for r in results if r != "held"), set(results)
    assert len(results) == 2 * SESSIONS_PER_PROTOCOL
    growth = max(samples) - baseline
    assert growth <= BUDGET + SLACK, (
        f"the server grew by {growth / MIB:.0f} MiB, over the budget ({BUDGET / MIB:.0f} MiB) "
        f"and the slack ({SLACK / MIB:.0f} MiB)"
    )
