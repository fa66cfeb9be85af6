"""The outbox's conflation rule, checked against the server's own session actor.

Whatever the application says, and whenever the sender drains the outbox, the frames it
sends must leave the server with exactly what sending every call one by one would.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nexy_stream.client.events import SessionStats
from nexy_stream.client.outbox import Outbox
from nexy_stream.session import (
    Ack,
    Collect,
    CollectResult,
    Dispatch,
    Limits,
    Open,
    Reject,
    Screenshot,
    SessionActor,
    Text,
    TextMode,
)
from tests.actors import admit

SESSION = "7b0c5a52-54f4-4cf6-9a51-4a4d1d1f8f10"

texts = st.builds(Text, st.text("ab ", max_size=4), st.sampled_from(TextMode))
shots = st.builds(Screenshot, st.sampled_from([b"one", b"two", b"three"]), st.just("image/png"))
steps = st.lists(st.one_of(texts, shots, st.just("take")), max_size=30)


@given(steps, st.none() | texts, st.none() | shots)
def test_conflated_frames_leave_the_server_as_every_call_would(steps, final_text, final_shot):
    outbox = Outbox(SessionStats())
    actor = SessionActor(Limits(), now=0.0)
    admit(actor, Open(SESSION, "mac-1"))

    def send_one() -> None:
        frame = outbox.take()
        if frame is not None:
            effect = actor.handle(frame, 0.0)
            assert isinstance(effect, Ack)
            assert effect.result in {CollectResult.APPLIED, CollectResult.DUPLICATE_SCREENSHOT}

    expected_text, expected_shot = "", None
    for step in steps:
        if step == "take":
            send_one()
        elif isinstance(step, Text):
            outbox.add_text(step)
            expected_text = step.merged_into(expected_text)
        else:
            outbox.add_screenshot(step)
            expected_shot = step
    outbox.add_commit(final_text, final_shot)
    if final_text is not None:
        expected_text = final_text.merged_into(expected_text)
    expected_shot = final_shot or expected_shot

    remaining = []
    while (frame := outbox.take()) is not None:
        remaining.append(frame)
        effect = actor.handle(frame, 0.0)
    assert len(remaining) == 1, "the commit absorbs whatever is pending"
    if not expected_text.strip():
        assert isinstance(effect, Reject)
        return
    assert isinstance(effect, Dispatch)
    assert effect.request.text == expected_text
    assert effect.request.screenshot == expected_shot


@given(steps)
def test_the_outbox_never_holds_more_than_one_text_and_one_screenshot(steps):
    outbox = Outbox(SessionStats())
    for step in steps:
        if isinstance(step, Text):
            outbox.add_text(step)
        elif isinstance(step, Screenshot):
            outbox.add_screenshot(step)
    pending = []
    while (frame := outbox.take()) is not None:
        pending.append(frame)
    assert len(pending) <= 2


def test_a_conflated_text_is_as_stable_as_the_newest_interim():
    outbox = Outbox(SessionStats())
    outbox.add_text(Text("what is", TextMode.SNAPSHOT, stable=True))
    outbox.add_text(Text(" on my", TextMode.DELTA))
    assert outbox.take() == Collect(1, Text("what is on my", TextMode.SNAPSHOT, stable=False))
    outbox.add_text(Text("what is on", TextMode.SNAPSHOT))
    outbox.add_text(Text(" my screen", TextMode.DELTA, stable=True))
    assert outbox.take() == Collect(2, Text("what is on my screen", TextMode.SNAPSHOT, True))
