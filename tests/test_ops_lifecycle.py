"""The lifecycle observer on a hosted actor: what each step reports, and ends exactly once."""

from __future__ import annotations

import logging

from nexy_stream.ops.lifecycle import Change, ChangeKind, LifecycleObserver
from nexy_stream.server.hosting import HostedSession, Hosting
from nexy_stream.server.observer import WireProtocol
from nexy_stream.session import (
    Cancel,
    Closed,
    Code,
    Collect,
    CollectResult,
    Commit,
    Disconnected,
    Event,
    Limits,
    Open,
    Outcome,
    OutputKind,
    OutputSent,
    PipelineFinished,
    Text,
)
from tests.clock import ManualClock

SESSION_ID = "6f1c1d3e-2b7a-4c1e-9a55-0d7f5b1e8a11"


class Recorder:
    """Drives hosted sessions (admission included), with a clock the test moves."""

    def __init__(self, protocol: WireProtocol = WireProtocol.STREAM) -> None:
        self.changes: list[Change] = []
        self.opened: list[WireProtocol] = []
        observer = LifecycleObserver(
            [self.changes.append], lambda _actor, protocol: self.opened.append(protocol)
        )
        self.clock = ManualClock(100.0)
        self.hosting = Hosting(Limits(), self.clock, observers=(observer,))
        self.session = self.hosting.session(protocol)

    def step(self, event: Event, now: float, session: HostedSession | None = None) -> None:
        self.clock.set(now)
        (session or self.session).handle(event)

    def kinds(self) -> list[ChangeKind]:
        return [change.kind for change in self.changes]


def test_a_committed_session_reports_each_moment_once():
    r = Recorder(WireProtocol.LEGACY)
    r.step(Open(SESSION_ID, "device-7"), 100.0)
    r.step(Collect(1, Text("hello")), 100.1)
    r.step(Collect(1, Text("hello")), 100.2)  # stale
    r.step(Commit(), 100.5)
    r.step(OutputSent(OutputKind.TEXT), 100.52)
    r.step(OutputSent(OutputKind.TEXT), 100.53)
    r.step(PipelineFinished(), 101.0)
    r.step(Disconnected(), 101.1)  # after the verdict: nothing more to report
    r.step(Closed(), 101.2)  # the last frame is written: the end is reported
    assert r.kinds() == [
        ChangeKind.OPENED,
        ChangeKind.COLLECTED,
        ChangeKind.COLLECTED,
        ChangeKind.COMMITTED,
        ChangeKind.FIRST_OUTPUT,
        ChangeKind.ENDED,
    ]
    opened, applied, stale, committed, first, ended = r.changes
    assert r.opened == [WireProtocol.LEGACY]
    assert {c.protocol for c in r.changes} == {WireProtocol.LEGACY}
    assert (opened.session_id, opened.device_id) == (SESSION_ID, "device-7")
    assert (applied.collect, applied.buffered_text_bytes) == (CollectResult.APPLIED, 5)
    assert stale.collect is CollectResult.STALE
    assert committed.timings is not None and round(committed.timings.collect, 6) == 0.5
    assert first.timings is not None and first.timings.commit_to_first_output is not None
    assert round(first.timings.commit_to_first_output, 6) == 0.02
    assert ended.outcome is Outcome.COMMITTED and ended.error is None
    assert ended.timings is not None and ended.timings.pipeline is not None
    assert round(ended.timings.pipeline, 6) == 0.5  # to the verdict, not to the close
    assert (ended.applied_chunks, ended.output_frames) == (1, 2)


def test_a_disconnect_ends_the_session_once_even_when_repeated():
    r = Recorder()
    r.step(Open(SESSION_ID, "device-1"), 100.0)
    r.step(Disconnected(), 100.3)
    r.step(Disconnected(), 100.4)
    r.step(Closed(), 100.5)
    r.step(Closed(), 100.6)
    assert r.kinds() == [ChangeKind.OPENED, ChangeKind.ENDED]
    assert r.changes[-1].outcome is Outcome.DISCONNECTED


def test_a_session_refused_by_admission_is_never_opened():
    r = Recorder()
    r.step(Open(SESSION_ID, "device-1"), 100.0)
    second = r.hosting.session(WireProtocol.STREAM)
    r.step(Open(SESSION_ID, "device-1"), 100.1, second)  # the same owner and id: taken
    r.step(Closed(), 100.2, second)
    assert r.kinds() == [ChangeKind.OPENED, ChangeKind.ENDED]
    assert r.opened == [WireProtocol.STREAM]  # the first one only
    ended = r.changes[-1]
    assert ended.outcome is Outcome.REFUSED
    assert ended.error is not None and ended.error.code is Code.ALREADY_EXISTS
    assert len(r.hosting.registry) == 1


def test_a_bad_open_frame_ends_refused_without_being_opened():
    r = Recorder()
    r.step(Open("not-a-uuid", "device-1"), 100.0)
    assert r.kinds() == []  # reported once the host closes it
    r.step(Closed(), 100.0)
    assert r.kinds() == [ChangeKind.ENDED]
    assert r.changes[0].session_id == ""
    assert r.changes[0].outcome is Outcome.REFUSED
    assert r.opened == []


def test_an_output_written_as_the_session_was_cancelled_counts():
    """The client got it: the end's figures agree with what was sent."""
    r = Recorder()
    r.step(Open(SESSION_ID, "device-1"), 100.0)
    r.step(Collect(1, Text("hi")), 100.1)
    r.step(Commit(), 100.2)
    r.step(Cancel("user barged in"), 100.3)
    r.step(OutputSent(OutputKind.TEXT), 100.35)  # the write in flight completed
    r.step(Closed(), 100.4)
    assert r.kinds()[-2:] == [ChangeKind.FIRST_OUTPUT, ChangeKind.ENDED]
    ended = r.changes[-1]
    assert ended.outcome is Outcome.CANCELLED and ended.output_frames == 1
    assert ended.timings is not None and ended.timings.commit_to_first_output is not None
    assert round(ended.timings.commit_to_first_output, 6) == 0.15


def test_a_failing_sink_never_reaches_the_session(caplog):
    def broken(_change: Change) -> None:
        raise RuntimeError("sink bug")

    seen: list[Change] = []
    observer = LifecycleObserver([broken, seen.append], lambda _a, _p: None)
    hosting = Hosting(Limits(), ManualClock(), observers=(observer,))
    with caplog.at_level(logging.ERROR):
        hosting.session(WireProtocol.STREAM).handle(Open(SESSION_ID, "device-1"))
    assert "a session observer failed" in caplog.text
    assert [change.kind for change in seen] == [ChangeKind.OPENED]  # the next sink got it
