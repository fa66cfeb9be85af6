"""gRPC status codes by their wire numbers, and ending a call with one.

The session core names codes by number (:class:`nexy_stream.session.Code`, free of I/O
libraries); this is the one table that turns them into ``grpc.StatusCode``.
"""

from __future__ import annotations

from typing import Any

import grpc

from nexy_stream.session.errors import SessionError

_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def grpc_status(number: int) -> grpc.StatusCode:
    """The status code with this wire number; UNKNOWN for a number gRPC does not define."""
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def end_call(context: grpc.aio.ServicerContext[Any, Any], error: SessionError) -> None:
    """Makes the call end with the error's status code and message (after what was written)."""
    context.set_code(grpc_status(int(error.code)))
    context.set_details(error.message)
