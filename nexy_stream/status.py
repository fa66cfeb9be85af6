"""gRPC status codes by their wire numbers, and ending a call with one.

The session core names codes by number (:class:`nexy_stream.session.Code`, free of I/O
libraries); this is the one table that turns them into ``grpc.StatusCode``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc

from nexy_stream.session.errors import SessionError

_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
VERDICT_HEADER = "x-nexy-verdict"
"""Trailing metadata of a call that the server ended with a session's error (its value:
the limit the error names, or empty). grpc.aio drops the messages a client has not read
once the call's status arrives, so the error frame written before it may never be read:
this says the status is the server's verdict, not a broken transport."""


def grpc_status(number: int) -> grpc.StatusCode:
    """The status code with this wire number; UNKNOWN for a number gRPC does not define."""
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def end_call(context: grpc.aio.ServicerContext[Any, Any], error: SessionError) -> None:
    """Makes the call end with the error's status code and message (after what was written),
    marked as the server's verdict (``VERDICT_HEADER``)."""
    context.set_code(grpc_status(int(error.code)))
    context.set_details(error.message)
    context.set_trailing_metadata(((VERDICT_HEADER, error.limit),))


def verdict_limit(trailing: Iterable[Any] | None) -> str | None:
    """The limit named by the server's verdict in a call's trailing metadata ("" for none);
    ``None`` when the call's status is not a verdict of the server's."""
    for key, value in trailing or ():  # (key, value) pairs
        if key == VERDICT_HEADER:
            return value.decode() if isinstance(value, bytes) else value
    return None
