"""Errors the session rules produce, with the gRPC status code they map to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Code(IntEnum):
    """The gRPC status codes (google.rpc.Code) the session rules use.

    Kept here rather than importing ``grpc.StatusCode`` so the core stays free of I/O
    libraries; the numbers are the wire values.
    """

    OK = 0
    CANCELLED = 1
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


@dataclass(frozen=True, slots=True)
class SessionError:
    """What was wrong with a frame or a session.

    ``limit`` names the exceeded limit (a field of :class:`Limits`, or a server-wide one
    such as ``max_live_sessions``) so clients can react without parsing ``message``.
    """

    code: Code
    message: str
    limit: str = ""

    @classmethod
    def over_limit(cls, limit: str, what: str, value: int, maximum: int) -> SessionError:
        return cls(Code.RESOURCE_EXHAUSTED, f"{what} is {value}, over {limit}={maximum}", limit)
