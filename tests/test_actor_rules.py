"""Single rules of the session actor, without a network: each runs in microseconds."""

from __future__ import annotations

import uuid

import pytest

from nexy_stream.session import (
    Accept,
    Ack,
    Code,
    Collect,
    CollectResult,
    Commit,
    Dispatch,
    Fail,
    Finish,
    FrameTooLarge,
    GoAway,
    Limits,
    Open,
    Outcome,
    OutputSent,
    PipelineFinished,
    Reject,
    Screenshot,
    SessionActor,
    ShuttingDown,
    Text,
    TextMode,
    Tick,
    Unreadable,
)

SESSION = "6F9619FF-8B86-D011-B42D-00C04FC964FF"  # an accepted, non-canonical spelling


def opened(limits: Limits | None = None) -> SessionActor:
    actor = SessionActor(limits or Limits(), now=0.0)
    assert isinstance(actor.handle(Open(SESSION, "device-1"), 0.0), Accept)
    return actor


def test_open_canonicalizes_the_session_id():
    actor = SessionActor(Limits(), now=0.0)
    effect = actor.handle(Open("{" + SESSION + "}", "device-1"), 0.0)
    assert isinstance(effect, Accept)
    assert effect.session_id == SESSION.lower() == actor.session_id


@pytest.mark.parametrize(
    ("session_id", "device_id", "needle"),
    [
        (SESSION, "", "device_id is required"),
        (SESSION, "  ", "device_id is required"),
        (SESSION, "UNKNOWN", "device_id is required"),
        (SESSION, "d" * 129, "over 128"),
        ("not-a-uuid", "device-1", "session_id must be a UUID"),
        ("", "device-1", "session_id must be a UUID"),
    ],
)
def test_open_refuses_bad_ids(session_id, device_id, needle):
    actor = SessionActor(Limits(), now=0.0)
    effect = actor.handle(Open(session_id, device_id), 0.0)
    assert isinstance(effect, Fail)
    assert effect.error.code is Code.INVALID_ARGUMENT
    assert needle in effect.error.message
    assert actor.outcome is Outcome.REFUSED


def test_the_first_frame_must_be_open():
    actor = SessionActor(Limits(), now=0.0)
    effect = actor.handle(Collect(1, Text("hi")), 0.0)
    assert isinstance(effect, Fail)
    assert effect.error.code is Code.FAILED_PRECONDITION
    assert "first frame must be open, got collect" in effect.error.message


def test_an_unreadable_frame_is_fatal_only_before_open():
    assert isinstance(SessionActor(Limits(), 0.0).handle(Unreadable("garbage"), 0.0), Fail)
    actor = opened()
    effect = actor.handle(Unreadable("garbage"), 1.0)
    assert isinstance(effect, Reject) and effect.error.code is Code.INVALID_ARGUMENT


def test_snapshot_replaces_and_delta_appends():
    actor = opened()
    actor.handle(Collect(1, Text("open saf")), 0.0)
    actor.handle(Collect(2, Text("Open Safari")), 0.0)
    actor.handle(Collect(3, Text(" now", TextMode.DELTA)), 0.0)
    assert actor.text == "Open Safari now"
    effect = actor.handle(Commit(Text(", please", TextMode.DELTA)), 0.0)
    assert isinstance(effect, Dispatch)
    assert effect.request.text == "Open Safari now, please"


def test_gaps_are_allowed_and_stale_frames_are_dropped():
    actor = opened()
    assert actor.handle(Collect(5, Text("a")), 0.0).result is CollectResult.APPLIED  # type: ignore[union-attr]
    stale = actor.handle(Collect(5, Text("b")), 0.0)
    assert isinstance(stale, Ack) and stale.result is CollectResult.STALE
    assert stale.highest_applied_seq == 5 and actor.text == "a"
    assert actor.handle(Collect(3, Text("c")), 0.0).result is CollectResult.STALE  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (None, "needs text or a screenshot"),
        (Screenshot(b"", "image/png"), "no data"),
        (Screenshot(b"x", "text/plain"), "mime_type must be image/*"),
        (Screenshot(b"x", "image/png", width=-1), "cannot be negative"),
    ],
)
def test_malformed_collect_is_rejected_without_consuming_its_seq(payload, needle):
    actor = opened()
    effect = actor.handle(Collect(1, payload), 0.0)
    assert isinstance(effect, Ack) and effect.result is CollectResult.REJECTED
    assert effect.error is not None and needle in effect.error.message
    assert actor.handle(Collect(1, Text("retry")), 0.0).result is CollectResult.APPLIED  # type: ignore[union-attr]


def test_limits_name_themselves():
    actor = opened(Limits(max_text_bytes=4, max_screenshot_bytes=2, max_frame_bytes=10))
    text = actor.handle(Collect(1, Text("héllo")), 0.0)
    assert isinstance(text, Ack) and text.error is not None
    assert text.error.code is Code.RESOURCE_EXHAUSTED and text.error.limit == "max_text_bytes"
    assert text.error.message == "the text in UTF-8 bytes is 6, over max_text_bytes=4"
    shot = actor.handle(Collect(1, Screenshot(b"abc", "image/png")), 0.0)
    assert isinstance(shot, Ack) and shot.error is not None
    assert shot.error.limit == "max_screenshot_bytes"


def test_a_frame_over_max_frame_bytes_ends_the_session_as_an_error():
    actor = opened(Limits(max_screenshot_bytes=2, max_frame_bytes=10))
    effect = actor.handle(FrameTooLarge(11), 0.0)
    assert isinstance(effect, Fail)
    assert effect.error.code is Code.RESOURCE_EXHAUSTED and effect.error.limit == "max_frame_bytes"
    assert effect.error.message == "the frame in bytes is 11, over max_frame_bytes=10"
    assert actor.outcome is Outcome.ERROR


def test_a_first_frame_over_max_frame_bytes_is_refused():
    actor = SessionActor(Limits(), now=0.0)
    assert isinstance(actor.handle(FrameTooLarge(10**9), 0.0), Fail)
    assert actor.outcome is Outcome.REFUSED  # never opened


def test_commit_pops_the_buffer_and_runs_once():
    actor = opened()
    actor.handle(Collect(1, Screenshot(b"png", "image/png")), 0.0)
    actor.handle(Collect(2, Text("hello")), 0.0)
    dispatch = actor.handle(Commit(), 1.0)
    assert isinstance(dispatch, Dispatch)
    assert dispatch.request.text == "hello" and dispatch.request.screenshot is not None
    assert (actor.text, actor.screenshot) == ("", None)
    again = actor.handle(Commit(Text("hello")), 1.0)
    assert isinstance(again, Reject) and again.error.code is Code.FAILED_PRECONDITION
    late = actor.handle(Collect(3, Text("late")), 1.0)
    assert isinstance(late, Ack) and late.result is CollectResult.REJECTED


def test_an_empty_commit_is_rejected_and_the_session_goes_on():
    actor = opened()
    effect = actor.handle(Commit(Text("   ")), 0.0)
    assert isinstance(effect, Reject) and "nothing to commit" in effect.error.message
    assert isinstance(actor.handle(Commit(Text("now")), 0.0), Dispatch)


def test_timings_follow_the_session():
    actor = opened()
    actor.handle(Collect(1, Text("hi")), 0.5)
    actor.handle(Commit(), 2.0)
    actor.handle(OutputSent(), 2.25)
    actor.handle(OutputSent(), 2.5)
    effect = actor.handle(PipelineFinished(), 3.0)
    assert isinstance(effect, Finish) and effect.output_frames == 2
    assert effect.timings.collect == 2.0 and effect.timings.total == 3.0
    assert effect.timings.commit_to_first_output == 0.25 and effect.timings.pipeline == 1.0
    assert actor.outcome is Outcome.COMMITTED


def test_idle_timeout_applies_to_collect_only():
    limits = Limits(idle_timeout_s=1.0, max_duration_s=10.0)
    actor = opened(limits)
    actor.handle(Collect(1, Text("hi")), 0.9)
    assert actor.deadline == pytest.approx(1.9)
    assert actor.handle(Tick(), 1.8) is None
    actor.handle(Commit(), 1.8)
    assert actor.deadline == 10.0  # processing: only the maximum duration is left
    effect = actor.handle(Tick(), 10.0)
    assert isinstance(effect, Fail) and effect.error.limit == "max_duration"
    assert effect.error.message == "the session lasted 10s (max_duration)"


def test_idle_timeout_names_itself():
    actor = opened(Limits(idle_timeout_s=2.0))
    effect = actor.handle(Tick(), 2.0)
    assert isinstance(effect, Fail) and effect.error.code is Code.DEADLINE_EXCEEDED
    assert effect.error.message == "no frame came for 2s (idle_timeout)"
    assert actor.outcome is Outcome.TIMED_OUT


def test_an_ended_actor_ignores_everything():
    actor = opened()
    actor.handle(Tick(), 1e9)
    for event in (Collect(1, Text("x")), Commit(Text("x")), Open(str(uuid.uuid4()), "d")):
        assert actor.handle(event, 1e9) is None


def test_a_shutdown_gives_the_session_time_then_ends_it_clearly():
    actor = opened(Limits(idle_timeout_s=30.0))
    actor.handle(Collect(1, Text("quick")), 1.0)
    effect = actor.handle(ShuttingDown(2.0), 1.0)
    assert isinstance(effect, GoAway) and effect.time_left_s == 2.0
    assert actor.handle(ShuttingDown(2.0), 1.5) is None  # told once
    assert actor.deadline == 3.0
    assert isinstance(actor.handle(Commit(), 2.0), Dispatch)  # committing is still fine
    effect = actor.handle(Tick(), 3.0)
    assert isinstance(effect, Fail) and effect.error.code is Code.UNAVAILABLE
    assert "shut down before the session ended" in effect.error.message
    assert actor.outcome is Outcome.ERROR


def test_a_shutdown_refuses_a_session_not_yet_open():
    actor = SessionActor(Limits(), now=0.0)
    effect = actor.handle(ShuttingDown(5.0), 0.0)
    assert isinstance(effect, Fail) and effect.error.code is Code.UNAVAILABLE
    assert actor.outcome is Outcome.REFUSED
