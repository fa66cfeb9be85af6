"""The one place a grpc.aio channel is opened, plaintext or TLS, a bearer token is turned
into call metadata, and a call's real status is kept."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import anyio
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


T = TypeVar("T")
Status = tuple[grpc.StatusCode, str]

# What grpcio puts in place of a call's status when a write fails because the call has just
# ended (grpc/aio/_call.py): the status the server sent is then lost to ``call.code()``.
WRITE_FAILED = (grpc.StatusCode.INTERNAL, "Internal error from Core")


class CallStatus:
    """The status a call ended with, as the server (or the transport) set it.

    grpcio replaces a call's status with ``WRITE_FAILED`` when a write fails because the call
    has just ended, e.g. after the server refused a frame; a done-callback reads the status
    as it is set, before that can happen, and keeps it."""

    def __init__(self, call: grpc.aio.Call) -> None:
        self.status: Status | None = None
        self._kept = anyio.Event()
        call.add_done_callback(self._keep)

    def _keep(self, call: grpc.aio.Call) -> None:
        if self.status is not None:
            return
        status = (_at_once(call.code()), _at_once(call.details()))
        if status[0] is not None and status != WRITE_FAILED:
            self.status = (status[0], status[1] or "")
            self._kept.set()

    async def of(self, seen: Status, wait_s: float = 5.0) -> Status:
        """The real status in place of ``seen``: the one kept, waiting for it (at most
        ``wait_s``) when what was seen is grpcio's write-failed placeholder."""
        if seen == WRITE_FAILED:
            with anyio.move_on_after(wait_s):
                await self._kept.wait()
        return self.status or seen


def _at_once(step: Coroutine[Any, Any, T]) -> T | None:
    """The result of a coroutine that finishes without waiting; ``None`` (and the coroutine
    closed) if it would wait. A finished call's ``code()`` and ``details()`` never wait."""
    try:
        step.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    step.close()
    return None
