"""The session actor against a small reference model, under arbitrary interleavings.

The model is deliberately naive (plain fields, no effects); the actor must agree with it
after every step on what it applied, what it dispatched, and that nothing outlives the end.
"""

from __future__ import annotations

import uuid

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from nexy_stream.session import (
    Accept,
    Ack,
    Cancel,
    Code,
    Collect,
    CollectResult,
    Commit,
    Disconnected,
    Dispatch,
    Fail,
    Finish,
    GoAway,
    HalfClosed,
    Limits,
    Open,
    Outcome,
    OutputSent,
    Phase,
    PipelineFailed,
    PipelineFinished,
    Reject,
    Screenshot,
    SessionActor,
    ShuttingDown,
    Text,
    TextMode,
    Tick,
)

LIMITS = Limits(
    max_text_bytes=16,
    max_chunks=4,
    max_screenshot_bytes=8,
    max_frame_bytes=1024,
    idle_timeout_s=5.0,
    max_duration_s=20.0,
)
words = st.text(alphabet="abcé ", max_size=12)
modes = st.sampled_from(TextMode)
images = st.sampled_from([b"a", b"bb", b"ccc", b"x" * 9])  # few values: duplicates happen


class ActorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.new_session()

    @precondition(lambda self: self.phase is Phase.ENDED)
    @rule()
    def next_session(self) -> None:
        """Another session on a fresh actor, so one example covers several lifetimes."""
        self.new_session()
        self.open(valid=True)

    def new_session(self) -> None:
        self.started = self.now
        self.actor = SessionActor(LIMITS, self.now)
        # The model.
        self.phase = Phase.AWAITING_OPEN
        self.text = ""
        self.image: bytes | None = None
        self.highest = 0
        self.chunks = 0
        self.last_frame = self.now
        self.dispatched: list[str] = []
        self.shutdown_at: float | None = None

    def step(self, event: object) -> object:
        previous = self.actor.highest_applied_seq
        effect = self.actor.handle(event, self.now)  # type: ignore[arg-type]
        assert self.actor.highest_applied_seq >= previous
        if isinstance(effect, Dispatch):
            self.dispatched.append(effect.request.text)
        return effect

    def end(self) -> None:
        self.phase = Phase.ENDED
        self.text, self.image = "", None

    def live(self) -> bool:
        return self.phase in (Phase.COLLECTING, Phase.PROCESSING)

    # -- client frames ---------------------------------------------------------------------

    @initialize(valid=st.sampled_from([True] * 9 + [False]))
    def first_frame(self, valid: bool) -> None:
        self.open(valid)

    @rule(valid=st.booleans())
    def open(self, valid: bool) -> None:
        session_id = str(uuid.uuid4()) if valid else "not-a-uuid"
        effect = self.step(Open(session_id, "device-1"))
        if self.phase is Phase.AWAITING_OPEN:
            self.last_frame = self.now
            if valid:
                assert isinstance(effect, Accept)
                self.phase = Phase.COLLECTING
            else:
                assert isinstance(effect, Fail) and effect.error.code == Code.INVALID_ARGUMENT
                self.end()
        elif self.live():
            self.last_frame = self.now
            assert isinstance(effect, Reject)

    @rule(offset=st.integers(-3, 3), text=words, mode=modes)
    def collect_text(self, offset: int, text: str, mode: TextMode) -> None:
        seq = max(0, self.highest + offset)
        effect = self.step(Collect(seq, Text(text, mode)))
        merged = self.text + text if mode is TextMode.DELTA else text
        fits = len(merged.encode()) <= LIMITS.max_text_bytes
        self.expect_collect(effect, seq, fits)
        if isinstance(effect, Ack) and effect.result is CollectResult.APPLIED:
            self.text = merged

    @rule(offset=st.integers(-1, 2), image=images)
    def collect_screenshot(self, offset: int, image: bytes) -> None:
        seq = max(0, self.highest + offset)
        effect = self.step(Collect(seq, Screenshot(image, "image/webp")))
        fits = len(image) <= LIMITS.max_screenshot_bytes
        self.expect_collect(effect, seq, fits, duplicate=image == self.image)
        if isinstance(effect, Ack) and effect.result is CollectResult.APPLIED:
            self.image = image

    def expect_collect(self, effect: object, seq: int, fits: bool, duplicate: bool = False) -> None:
        if self.phase is Phase.AWAITING_OPEN:
            assert isinstance(effect, Fail)
            self.end()
            return
        if self.phase is Phase.ENDED:
            assert effect is None
            return
        self.last_frame = self.now
        assert isinstance(effect, Ack)
        if self.phase is Phase.PROCESSING or seq == 0:
            expected = CollectResult.REJECTED
        elif seq <= self.highest:
            expected = CollectResult.STALE
        elif self.chunks >= LIMITS.max_chunks or not fits:
            expected = CollectResult.REJECTED
        elif duplicate:
            expected = CollectResult.DUPLICATE_SCREENSHOT
        else:
            expected = CollectResult.APPLIED
        assert effect.result is expected, (effect, expected)
        if expected in (CollectResult.APPLIED, CollectResult.DUPLICATE_SCREENSHOT):
            self.highest, self.chunks = seq, self.chunks + 1
        assert effect.highest_applied_seq == self.highest

    @rule(final=st.none() | words, mode=modes, image=st.none() | images)
    def commit(self, final: str | None, mode: TextMode, image: bytes | None) -> None:
        screenshot = Screenshot(image, "image/png") if image is not None else None
        final_text = Text(final, mode) if final is not None else None
        effect = self.step(Commit(final_text, screenshot))
        if self.phase is Phase.AWAITING_OPEN:
            assert isinstance(effect, Fail)
            self.end()
            return
        if self.phase is Phase.ENDED:
            assert effect is None
            return
        self.last_frame = self.now
        if self.phase is Phase.PROCESSING:
            assert isinstance(effect, Reject)
            return
        merged = self.text if final_text is None else final_text.merged_into(self.text)
        ok = (
            len(merged.encode()) <= LIMITS.max_text_bytes
            and (image is None or len(image) <= LIMITS.max_screenshot_bytes)
            and merged.strip() != ""
        )
        if not ok:
            assert isinstance(effect, Reject)
            return
        assert isinstance(effect, Dispatch)
        assert effect.request.text == merged
        shot = image if image is not None else self.image
        assert (effect.request.screenshot is None) == (shot is None)
        self.phase = Phase.PROCESSING
        self.text, self.image = "", None  # popped

    @rule()
    def cancel(self) -> None:
        effect = self.step(Cancel())
        if self.phase is Phase.AWAITING_OPEN:
            assert isinstance(effect, Fail)
        elif self.live():
            assert isinstance(effect, Finish) and effect.reason.value == "cancelled"
            assert self.actor.outcome is Outcome.CANCELLED
        else:
            assert effect is None
        self.end()

    # -- what the host observes ------------------------------------------------------------

    @rule()
    def half_close(self) -> None:
        effect = self.step(HalfClosed())
        if self.phase is Phase.PROCESSING:
            assert effect is None
            return
        assert (effect is None) == (self.phase is Phase.ENDED)
        self.end()

    @rule()
    def disconnect(self) -> None:
        assert self.step(Disconnected()) is None
        if self.phase is not Phase.ENDED:
            assert self.actor.outcome is Outcome.DISCONNECTED
        self.end()

    @precondition(lambda self: self.phase is Phase.PROCESSING)
    @rule(outputs=st.integers(0, 3), fails=st.booleans())
    def pipeline_runs(self, outputs: int, fails: bool) -> None:
        for _ in range(outputs):
            assert self.step(OutputSent()) is None
        effect = self.step(PipelineFailed("boom") if fails else PipelineFinished())
        if fails:
            assert isinstance(effect, Fail) and effect.error.code == Code.INTERNAL
        else:
            assert isinstance(effect, Finish) and effect.output_frames == outputs
            assert self.actor.outcome is Outcome.COMMITTED
        self.end()

    @rule(time_left=st.sampled_from([0.0, 1.0, 30.0]))
    def server_shuts_down(self, time_left: float) -> None:
        effect = self.step(ShuttingDown(time_left))
        if self.phase is Phase.AWAITING_OPEN:
            assert isinstance(effect, Fail) and effect.error.code == Code.UNAVAILABLE
            self.end()
        elif not self.live() or self.shutdown_at is not None:
            assert effect is None
        elif time_left == 0.0:
            assert isinstance(effect, Fail) and effect.error.code == Code.UNAVAILABLE
            self.end()
        else:
            assert isinstance(effect, GoAway)
            self.shutdown_at = self.now + time_left

    @rule(seconds=st.sampled_from([0.5, 2.0, 4.9, 5.0, 12.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        effect = self.step(Tick())
        started = self.started
        idle = self.phase is not Phase.PROCESSING and self.now >= self.last_frame + 5.0
        expired = self.phase is not Phase.ENDED and (idle or self.now >= started + 20.0)
        shut = self.shutdown_at is not None and self.now >= self.shutdown_at
        if self.phase is not Phase.ENDED and shut:
            assert isinstance(effect, Fail) and effect.error.code == Code.UNAVAILABLE
            self.end()
        elif expired:
            assert isinstance(effect, Fail) and effect.error.code == Code.DEADLINE_EXCEEDED
            assert effect.error.limit in ("idle_timeout", "max_duration")
            assert self.actor.outcome is Outcome.TIMED_OUT
            self.end()
        else:
            assert effect is None

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def agrees_with_model(self) -> None:
        assert self.actor.phase is self.phase
        assert self.actor.text == self.text
        assert self.actor.highest_applied_seq == self.highest
        assert self.actor.applied_chunks == self.chunks
        shot = self.actor.screenshot
        assert (shot.data if shot else None) == self.image

    @invariant()
    def bounded(self) -> None:
        assert self.actor.text_bytes == len(self.actor.text.encode()) <= LIMITS.max_text_bytes
        assert self.actor.applied_chunks <= LIMITS.max_chunks

    @invariant()
    def dispatched_at_most_once(self) -> None:
        assert len(self.dispatched) <= 1

    @invariant()
    def nothing_left_after_the_end(self) -> None:
        if self.actor.phase is Phase.ENDED:
            assert self.actor.outcome is not None
            assert self.actor.text == "" and self.actor.screenshot is None


ActorMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestActorMachine = ActorMachine.TestCase
