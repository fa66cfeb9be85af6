"""The client's transport options: TLS and per-call metadata, against the real session
service on a server built here (the `start` fixture serves plaintext, without interceptors)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest

from nexy_stream.client import Client, Committed, TransportError
from nexy_stream.pipeline import EchoPipeline
from nexy_stream.server.app import session_service
from nexy_stream.server.config import ServerConfig
from nexy_stream.server.registry import SessionRegistry

pytestmark = pytest.mark.anyio

TLS = Path(__file__).resolve().parent / "tls"  # self-signed for localhost and 127.0.0.1
CERTIFICATE = (TLS / "localhost.pem").read_bytes()


@asynccontextmanager
async def session_server(
    credentials: grpc.ServerCredentials | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> AsyncIterator[str]:
    """The v1 session service on 127.0.0.1:0; yields its target."""
    server = grpc.aio.server(interceptors=interceptors)
    service = session_service(SessionRegistry(10), EchoPipeline(), ServerConfig(port=0))
    server.add_generic_rpc_handlers([service])
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


async def one_utterance(client: Client) -> str:
    """The text the server committed."""
    async with client.session(device_id="mac-1") as s:
        await s.commit("over tls")
        committed, *_ = [event async for event in s]
    assert isinstance(committed, Committed)
    return committed.text


async def test_tls_with_the_server_root_certificate():
    key = (TLS / "localhost.key").read_bytes()
    credentials = grpc.ssl_server_credentials([(key, CERTIFICATE)])
    async with session_server(credentials) as target:
        async with Client(target, root_certificates=CERTIFICATE) as client:
            assert await one_utterance(client) == "over tls"
        async with Client(target, credentials=grpc.ssl_channel_credentials(CERTIFICATE)) as client:
            assert await one_utterance(client) == "over tls"
        async with Client(target, open_timeout=10) as plaintext:
            with pytest.raises(TransportError) as raised:
                await one_utterance(plaintext)
            assert raised.value.code is grpc.StatusCode.UNAVAILABLE


async def test_tls_refuses_an_unknown_certificate():
    key = (TLS / "localhost.key").read_bytes()
    credentials = grpc.ssl_server_credentials([(key, CERTIFICATE)])
    async with session_server(credentials) as target, Client(target, tls=True) as client:
        with pytest.raises(TransportError) as raised:
            await one_utterance(client)
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE


async def test_metadata_reaches_the_server():
    seen: list[tuple[str, str]] = []

    class Spy(grpc.aio.ServerInterceptor):
        async def intercept_service(self, continuation, details):
            seen.extend(details.invocation_metadata)
            return await continuation(details)

    async with (
        session_server(interceptors=[Spy()]) as target,
        Client(target, metadata=[("authorization", "Bearer t")]) as client,
        client.session("mac-1", metadata=[("x-trace", "42")]) as s,
    ):
        await s.commit("hi")
        assert [event async for event in s]
    assert ("authorization", "Bearer t") in seen and ("x-trace", "42") in seen
