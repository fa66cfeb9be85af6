"""The client's transport options and the server's: TLS, mutual TLS and per-call metadata,
against the real server."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from nexy_stream.app.config import TlsFiles
from nexy_stream.client import Client, Committed, TransportError

pytestmark = pytest.mark.anyio

TLS = Path(__file__).resolve().parent / "tls"  # self-signed for localhost and 127.0.0.1
CERTIFICATE = (TLS / "localhost.pem").read_bytes()
SERVER_TLS = TlsFiles(TLS / "localhost.pem", TLS / "localhost.key")


async def one_utterance(client: Client) -> str:
    """The text the server committed."""
    async with client.session(device_id="mac-1") as s:
        await s.commit("over tls")
        committed, *_ = [event async for event in s]
    assert isinstance(committed, Committed)
    return committed.text


async def test_tls_with_the_server_root_certificate(start):
    target = (await start(tls=SERVER_TLS)).target
    async with Client(target, root_certificates=CERTIFICATE) as client:
        assert await one_utterance(client) == "over tls"
    async with Client(target, credentials=grpc.ssl_channel_credentials(CERTIFICATE)) as client:
        assert await one_utterance(client) == "over tls"
    async with Client(target, open_timeout=10) as plaintext:
        with pytest.raises(TransportError) as raised:
            await one_utterance(plaintext)
        assert raised.value.code is grpc.StatusCode.UNAVAILABLE


async def test_tls_refuses_an_unknown_certificate(start):
    target = (await start(tls=SERVER_TLS)).target
    async with Client(target, tls=True) as client:
        with pytest.raises(TransportError) as raised:
            await one_utterance(client)
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE


async def test_metadata_reaches_the_server(start):
    seen: list[tuple[str, str]] = []

    class Spy(grpc.aio.ServerInterceptor):
        async def intercept_service(self, continuation, details):
            seen.extend(details.invocation_metadata)
            return await continuation(details)

    target = (await start(interceptors=(Spy(),))).target
    async with (
        Client(target, metadata=[("authorization", "Bearer t")]) as client,
        client.session("mac-1", metadata=[("x-trace", "42")]) as s,
    ):
        await s.commit("hi")
        assert [event async for event in s]
    assert ("authorization", "Bearer t") in seen and ("x-trace", "42") in seen


async def test_mutual_tls_requires_a_client_certificate(start):
    """The test certificate doubles as the client CA and the client's own certificate."""
    mutual = TlsFiles(
        SERVER_TLS.cert_file, SERVER_TLS.key_file, client_ca_file=SERVER_TLS.cert_file
    )
    target = (await start(tls=mutual)).target
    key = SERVER_TLS.key_file.read_bytes()
    with_certificate = grpc.ssl_channel_credentials(CERTIFICATE, key, CERTIFICATE)
    async with Client(target, credentials=with_certificate) as client:
        assert await one_utterance(client) == "over tls"
    async with Client(target, root_certificates=CERTIFICATE) as anonymous:
        with pytest.raises(TransportError) as raised:
            await one_utterance(anonymous)
        assert raised.value.code is grpc.StatusCode.UNAVAILABLE
