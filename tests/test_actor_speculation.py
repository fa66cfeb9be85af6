"""The session actor's speculation rules, without a network: when a session asks for a
preparation, when it drops one, and what the commit adopts."""

from __future__ import annotations

import pytest

from nexy_stream.session import (
    Accept,
    Ack,
    Admit,
    Admitted,
    Adopt,
    Cancel,
    Collect,
    Commit,
    Discard,
    Dispatch,
    DropPreparation,
    Limits,
    Open,
    OutputKind,
    OutputSent,
    PipelineFinished,
    PreparationFailed,
    PreparationReady,
    Prepare,
    Screenshot,
    SessionActor,
    Speculation,
    Text,
    TextMode,
    Tick,
    normalised,
)

SESSION = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
RULES = Speculation(after_s=0.3, max_per_session=3)


def speculating(rules: Speculation = RULES, limits: Limits | None = None) -> SessionActor:
    actor = SessionActor(limits or Limits(), 0.0, speculation=rules)
    assert isinstance(actor.handle(Open(SESSION, "device-1"), 0.0), Admit)
    assert isinstance(actor.handle(Admitted(), 0.0), Accept)
    return actor


def interim(actor: SessionActor, seq: int, text: str, now: float, stable: bool = False) -> Ack:
    ack = actor.handle(Collect(seq, Text(text, TextMode.SNAPSHOT, stable)), now)
    assert isinstance(ack, Ack)
    return ack


def test_an_interim_unchanged_for_a_moment_is_prepared_at_its_deadline():
    actor = speculating()
    assert interim(actor, 1, "what is on", 1.0).preparation is None
    assert actor.prepare_due == pytest.approx(1.3) and actor.deadline == pytest.approx(1.3)
    assert interim(actor, 2, "what is on my screen", 1.2).preparation is None
    assert actor.deadline == pytest.approx(1.5)  # each revision starts the wait again
    assert actor.handle(Tick(), 1.4) is None
    started = actor.handle(Tick(), 1.5)
    assert isinstance(started, Prepare) and started.number == 1 and started.replaces == 0
    assert started.request.text == "what is on my screen"
    assert started.request.session_id == SESSION
    assert actor.preparing == 1 and actor.prepare_due is None
    assert actor.deadline == pytest.approx(1.2 + Limits().idle_timeout_s)
    assert actor.text == "what is on my screen"  # the buffer is still the client's


def test_a_revision_stops_the_preparation_of_the_old_text():
    actor = speculating()
    interim(actor, 1, "what is on my", 0.0, stable=True)
    ack = interim(actor, 2, "what is on my screen", 0.5)
    assert ack.preparation == DropPreparation(1, Discard.REVISED)
    assert actor.preparing == 0 and actor.prepare_due == pytest.approx(0.8)


def test_a_revision_that_normalises_the_same_keeps_the_preparation():
    actor = speculating()
    interim(actor, 1, "what is on my screen", 0.0, stable=True)
    for seq, text in enumerate(["What is on my screen?", "what  is on my screen", "whät"], 2):
        ack = interim(actor, seq, text, 0.1)
        if text == "whät":
            assert ack.preparation == DropPreparation(1, Discard.REVISED)
        else:
            assert ack.preparation is None and actor.preparing == 1


def test_a_new_screenshot_is_a_revision_too():
    actor = speculating()
    interim(actor, 1, "what is this", 0.0, stable=True)
    shot = actor.handle(Collect(2, Screenshot(b"png", "image/png")), 0.1)
    assert isinstance(shot, Ack) and shot.preparation == DropPreparation(1, Discard.REVISED)


def test_a_stable_interim_is_prepared_at_once_replacing_the_running_one():
    actor = speculating()
    first = interim(actor, 1, "what is on", 0.0, stable=True).preparation
    assert isinstance(first, Prepare) and first.number == 1
    second = interim(actor, 2, "what is on my screen", 0.05, stable=True).preparation
    assert isinstance(second, Prepare)
    assert (second.number, second.replaces, second.request.text) == (2, 1, "what is on my screen")
    assert interim(actor, 3, "what is on my screen.", 0.06, stable=True).preparation is None
    assert actor.preparations.discarded == {Discard.REVISED: 1}


def test_no_more_than_the_maximum_of_preparations_per_session():
    actor = speculating(Speculation(after_s=0.3, max_per_session=2))
    for seq, text in enumerate(["one", "one two", "one two three"], 1):
        interim(actor, seq, text, float(seq), stable=True)
    assert actor.preparations.started == 2 and actor.preparing == 0
    assert actor.prepare_due is None  # nothing more is planned
    assert actor.handle(Tick(), 10.0) is None and actor.preparing == 0


def test_the_commit_adopts_the_preparation_of_the_same_request():
    actor = speculating()
    interim(actor, 1, "What's on my screen", 1.0, stable=True)
    actor.handle(PreparationReady(1), 1.25)  # its first output 0.25 s after it started
    dispatched = actor.handle(Commit(Text("whats on my screen?")), 2.0)
    assert isinstance(dispatched, Dispatch)
    assert dispatched.preparation == Adopt(1, 0.25)
    assert dispatched.request.text == "whats on my screen?"  # what the client committed
    actor.handle(OutputSent(OutputKind.TEXT), 2.001)
    actor.handle(PipelineFinished(), 2.5)
    timings = actor.timings(3.0)
    assert timings.prepared and timings.prepared_ahead == 0.25
    prepared = actor.preparations
    assert (prepared.started, prepared.adopted, prepared.discarded) == (1, True, {})


def test_a_commit_before_the_first_output_saved_the_head_start():
    actor = speculating()
    interim(actor, 1, "hello", 1.0, stable=True)
    dispatched = actor.handle(Commit(), 1.1)
    assert isinstance(dispatched, Dispatch) and dispatched.preparation == Adopt(
        1, pytest.approx(0.1)
    )


@pytest.mark.parametrize(
    ("commit", "reason"),
    [
        (Commit(Text("what is on my desk")), Discard.TEXT_DIFFERS),
        (Commit(Text(" and now", TextMode.DELTA)), Discard.TEXT_DIFFERS),
        (Commit(screenshot=Screenshot(b"other", "image/png")), Discard.SCREENSHOT_DIFFERS),
    ],
)
def test_any_other_commit_discards_the_preparation(commit, reason):
    actor = speculating()
    interim(actor, 1, "what is on my screen", 0.0, stable=True)
    dispatched = actor.handle(commit, 1.0)
    assert isinstance(dispatched, Dispatch) and dispatched.preparation == DropPreparation(1, reason)
    actor.handle(PipelineFinished(), 2.0)
    assert not actor.timings(2.0).prepared and actor.timings(2.0).prepared_ahead is None
    assert actor.preparations.discarded == {reason: 1}


def test_a_failed_preparation_is_discarded_and_not_tried_again_unless_stable():
    actor = speculating()
    interim(actor, 1, "hello there", 0.0, stable=True)
    assert actor.handle(PreparationFailed(2), 0.1) is None  # not the running one
    assert actor.handle(PreparationFailed(1), 0.1) == DropPreparation(1, Discard.FAILED)
    assert actor.handle(Tick(), 5.0) is None and actor.preparing == 0
    again = interim(actor, 2, "hello there", 5.0, stable=True).preparation
    assert isinstance(again, Prepare) and again.number == 2
    dispatched = actor.handle(Commit(), 6.0)
    assert isinstance(dispatched, Dispatch) and isinstance(dispatched.preparation, Adopt)


def test_an_end_before_the_commit_discards_the_preparation():
    actor = speculating()
    interim(actor, 1, "hello there", 0.0, stable=True)
    actor.handle(Cancel(), 0.5)
    assert actor.preparing == 0
    assert actor.preparations.discarded == {Discard.SESSION_ENDED: 1}


def test_a_text_too_long_to_compare_cheaply_is_never_prepared():
    actor = speculating(Speculation(max_text_bytes=16))
    interim(actor, 1, "what is on my", 0.0, stable=True)
    too_long = interim(actor, 2, "what is on my screen now", 0.1, stable=True)
    assert too_long.preparation == DropPreparation(1, Discard.REVISED)
    assert actor.preparing == 0 and actor.prepare_due is None
    back = interim(actor, 3, "what is on my", 0.2, stable=True).preparation
    assert isinstance(back, Prepare) and back.number == 2
    dispatched = actor.handle(Commit(Text("what is on my" + "!" * 20)), 0.3)
    assert isinstance(dispatched, Dispatch)
    assert dispatched.preparation == DropPreparation(2, Discard.TEXT_DIFFERS)


def test_an_empty_buffer_is_never_prepared():
    actor = speculating()
    assert interim(actor, 1, " ?! ", 0.0, stable=True).preparation is None
    assert actor.prepare_due is None


def test_without_speculation_nothing_is_prepared():
    actor = SessionActor(Limits(), 0.0)
    actor.handle(Open(SESSION, "device-1"), 0.0)
    actor.handle(Admitted(), 0.0)
    assert interim(actor, 1, "hello", 0.0, stable=True).preparation is None
    assert actor.prepare_due is None and actor.deadline == Limits().idle_timeout_s
    dispatched = actor.handle(Commit(), 1.0)
    assert isinstance(dispatched, Dispatch) and dispatched.preparation is None


@pytest.mark.parametrize(
    ("said", "same_as"),
    [
        ("What's on my screen?", "whats on my screen"),
        ("  what is\ton my   screen ", "what is on my screen"),
        ("\uff37\uff28\uff21\uff34", "what"),  # NFKC: full-width letters
        ("¿Qué hay en mi pantalla?", "qué hay en mi pantalla"),
        ("2+2 = 4", "2+2 = 4"),  # symbols stay: "2+2" is not "22"
    ],
)
def test_the_normalisation_rule(said, same_as):
    assert normalised(said) == same_as
