"""What can happen to a session: the inputs of :class:`SessionActor.handle`.

Client frames (``Open`` .. ``Cancel``), and what the hosting layer observes (the stream
closing, the pipeline's progress, the clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nexy_stream.session.errors import Code, SessionError
from nexy_stream.session.values import ClientInfo, Screenshot, ScreenSize, Text


@dataclass(frozen=True, slots=True)
class Open:
    session_id: str
    device_id: str
    client: ClientInfo = field(default_factory=ClientInfo)
    screen: ScreenSize | None = None


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
class Refuse:
    """The host cannot take the session (duplicate id, capacity, malformed frame)."""

    error: SessionError


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A frame that could not be decoded, or that carried no kind."""

    message: str


@dataclass(frozen=True, slots=True)
class HalfClosed:
    """The client finished sending; it may still be reading."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The client is gone; nothing more can be sent to it."""


@dataclass(frozen=True, slots=True)
class OutputSent:
    """One pipeline output frame went to the client."""


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


Event = (
    Open
    | Collect
    | Commit
    | Cancel
    | Refuse
    | Unreadable
    | HalfClosed
    | Disconnected
    | OutputSent
    | PipelineFinished
    | PipelineFailed
    | ShuttingDown
    | Tick
)
