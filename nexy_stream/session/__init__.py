"""The sans-IO session core: a pure state machine that owns the collect/commit rules.

Frames come in as events, decisions go out as effects; no sockets, tasks or clocks inside
(the caller passes ``now``), so every rule is testable in microseconds.
"""

from nexy_stream.session.actor import Phase, SessionActor
from nexy_stream.session.effects import (
    Accept,
    Ack,
    CollectResult,
    Dispatch,
    Effect,
    Fail,
    Finish,
    GoAway,
    Reject,
)
from nexy_stream.session.errors import Code, SessionError
from nexy_stream.session.events import (
    Cancel,
    Collect,
    Commit,
    Disconnected,
    Event,
    FrameTooLarge,
    HalfClosed,
    Open,
    OutputSent,
    PipelineFailed,
    PipelineFinished,
    Refuse,
    ShuttingDown,
    Tick,
    Unreadable,
)
from nexy_stream.session.limits import Limits
from nexy_stream.session.values import (
    ClientInfo,
    CommittedRequest,
    EndReason,
    Outcome,
    Screenshot,
    ScreenSize,
    Text,
    TextMode,
    Timings,
)

__all__ = [
    "Accept",
    "Ack",
    "Cancel",
    "ClientInfo",
    "Code",
    "Collect",
    "CollectResult",
    "Commit",
    "CommittedRequest",
    "Disconnected",
    "Dispatch",
    "Effect",
    "EndReason",
    "Event",
    "Fail",
    "Finish",
    "FrameTooLarge",
    "GoAway",
    "HalfClosed",
    "Limits",
    "Open",
    "Outcome",
    "OutputSent",
    "Phase",
    "PipelineFailed",
    "PipelineFinished",
    "Refuse",
    "Reject",
    "ScreenSize",
    "Screenshot",
    "SessionActor",
    "SessionError",
    "ShuttingDown",
    "Text",
    "TextMode",
    "Tick",
    "Timings",
    "Unreadable",
]
