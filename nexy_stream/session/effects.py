"""What the host must do: the outputs of :class:`SessionActor.handle`.

``Finish`` and ``Fail`` are terminal: the host stops the pipeline if it runs, sends the
last frame (with the session's figures as they are then: an output being written when the
session ended still counts once it is sent), closes the stream and tells the actor
``Closed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nexy_stream.session.errors import SessionError
from nexy_stream.session.limits import Limits
from nexy_stream.session.values import CommittedRequest, Discard, EndReason


class CollectResult(Enum):
    APPLIED = "applied"
    STALE = "stale"
    DUPLICATE_SCREENSHOT = "duplicate_screenshot"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Admit:
    """The open frame is valid: may this session start? The host answers with ``Admitted``
    or ``Refuse``, so only an admitted session is ever accepted (and observed as opened)."""


@dataclass(frozen=True, slots=True)
class Rejoin:
    """A stream asks to resume a session: the host finds it, checks the token and answers
    the found session's ``Reattached`` (or refuses this stream)."""

    session_id: str
    resume_token: str
    last_output_index: int


@dataclass(frozen=True, slots=True)
class Resumed:
    """The session is attached to a new stream; ``committed`` is what its commit dispatched,
    when it was committed (the client must not send the commit again)."""

    session_id: str
    highest_applied_seq: int
    committed: Dispatch | None


@dataclass(frozen=True, slots=True)
class Accept:
    session_id: str
    limits: Limits


@dataclass(frozen=True, slots=True)
class Prepare:
    """Start preparing the answer to ``request`` (the buffer as it is) in the background,
    holding whatever it produces until the commit; ``replaces`` is the number of the
    preparation it stops (0: none was running). Preparations are numbered from 1."""

    number: int
    request: CommittedRequest
    replaces: int = 0


@dataclass(frozen=True, slots=True)
class DropPreparation:
    """Stop preparation ``number`` and forget what it holds: it will not be the answer."""

    number: int
    reason: Discard


@dataclass(frozen=True, slots=True)
class Adopt:
    """The commit is the request preparation ``number`` prepared: that preparation is the
    pipeline's run, and what it holds is the start of the answer. ``ahead_s``: how much
    sooner the first output comes for it."""

    number: int
    ahead_s: float


@dataclass(frozen=True, slots=True)
class Ack:
    """The answer to a collect frame; ``preparation`` is what the frame did to the session's
    speculative preparation, if anything (it changed the buffer, or said it is final)."""

    chunk_seq: int
    highest_applied_seq: int
    result: CollectResult
    buffered_text_bytes: int
    applied_chunks: int
    error: SessionError | None = None
    preparation: Prepare | DropPreparation | None = None


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Start the pipeline with this request; the actor has already forgotten its buffer.
    ``preparation``: adopt the running preparation as the run, or discard it (then run the
    pipeline afresh)."""

    request: CommittedRequest
    highest_applied_seq: int
    preparation: Adopt | DropPreparation | None = None


@dataclass(frozen=True, slots=True)
class CommitRepeated:
    """The commit came again, the same (a client that resumed and could not know it had
    arrived): the pipeline does not run again; the client is told again what it runs with."""

    dispatch: Dispatch


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


@dataclass(frozen=True, slots=True)
class Fail:
    error: SessionError


Effect = (
    Admit
    | Accept
    | Ack
    | Prepare
    | DropPreparation
    | Dispatch
    | CommitRepeated
    | Rejoin
    | Resumed
    | Reject
    | GoAway
    | Finish
    | Fail
)
