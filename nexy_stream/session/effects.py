"""What the host must do: the outputs of :class:`SessionActor.handle`.

``Finish`` and ``Fail`` are terminal: the host stops the pipeline if it runs, sends the
last frame, closes the stream and forgets the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nexy_stream.session.errors import SessionError
from nexy_stream.session.limits import Limits
from nexy_stream.session.values import CommittedRequest, EndReason, Timings


class CollectResult(Enum):
    APPLIED = "applied"
    STALE = "stale"
    DUPLICATE_SCREENSHOT = "duplicate_screenshot"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Accept:
    session_id: str
    limits: Limits


@dataclass(frozen=True, slots=True)
class Ack:
    chunk_seq: int
    highest_applied_seq: int
    result: CollectResult
    buffered_text_bytes: int
    applied_chunks: int
    error: SessionError | None = None


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Start the pipeline with this request; the actor has already forgotten its buffer."""

    request: CommittedRequest
    highest_applied_seq: int


@dataclass(frozen=True, slots=True)
class Reject:
    """A frame was refused; the session goes on unchanged (a non-fatal error)."""

    error: SessionError


@dataclass(frozen=True, slots=True)
class GoAway:
    """Tell the client the server is stopping and how long the session may still take."""

    time_left_s: float


@dataclass(frozen=True, slots=True)
class Finish:
    reason: EndReason
    timings: Timings
    output_frames: int


@dataclass(frozen=True, slots=True)
class Fail:
    error: SessionError
    timings: Timings


Effect = Accept | Ack | Dispatch | Reject | GoAway | Finish | Fail
