"""The session actor: every collect/commit rule, in one pure state machine."""

from __future__ import annotations

from enum import Enum

from nexy_stream.session.effects import (
    Accept,
    Ack,
    CollectResult,
    Dispatch,
    Effect,
    Fail,
    Finish,
    GoAway,
    Reject,
)
from nexy_stream.session.errors import Code, SessionError
from nexy_stream.session.events import (
    Cancel,
    Collect,
    Commit,
    Disconnected,
    Event,
    HalfClosed,
    Open,
    OutputSent,
    PipelineFailed,
    PipelineFinished,
    Refuse,
    ShuttingDown,
    Tick,
    Unreadable,
)
from nexy_stream.session.ids import canonical_session_id, device_problem
from nexy_stream.session.limits import Limits
from nexy_stream.session.values import (
    ClientInfo,
    CommittedRequest,
    EndReason,
    Outcome,
    Screenshot,
    ScreenSize,
    Text,
    TextMode,
    Timings,
)


class Phase(Enum):
    AWAITING_OPEN = "awaiting_open"
    COLLECTING = "collecting"
    PROCESSING = "processing"
    ENDED = "ended"


class SessionActor:
    """Owns one session's state and decides what every event leads to.

    ``handle(event, now)`` returns at most one effect. The state is independent of any
    stream, so a host may keep an actor across a dropped stream and attach another one.
    """

    def __init__(self, limits: Limits, now: float) -> None:
        self.limits = limits
        self.phase = Phase.AWAITING_OPEN
        self.outcome: Outcome | None = None
        self.session_id = ""
        self.device_id = ""
        self.client = ClientInfo()
        self.screen: ScreenSize | None = None
        # The buffer: popped (reset) at commit, discarded on every other end.
        self.text = ""
        self.text_bytes = 0
        self.screenshot: Screenshot | None = None
        self.highest_applied_seq = 0
        self.applied_chunks = 0
        self.output_frames = 0
        self.created_at = now
        self.last_frame_at = now
        self.committed_at: float | None = None
        self.first_output_at: float | None = None
        self.ended_at: float | None = None
        self.shutdown_at: float | None = None

    # -- the one entry point -------------------------------------------------------------

    def handle(self, event: Event, now: float) -> Effect | None:
        if type(event) is Collect and self.phase is Phase.COLLECTING:  # most events are
            self.last_frame_at = now
            return self._collect(event)
        if self.phase is Phase.ENDED:
            return None
        match event:
            case Open() | Collect() | Commit() | Cancel():
                return self._frame(event, now)
            case Refuse(error):
                return self._fail(error, now, Outcome.REFUSED)
            case Unreadable(message):
                error = SessionError(Code.INVALID_ARGUMENT, f"unreadable frame: {message}")
                if self.phase is Phase.AWAITING_OPEN:
                    return self._fail(error, now, Outcome.REFUSED)
                return Reject(error)
            case HalfClosed():
                return self._half_closed(now)
            case Disconnected():
                self._end(now, Outcome.DISCONNECTED)
                return None
            case OutputSent():
                self.output_frames += 1
                if self.first_output_at is None:
                    self.first_output_at = now
                return None
            case PipelineFinished():
                return self._finish(EndReason.COMPLETED, now, Outcome.COMMITTED)
            case PipelineFailed(message, code):
                error = SessionError(code, f"the pipeline failed: {message}")
                return self._fail(error, now, Outcome.ERROR)
            case ShuttingDown(time_left_s):
                return self._shutting_down(time_left_s, now)
            case Tick():
                return self._check_deadline(now)

    @property
    def deadline(self) -> float:
        """When the session times out unless a frame comes first (monotonic seconds)."""
        hard = self.created_at + self.limits.max_duration_s
        if self.shutdown_at is not None:
            hard = min(hard, self.shutdown_at)
        if self.phase is Phase.PROCESSING:
            return hard
        return min(hard, self.last_frame_at + self.limits.idle_timeout_s)

    def timings(self, now: float) -> Timings:
        end = self.ended_at if self.ended_at is not None else now
        committed = self.committed_at
        return Timings(
            collect=(committed if committed is not None else end) - self.created_at,
            total=end - self.created_at,
            commit_to_first_output=(
                self.first_output_at - committed
                if committed is not None and self.first_output_at is not None
                else None
            ),
            pipeline=end - committed if committed is not None else None,
        )

    # -- client frames -------------------------------------------------------------------

    def _frame(self, event: Open | Collect | Commit | Cancel, now: float) -> Effect | None:
        self.last_frame_at = now
        if self.phase is Phase.AWAITING_OPEN:
            if isinstance(event, Open):
                return self._open(event, now)
            kind = type(event).__name__.lower()
            error = SessionError(
                Code.FAILED_PRECONDITION, f"the first frame must be open, got {kind}"
            )
            return self._fail(error, now, Outcome.REFUSED)
        match event:  # the most frequent first
            case Collect():
                return self._collect(event)
            case Open():
                return Reject(SessionError(Code.FAILED_PRECONDITION, "the session is already open"))
            case Commit():
                return self._commit(event, now)
            case Cancel():
                return self._finish(EndReason.CANCELLED, now, Outcome.CANCELLED)

    def _open(self, event: Open, now: float) -> Effect:
        problem = self._check_ids(event.session_id, event.device_id)
        if isinstance(problem, SessionError):
            return self._fail(problem, now, Outcome.REFUSED)
        if event.screen is not None and (event.screen.width <= 0 or event.screen.height <= 0):
            error = SessionError(Code.INVALID_ARGUMENT, "screen width and height must be positive")
            return self._fail(error, now, Outcome.REFUSED)
        self.session_id = problem
        self.device_id = event.device_id
        self.client = event.client
        self.screen = event.screen
        self.phase = Phase.COLLECTING
        return Accept(self.session_id, self.limits)

    def _check_ids(self, session_id: str, device_id: str) -> str | SessionError:
        """The canonical session id, or what is wrong with the ids."""
        longest = self.limits.max_id_chars
        return device_problem(device_id, longest) or canonical_session_id(session_id, longest)

    def _collect(self, event: Collect) -> Ack:
        seq = event.chunk_seq
        if self.phase is not Phase.COLLECTING:
            error = SessionError(
                Code.FAILED_PRECONDITION,
                "the session is committed; collect frames come before commit",
            )
            return self._ack(seq, CollectResult.REJECTED, error)
        if seq <= 0:
            error = SessionError(Code.INVALID_ARGUMENT, f"chunk_seq must be above 0, got {seq}")
            return self._ack(seq, CollectResult.REJECTED, error)
        if seq <= self.highest_applied_seq:
            return self._ack(seq, CollectResult.STALE)
        if self.applied_chunks >= self.limits.max_chunks:
            error = SessionError.over_limit(
                "max_chunks",
                "the number of collect frames",
                self.applied_chunks + 1,
                self.limits.max_chunks,
            )
            return self._ack(seq, CollectResult.REJECTED, error)
        payload = event.payload
        if isinstance(payload, Text):
            merged = payload.merged_into(self.text)
            size = self._text_size(payload)
            if isinstance(size, SessionError):
                return self._ack(seq, CollectResult.REJECTED, size)
            self.text, self.text_bytes = merged, size
            return self._applied(seq, CollectResult.APPLIED)
        if isinstance(payload, Screenshot):
            problem = self._check_screenshot(payload)
            if problem is not None:
                return self._ack(seq, CollectResult.REJECTED, problem)
            if self.screenshot is not None and self.screenshot.digest == payload.digest:
                return self._applied(seq, CollectResult.DUPLICATE_SCREENSHOT)
            self.screenshot = payload
            return self._applied(seq, CollectResult.APPLIED)
        error = SessionError(Code.INVALID_ARGUMENT, "a collect frame needs text or a screenshot")
        return self._ack(seq, CollectResult.REJECTED, error)

    def _commit(self, event: Commit, now: float) -> Effect:
        if self.phase is not Phase.COLLECTING:
            return Reject(
                SessionError(
                    Code.FAILED_PRECONDITION,
                    "the session is already committed; the pipeline runs once per session",
                )
            )
        text = self.text
        if event.final_text is not None:
            size = self._text_size(event.final_text)
            if isinstance(size, SessionError):
                return Reject(size)
            text = event.final_text.merged_into(self.text)
        screenshot = self.screenshot
        if event.screenshot is not None:
            problem = self._check_screenshot(event.screenshot)
            if problem is not None:
                return Reject(problem)
            screenshot = event.screenshot
        if not text.strip():
            return Reject(
                SessionError(Code.INVALID_ARGUMENT, "nothing to commit: the merged text is empty")
            )
        request = CommittedRequest(
            session_id=self.session_id,
            device_id=self.device_id,
            text=text,
            screenshot=screenshot,
            screen=self.screen,
            client=self.client,
        )
        # Pop on commit: the buffer now belongs to the pipeline alone.
        self.text, self.text_bytes, self.screenshot = "", 0, None
        self.phase = Phase.PROCESSING
        self.committed_at = now
        return Dispatch(request, self.highest_applied_seq)

    # -- checks and bookkeeping ----------------------------------------------------------

    def _text_size(self, piece: Text) -> int | SessionError:
        """UTF-8 size of the buffer once ``piece`` is merged, or the limit it breaks."""
        size = len(piece.text.encode())
        if piece.mode is TextMode.DELTA:
            size += self.text_bytes
        if size > self.limits.max_text_bytes:
            return SessionError.over_limit(
                "max_text_bytes", "the text in UTF-8 bytes", size, self.limits.max_text_bytes
            )
        return size

    def _check_screenshot(self, shot: Screenshot) -> SessionError | None:
        if len(shot.data) > self.limits.max_screenshot_bytes:
            return SessionError.over_limit(
                "max_screenshot_bytes",
                "the screenshot in bytes",
                len(shot.data),
                self.limits.max_screenshot_bytes,
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

    def _applied(self, seq: int, result: CollectResult) -> Ack:
        self.highest_applied_seq = seq
        self.applied_chunks += 1
        return self._ack(seq, result)

    def _ack(self, seq: int, result: CollectResult, error: SessionError | None = None) -> Ack:
        return Ack(
            seq, self.highest_applied_seq, result, self.text_bytes, self.applied_chunks, error
        )

    def _half_closed(self, now: float) -> Effect | None:
        if self.phase is Phase.AWAITING_OPEN:
            error = SessionError(
                Code.FAILED_PRECONDITION, "the stream closed before its open frame"
            )
            return self._fail(error, now, Outcome.REFUSED)
        if self.phase is Phase.COLLECTING:
            return self._finish(EndReason.CANCELLED, now, Outcome.CANCELLED)
        return None  # committed: the client only reads from now on

    def _shutting_down(self, time_left_s: float, now: float) -> Effect | None:
        if self.phase is Phase.AWAITING_OPEN:
            error = SessionError(Code.UNAVAILABLE, "the server is shutting down")
            return self._fail(error, now, Outcome.REFUSED)
        if self.shutdown_at is not None:
            return None  # told once
        self.shutdown_at = now + time_left_s
        return self._check_deadline(now) or GoAway(time_left_s)

    def _check_deadline(self, now: float) -> Fail | None:
        if now < self.deadline:
            return None
        if self.shutdown_at is not None and now >= self.shutdown_at:
            error = SessionError(
                Code.UNAVAILABLE, "the server shut down before the session ended; open it again"
            )
            return self._fail(error, now, Outcome.ERROR)
        if now >= self.created_at + self.limits.max_duration_s:
            limit, seconds = "max_duration", self.limits.max_duration_s
            what = "the session lasted"
        else:
            limit, seconds = "idle_timeout", self.limits.idle_timeout_s
            what = "no frame came for"
        error = SessionError(Code.DEADLINE_EXCEEDED, f"{what} {seconds:g}s ({limit})", limit)
        return self._fail(error, now, Outcome.TIMED_OUT)

    def _finish(self, reason: EndReason, now: float, outcome: Outcome) -> Finish:
        self._end(now, outcome)
        return Finish(reason, self.timings(now), self.output_frames)

    def _fail(self, error: SessionError, now: float, outcome: Outcome) -> Fail:
        self._end(now, outcome)
        return Fail(error, self.timings(now))

    def _end(self, now: float, outcome: Outcome) -> None:
        self.phase = Phase.ENDED
        self.outcome = outcome
        self.ended_at = now
        self.text, self.text_bytes, self.screenshot = "", 0, None
