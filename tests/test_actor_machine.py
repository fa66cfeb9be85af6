"""The session actor against a small reference model, under arbitrary interleavings.

The model is deliberately naive (plain fields, no effects); the actor must agree with it
after every step on what it applied, what it dispatched, what it holds of the server's byte
budget (shared by every session the machine plays), and that nothing outlives the end.

The actor speculates: the model also plays its host, which runs the preparations the
actor's effects ask for. Whatever the interleaving, at most one preparation runs, each
stops when the buffer changes or the session ends, and the commit either adopts the one
that prepared this very request or none, so the answer is one run of the committed request.
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
    Admit,
    Admitted,
    Adopt,
    ByteBudget,
    Cancel,
    Closed,
    Code,
    Collect,
    CollectResult,
    Commit,
    CommitRepeated,
    Detached,
    Discard,
    Disconnected,
    Dispatch,
    DropPreparation,
    Fail,
    Finish,
    GoAway,
    HalfClosed,
    Limits,
    Open,
    Outcome,
    OutputKind,
    OutputSent,
    Phase,
    PipelineFailed,
    PipelineFinished,
    PreparationFailed,
    PreparationReady,
    Prepare,
    Reattached,
    Refuse,
    Reject,
    Resumed,
    Screenshot,
    SessionActor,
    SessionError,
    ShuttingDown,
    Speculation,
    Text,
    TextMode,
    Tick,
    normalised,
)

LIMITS = Limits(
    max_text_bytes=16,
    max_chunks=4,
    max_screenshot_bytes=8,
    max_frame_bytes=1024,
    idle_timeout_s=5.0,
    max_duration_s=20.0,
    open_timeout_s=3.0,
    resume_ttl_s=8.0,
)
BUDGET = 20  # bytes all sessions may hold: less than one session's text plus screenshot
SPECULATION = Speculation(after_s=1.0, max_per_session=2)
words = st.text(alphabet="abcé .?A", max_size=12)  # some revisions normalise the same
Key = tuple[str, bytes | None]
modes = st.sampled_from(TextMode)
images = st.sampled_from([b"a", b"bb", b"ccc", b"x" * 9])  # few values: duplicates happen


class ActorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.budget = ByteBudget(BUDGET)
        self.new_session()

    @precondition(lambda self: self.phase is Phase.ENDED)
    @rule()
    def next_session(self) -> None:
        """Another session on a fresh actor, so one example covers several lifetimes."""
        self.new_session()
        self.open(valid=True, admitted=True)

    def new_session(self) -> None:
        self.started = self.now
        self.actor = SessionActor(LIMITS, self.now, self.budget, SPECULATION)
        # The model.
        self.phase = Phase.AWAITING_OPEN
        self.text = ""
        self.image: bytes | None = None
        self.highest = 0
        self.chunks = 0
        self.last_frame = self.now
        self.dispatched: list[str] = []
        self.shutdown_at: float | None = None
        self.outputs = 0
        self.held = 0
        self.closed = False
        self.detached_at: float | None = None
        self.commit_frame: Commit | None = None
        # Speculation: the buffer's key, when it is to be prepared, and what the host runs.
        self.key: Key = ("", None)
        self.due: float | None = None
        self.running: tuple[int, Key] | None = None
        self.started_preparations = 0

    def step(self, event: object) -> object:
        previous = self.actor.highest_applied_seq
        effect = self.actor.handle(event, self.now)  # type: ignore[arg-type]
        assert self.actor.highest_applied_seq >= previous
        if isinstance(effect, Dispatch):
            self.dispatched.append(effect.request.text)
        return effect

    def end(self) -> None:
        self.phase = Phase.ENDED
        self.detached_at = None
        self.text, self.image = "", None
        self.held = 0
        self.running, self.due = None, None  # the host stops the preparation with its session

    @staticmethod
    def key_of(text: str, image: bytes | None) -> Key:
        digest = Screenshot(image, "image/webp").digest if image is not None else None
        return normalised(text), digest

    def may_prepare(self) -> bool:
        return self.started_preparations < SPECULATION.max_per_session and self.key[0] != ""

    def expect_revision(self, stable: bool, preparation: object) -> None:
        """An applied collect frame: a changed request stops the preparation of the old one
        and is planned; a stable one is prepared at once."""
        dropped = 0
        key = self.key_of(self.text, self.image)
        if key != self.key:
            self.key = key
            if self.running is not None and self.running[1] != key:
                dropped, self.running = self.running[0], None
            self.due = self.now + SPECULATION.after_s if self.may_prepare() else None
        if stable and self.running is None and self.may_prepare():
            self.expect_start(preparation, dropped)
        elif dropped:
            assert preparation == DropPreparation(dropped, Discard.REVISED)
        else:
            assert preparation is None, preparation

    def expect_start(self, preparation: object, replaces: int = 0) -> None:
        assert isinstance(preparation, Prepare), preparation
        assert preparation.number == self.started_preparations + 1
        assert preparation.replaces == replaces
        request = preparation.request
        assert self.key_of(request.text, request.screenshot and request.screenshot.data) == self.key
        self.started_preparations += 1
        self.running, self.due = (preparation.number, self.key), None

    def live(self) -> bool:
        return self.phase in (Phase.COLLECTING, Phase.PROCESSING)

    # -- client frames ---------------------------------------------------------------------

    @initialize(
        valid=st.sampled_from([True] * 9 + [False]), admitted=st.sampled_from([True] * 4 + [False])
    )
    def first_frame(self, valid: bool, admitted: bool) -> None:
        self.open(valid, admitted)

    @rule(valid=st.booleans(), admitted=st.sampled_from([True] * 4 + [False]))
    def open(self, valid: bool, admitted: bool) -> None:
        session_id = str(uuid.uuid4()) if valid else "not-a-uuid"
        effect = self.step(Open(session_id, "device-1"))
        if self.phase is Phase.AWAITING_OPEN:
            self.last_frame = self.now
            if not valid:
                assert isinstance(effect, Fail) and effect.error.code == Code.INVALID_ARGUMENT
                self.end()
                return
            # Only an admitted session is accepted: the host answers the actor's Admit.
            assert isinstance(effect, Admit) and self.actor.phase is Phase.ADMITTING
            if admitted:
                assert isinstance(self.step(Admitted()), Accept)
                self.phase = Phase.COLLECTING
            else:
                refusal = SessionError(Code.RESOURCE_EXHAUSTED, "full", "max_live_sessions")
                effect = self.step(Refuse(refusal))
                assert isinstance(effect, Fail) and effect.error == refusal
                assert self.actor.outcome is Outcome.REFUSED
                self.end()
        elif self.live():
            self.last_frame = self.now
            assert isinstance(effect, Reject)

    @rule(offset=st.integers(-3, 3), text=words, mode=modes, stable=st.booleans())
    def collect_text(self, offset: int, text: str, mode: TextMode, stable: bool) -> None:
        seq = max(0, self.highest + offset)
        effect = self.step(Collect(seq, Text(text, mode, stable)))
        merged = self.text + text if mode is TextMode.DELTA else text
        fits = len(merged.encode()) <= LIMITS.max_text_bytes
        held = len(merged.encode()) + len(self.image or b"")
        self.expect_collect(effect, seq, fits, affordable=self.affordable(held))
        if isinstance(effect, Ack) and effect.result is CollectResult.APPLIED:
            self.text = merged
            self.held = held
            self.expect_revision(stable, effect.preparation)
        elif isinstance(effect, Ack):
            assert effect.preparation is None

    @rule(offset=st.integers(-1, 2), image=images)
    def collect_screenshot(self, offset: int, image: bytes) -> None:
        seq = max(0, self.highest + offset)
        effect = self.step(Collect(seq, Screenshot(image, "image/webp")))
        fits = len(image) <= LIMITS.max_screenshot_bytes
        held = len(self.text.encode()) + len(image)
        duplicate = image == self.image
        affordable = duplicate or self.affordable(held)
        self.expect_collect(effect, seq, fits, duplicate, affordable)
        if isinstance(effect, Ack) and effect.result is CollectResult.APPLIED:
            self.image = image
            self.held = held
            self.expect_revision(False, effect.preparation)
        elif isinstance(effect, Ack):
            assert effect.preparation is None

    def affordable(self, held: int) -> bool:
        """Whether holding ``held`` bytes in all fits the budget (only this session holds)."""
        return held <= BUDGET

    def expect_collect(
        self,
        effect: object,
        seq: int,
        fits: bool,
        duplicate: bool = False,
        affordable: bool = True,
    ) -> None:
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
        elif not affordable:
            expected = CollectResult.REJECTED
            assert effect.error is not None and effect.error.limit == "max_buffered_bytes"
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
        frame = Commit(final_text, screenshot)
        effect = self.step(frame)
        if self.phase is Phase.AWAITING_OPEN:
            assert isinstance(effect, Fail)
            self.end()
            return
        if self.phase is Phase.ENDED:
            assert effect is None
            return
        self.last_frame = self.now
        if self.phase is Phase.PROCESSING:
            if frame == self.commit_frame:  # the same commit again: recognised, not rerun
                assert isinstance(effect, CommitRepeated)
                assert effect.dispatch.request.text == self.dispatched[0]
            else:
                assert isinstance(effect, Reject)
            return
        merged = self.text if final_text is None else final_text.merged_into(self.text)
        shot = image if image is not None else self.image
        held = len(merged.encode()) + len(shot or b"")
        ok = (
            len(merged.encode()) <= LIMITS.max_text_bytes
            and (image is None or len(image) <= LIMITS.max_screenshot_bytes)
            and merged.strip() != ""
            and self.affordable(held)
        )
        if not ok:
            assert isinstance(effect, Reject)
            return
        assert isinstance(effect, Dispatch)
        assert effect.request.text == merged
        assert (effect.request.screenshot is None) == (shot is None)
        # The answer is one run of this request: the preparation of it, or a fresh run.
        if self.running is not None and self.running[1] == self.key_of(merged, shot):
            assert isinstance(effect.preparation, Adopt)
            assert effect.preparation.number == self.running[0]
        elif self.running is not None:
            assert isinstance(effect.preparation, DropPreparation)
            assert effect.preparation.number == self.running[0]
            assert effect.preparation.reason in (Discard.TEXT_DIFFERS, Discard.SCREENSHOT_DIFFERS)
        else:
            assert effect.preparation is None
        self.running, self.due = None, None
        self.phase = Phase.PROCESSING
        self.commit_frame = frame
        self.text, self.image = "", None  # popped: the pipeline holds the utterance now
        self.held = held

    @precondition(lambda self: self.phase is Phase.COLLECTING)
    @rule(text=words)
    def recognizer_final(self, text: str) -> None:
        """The speech recognizer's final segment: the next frame, marked stable."""
        self.collect_text(1, text, TextMode.SNAPSHOT, True)

    @precondition(lambda self: self.running is not None and self.phase is Phase.COLLECTING)
    @rule(variant=st.sampled_from(["buffered", "same", "upper case", "punctuated", "other"]))
    def commit_while_preparing(self, variant: str) -> None:
        """The commit that speculation bets on: the prepared text, as is or spelled
        otherwise (adopted), or another one (discarded)."""
        final = {
            "buffered": None,
            "same": self.text,
            "upper case": self.text.upper(),
            "punctuated": self.text + "?",
            "other": self.text + "b",
        }[variant]
        self.commit(final, TextMode.SNAPSHOT, None)

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
    def stream_lost(self) -> None:
        """The stream broke: a live session waits for a resume (its deadlines go on)."""
        assert self.step(Detached()) is None
        if self.live() and self.detached_at is None:
            self.detached_at = self.now
        elif self.phase is Phase.AWAITING_OPEN:
            pass  # a stream that never opened has nothing to resume: its open timeout runs

    @precondition(lambda self: self.detached_at is not None)
    @rule()
    def resumed(self) -> None:
        effect = self.step(Reattached())
        if not self.live():
            assert effect is None
            return
        assert isinstance(effect, Resumed) and effect.highest_applied_seq == self.highest
        assert (effect.committed is not None) == (self.phase is Phase.PROCESSING)
        self.detached_at = None
        self.last_frame = self.now

    @rule()
    def preparation_holds_its_first_output(self) -> None:
        number = self.running[0] if self.running is not None else 1
        assert self.step(PreparationReady(number)) is None

    @precondition(lambda self: self.running is not None)
    @rule()
    def preparation_fails(self) -> None:
        assert self.running is not None
        number = self.running[0]
        effect = self.step(PreparationFailed(number))
        assert effect == DropPreparation(number, Discard.FAILED)
        self.running = None

    @rule()
    def a_stopped_preparation_fails_late(self) -> None:
        """A preparation the host stopped reports on its way out: nothing changes."""
        late = self.started_preparations + 5
        assert self.step(PreparationFailed(late)) is None

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
            assert self.step(OutputSent(OutputKind.TEXT)) is None
            self.outputs += 1
        effect = self.step(PipelineFailed("boom") if fails else PipelineFinished())
        if fails:
            assert isinstance(effect, Fail) and effect.error.code == Code.INTERNAL
            assert self.actor.error == effect.error
        else:
            assert isinstance(effect, Finish)
            assert self.actor.outcome is Outcome.COMMITTED
        self.end()

    @precondition(lambda self: self.phase is Phase.ENDED and self.dispatched and not self.closed)
    @rule()
    def output_written_after_the_end(self) -> None:
        """A write that was in flight when the session ended completed: it counts."""
        assert self.step(OutputSent(OutputKind.TEXT)) is None
        self.outputs += 1

    @rule()
    def host_closes(self) -> None:
        """The host is done with the session (after the last frame, on every path)."""
        assert self.step(Closed()) is None
        if self.phase is not Phase.ENDED:
            assert self.actor.outcome is Outcome.DISCONNECTED
        self.end()
        self.closed = True
        assert self.actor.closed

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
        if self.phase is Phase.AWAITING_OPEN:
            if self.now >= started + LIMITS.open_timeout_s:
                assert isinstance(effect, Fail) and effect.error.limit == "open_timeout"
                self.end()
            else:
                assert effect is None
            return
        idle = self.phase is not Phase.PROCESSING and self.now >= self.last_frame + 5.0
        expired = self.phase is not Phase.ENDED and (idle or self.now >= started + 20.0)
        shut = self.shutdown_at is not None and self.now >= self.shutdown_at
        gone = self.detached_at is not None and self.now >= self.detached_at + 8.0
        if self.phase is not Phase.ENDED and shut:
            assert isinstance(effect, Fail) and effect.error.code == Code.UNAVAILABLE
            self.end()
        elif self.phase is not Phase.ENDED and gone:
            assert isinstance(effect, Fail) and effect.error.limit == "resume_ttl"
            assert self.actor.outcome is Outcome.DISCONNECTED
            self.end()
        elif expired:
            assert isinstance(effect, Fail) and effect.error.code == Code.DEADLINE_EXCEEDED
            assert effect.error.limit in ("idle_timeout", "max_duration")
            assert self.actor.outcome is Outcome.TIMED_OUT
            self.end()
        elif self.phase is Phase.COLLECTING and self.due is not None and self.now >= self.due:
            if self.running is None and self.may_prepare():
                self.expect_start(effect)
            else:
                assert effect is None
                self.due = None
        else:
            assert effect is None

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def agrees_with_model(self) -> None:
        assert self.actor.phase is self.phase
        assert self.actor.text == self.text
        assert self.actor.highest_applied_seq == self.highest
        assert self.actor.applied_chunks == self.chunks
        assert self.actor.screenshot_bytes == len(self.image or b"")
        assert self.actor.output_frames == self.outputs
        assert self.actor.held_bytes == self.held
        assert self.actor.detached == (self.detached_at is not None)

    @invariant()
    def the_host_runs_what_the_actor_asked_for(self) -> None:
        assert self.actor.preparing == (self.running[0] if self.running is not None else 0)
        assert self.actor.prepare_due == self.due
        prepared = self.actor.preparations
        assert prepared.started == self.started_preparations <= SPECULATION.max_per_session
        accounted = sum(prepared.discarded.values()) + prepared.adopted
        assert accounted + (self.running is not None) == prepared.started

    @invariant()
    def bounded(self) -> None:
        assert self.actor.text_bytes == len(self.actor.text.encode()) <= LIMITS.max_text_bytes
        assert self.actor.applied_chunks <= LIMITS.max_chunks

    @invariant()
    def budget_holds_what_the_live_session_holds(self) -> None:
        # Every earlier session gave its bytes back when it ended.
        assert self.budget.held == self.actor.held_bytes <= BUDGET

    @invariant()
    def dispatched_at_most_once(self) -> None:
        assert len(self.dispatched) <= 1

    @invariant()
    def nothing_left_after_the_end(self) -> None:
        if self.actor.phase is Phase.ENDED:
            assert self.actor.outcome is not None
            assert self.actor.text == "" and self.actor.screenshot_bytes == 0
            assert self.actor.held_bytes == 0


ActorMachine.TestCase.settings = settings(max_examples=600, stateful_step_count=40, deadline=None)
TestActorMachine = ActorMachine.TestCase
