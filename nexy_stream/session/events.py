"""What can happen to a session: the inputs of :class:`SessionActor.handle`.

Client frames (``Open`` .. ``Cancel``), and what the hosting layer observes or decides (its
answer to an admission, the stream closing, the pipeline's progress, the clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nexy_stream.session.errors import Code, SessionError
from nexy_stream.session.values import (
    ANONYMOUS,
    ClientInfo,
    Collected,
    OutputKind,
    Owner,
    Screenshot,
    ScreenSize,
    Stage,
    Text,
)


@dataclass(frozen=True, slots=True)
class Open:
    """The open frame, with what the host knows of the caller: its ``owner`` (from its
    credential) and ``peer`` (its network address, for per-address budgets). ``collected``:
    the buffer earlier calls of a legacy utterance left in a shared store, taken up once the
    session is admitted (it answers ``Resumed`` then, not ``Accept``: it opened before)."""

    session_id: str
    device_id: str
    client: ClientInfo = field(default_factory=ClientInfo)
    screen: ScreenSize | None = None
    owner: Owner = ANONYMOUS
    peer: str = ""
    collected: Collected | None = None


@dataclass(frozen=True, slots=True)
class Collect:
    """A collect frame; ``payload`` is ``None`` when the frame carried neither kind."""

    chunk_seq: int
    payload: Text | Screenshot | None


@dataclass(frozen=True, slots=True)
class Commit:
    final_text: Text | None = None
    screenshot: Screenshot | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Resume:
    """The first frame of a stream that re-attaches a session whose stream was lost."""

    session_id: str
    resume_token: str
    last_output_index: int = 0


@dataclass(frozen=True, slots=True)
class Admitted:
    """The host's answer to ``Admit``: the session may start (the other answer is Refuse)."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """The host will not take the session (duplicate id, capacity, budget), or ends it."""

    error: SessionError


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A frame that could not be decoded, or that carried no kind."""

    message: str


@dataclass(frozen=True, slots=True)
class FrameTooLarge:
    """A frame of ``size`` bytes, over ``max_frame_bytes``: the client broke a limit it was
    told at open, so the session ends with an error."""

    size: int


@dataclass(frozen=True, slots=True)
class HalfClosed:
    """The client finished sending; it may still be reading."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The client is gone; nothing more can be sent to it."""


@dataclass(frozen=True, slots=True)
class Detached:
    """The session's stream was lost; the client may come back on another (``Reattached``)."""


@dataclass(frozen=True, slots=True)
class Reattached:
    """A resume on a new stream proved it owns this session: the session goes on there."""


@dataclass(frozen=True, slots=True)
class HandedOver:
    """This stream resumed another session: its own actor never became a session. Or, for
    a collecting session, its buffer went to a shared store: another call takes it up."""


@dataclass(frozen=True, slots=True)
class OutputSent:
    """One pipeline output frame, carrying ``kind``, went to the client."""

    kind: OutputKind


@dataclass(frozen=True, slots=True)
class StageTimed:
    """The pipeline reported how long one stage of its run took (measured by its clock)."""

    stage: Stage
    seconds: float


@dataclass(frozen=True, slots=True)
class PreparationReady:
    """Preparation ``number`` holds its first output."""

    number: int


@dataclass(frozen=True, slots=True)
class PreparationFailed:
    """Preparation ``number`` raised: it is over, and it will not be the answer."""

    number: int


@dataclass(frozen=True, slots=True)
class PipelineFinished:
    pass


@dataclass(frozen=True, slots=True)
class PipelineFailed:
    message: str
    code: Code = Code.INTERNAL


@dataclass(frozen=True, slots=True)
class ShuttingDown:
    """The server is stopping; the session may take ``time_left_s`` more at most."""

    time_left_s: float


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed; the actor checks its deadlines."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The host is done with the session: its last frame is written (or cannot be) and no
    output write is in flight, so its figures are final. Comes once, on every path."""


Event = (
    Open
    | Collect
    | Commit
    | Cancel
    | Resume
    | Admitted
    | Refuse
    | Unreadable
    | FrameTooLarge
    | HalfClosed
    | Disconnected
    | Detached
    | Reattached
    | HandedOver
    | OutputSent
    | StageTimed
    | PreparationReady
    | PreparationFailed
    | PipelineFinished
    | PipelineFailed
    | ShuttingDown
    | Tick
    | Closed
)
