"""What an upstream failure means for the session: UNAVAILABLE when trying again later may
work (unreachable, timed out, 429, 5xx), INTERNAL when it will not (a bad key, an unknown
model, a request the service refuses). The message names the service and its HTTP status,
never a URL or a key."""

from __future__ import annotations

import openai

from nexy_stream.pipeline.base import PipelineError
from nexy_stream.session.errors import Code

_DETAIL_CHARS = 300


def upstream_error(service: str, exc: openai.APIError, timeout_s: float) -> PipelineError:
    """The :class:`PipelineError` for ``exc``, raised by a call to ``service``."""
    if isinstance(exc, openai.APITimeoutError):
        return PipelineError(
            Code.UNAVAILABLE, f"the {service} did not answer within {timeout_s:g}s"
        )
    if isinstance(exc, openai.APIConnectionError):
        return PipelineError(
            Code.UNAVAILABLE, f"the {service} could not be reached ({_cause(exc)})"
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = Code.UNAVAILABLE if status == 429 or status >= 500 else Code.INTERNAL
        return PipelineError(code, f"the {service} answered HTTP {status}: {_detail(exc)}")
    return PipelineError(Code.INTERNAL, f"the {service} failed: {_detail(exc)}")


def _detail(exc: openai.APIError) -> str:
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else body
    text = message if isinstance(message, str) and message else exc.message
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return type(exc).__name__
