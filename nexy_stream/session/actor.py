"""The session actor: every collect/commit rule, in one pure state machine.

Like h2, the transitions live in one table (:data:`_TRANSITIONS`): for each phase, which
events it takes and what it does with them. An event a phase does not list changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import Enum

from nexy_stream.session.budget import ByteBudget
from nexy_stream.session.effects import (
    Accept,
    Ack,
    Admit,
    CollectResult,
    CommitRepeated,
    Dispatch,
    DropPreparation,
    Effect,
    Fail,
    Finish,
    GoAway,
    Prepare,
    Reject,
    Rejoin,
    Resumed,
)
from nexy_stream.session.errors import Code, SessionError
from nexy_stream.session.events import (
    Admitted,
    Cancel,
    Closed,
    Collect,
    Commit,
    Detached,
    Disconnected,
    Event,
    FrameTooLarge,
    HalfClosed,
    HandedOver,
    Open,
    OutputSent,
    PipelineFailed,
    PipelineFinished,
    PreparationFailed,
    PreparationReady,
    Reattached,
    Refuse,
    Resume,
    ShuttingDown,
    StageTimed,
    Tick,
    Unreadable,
)
from nexy_stream.session.ids import canonical_session_id, device_problem
from nexy_stream.session.limits import Limits
from nexy_stream.session.speculation import NONE_PREPARED, Preparations, Speculation, Speculator
from nexy_stream.session.values import (
    ANONYMOUS,
    ClientInfo,
    Collected,
    CommittedRequest,
    EndReason,
    Outcome,
    OutputKind,
    Owner,
    Screenshot,
    ScreenSize,
    Stage,
    Text,
    TextMode,
    Timings,
)


class Phase(Enum):
    AWAITING_OPEN = "awaiting_open"
    ADMITTING = "admitting"  # the open frame was valid; the host decides
    REJOINING = "rejoining"  # a resume frame: the host looks for the session
    COLLECTING = "collecting"
    PROCESSING = "processing"
    ENDED = "ended"
    HANDED_OVER = "handed_over"  # the stream resumed another session: this one never was


_UNLIMITED = ByteBudget()
_ADMIT = Admit()


class SessionActor:
    """Owns one session's state and decides what every event leads to.

    ``handle(event, now)`` returns at most one effect. The state is independent of any
    stream, so a host may keep an actor across a dropped stream and attach another one.
    Everything a host or an observer may read is a read-only property; only events change
    the state. ``budget`` is shared by all of a server's sessions: what they hold (collect
    buffers, then the committed utterance until the session ends) is taken from it. With
    ``speculation`` the session prepares its answer during collect (see
    :mod:`nexy_stream.session.speculation`): collect frames and ticks may then ask the host
    to start or stop a preparation, and the commit adopts or discards it.
    """

    def __init__(
        self,
        limits: Limits,
        now: float,
        budget: ByteBudget = _UNLIMITED,
        speculation: Speculation | None = None,
    ) -> None:
        self._limits = limits
        self._budget = budget
        self._phase = Phase.AWAITING_OPEN
        self._outcome: Outcome | None = None
        self._error: SessionError | None = None
        self._session_id = ""
        self._device_id = ""
        self._owner = ANONYMOUS
        self._peer = ""
        self._client = ClientInfo()
        self._screen: ScreenSize | None = None
        # The buffer: popped (reset) at commit, discarded on every other end.
        self._text = ""
        self._text_bytes = 0
        self._screenshot: Screenshot | None = None
        self._held = 0  # bytes taken from the budget
        self._highest_applied_seq = 0
        self._applied_chunks = 0
        self._output_frames = 0
        self._created_at = now
        self._last_frame_at = now
        self._committed_at: float | None = None
        self._first_output_at: float | None = None
        self._first_at: dict[OutputKind, float] = {}  # the first output of each kind
        self._stages: dict[Stage, float] = {}  # as the pipeline reported them
        self._ended_at: float | None = None
        self._shutdown_at: float | None = None
        self._detached_at: float | None = None  # its stream was lost; a resume may come
        self._dispatched: Dispatch | None = None
        self._commit_frame: Commit | None = None
        self._restoring: Collected | None = None  # from Open, taken up once admitted
        self._closed = False
        self._speculator = Speculator(speculation) if speculation is not None else None

    # -- the one entry point -------------------------------------------------------------

    def handle(self, event: Event, now: float) -> Effect | None:
        if type(event) is Collect and self._phase is Phase.COLLECTING:  # most events are
            return self._collect(event, now)
        transition = _TRANSITIONS[self._phase].get(type(event))
        return None if transition is None else transition(self, event, now)

    # -- what hosts and observers read -----------------------------------------------------

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def outcome(self) -> Outcome | None:
        """How the session ended; ``None`` while it lives."""
        return self._outcome

    @property
    def error(self) -> SessionError | None:
        """Why the session failed, when it did."""
        return self._error

    @property
    def closed(self) -> bool:
        """Whether the host is done with it (``Closed``): its figures are final."""
        return self._closed

    @property
    def session_id(self) -> str:
        """The canonical session id ("" before a valid open)."""
        return self._session_id

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def owner(self) -> Owner:
        return self._owner

    @property
    def peer(self) -> str:
        return self._peer

    @property
    def client(self) -> ClientInfo:
        return self._client

    @property
    def text(self) -> str:
        """The buffered text (empty after commit)."""
        return self._text

    @property
    def text_bytes(self) -> int:
        return self._text_bytes

    @property
    def screenshot_bytes(self) -> int:
        return len(self._screenshot.data) if self._screenshot is not None else 0

    @property
    def held_bytes(self) -> int:
        """Bytes this session holds against the server's budget."""
        return self._held

    @property
    def highest_applied_seq(self) -> int:
        return self._highest_applied_seq

    @property
    def applied_chunks(self) -> int:
        return self._applied_chunks

    @property
    def output_frames(self) -> int:
        """Output frames sent, counting one whose write completed after the session ended."""
        return self._output_frames

    @property
    def committed(self) -> bool:
        return self._committed_at is not None

    @property
    def prepare_due(self) -> float | None:
        """When the buffer, unchanged until then, is to be prepared (a ``Tick`` then starts
        it); ``None`` when nothing is planned."""
        return self._speculator.due if self._speculator is not None else None

    @property
    def preparing(self) -> int:
        """The number of the preparation that should be running now; 0 when none."""
        return self._speculator.preparing if self._speculator is not None else 0

    @property
    def preparations(self) -> Preparations:
        """What became of the session's preparations so far."""
        return self._speculator.figures if self._speculator is not None else NONE_PREPARED

    @property
    def dispatched(self) -> Dispatch | None:
        """What the commit dispatched, once it did."""
        return self._dispatched

    @property
    def detached(self) -> bool:
        """Whether its stream was lost and it waits for a resume."""
        return self._detached_at is not None

    def age(self, now: float) -> float:
        return max(now - self._created_at, 0.0)

    def collected(self, now: float) -> Collected:
        """The buffer and its counts, for a shared store to keep until the next call."""
        return Collected(
            self._text,
            self._screenshot,
            self._highest_applied_seq,
            self._applied_chunks,
            self.age(now),
        )

    @property
    def deadline(self) -> float:
        """When the host must tell the actor the time (``Tick``): the session times out then
        unless a frame comes first, or (speculating) its buffer is prepared then."""
        expiry = self._expiry
        due = self.prepare_due
        return expiry if due is None else min(expiry, due)

    @property
    def _expiry(self) -> float:
        """When the session times out unless a frame comes first (monotonic seconds)."""
        if self._phase is Phase.AWAITING_OPEN:
            return self._created_at + self._limits.open_timeout_s
        hard = self._created_at + self._limits.max_duration_s
        if self._shutdown_at is not None:
            hard = min(hard, self._shutdown_at)
        if self._detached_at is not None:
            hard = min(hard, self._detached_at + self._limits.resume_ttl_s)
        if self._phase is Phase.PROCESSING:
            return hard
        return min(hard, self._last_frame_at + self._limits.idle_timeout_s)

    def timings(self, now: float) -> Timings:
        """The session's figures as of ``now`` (or of its end, once it ended)."""
        end = self._ended_at if self._ended_at is not None else now
        committed = self._committed_at
        prepared = self.preparations
        return Timings(
            collect=(committed if committed is not None else end) - self._created_at,
            total=end - self._created_at,
            commit_to_first_output=Timings.between(committed, self._first_output_at),
            pipeline=Timings.between(committed, end),
            commit_to_first_text=Timings.between(committed, self._first_at.get(OutputKind.TEXT)),
            commit_to_first_audio=Timings.between(committed, self._first_at.get(OutputKind.AUDIO)),
            llm_first_token=self._stages.get(Stage.LLM_FIRST_TOKEN),
            tts_first_byte=self._stages.get(Stage.TTS_FIRST_BYTE),
            prepared=prepared.adopted,
            prepared_ahead=prepared.ahead_s,
        )

    # -- before the session starts ---------------------------------------------------------

    def _open(self, event: Open, now: float) -> Effect:
        self._last_frame_at = now
        problem = self._check_ids(event.session_id, event.device_id)
        if isinstance(problem, SessionError):
            return self._fail(problem, now, Outcome.REFUSED)
        if event.screen is not None and (event.screen.width <= 0 or event.screen.height <= 0):
            error = SessionError(Code.INVALID_ARGUMENT, "screen width and height must be positive")
            return self._fail(error, now, Outcome.REFUSED)
        self._session_id = problem
        self._device_id = event.device_id
        self._owner = event.owner
        self._peer = event.peer
        self._client = event.client
        self._screen = event.screen
        self._restoring = event.collected
        self._phase = Phase.ADMITTING
        return _ADMIT

    def _check_ids(self, session_id: str, device_id: str) -> str | SessionError:
        """The canonical session id, or what is wrong with the ids."""
        longest = self._limits.max_id_chars
        return device_problem(device_id, longest) or canonical_session_id(session_id, longest)

    def _rejoin(self, event: Resume, now: float) -> Effect:
        self._last_frame_at = now
        session_id = canonical_session_id(event.session_id, self._limits.max_id_chars)
        if isinstance(session_id, SessionError):
            return self._fail(session_id, now, Outcome.REFUSED)
        if not event.resume_token:
            error = SessionError(Code.INVALID_ARGUMENT, "resume needs the session's resume_token")
            return self._fail(error, now, Outcome.REFUSED)
        if event.last_output_index < 0:
            error = SessionError(Code.INVALID_ARGUMENT, "last_output_index cannot be negative")
            return self._fail(error, now, Outcome.REFUSED)
        self._session_id = session_id
        self._phase = Phase.REJOINING
        return Rejoin(session_id, event.resume_token, event.last_output_index)

    def _handed_over(self, _event: HandedOver, now: float) -> None:
        self._phase = Phase.HANDED_OVER
        self._ended_at = now

    def _not_open(self, event: Collect | Commit | Cancel, now: float) -> Fail:
        kind = type(event).__name__.lower()
        error = SessionError(Code.FAILED_PRECONDITION, f"the first frame must be open, got {kind}")
        return self._fail(error, now, Outcome.REFUSED)

    def _admitted(self, _event: Admitted, now: float) -> Accept | Resumed | Fail:
        self._phase = Phase.COLLECTING
        restored, self._restoring = self._restoring, None
        if restored is None:
            return Accept(self._session_id, self._limits)
        return self._restore(restored, now)

    def _restore(self, state: Collected, now: float) -> Resumed | Fail:
        """Takes up what earlier calls collected (in another process, maybe): the same
        buffer, counts and age, its bytes held against this server's budget."""
        text_bytes = len(state.text.encode())
        shot = len(state.screenshot.data) if state.screenshot is not None else 0
        short = self._hold(text_bytes + shot)
        if short is not None:
            return self._fail(short, now, Outcome.REFUSED)
        self._text, self._text_bytes, self._screenshot = state.text, text_bytes, state.screenshot
        self._highest_applied_seq = state.highest_applied_seq
        self._applied_chunks = state.applied_chunks
        self._created_at = now - state.age_s
        return Resumed(self._session_id, self._highest_applied_seq, None)

    def _unreadable_first(self, event: Unreadable, now: float) -> Fail:
        error = SessionError(Code.INVALID_ARGUMENT, f"unreadable frame: {event.message}")
        return self._fail(error, now, Outcome.REFUSED)

    def _closed_before_open(self, _event: HalfClosed, now: float) -> Fail:
        error = SessionError(Code.FAILED_PRECONDITION, "the stream closed before its open frame")
        return self._fail(error, now, Outcome.REFUSED)

    def _stopping_before_open(self, _event: ShuttingDown, now: float) -> Fail:
        error = SessionError(Code.UNAVAILABLE, "the server is shutting down")
        return self._fail(error, now, Outcome.REFUSED)

    # -- collect ---------------------------------------------------------------------------

    def _collect(self, event: Collect, now: float) -> Ack:
        self._last_frame_at = now
        seq = event.chunk_seq
        if seq <= 0:
            error = SessionError(Code.INVALID_ARGUMENT, f"chunk_seq must be above 0, got {seq}")
            return self._ack(seq, CollectResult.REJECTED, error)
        if seq <= self._highest_applied_seq:
            return self._ack(seq, CollectResult.STALE)
        if self._applied_chunks >= self._limits.max_chunks:
            error = SessionError.over_limit(
                "max_chunks",
                "the number of collect frames",
                self._applied_chunks + 1,
                self._limits.max_chunks,
            )
            return self._ack(seq, CollectResult.REJECTED, error)
        payload = event.payload
        if isinstance(payload, Text):
            size = self._text_size(payload)
            if isinstance(size, SessionError):
                return self._ack(seq, CollectResult.REJECTED, size)
            short = self._hold(size + self.screenshot_bytes)
            if short is not None:
                return self._ack(seq, CollectResult.REJECTED, short)
            self._text, self._text_bytes = payload.merged_into(self._text), size
            return self._applied(seq, CollectResult.APPLIED, self._revised(payload.stable, now))
        if isinstance(payload, Screenshot):
            problem = self._check_screenshot(payload)
            if problem is not None:
                return self._ack(seq, CollectResult.REJECTED, problem)
            if self._screenshot is not None and self._screenshot.digest == payload.digest:
                return self._applied(seq, CollectResult.DUPLICATE_SCREENSHOT)
            short = self._hold(self._text_bytes + len(payload.data))
            if short is not None:
                return self._ack(seq, CollectResult.REJECTED, short)
            self._screenshot = payload
            return self._applied(seq, CollectResult.APPLIED, self._revised(False, now))
        error = SessionError(Code.INVALID_ARGUMENT, "a collect frame needs text or a screenshot")
        return self._ack(seq, CollectResult.REJECTED, error)

    def _revised(self, stable: bool, now: float) -> Prepare | DropPreparation | None:
        """What a change of the buffer does to its preparation (nothing without
        speculation)."""
        if self._speculator is None:
            return None
        return self._speculator.revised(
            self._text, self._text_bytes, self._screenshot, stable, now, self._buffered_request
        )

    def _buffered_request(self) -> CommittedRequest:
        return self._request(self._text, self._screenshot)

    def _request(self, text: str, screenshot: Screenshot | None) -> CommittedRequest:
        return CommittedRequest(
            session_id=self._session_id,
            device_id=self._device_id,
            text=text,
            screenshot=screenshot,
            screen=self._screen,
            client=self._client,
        )

    def _collect_after_commit(self, event: Collect, _now: float) -> Ack:
        error = SessionError(
            Code.FAILED_PRECONDITION, "the session is committed; collect frames come before commit"
        )
        return self._ack(event.chunk_seq, CollectResult.REJECTED, error)

    # -- commit and the pipeline -----------------------------------------------------------

    def _commit(self, event: Commit, now: float) -> Effect:
        self._last_frame_at = now
        text = self._text
        text_bytes = self._text_bytes
        if event.final_text is not None:
            size = self._text_size(event.final_text)
            if isinstance(size, SessionError):
                return Reject(size)
            text, text_bytes = event.final_text.merged_into(self._text), size
        screenshot = self._screenshot
        if event.screenshot is not None:
            problem = self._check_screenshot(event.screenshot)
            if problem is not None:
                return Reject(problem)
            screenshot = event.screenshot
        if not text.strip():
            return Reject(
                SessionError(Code.INVALID_ARGUMENT, "nothing to commit: the merged text is empty")
            )
        # The committed utterance stays in memory while the pipeline runs: it keeps its bytes.
        short = self._hold(text_bytes + (len(screenshot.data) if screenshot is not None else 0))
        if short is not None:
            return Reject(short)
        request = self._request(text, screenshot)
        preparation = None
        if self._speculator is not None:
            preparation = self._speculator.committed(text, text_bytes, screenshot, now)
        # Pop on commit: the buffer now belongs to the pipeline alone.
        self._text, self._text_bytes, self._screenshot = "", 0, None
        self._phase = Phase.PROCESSING
        self._committed_at = now
        self._commit_frame = event
        self._dispatched = Dispatch(request, self._highest_applied_seq, preparation)
        return self._dispatched

    def _preparation_ready(self, event: PreparationReady, now: float) -> None:
        if self._speculator is not None:
            self._speculator.ready(event.number, now)

    def _preparation_failed(self, event: PreparationFailed, _now: float) -> DropPreparation | None:
        return self._speculator.failed(event.number) if self._speculator is not None else None

    def _committed_again(self, event: Commit, now: float) -> CommitRepeated | Reject:
        self._last_frame_at = now
        if event == self._commit_frame and self._dispatched is not None:
            return CommitRepeated(self._dispatched)  # the same commit, sent again: not a rerun
        return Reject(
            SessionError(
                Code.FAILED_PRECONDITION,
                "the session is already committed; the pipeline runs once per session",
            )
        )

    def _output_sent(self, event: OutputSent, now: float) -> None:
        if self._closed:  # the figures were final
            return
        self._output_frames += 1
        if self._first_output_at is None:
            self._first_output_at = now
        self._first_at.setdefault(event.kind, now)

    def _stage_timed(self, event: StageTimed, _now: float) -> None:
        """Keeps the first report of each stage; a duration that is not a finite,
        non-negative number (a pipeline's bug) is no figure and is left out."""
        if 0.0 <= event.seconds < math.inf:
            self._stages.setdefault(event.stage, event.seconds)

    def _pipeline_finished(self, _event: PipelineFinished, now: float) -> Finish:
        return self._finish(EndReason.COMPLETED, now, Outcome.COMMITTED)

    def _pipeline_failed(self, event: PipelineFailed, now: float) -> Fail:
        error = SessionError(event.code, f"the pipeline failed: {event.message}")
        return self._fail(error, now, Outcome.ERROR)

    # -- what any live session takes -------------------------------------------------------

    def _reopen(self, _event: Open | Resume, now: float) -> Reject:
        self._last_frame_at = now
        return Reject(SessionError(Code.FAILED_PRECONDITION, "the session is already open"))

    def _cancel(self, _event: Cancel, now: float) -> Finish:
        return self._finish(EndReason.CANCELLED, now, Outcome.CANCELLED)

    def _frame_too_large(self, event: FrameTooLarge, now: float) -> Fail:
        error = SessionError.over_limit(
            "max_frame_bytes", "the frame in bytes", event.size, self._limits.max_frame_bytes
        )
        opened = self._phase is not Phase.AWAITING_OPEN
        return self._fail(error, now, Outcome.ERROR if opened else Outcome.REFUSED)

    def _unreadable(self, event: Unreadable, _now: float) -> Reject:
        return Reject(SessionError(Code.INVALID_ARGUMENT, f"unreadable frame: {event.message}"))

    def _half_closed(self, _event: HalfClosed, now: float) -> Finish | None:
        if self._phase is Phase.COLLECTING:  # nothing committed: nothing to wait for
            return self._finish(EndReason.CANCELLED, now, Outcome.CANCELLED)
        return None  # committed: the client only reads from now on

    def _refused(self, event: Refuse, now: float) -> Fail:
        return self._fail(event.error, now, Outcome.REFUSED)

    def _disconnected(self, _event: Disconnected, now: float) -> None:
        self._end(now, Outcome.DISCONNECTED)

    def _detached(self, _event: Detached, now: float) -> None:
        if self._limits.resume_ttl_s <= 0:  # nothing to wait for
            self._end(now, Outcome.DISCONNECTED)
        elif self._detached_at is None:
            self._detached_at = now

    def _reattached(self, _event: Reattached, now: float) -> Resumed:
        self._detached_at = None
        self._last_frame_at = now
        return Resumed(self._session_id, self._highest_applied_seq, self._dispatched)

    def _shutting_down(self, event: ShuttingDown, now: float) -> Effect | None:
        if self._shutdown_at is not None:
            return None  # told once
        self._shutdown_at = now + event.time_left_s
        return self._check_deadline(Tick(), now) or GoAway(event.time_left_s)

    def _tick(self, event: Tick, now: float) -> Fail | Prepare | None:
        """A deadline passed: the session ends, or (collecting) its buffer is prepared."""
        ended = self._check_deadline(event, now)
        if ended is not None or self._speculator is None or self._phase is not Phase.COLLECTING:
            return ended
        return self._speculator.tick(now, self._buffered_request)

    def _check_deadline(self, _event: Tick, now: float) -> Fail | None:
        if now < self._expiry:
            return None
        if self._phase is Phase.AWAITING_OPEN:
            seconds = self._limits.open_timeout_s
            error = SessionError(
                Code.DEADLINE_EXCEEDED,
                f"no open frame came within {seconds:g}s (open_timeout)",
                "open_timeout",
            )
            return self._fail(error, now, Outcome.TIMED_OUT)
        if self._shutdown_at is not None and now >= self._shutdown_at:
            error = SessionError(
                Code.UNAVAILABLE, "the server shut down before the session ended; open it again"
            )
            return self._fail(error, now, Outcome.ERROR)
        if self._detached_at is not None and now >= self._detached_at + self._limits.resume_ttl_s:
            seconds = self._limits.resume_ttl_s
            error = SessionError(
                Code.UNAVAILABLE,
                f"the stream was lost and no resume came within {seconds:g}s (resume_ttl)",
                "resume_ttl",
            )
            return self._fail(error, now, Outcome.DISCONNECTED)
        if now >= self._created_at + self._limits.max_duration_s:
            limit, seconds = "max_duration", self._limits.max_duration_s
            what = "the session lasted"
        else:
            limit, seconds = "idle_timeout", self._limits.idle_timeout_s
            what = "no frame came for"
        error = SessionError(Code.DEADLINE_EXCEEDED, f"{what} {seconds:g}s ({limit})", limit)
        return self._fail(error, now, Outcome.TIMED_OUT)

    def _close(self, _event: Closed, now: float) -> None:
        if self._closed:
            return
        if self._phase not in (Phase.ENDED, Phase.HANDED_OVER):  # let go without a verdict
            self._end(now, Outcome.DISCONNECTED)
        self._closed = True
        self._budget.give_back(self._held)
        self._held = 0

    # -- checks and bookkeeping ----------------------------------------------------------

    def _text_size(self, piece: Text) -> int | SessionError:
        """UTF-8 size of the buffer once ``piece`` is merged, or the limit it breaks."""
        size = len(piece.text.encode())
        if piece.mode is TextMode.DELTA:
            size += self._text_bytes
        if size > self._limits.max_text_bytes:
            return SessionError.over_limit(
                "max_text_bytes", "the text in UTF-8 bytes", size, self._limits.max_text_bytes
            )
        return size

    def _check_screenshot(self, shot: Screenshot) -> SessionError | None:
        if len(shot.data) > self._limits.max_screenshot_bytes:
            return SessionError.over_limit(
                "max_screenshot_bytes",
                "the screenshot in bytes",
                len(shot.data),
                self._limits.max_screenshot_bytes,
            )
        if not shot.data:
            return SessionError(Code.INVALID_ARGUMENT, "the screenshot has no data")
        if not shot.mime_type.startswith("image/"):
            return SessionError(
                Code.INVALID_ARGUMENT,
                f"the screenshot's mime_type must be image/*, got {shot.mime_type[:64]!r}",
            )
        if shot.width < 0 or shot.height < 0:
            return SessionError(
                Code.INVALID_ARGUMENT, "screenshot width and height cannot be negative"
            )
        return None

    def _hold(self, wanted: int) -> SessionError | None:
        """Holds ``wanted`` bytes in all against the server's budget, or says why it cannot."""
        more = wanted - self._held
        if more > 0 and not self._budget.take(more):
            limit = self._budget.limit
            return SessionError(
                Code.RESOURCE_EXHAUSTED,
                f"the server's buffers are full: {self._budget.held} bytes held by all "
                f"sessions, {more} more would pass max_buffered_bytes={limit}; "
                "retry shortly or send less",
                "max_buffered_bytes",
            )
        if more < 0:
            self._budget.give_back(-more)
        self._held = wanted
        return None

    def _applied(
        self,
        seq: int,
        result: CollectResult,
        preparation: Prepare | DropPreparation | None = None,
    ) -> Ack:
        self._highest_applied_seq = seq
        self._applied_chunks += 1
        return self._ack(seq, result, preparation=preparation)

    def _ack(
        self,
        seq: int,
        result: CollectResult,
        error: SessionError | None = None,
        preparation: Prepare | DropPreparation | None = None,
    ) -> Ack:
        return Ack(
            seq,
            self._highest_applied_seq,
            result,
            self._text_bytes,
            self._applied_chunks,
            error,
            preparation,
        )

    def _finish(self, reason: EndReason, now: float, outcome: Outcome) -> Finish:
        self._end(now, outcome)
        return Finish(reason)

    def _fail(self, error: SessionError, now: float, outcome: Outcome) -> Fail:
        self._end(now, outcome)
        self._error = error
        return Fail(error)

    def _end(self, now: float, outcome: Outcome) -> None:
        self._phase = Phase.ENDED
        self._detached_at = None
        self._outcome = outcome
        self._ended_at = now
        self._text, self._text_bytes, self._screenshot = "", 0, None
        self._budget.give_back(self._held)
        self._held = 0
        if self._speculator is not None:
            self._speculator.ended()


Transition = Callable[..., Effect | None]  # (actor, event of the keyed type, now)

_ANY_LIVE: dict[type, Transition] = {
    Open: SessionActor._reopen,
    Resume: SessionActor._reopen,
    Detached: SessionActor._detached,
    Reattached: SessionActor._reattached,
    Cancel: SessionActor._cancel,
    Unreadable: SessionActor._unreadable,
    FrameTooLarge: SessionActor._frame_too_large,
    HalfClosed: SessionActor._half_closed,
    Refuse: SessionActor._refused,
    Disconnected: SessionActor._disconnected,
    ShuttingDown: SessionActor._shutting_down,
    Tick: SessionActor._tick,
    Closed: SessionActor._close,
}

_TRANSITIONS: dict[Phase, dict[type, Transition]] = {
    Phase.AWAITING_OPEN: {
        Open: SessionActor._open,
        Resume: SessionActor._rejoin,
        Collect: SessionActor._not_open,
        Commit: SessionActor._not_open,
        Cancel: SessionActor._not_open,
        Unreadable: SessionActor._unreadable_first,
        FrameTooLarge: SessionActor._frame_too_large,
        HalfClosed: SessionActor._closed_before_open,
        Refuse: SessionActor._refused,
        Disconnected: SessionActor._disconnected,
        ShuttingDown: SessionActor._stopping_before_open,
        Tick: SessionActor._check_deadline,
        Closed: SessionActor._close,
    },
    Phase.ADMITTING: {
        Admitted: SessionActor._admitted,
        Refuse: SessionActor._refused,
        Disconnected: SessionActor._disconnected,
        Closed: SessionActor._close,
    },
    Phase.REJOINING: {
        HandedOver: SessionActor._handed_over,
        Refuse: SessionActor._refused,
        Disconnected: SessionActor._disconnected,
        Closed: SessionActor._close,
    },
    Phase.COLLECTING: {
        **_ANY_LIVE,
        Collect: SessionActor._collect,
        Commit: SessionActor._commit,
        PreparationReady: SessionActor._preparation_ready,
        PreparationFailed: SessionActor._preparation_failed,
        HandedOver: SessionActor._handed_over,  # its buffer went to a shared store
    },
    Phase.PROCESSING: {
        **_ANY_LIVE,
        Collect: SessionActor._collect_after_commit,
        Commit: SessionActor._committed_again,
        OutputSent: SessionActor._output_sent,
        StageTimed: SessionActor._stage_timed,
        PipelineFinished: SessionActor._pipeline_finished,
        PipelineFailed: SessionActor._pipeline_failed,
    },
    Phase.ENDED: {
        # A write that was in flight when the session ended completed: it was sent.
        OutputSent: SessionActor._output_sent,
        Closed: SessionActor._close,
    },
    Phase.HANDED_OVER: {Closed: SessionActor._close},
}
"""For each phase, the events it takes and what it does with them; anything else is ignored."""
