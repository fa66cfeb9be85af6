"""v1 sessions with authentication on, over real gRPC: a caller without a valid credential
is refused before any frame is read, and a session belongs to its principal."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import anyio
import grpc
import pytest

from nexy_stream.app.server import RunningServer
from nexy_stream.auth.tokens import new_token
from nexy_stream.client import Client, ServerError, TextChunk
from nexy_stream.ops.config import OpsConfig
from tests.auth_keys import Issuer, authenticator, bearer
from tests.legacy_wire import new_session_id
from tests.ops_client import scrape, value
from tests.wire import RawSession, commit_frame, open_frame, text_frame

pytestmark = pytest.mark.anyio
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@dataclass
class Secured:
    """A server with authentication on, a channel to it, and its callers' tokens by name."""

    server: RunningServer
    channel: grpc.aio.Channel
    tokens: dict[str, str]

    def session(self, caller: str) -> RawSession:
        return RawSession(self.channel, bearer(self.tokens[caller]))


@pytest.fixture
async def secure(start, tmp_path) -> AsyncIterator[Callable[..., Awaitable[Secured]]]:
    """Starts a server (with this config) whose token file holds alice and root, and whose
    JWT key signed carol's tokens."""
    issuer = Issuer(tmp_path)
    auth, alice, root = authenticator(tmp_path, issuer)
    tokens = {
        "alice": alice,
        "root": root,
        "carol_jwt": issuer.token("carol"),
        "expired_jwt": issuer.token("carol", lifetime_s=-3600),
    }
    async with AsyncExitStack() as stack:

        async def _secure(**config: object) -> Secured:
            server = await start(authenticator=auth, **config)
            channel = await stack.enter_async_context(grpc.aio.insecure_channel(server.target))
            return Secured(server, channel, tokens)

        yield _secure


REFUSALS = {
    "none": ((), "no credential: send the metadata `authorization: Bearer <token>`"),
    "unknown": (bearer(new_token()), "unknown token: no credential of this server matches it"),
    "no_scheme": ((("authorization", new_token()),), "malformed authorization header"),
    "two_headers": ((*bearer(new_token()), *bearer(new_token())), "2 authorization headers"),
    "expired_jwt": ("expired_jwt", "expired token: its exp claim has passed"),
}


@pytest.mark.parametrize("name", REFUSALS)
async def test_a_caller_without_a_valid_credential_is_refused_before_any_frame(
    secure, caplog, name
):
    caplog.set_level(logging.DEBUG)
    secured = await secure(ops=OpsConfig(metrics_port=0))
    metadata, reason = REFUSALS[name]
    if isinstance(metadata, str):  # a token of this server's, by name
        metadata = bearer(secured.tokens[metadata])
    answer = await RawSession(secured.channel, metadata).drain()  # it sent no frame at all
    figures = await scrape(secured.server.ops.metrics_port)
    assert answer.code is UNAUTHENTICATED
    assert reason in answer.details
    [frame] = answer.frames
    assert frame.error.fatal and frame.error.code == UNAUTHENTICATED.value[0]
    assert frame.error.message == answer.details
    assert value(figures, "nexy_sessions_started_total", protocol="stream") == 0
    assert value(figures, "nexy_sessions_ended_total", protocol="stream", outcome="refused") == 1
    assert len(secured.server.registry) == 0
    for token in secured.tokens.values():
        assert token not in caplog.text and token not in answer.details


async def test_an_open_frame_without_a_credential_is_never_admitted(secure):
    secured = await secure()
    session = RawSession(secured.channel)
    await session.send(open_frame())
    await session.send(text_frame(1, "let me in"))
    answer = await session.drain()
    assert answer.code is UNAUTHENTICATED
    assert answer.kinds() == ["error"]  # no accepted, no ack: nothing was read
    assert len(secured.server.registry) == 0


@pytest.mark.parametrize("caller", ["alice", "carol_jwt"])
async def test_a_valid_credential_opens_a_session_of_its_principal(secure, caller):
    secured = await secure()
    session = secured.session(caller)
    await session.open()
    [live] = list(secured.server.registry)
    assert live.owner.principal == caller.removesuffix("_jwt")
    await session.send(commit_frame("hello"))
    assert (await session.drain()).text == "hello"


async def test_two_principals_may_use_the_same_session_id(secure):
    """Ids are unique per principal: neither can tell that the other's session exists."""
    secured, session_id = await secure(), new_session_id()
    alice, root = secured.session("alice"), secured.session("root")
    await alice.open(session_id)
    await root.open(session_id)
    assert len(secured.server.registry) == 2
    await alice.exchange(text_frame(1, "alice's words"))
    await root.exchange(text_frame(1, "root's words"))
    await alice.send(commit_frame())
    await root.send(commit_frame())
    assert (await alice.drain()).text == "alice's words"
    assert (await root.drain()).text == "root's words"


async def test_one_principal_reusing_its_live_session_id_gets_already_exists(secure):
    secured, session_id = await secure(), new_session_id()
    await secured.session("alice").open(session_id)
    twin = secured.session("alice")
    await twin.send(open_frame(session_id))
    answer = await twin.drain()
    assert answer.code is grpc.StatusCode.ALREADY_EXISTS
    assert f"session {session_id} is already live" == answer.details


async def test_the_per_principal_cap_leaves_room_for_others(secure):
    secured = await secure(max_sessions_per_principal=2, max_live_sessions=4)
    for _ in range(2):
        await secured.session("alice").open()
    third = secured.session("alice")
    await third.send(open_frame())
    answer = await third.drain()
    assert answer.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert answer.frames[-1].error.limit == "max_sessions_per_principal"
    assert "the live sessions of alice is 3, over max_sessions_per_principal=2" in answer.details
    await secured.session("root").open()  # another principal gets in
    assert len(secured.server.registry) == 3


async def test_the_sdk_sends_its_token_and_reports_a_refusal(secure):
    secured = await secure()
    target = secured.server.target
    async with (
        Client(target, token=secured.tokens["alice"]) as client,
        client.session("my-mac") as s,
    ):
        await s.commit("with a token")
        text = "".join([e.text async for e in s if isinstance(e, TextChunk)])
    assert text == "with a token"
    with anyio.fail_after(30):
        async with Client(target) as client:
            with pytest.raises(ServerError) as refused:
                async with client.session("my-mac"):
                    pass
    assert refused.value.code is UNAUTHENTICATED
    assert "no credential" in refused.value.message
