"""Single rules of the session actor, without a network: each runs in microseconds."""

from __future__ import annotations

import math
import uuid

import pytest

from nexy_stream.session import (
    Accept,
    Ack,
    Admit,
    Admitted,
    ByteBudget,
    Cancel,
    Closed,
    Code,
    Collect,
    Collected,
    CollectResult,
    Commit,
    Dispatch,
    Fail,
    Finish,
    FrameTooLarge,
    GoAway,
    HandedOver,
    Limits,
    Open,
    Outcome,
    OutputKind,
    OutputSent,
    Phase,
    PipelineFinished,
    Refuse,
    Reject,
    Resumed,
    Screenshot,
    SessionActor,
    SessionError,
    ShuttingDown,
    Stage,
    StageTimed,
    Text,
    TextMode,
    Tick,
    Unreadable,
)

SESSION = "6F9619FF-8B86-D011-B42D-00C04FC964FF"  # an accepted, non-canonical spelling


def opened(limits: Limits | None = None, budget: ByteBudget | None = None) -> SessionActor:
    actor = SessionActor(limits or Limits(), 0.0, budget or ByteBudget())
    assert isinstance(actor.handle(Open(SESSION, "device-1"), 0.0), Admit)
    assert isinstance(actor.handle(Admitted(), 0.0), Accept)
    return actor


def test_open_canonicalizes_the_session_id():
    actor = SessionActor(Limits(), now=0.0)
    assert isinstance(actor.handle(Open("{" + SESSION + "}", "device-1"), 0.0), Admit)
    effect = actor.handle(Admitted(), 0.0)
    assert isinstance(effect, Accept)
    assert effect.session_id == SESSION.lower() == actor.session_id


def test_only_an_admitted_session_is_accepted():
    actor = SessionActor(Limits(), now=0.0)
    assert isinstance(actor.handle(Open(SESSION, "device-1"), 0.0), Admit)
    assert actor.phase is Phase.ADMITTING
    assert actor.handle(Collect(1, Text("early")), 0.0) is None  # nothing before the answer
    refusal = SessionError(Code.ALREADY_EXISTS, "taken")
    effect = actor.handle(Refuse(refusal), 0.0)
    assert isinstance(effect, Fail) and effect.error == refusal == actor.error
    assert actor.outcome is Outcome.REFUSED


def test_a_stream_that_never_opens_times_out_soon():
    actor = SessionActor(Limits(open_timeout_s=2.0, idle_timeout_s=30.0), now=0.0)
    assert actor.deadline == 2.0
    assert actor.handle(Tick(), 1.9) is None
    effect = actor.handle(Tick(), 2.0)
    assert isinstance(effect, Fail) and effect.error.code is Code.DEADLINE_EXCEEDED
    assert effect.error.message == "no open frame came within 2s (open_timeout)"
    assert effect.error.limit == "open_timeout"


def test_the_server_budget_bounds_what_all_sessions_hold():
    budget = ByteBudget(10)
    first, second = opened(budget=budget), opened(budget=budget)
    assert first.handle(Collect(1, Screenshot(b"12345678", "image/png")), 0.0).result is (  # type: ignore[union-attr]
        CollectResult.APPLIED
    )
    refused = second.handle(Collect(1, Text("hello")), 0.0)
    assert isinstance(refused, Ack) and refused.result is CollectResult.REJECTED
    assert refused.error is not None and refused.error.limit == "max_buffered_bytes"
    assert refused.error.code is Code.RESOURCE_EXHAUSTED
    assert "8 bytes held by all sessions, 5 more would pass max_buffered_bytes=10" in (
        refused.error.message
    )
    assert second.handle(Collect(1, Text("hi")), 0.0).result is CollectResult.APPLIED  # type: ignore[union-attr]
    assert budget.held == 10
    first.handle(Cancel(), 0.0)  # an ended session gives its bytes back at once
    assert budget.held == 2
    second.handle(Commit(), 0.0)  # the committed utterance is held while the pipeline runs
    assert budget.held == 2
    second.handle(PipelineFinished(), 0.0)
    assert budget.held == 0


def test_an_output_written_as_the_session_ended_still_counts():
    actor = opened()
    actor.handle(Commit(Text("hi")), 1.0)
    assert isinstance(actor.handle(Cancel(), 1.5), Finish)
    # The write in flight completed after the cancel.
    actor.handle(OutputSent(OutputKind.TEXT), 1.75)
    assert actor.output_frames == 1
    assert actor.timings(9.0).commit_to_first_output == 0.75
    actor.handle(Closed(), 2.0)
    assert actor.closed and actor.handle(OutputSent(OutputKind.TEXT), 3.0) is None
    assert actor.output_frames == 1


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
    assert (actor.text, actor.screenshot_bytes) == ("", 0)
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
    actor.handle(OutputSent(OutputKind.TEXT), 2.25)
    actor.handle(OutputSent(OutputKind.TEXT), 2.5)
    effect = actor.handle(PipelineFinished(), 3.0)
    assert isinstance(effect, Finish) and actor.output_frames == 2
    timings = actor.timings(99.0)  # ended: the figures of its end, whenever they are read
    assert timings.collect == 2.0 and timings.total == 3.0
    assert timings.commit_to_first_output == 0.25 and timings.pipeline == 1.0
    assert actor.outcome is Outcome.COMMITTED


def test_the_first_text_and_the_first_audio_are_timed_apart():
    actor = opened()
    actor.handle(Commit(Text("hi")), 2.0)
    assert actor.timings(2.0).commit_to_first_text is None
    actor.handle(OutputSent(OutputKind.TEXT), 2.25)
    actor.handle(OutputSent(OutputKind.TEXT), 2.5)
    actor.handle(OutputSent(OutputKind.AUDIO), 2.75)
    actor.handle(OutputSent(OutputKind.AUDIO), 3.0)
    actor.handle(PipelineFinished(), 3.5)
    timings = actor.timings(9.0)
    assert timings.commit_to_first_output == timings.commit_to_first_text == 0.25
    assert timings.commit_to_first_audio == 0.75


def test_an_answer_without_audio_has_no_first_audio():
    actor = opened()
    actor.handle(Commit(Text("hi")), 2.0)
    actor.handle(OutputSent(OutputKind.TEXT), 2.5)
    actor.handle(PipelineFinished(), 3.0)
    assert actor.timings(3.0).commit_to_first_audio is None


def test_the_pipeline_s_stage_timings_are_kept_once_each():
    actor = opened()
    actor.handle(StageTimed(Stage.LLM_FIRST_TOKEN, 0.5), 0.0)  # not committed: no run
    actor.handle(Commit(Text("hi")), 1.0)
    assert actor.handle(StageTimed(Stage.LLM_FIRST_TOKEN, 0.25), 1.3) is None
    actor.handle(StageTimed(Stage.LLM_FIRST_TOKEN, 0.75), 1.4)  # yielded twice: the first
    actor.handle(StageTimed(Stage.TTS_FIRST_BYTE, -1.0), 1.5)  # no figure: left out
    actor.handle(StageTimed(Stage.TTS_FIRST_BYTE, math.nan), 1.5)
    assert actor.timings(1.5).tts_first_byte is None
    actor.handle(StageTimed(Stage.TTS_FIRST_BYTE, 0.125), 1.6)
    actor.handle(PipelineFinished(), 2.0)
    actor.handle(StageTimed(Stage.TTS_FIRST_BYTE, 9.0), 2.5)  # after the end: too late
    timings = actor.timings(3.0)
    assert (timings.llm_first_token, timings.tts_first_byte) == (0.25, 0.125)
    assert [timings.stage(stage) for stage in Stage] == [0.25, 0.125]


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


# -- a buffer kept by a shared store between legacy calls -----------------------------------


def restored(collected: Collected, budget: ByteBudget | None = None, now: float = 100.0):
    actor = SessionActor(Limits(max_chunks=4), now, budget or ByteBudget())
    assert isinstance(actor.handle(Open(SESSION, "device-1", collected=collected), now), Admit)
    return actor, actor.handle(Admitted(), now)


def test_a_restored_session_goes_on_where_the_last_call_left_it():
    first = opened(Limits(max_chunks=4))
    first.handle(Collect(2, Screenshot(b"png", "image/png")), 1.0)
    first.handle(Collect(3, Text("open the")), 2.0)
    kept = first.collected(now=5.0)
    assert kept == Collected("open the", Screenshot(b"png", "image/png"), 3, 2, 5.0)
    actor, effect = restored(kept)
    assert effect == Resumed(SESSION.lower(), 3, None)  # not Accept: it opened before
    assert (actor.text, actor.screenshot_bytes, actor.applied_chunks) == ("open the", 3, 2)
    assert actor.age(100.0) == 5.0  # its deadlines count from its first frame
    assert actor.handle(Collect(3, Text("stale")), 100.0).result is CollectResult.STALE
    assert actor.handle(Collect(4, Text("open the door")), 100.0).result is CollectResult.APPLIED
    assert actor.handle(Collect(5, Text("more")), 100.0).result is CollectResult.APPLIED
    over = actor.handle(Collect(6, Text("and more")), 100.0)
    assert over.error is not None and over.error.limit == "max_chunks"  # counted across calls


def test_a_restored_buffer_is_held_against_this_servers_budget():
    budget = ByteBudget(10)
    actor, effect = restored(Collected("twelve bytes", None, 1, 1), budget)
    assert isinstance(effect, Fail) and effect.error.limit == "max_buffered_bytes"
    assert actor.outcome is Outcome.REFUSED and budget.held == 0
    actor, effect = restored(Collected("eight by", None, 1, 1), budget)
    assert isinstance(effect, Resumed) and budget.held == 8


def test_a_buffer_handed_over_to_a_shared_store_does_not_end_the_session():
    budget = ByteBudget()
    actor = opened(budget=budget)
    actor.handle(Collect(1, Text("kept elsewhere")), 1.0)
    assert actor.handle(HandedOver(), 1.0) is None
    actor.handle(Closed(), 1.0)
    assert actor.outcome is None and budget.held == 0  # no verdict: it goes on elsewhere
