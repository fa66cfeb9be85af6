"""The sans-IO session core: a pure state machine that owns the collect/commit rules.

Frames come in as events, decisions go out as effects; no sockets, tasks or clocks inside
(the caller passes ``now``), so every rule is testable in microseconds.
"""

from nexy_stream.session.actor import Phase, SessionActor
from nexy_stream.session.budget import ByteBudget
from nexy_stream.session.effects import (
    Accept,
    Ack,
    Admit,
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
    Admitted,
    Cancel,
    Closed,
    Collect,
    Commit,
    Disconnected,
    Event,
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
    ANONYMOUS,
    ClientInfo,
    CommittedRequest,
    EndReason,
    Outcome,
    Owner,
    Screenshot,
    ScreenSize,
    Text,
    TextMode,
    Timings,
)

__all__ = [
    "ANONYMOUS",
    "Accept",
    "Ack",
    "Admit",
    "Admitted",
    "ByteBudget",
    "Cancel",
    "ClientInfo",
    "Closed",
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
    "GoAway",
    "HalfClosed",
    "Limits",
    "Open",
    "Outcome",
    "OutputSent",
    "Owner",
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
