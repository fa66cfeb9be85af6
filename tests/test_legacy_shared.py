"""The shared legacy store (``--legacy-store redis://...``): what only it does. The calls of
one utterance reach different servers; a commit runs once across all of them; the store
outlives a server; expiry, the byte budget and a store that fails. (The legacy suite runs
against it too: tests/test_legacy_calls.py, tests/test_legacy_running.py.)"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import grpc
import pytest

from nexy_stream.app.server import RunningServer
from nexy_stream.session import Limits
from tests.cli import nexy_stream
from tests.conftest import StartServer
from tests.legacy_wire import (
    LegacyClient,
    Reply,
    assert_answered,
    assert_collect_ok,
    assert_refused,
    new_session_id,
    webp,
)
from tests.pipelines import CountingPipeline, GatedPipeline
from tests.system import RedisServer, start_redis, system_program

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(redis_server: RedisServer) -> RedisServer:
    redis_server.command("FLUSHDB")
    return redis_server


@contextlib.asynccontextmanager
async def clients(*servers: RunningServer) -> AsyncIterator[list[LegacyClient]]:
    async with contextlib.AsyncExitStack() as stack:
        found = []
        for server in servers:
            channel = grpc.aio.insecure_channel(server.target)
            await stack.enter_async_context(channel)
            found.append(LegacyClient(channel))
        yield found


async def two_servers(start: StartServer, store: RedisServer, pipeline=None, **config):  # type: ignore[no-untyped-def]
    return [await start(pipeline, legacy_store=store.url, **config) for _ in range(2)]


async def test_each_call_of_an_utterance_may_reach_another_server(start, store):
    echo = CountingPipeline()
    servers = await two_servers(start, store, echo)
    async with clients(*servers) as (a, b):
        session = new_session_id()
        assert_collect_ok(await a.collect(session, 1, "open", screenshot=webp(b"shot")))
        assert_collect_ok(await b.collect(session, 2, "open the"))
        assert_collect_ok(await a.collect(session, 2, "stale, dropped"))
        assert_collect_ok(await b.collect(session, 3, "open the door"))
        assert_answered(await a.commit(session, "please"), "open the door please")
        assert [r.text for r in echo.requests] == ["open the door please"]
        for client in (a, b):  # once committed, everywhere
            assert_refused(await client.commit(session), grpc.StatusCode.FAILED_PRECONDITION)
            late = await client.collect(session, 4, "late")
            assert_refused(late, grpc.StatusCode.FAILED_PRECONDITION, "already committed")
    assert [r.text for r in echo.requests] == ["open the door please"]
    assert await store.ask("KEYS", "nexy:legacy:s:*") == []


async def test_a_commit_sent_to_two_servers_at_once_runs_once(start, store):
    echo = CountingPipeline(word_delay_s=0.05)
    servers = await two_servers(start, store, echo)
    replies: list[Reply] = []
    async with clients(*servers) as both:
        for round_ in range(10):
            session = new_session_id()
            assert_collect_ok(await both[0].collect(session, 1, f"round {round_} once"))

            async def commit(client: LegacyClient, session: str = session) -> None:
                replies.append(await client.commit(session))

            async with anyio.create_task_group() as tasks:
                for client in both:
                    tasks.start_soon(commit, client)
    assert len(echo.requests) == 10  # one run per utterance, whichever server took it
    answered = [r for r in replies if r.code is grpc.StatusCode.OK]
    assert len(answered) == 10
    for refused in (r for r in replies if r.code is not grpc.StatusCode.OK):
        assert refused.code in (
            grpc.StatusCode.RESOURCE_EXHAUSTED,  # it runs now
            grpc.StatusCode.FAILED_PRECONDITION,  # it ran
        ), refused.details


async def test_concurrent_collects_on_two_servers_lose_nothing(start, store):
    """Calls racing on two servers: each chunk is applied or dropped as stale by the actor,
    on the newest state (a call that lost the race starts over), never lost."""
    servers = await two_servers(start, store)
    async with clients(*servers) as both:
        session = new_session_id()
        words = [f"w{i}" for i in range(1, 21)]

        async def collect(seq: int) -> None:
            assert_collect_ok(await both[seq % 2].collect(session, seq, " ".join(words[:seq])))

        async with anyio.create_task_group() as tasks:
            for seq in range(1, len(words) + 1):
                tasks.start_soon(collect, seq)
        assert_collect_ok(await both[0].collect(session, len(words), " ".join(words)))
        assert_answered(await both[1].commit(session), " ".join(words))


async def test_collected_state_outlives_its_server(start, store):
    first = await start(legacy_store=store.url)
    async with clients(first) as (client,):
        session = new_session_id()
        assert_collect_ok(await client.collect(session, 1, "kept through a restart"))
    await first.stop(0)
    second = await start(legacy_store=store.url)
    async with clients(second) as (client,):
        assert_answered(await client.commit(session), "kept through a restart")


async def test_the_store_expires_state_at_the_idle_timeout(start, store):
    # Ten minutes, and half of them to read the time left: a busy machine is never too slow.
    limits = Limits(idle_timeout_s=600, max_duration_s=3600)
    server = await start(legacy_store=store.url, limits=limits)
    async with clients(server) as (client,):
        assert_collect_ok(await client.collect(new_session_id(), 1, "hello"))
    [key] = await store.ask("KEYS", "nexy:legacy:s:*")  # type: ignore[misc]
    assert isinstance(key, bytes) and b"hw-1" not in key  # keys name no device
    assert 300_000 < await store.ask("PTTL", key.decode()) <= 600_000  # type: ignore[operator]


async def test_a_server_counts_the_bytes_it_put_in_the_store(start, store):
    server = await start(legacy_store=store.url, max_buffered_bytes=10_000)
    async with clients(server) as (client,):
        first = new_session_id()
        assert_collect_ok(await client.collect(first, 1, screenshot=webp(b"x" * 6000)))
        assert server.hosting.budget.held == 6000  # at rest in Redis, still counted here
        second = new_session_id()
        full = await client.collect(second, 1, screenshot=webp(b"y" * 6000))
        assert_refused(full, grpc.StatusCode.RESOURCE_EXHAUSTED, "max_buffered_bytes=10000")
        assert_collect_ok(await client.collect(first, 2, "the same shot, some text"))
        assert server.hosting.budget.held == 6000 + len("the same shot, some text")
        assert_answered(await client.commit(first), "the same shot, some text")
        assert server.hosting.budget.held == 0
        assert_collect_ok(await client.collect(second, 1, screenshot=webp(b"y" * 6000)))


async def test_a_store_that_stops_answering_is_unavailable_and_the_server_serves_on(
    start, tmp_path
):
    own_redis = start_redis(system_program("redis-server"), tmp_path)
    with contextlib.ExitStack() as running:  # started and stopped off the event loop
        own = await anyio.to_thread.run_sync(running.enter_context, own_redis)
        server = await start(legacy_store=own.url)
        await anyio.to_thread.run_sync(running.close)
    async with clients(server) as (client,):
        reply = await client.collect(new_session_id(), 1, "nowhere to keep it")
        assert_refused(reply, grpc.StatusCode.UNAVAILABLE, "the legacy store is unreachable")
        reply = await client.commit(new_session_id(), "nowhere to pop it from")
        assert_refused(reply, grpc.StatusCode.UNAVAILABLE, "the legacy store is unreachable")
        interrupted = await client.interrupt()  # this process's commits only: there are none
        assert interrupted.success and list(interrupted.interrupted_sessions) == []


async def test_serve_refuses_a_store_it_cannot_reach_in_one_line():
    done = await nexy_stream("serve", "--port", "0", "--legacy-store", "redis://127.0.0.1:1/0")
    assert done.code == 2
    assert done.err.startswith("nexy-stream serve: error: --legacy-store redis://127.0.0.1:1/0")
    assert done.err.count("\n") == 1
    done = await nexy_stream("serve", "--legacy-store", "memcached://x")
    assert done.code == 2 and "is not a Redis URL" in done.err


async def test_an_interrupt_reaches_the_commit_running_on_another_server(start, store):
    """A balancer sends each call anywhere: the InterruptSession may land on a server that
    does not run the commit."""
    gated = GatedPipeline()
    servers = await two_servers(start, store, gated)
    async with clients(*servers) as (a, b):
        session, idle = new_session_id(), new_session_id()
        call = a.start(a.commit_request(session, "tell me a story"))
        assert (await call.read()).WhichOneof("content") == "text_chunk"
        answer = await b.interrupt()
        assert answer.success and list(answer.interrupted_sessions) == [session]
        assert "interrupted 1" in answer.message
        assert (await call.read()).end_message == "interrupted"
        with anyio.fail_after(10):
            await gated.cancelled.wait()
        # Nothing else runs for this hardware id now, anywhere; another's is not touched.
        assert list((await b.interrupt()).interrupted_sessions) == []
        running = a.start(a.commit_request(idle, "keep going", hardware_id="hw-other"))
        assert (await running.read()).WhichOneof("content") == "text_chunk"
        assert list((await b.interrupt()).interrupted_sessions) == []
        gated.release.set()
        assert (await running.read()).WhichOneof("content") == "text_chunk"
