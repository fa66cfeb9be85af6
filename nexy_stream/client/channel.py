"""The one place a grpc.aio channel is opened, plaintext or TLS, and a bearer token is
turned into call metadata."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc

CallMetadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ChannelTls:
    """A client's TLS as PEM bytes: unlike grpc's credentials, it can be handed to another
    process (``nexy-stream load --processes N``). No roots: the system's."""

    root_certificates: bytes | None = None
    private_key: bytes | None = None
    certificate_chain: bytes | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            self.root_certificates, self.private_key, self.certificate_chain
        )


def open_channel(
    target: str,
    credentials: grpc.ChannelCredentials | None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A channel to ``target``: TLS with ``credentials``, plaintext without."""
    if credentials is None:
        return grpc.aio.insecure_channel(target, list(options))
    return grpc.aio.secure_channel(target, credentials, list(options))


SESSION_ID_HEADER = "x-nexy-session-id"


def session_metadata(session_id: str) -> CallMetadata:
    """The header a load balancer hashes on to send every stream of one session (a resumed
    one too) to the server that holds it."""
    return ((SESSION_ID_HEADER, session_id),)


def bearer_metadata(token: str | None) -> CallMetadata:
    """The ``authorization: Bearer <token>`` metadata of every call; none without a token.

    ``ValueError`` for a token gRPC could not send (the message does not repeat it).
    """
    if token is None:
        return ()
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError("a token is non-empty printable ASCII without spaces")
    return (("authorization", f"Bearer {token}"),)
