"""v1 sessions with authentication on, over real gRPC: a caller without a valid credential
is refused before any frame is read, and a session belongs to its principal."""

from __future__ import annotations

import logging

import anyio
import grpc
import pytest

from nexy_stream.auth.tokens import new_token
from nexy_stream.client import Client, ServerError, TextChunk
from nexy_stream.ops.config import OpsConfig
from tests.auth_keys import Issuer, authenticator, bearer
from tests.legacy_wire import new_session_id, settled
from tests.ops_client import scrape, value
from tests.wire import RawSession, commit_frame, open_frame, text_frame

pytestmark = pytest.mark.anyio
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture
async def tokens(tmp_path):
    """An authenticator with a token file (alice, root) and JWTs; the tokens by name."""
    issuer = Issuer(tmp_path)
    auth, alice, root = authenticator(tmp_path, issuer)
    return auth, {
        "alice": alice,
        "root": root,
        "carol_jwt": issuer.token("carol"),
        "expired_jwt": issuer.token("carol", lifetime_s=-3600),
    }


REFUSALS = {
    "none": ((), "no credential: send the metadata `authorization: Bearer <token>`"),
    "unknown": (bearer(new_token()), "unknown token: no credential of this server matches it"),
    "no_scheme": ((("authorization", new_token()),), "malformed authorization header"),
    "two_headers": ((*bearer(new_token()), *bearer(new_token())), "2 authorization headers"),
    "expired_jwt": ("expired_jwt", "expired token: its exp claim has passed"),
}


@pytest.mark.parametrize("name", REFUSALS)
async def test_a_caller_without_a_valid_credential_is_refused_before_any_frame(
    start, tokens, caplog, name
):
    caplog.set_level(logging.DEBUG)
    auth, known = tokens
    metadata, reason = REFUSALS[name]
    if isinstance(metadata, str):
        metadata = bearer(known[metadata])
    server = await start(authenticator=auth, ops=OpsConfig(metrics_port=0))
    async with grpc.aio.insecure_channel(server.target) as channel:
        refused = RawSession(channel, metadata)  # sends no frame at all
        answer = await refused.drain()
        figures = await scrape(server.ops.metrics_port)
    assert answer.code is UNAUTHENTICATED
    assert reason in answer.details
    [frame] = answer.frames
    assert frame.error.fatal and frame.error.code == UNAUTHENTICATED.value[0]
    assert frame.error.message == answer.details
    assert value(figures, "nexy_sessions_started_total", protocol="stream") == 0
    assert value(figures, "nexy_sessions_ended_total", protocol="stream", outcome="refused") == 1
    assert len(server.registry) == 0
    for token in known.values():
        assert token not in caplog.text and token not in answer.details


async def test_an_open_frame_without_a_credential_is_never_admitted(start, tokens):
    auth, _ = tokens
    server = await start(authenticator=auth)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.send(open_frame())
        await session.send(text_frame(1, "let me in"))
        answer = await session.drain()
    assert answer.code is UNAUTHENTICATED
    assert answer.kinds() == ["error"]  # no accepted, no ack: nothing was read
    assert len(server.registry) == 0


@pytest.mark.parametrize("credential", ["alice", "carol_jwt"])
async def test_a_valid_credential_opens_a_session_of_its_principal(start, tokens, credential):
    auth, known = tokens
    server = await start(authenticator=auth)
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel, bearer(known[credential]))
        await session.open()
        [live] = list(server.registry)
        assert live.owner.principal == credential.removesuffix("_jwt")
        await session.send(commit_frame("hello"))
        assert (await session.drain()).text == "hello"


async def test_two_principals_may_use_the_same_session_id(start, tokens):
    """Ids are unique per principal: neither can tell that the other's session exists."""
    auth, known = tokens
    server = await start(authenticator=auth)
    session_id = new_session_id()
    async with grpc.aio.insecure_channel(server.target) as channel:
        alice = RawSession(channel, bearer(known["alice"]))
        root = RawSession(channel, bearer(known["root"]))
        await alice.open(session_id)
        await root.open(session_id)
        assert len(server.registry) == 2
        await alice.exchange(text_frame(1, "alice's words"))
        await root.exchange(text_frame(1, "root's words"))
        await alice.send(commit_frame())
        await root.send(commit_frame())
        assert (await alice.drain()).text == "alice's words"
        assert (await root.drain()).text == "root's words"


async def test_one_principal_reusing_its_live_session_id_gets_already_exists(start, tokens):
    auth, known = tokens
    server = await start(authenticator=auth)
    session_id = new_session_id()
    async with grpc.aio.insecure_channel(server.target) as channel:
        await RawSession(channel, bearer(known["alice"])).open(session_id)
        twin = RawSession(channel, bearer(known["alice"]))
        await twin.send(open_frame(session_id))
        answer = await twin.drain()
    assert answer.code is grpc.StatusCode.ALREADY_EXISTS
    assert f"session {session_id} is already live" == answer.details


async def test_the_per_principal_cap_leaves_room_for_others(start, tokens):
    auth, known = tokens
    server = await start(authenticator=auth, max_sessions_per_principal=2, max_live_sessions=4)
    async with grpc.aio.insecure_channel(server.target) as channel:
        for _ in range(2):
            await RawSession(channel, bearer(known["alice"])).open()
        third = RawSession(channel, bearer(known["alice"]))
        await third.send(open_frame())
        answer = await third.drain()
        assert answer.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert answer.frames[-1].error.limit == "max_sessions_per_principal"
        assert "the live sessions of alice is 3, over max_sessions_per_principal=2" in (
            answer.details
        )
        await RawSession(channel, bearer(known["root"])).open()  # another principal gets in
    await settled(server)


async def test_the_sdk_sends_its_token_and_reports_a_refusal(start, tokens):
    auth, known = tokens
    server = await start(authenticator=auth)
    async with (
        Client(server.target, token=known["alice"]) as client,
        client.session("my-mac") as s,
    ):
        await s.commit("with a token")
        text = "".join([e.text async for e in s if isinstance(e, TextChunk)])
    assert text == "with a token"
    with anyio.fail_after(30):
        async with Client(server.target) as client:
            with pytest.raises(ServerError) as refused:
                async with client.session("my-mac"):
                    pass
    assert refused.value.code is UNAUTHENTICATED
    assert "no credential" in refused.value.message
