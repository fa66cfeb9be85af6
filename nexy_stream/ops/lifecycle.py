"""Turns the steps of session actors into lifecycle changes for metrics, feed and logs.

The one :class:`~nexy_stream.server.observer.SessionObserver` of this package. A step is
read from ``(event, effect, actor.phase)`` alone: the effect says what a frame did, and
the phase says when a session ended, whichever way it ended.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from nexy_stream.server.observer import WireProtocol
from nexy_stream.session import (
    Accept,
    Ack,
    ClientInfo,
    CollectResult,
    Dispatch,
    Effect,
    Event,
    Fail,
    Outcome,
    OutputSent,
    Phase,
    SessionActor,
    SessionError,
    Timings,
)

logger = logging.getLogger(__name__)


class ChangeKind(Enum):
    OPENED = "opened"
    COLLECTED = "collected"
    COMMITTED = "committed"
    FIRST_OUTPUT = "first_output"
    ENDED = "ended"


@dataclass(slots=True)
class Change:
    """One lifecycle change of one session, with the figures it had at that moment.

    Built from the actor at once: the actor goes on changing, a change does not (nothing
    writes to one). Not frozen: one is built for every collect frame, and a frozen
    dataclass's ``__init__`` costs four times as much.
    ``timings`` is set from commit on (``collect`` is then final); ``collect`` only for
    COLLECTED; ``error`` for a rejected frame or a failed session.
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


Sink = Callable[[Change], None]


class LifecycleObserver:
    """Reports each change once to every sink; never raises into the session."""

    def __init__(
        self, sinks: Sequence[Sink], on_open: Callable[[SessionActor, WireProtocol], None]
    ) -> None:
        self._sinks = tuple(sinks)
        self._on_open = on_open
        # Events can still reach an ended actor (a disconnect racing the last frame);
        # this makes sure its end is reported exactly once.
        self._ended: weakref.WeakSet[SessionActor] = weakref.WeakSet()

    def step(
        self, actor: SessionActor, event: Event, effect: Effect | None, protocol: WireProtocol
    ) -> None:
        try:
            change = self._change(actor, event, effect, protocol)
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
        self, actor: SessionActor, event: Event, effect: Effect | None, protocol: WireProtocol
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
            case Dispatch(request=request):
                return _change(
                    ChangeKind.COMMITTED,
                    actor,
                    protocol,
                    has_screenshot=request.screenshot is not None,
                    timings=_timings(actor),
                )
        if actor.phase is Phase.ENDED:
            if actor in self._ended:
                return None
            self._ended.add(actor)
            return _change(
                ChangeKind.ENDED,
                actor,
                protocol,
                timings=_timings(actor),
                outcome=actor.outcome,
                error=effect.error if isinstance(effect, Fail) else None,
            )
        if isinstance(event, OutputSent) and actor.output_frames == 1:
            return _change(
                ChangeKind.FIRST_OUTPUT,
                actor,
                protocol,
                timings=_timings(actor),
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


def _timings(actor: SessionActor) -> Timings:
    """The session's timings as of the latest moment the actor recorded."""
    moments = (actor.ended_at, actor.first_output_at, actor.committed_at, actor.last_frame_at)
    return actor.timings(max(t for t in moments if t is not None))
