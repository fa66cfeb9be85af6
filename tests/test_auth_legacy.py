"""The legacy endpoint with authentication on, one test set per ``--legacy-auth`` mode: who
may call, and whose session a call reaches (its principal and hardware id together)."""

from __future__ import annotations

from contextlib import AsyncExitStack

import anyio
import grpc
import pytest

from nexy_stream.auth import AuthConfig, LegacyAuth
from nexy_stream.auth.tokens import new_token
from tests.auth_keys import authenticator, bearer
from tests.legacy_wire import (
    LegacyClient,
    assert_answered,
    assert_collect_ok,
    assert_refused,
    new_session_id,
)
from tests.pipelines import GatedPipeline

pytestmark = pytest.mark.anyio
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture
async def serve(start, tmp_path):
    """Starts a server with authentication on and a ``--legacy-auth`` mode; returns it, a
    channel to it, and alice's and root's tokens."""
    async with AsyncExitStack() as stack:

        async def _serve(mode: LegacyAuth = LegacyAuth.OPTIONAL, pipeline=None):  # type: ignore[no-untyped-def]
            auth, alice, root = authenticator(tmp_path)
            server = await start(pipeline, authenticator=auth, auth=AuthConfig(legacy=mode))
            channel = await stack.enter_async_context(grpc.aio.insecure_channel(server.target))
            return server, channel, alice, root

        yield _serve


def client(channel, token: str | None = None, hardware_id: str = "hw-1") -> LegacyClient:
    return LegacyClient(channel, hardware_id, bearer(token) if token else ())


# -- optional (the default) ---------------------------------------------------------------


async def test_optional_lets_a_client_without_a_token_in_bound_to_its_hardware_id(serve):
    server, channel, *_ = await serve()
    session = new_session_id()
    assert_collect_ok(await client(channel).collect(session, 1, "no token"))
    [live] = list(server.registry)
    assert (live.owner.principal, live.owner.hardware_id) == ("", "hw-1")
    assert_answered(await client(channel).commit(session), "no token")


async def test_optional_checks_a_token_that_is_sent(serve):
    _, channel, *_ = await serve()
    bad = new_token()
    reply = await client(channel, bad).collect(new_session_id(), 1, "bad token")
    assert_refused(reply, UNAUTHENTICATED, "unknown token")
    assert bad not in reply.details
    malformed = LegacyClient(channel, metadata=(("authorization", "Basic x"),))
    assert_refused(await malformed.commit(new_session_id(), "hi"), UNAUTHENTICATED, "malformed")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await client(channel, bad).interrupt()
    assert refused.value.code() is UNAUTHENTICATED


async def test_optional_binds_a_session_with_a_token_to_its_principal(serve):
    """Alice's session is reached with alice's token and her hardware id only: not without
    a token, not with another principal's, not from another hardware id."""
    server, channel, alice, root = await serve()
    session = new_session_id()
    assert_collect_ok(await client(channel, alice).collect(session, 1, "alice's words"))
    [live] = list(server.registry)
    assert (live.owner.principal, live.owner.hardware_id) == ("alice", "hw-1")
    for stranger in (client(channel), client(channel, root), client(channel, alice, "hw-2")):
        assert_collect_ok(await stranger.collect(session, 2, "injected"))
        assert_answered(await stranger.commit(session), "injected")  # its own session
    assert_answered(await client(channel, alice).commit(session), "alice's words")


# -- required -----------------------------------------------------------------------------


async def test_required_refuses_a_call_without_a_token(serve):
    server, channel, alice, _ = await serve(LegacyAuth.REQUIRED)
    no_token = client(channel)
    assert_refused(
        await no_token.collect(new_session_id(), 1, "hi"), UNAUTHENTICATED, "no credential"
    )
    assert_refused(await no_token.commit(new_session_id(), "hi"), UNAUTHENTICATED)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await no_token.interrupt()
    assert refused.value.code() is UNAUTHENTICATED
    assert len(server.registry) == 0
    session = new_session_id()
    assert_collect_ok(await client(channel, alice).collect(session, 1, "with a token"))
    assert_answered(await client(channel, alice).commit(session), "with a token")


# -- off ----------------------------------------------------------------------------------


async def test_off_ignores_tokens_and_binds_to_the_hardware_id(serve):
    server, channel, alice, _ = await serve(LegacyAuth.OFF)
    session = new_session_id()
    assert_collect_ok(await client(channel, new_token()).collect(session, 1, "any token"))
    assert_collect_ok(await client(channel, alice).collect(session, 2, "any token at all"))
    [live] = list(server.registry)
    assert (live.owner.principal, live.owner.hardware_id) == ("", "hw-1")
    assert_answered(await client(channel).commit(session), "any token at all")
    await client(channel, "not even a token").interrupt()


# -- InterruptSession: only the caller's own running commits -------------------------------


async def test_interrupt_stops_only_the_callers_own_running_commit(serve):
    pipeline = GatedPipeline()
    _, channel, alice, root = await serve(pipeline=pipeline)
    session = new_session_id()
    call = client(channel, alice).start(client(channel).commit_request(session, "tell me"))
    with anyio.fail_after(10):
        await pipeline.started.wait()
    for stranger in (client(channel), client(channel, root), client(channel, alice, "hw-2")):
        answer = await stranger.interrupt()
        assert answer.success and list(answer.interrupted_sessions) == []
    assert not pipeline.cancelled.is_set()
    answer = await client(channel, alice).interrupt()
    assert list(answer.interrupted_sessions) == [session]
    replies = [reply async for reply in call]
    assert replies[-1].end_message == "interrupted"
    assert pipeline.cancelled.is_set()
