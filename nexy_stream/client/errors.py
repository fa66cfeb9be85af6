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


class FrameTooLargeError(ProtocolUsageError):
    """A frame would be larger than the server's ``max_frame_bytes`` (sent in ``accepted``,
    ``Session.limits``), which the server refuses with RESOURCE_EXHAUSTED: it is not sent.

    Raised by the call whose content alone is over the limit (the session goes on, as if
    the call had not been made). A frame that grows past the limit while it waits (deltas
    joined, a commit carrying a pending screenshot) fails the session instead, which is
    then cancelled: the server's buffer would lack what the application sent.
    """

    limit = "max_frame_bytes"

    def __init__(self, what: str, size: int, max_frame_bytes: int) -> None:
        super().__init__(
            f"{what} is {size} bytes, over max_frame_bytes={max_frame_bytes} (the largest "
            "frame the server reads); it was not sent"
        )
        self.size = size
        self.max_frame_bytes = max_frame_bytes


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
