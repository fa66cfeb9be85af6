"""The lifecycle observer on a bare actor: what each step reports, and ends exactly once."""

from __future__ import annotations

import logging

from nexy_stream.ops.lifecycle import Change, ChangeKind, LifecycleObserver
from nexy_stream.server.observer import WireProtocol
from nexy_stream.session import (
    Cancel,
    Code,
    Collect,
    CollectResult,
    Commit,
    Disconnected,
    Event,
    Limits,
    Open,
    Outcome,
    OutputSent,
    PipelineFinished,
    Refuse,
    SessionActor,
    SessionError,
    Text,
)

SESSION_ID = "6f1c1d3e-2b7a-4c1e-9a55-0d7f5b1e8a11"


class Recorder:
    """Drives one actor as HostedSession does, with a clock the test moves."""

    def __init__(self, protocol: WireProtocol = WireProtocol.STREAM) -> None:
        self.changes: list[Change] = []
        self.opened: list[WireProtocol] = []
        self.observer = LifecycleObserver(
            [self.changes.append], lambda _actor, protocol: self.opened.append(protocol)
        )
        self.actor = SessionActor(Limits(), now=100.0)
        self.protocol = protocol

    def step(self, event: Event, now: float) -> None:
        effect = self.actor.handle(event, now)
        self.observer.step(self.actor, event, effect, self.protocol)

    def kinds(self) -> list[ChangeKind]:
        return [change.kind for change in self.changes]


def test_a_committed_session_reports_each_moment_once():
    r = Recorder(WireProtocol.LEGACY)
    r.step(Open(SESSION_ID, "device-7"), 100.0)
    r.step(Collect(1, Text("hello")), 100.1)
    r.step(Collect(1, Text("hello")), 100.2)  # stale
    r.step(Commit(), 100.5)
    r.step(OutputSent(), 100.52)
    r.step(OutputSent(), 100.53)
    r.step(PipelineFinished(), 101.0)
    r.step(Disconnected(), 101.1)  # after the end: nothing more to report
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
    assert round(ended.timings.pipeline, 6) == 0.5
    assert (ended.applied_chunks, ended.output_frames) == (1, 2)


def test_a_disconnect_ends_the_session_once_even_when_repeated():
    r = Recorder()
    r.step(Open(SESSION_ID, "device-1"), 100.0)
    r.step(Disconnected(), 100.3)
    r.step(Disconnected(), 100.4)
    assert r.kinds() == [ChangeKind.OPENED, ChangeKind.ENDED]
    assert r.changes[-1].outcome is Outcome.DISCONNECTED


def test_a_registry_refusal_after_accept_is_opened_then_refused():
    r = Recorder()
    r.step(Open(SESSION_ID, "device-1"), 100.0)
    r.step(Refuse(SessionError(Code.ALREADY_EXISTS, "session is already live")), 100.0)
    assert r.kinds() == [ChangeKind.OPENED, ChangeKind.ENDED]
    ended = r.changes[-1]
    assert ended.outcome is Outcome.REFUSED
    assert ended.error is not None and ended.error.code is Code.ALREADY_EXISTS


def test_a_bad_open_frame_ends_refused_without_being_opened():
    r = Recorder()
    r.step(Open("not-a-uuid", "device-1"), 100.0)
    assert r.kinds() == [ChangeKind.ENDED]
    assert r.changes[0].session_id == ""
    assert r.changes[0].outcome is Outcome.REFUSED
    assert r.opened == []


def test_output_racing_a_cancel_is_not_a_first_output():
    r = Recorder()
    r.step(Open(SESSION_ID, "device-1"), 100.0)
    r.step(Collect(1, Text("hi")), 100.1)
    r.step(Commit(), 100.2)
    r.step(Cancel("user barged in"), 100.3)
    r.step(OutputSent(), 100.31)  # written before the cancel took effect
    assert r.kinds()[-1] is ChangeKind.ENDED
    assert ChangeKind.FIRST_OUTPUT not in r.kinds()
    assert r.changes[-1].outcome is Outcome.CANCELLED


def test_a_failing_sink_never_reaches_the_session(caplog):
    def broken(_change: Change) -> None:
        raise RuntimeError("sink bug")

    seen: list[Change] = []
    observer = LifecycleObserver([broken, seen.append], lambda _a, _p: None)
    actor = SessionActor(Limits(), now=0.0)
    event = Open(SESSION_ID, "device-1")
    with caplog.at_level(logging.ERROR):
        observer.step(actor, event, actor.handle(event, 0.0), WireProtocol.STREAM)
    assert "a session observer failed" in caplog.text
    assert [change.kind for change in seen] == [ChangeKind.OPENED]  # the next sink got it
