"""Request messages decoded by the handler that receives them, not by grpcio."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from nexy_stream.session import Code, SessionError

M = TypeVar("M", bound=Message)


def decoded(kind: type[M], raw: bytes) -> M | SessionError:
    """The request, or INVALID_ARGUMENT naming its type.

    A handler registered with a request deserializer never sees bytes that fail to decode:
    grpcio answers UNKNOWN or INTERNAL itself and logs a traceback. Handlers take raw bytes
    and decode them here, so a bad request gets a clear answer and the log stays quiet.
    """
    try:
        return kind.FromString(raw)
    except DecodeError:
        name = kind.DESCRIPTOR.full_name
        return SessionError(Code.INVALID_ARGUMENT, f"the request is not a valid {name}")
