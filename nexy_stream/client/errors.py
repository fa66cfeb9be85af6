"""What can go wrong in a client session, as exceptions an application can tell apart.

``NexyError`` is the root. ``ProtocolUsageError`` means the application misused the
session (caught locally, nothing was sent); ``ServerError`` means the server refused a frame
or ended the session, in band, with its code, message and the exceeded limit;
``TransportError`` means the stream itself broke or never opened.
"""

from __future__ import annotations

import grpc


class NexyError(Exception):
    """Every error the client SDK raises."""


class ProtocolUsageError(NexyError):
    """The session was used against the protocol (a second commit, an interim after commit,
    a frame after cancel). Raised locally: nothing reached the network."""


class _CodedError(NexyError):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class ServerError(_CodedError):
    """The server rejected a frame or ended the session (an ``error`` frame or a rejected
    collect ack).

    ``limit`` names the exceeded limit (a field of ``Limits`` or ``max_live_sessions``), empty
    for other errors. ``fatal`` tells whether the server ended the session; a non-fatal one
    still fails the session on the client, because the answer would not match what the
    application sent.
    """

    def __init__(
        self, code: grpc.StatusCode, message: str, limit: str = "", fatal: bool = True
    ) -> None:
        super().__init__(code, message)
        self.limit = limit
        self.fatal = fatal


class TransportError(_CodedError):
    """The stream broke, never opened, or ended without the server's last frame; ``code`` is
    the gRPC status of the call (``DEADLINE_EXCEEDED`` for the SDK's own timeouts)."""
