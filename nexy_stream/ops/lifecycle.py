"""Turns the steps of session actors into lifecycle changes for metrics, feed and logs.

The one :class:`~nexy_stream.server.observer.SessionObserver` of this package. A step is
read from ``(event, effect)`` and the actor's read-only figures: the effect says what a
frame did, and ``Closed`` (which a host sends once, after the last frame) says the session
is over with its final figures, whichever way it ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from nexy_stream.server.observer import WireProtocol
from nexy_stream.session import (
    Accept,
    Ack,
    Adopt,
    ClientInfo,
    Closed,
    CollectResult,
    Detached,
    Dispatch,
    Effect,
    Event,
    Outcome,
    OutputSent,
    Preparations,
    Resumed,
    SessionActor,
    SessionError,
    Timings,
)
from nexy_stream.session.speculation import NONE_PREPARED

logger = logging.getLogger(__name__)


class ChangeKind(Enum):
    OPENED = "opened"
    COLLECTED = "collected"
    COMMITTED = "committed"
    FIRST_OUTPUT = "first_output"
    STREAM_LOST = "stream_lost"
    RESUMED = "resumed"
    ENDED = "ended"


@dataclass(slots=True)
class Change:
    """One lifecycle change of one session, with the figures it had at that moment.

    Built from the actor at once: the actor goes on changing, a change does not (nothing
    writes to one). Not frozen: one is built for every collect frame, and a frozen
    dataclass's ``__init__`` costs four times as much.
    ``timings`` is set from commit on (``collect`` is then final); ``collect`` only for
    COLLECTED; ``error`` for a rejected frame or a failed session; ``principal`` (the
    owner's, "" for none) and ``preparations`` (what became of the answers it prepared
    during collect) for ENDED; ``prepared`` (the commit adopted a preparation) for
    COMMITTED; ``resume_ttl_s`` (how long the session waits) for STREAM_LOST;
    ``highest_applied_seq`` and ``committed`` (where the new stream goes on) for RESUMED.
    """

    kind: ChangeKind
    session_id: str
    device_id: str
    protocol: WireProtocol
    wall_time: float
    applied_chunks: int
    output_frames: int = 0
    buffered_text_bytes: int = 0
    client: ClientInfo | None = None
    chunk_seq: int = 0
    collect: CollectResult | None = None
    has_screenshot: bool = False
    timings: Timings | None = None
    outcome: Outcome | None = None
    error: SessionError | None = None
    principal: str = ""
    prepared: bool = False
    preparations: Preparations = NONE_PREPARED
    resume_ttl_s: float = 0.0
    highest_applied_seq: int = 0
    committed: bool = False


Sink = Callable[[Change], None]


class LifecycleObserver:
    """Reports each change once to every sink; never raises into the session."""

    def __init__(
        self, sinks: Sequence[Sink], on_open: Callable[[SessionActor, WireProtocol], None]
    ) -> None:
        self._sinks = tuple(sinks)
        self._on_open = on_open

    def step(
        self,
        actor: SessionActor,
        event: Event,
        effect: Effect | None,
        protocol: WireProtocol,
        now: float,
    ) -> None:
        try:
            change = self._change(actor, event, effect, protocol, now)
        except Exception:  # observing must never break a session
            logger.exception("a session observer failed")
            return
        if change is None:
            return
        for sink in self._sinks:
            try:
                sink(change)
            except Exception:  # nor one broken sink the others
                logger.exception("a session observer failed")

    def _change(
        self,
        actor: SessionActor,
        event: Event,
        effect: Effect | None,
        protocol: WireProtocol,
        now: float,
    ) -> Change | None:
        if type(effect) is Ack:  # one per collect frame: first, before the general match
            return _change(
                ChangeKind.COLLECTED,
                actor,
                protocol,
                chunk_seq=effect.chunk_seq,
                collect=effect.result,
                buffered_text_bytes=actor.text_bytes,
                error=effect.error,
            )
        match effect:
            case Accept():
                self._on_open(actor, protocol)
                return _change(ChangeKind.OPENED, actor, protocol, client=actor.client)
            case Dispatch(request=request, preparation=preparation):
                return _change(
                    ChangeKind.COMMITTED,
                    actor,
                    protocol,
                    has_screenshot=request.screenshot is not None,
                    timings=actor.timings(now),
                    prepared=isinstance(preparation, Adopt),
                )
            case Resumed(highest_applied_seq=seq, committed=committed):
                return _change(
                    ChangeKind.RESUMED,
                    actor,
                    protocol,
                    highest_applied_seq=seq,
                    committed=committed is not None,
                )
        if type(event) is Closed and actor.outcome is not None:  # final: what was sent
            # (a stream that resumed another session was never a session of its own)
            return _change(
                ChangeKind.ENDED,
                actor,
                protocol,
                timings=actor.timings(now),
                outcome=actor.outcome,
                error=actor.error,
                principal=actor.owner.principal,
                preparations=actor.preparations,
            )
        if type(event) is Detached and actor.detached:  # (it ends at once without resume_ttl)
            return _change(
                ChangeKind.STREAM_LOST,
                actor,
                protocol,
                resume_ttl_s=actor.limits.resume_ttl_s,
            )
        if type(event) is OutputSent and actor.output_frames == 1:
            return _change(
                ChangeKind.FIRST_OUTPUT,
                actor,
                protocol,
                timings=actor.timings(now),
            )
        return None


def _change(
    kind: ChangeKind, actor: SessionActor, protocol: WireProtocol, **figures: Any
) -> Change:
    return Change(
        kind,
        actor.session_id,
        actor.device_id,
        protocol,
        time.time(),
        actor.applied_chunks,
        actor.output_frames,
        **figures,
    )
