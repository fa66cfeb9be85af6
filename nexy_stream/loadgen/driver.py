"""Plays one utterance over one v1 session stream and checks every answer against the model.

Raw generated stubs (protobuf/upb) keep the client cheap, so under load it is the server
that gets measured. A writer sends the utterance while a reader takes the answers as they
come, as a real client does; a deliberate disconnect happens only once both are idle, so no
read or write is pending when the call is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import cast

import anyio
import grpc

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream._proto.nexy.stream.v1 import session_pb2_grpc as rpc
from nexy_stream.client.channel import CallMetadata, CallStatus, session_metadata
from nexy_stream.loadgen import codec
from nexy_stream.loadgen.model import SessionModel
from nexy_stream.loadgen.utterances import Chunk, Ending, Utterance
from nexy_stream.session import Code, CollectResult

_RESULTS = {
    pb.COLLECT_RESULT_APPLIED: CollectResult.APPLIED,
    pb.COLLECT_RESULT_STALE: CollectResult.STALE,
    pb.COLLECT_RESULT_DUPLICATE_SCREENSHOT: CollectResult.DUPLICATE_SCREENSHOT,
    pb.COLLECT_RESULT_REJECTED: CollectResult.REJECTED,
}
# An open that ends so, with no answer of the server's, found no server to speak of: none
# listens, or it is stopping (a call cut by its stop, before any answer, ends CANCELLED).
_NO_SERVER = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
_COMMITTING = (Ending.COMMIT, Ending.CANCEL_AFTER_COMMIT, Ending.DISCONNECT_AFTER_COMMIT)
_DISCONNECTING = (Ending.DISCONNECT, Ending.DISCONNECT_AFTER_COMMIT)


class Unreachable(Exception):
    """The server could not be reached (or stopped taking sessions): no session can run.
    ``in_band``: the server itself answered so (it is stopping), rather than the transport."""

    def __init__(self, code: grpc.StatusCode, details: str, in_band: bool = False) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details
        self.in_band = in_band


@dataclass
class SessionRecord:
    """What one session saw, which promises it found broken, and whether it failed."""

    session_id: str
    ending: Ending
    pipeline: str = ""  # what answers commits, from accepted ("echo": the exact echo is checked)
    collects_sent: int = 0
    predicted: Counter[CollectResult] = field(default_factory=Counter)  # of the frames sent
    acks: int = 0
    expected_text: str | None = None  # what the model says the commit merges to
    commits_accepted: int = 0
    committed_text: str | None = None  # what CommitAccepted said
    output_frames: int = 0
    output_text: str = ""
    end_reasons: list[int] = field(default_factory=list)
    end_output_frames: int | None = None  # what the End frame counted
    rejections: list[pb.Error] = field(default_factory=list)  # non-fatal errors
    fatal: pb.Error | None = None  # the error frame that ended the session
    going_away: bool = False  # the server said it is shutting down
    last_frame: str | None = None  # "end" or "error", once the session's last frame came
    commit_to_first_output_s: float | None = None
    status: grpc.StatusCode | None = None  # None: the client disconnected on purpose
    details: str = ""
    cancel_sent: bool = False
    resumptions: int = 0  # streams dropped on purpose and resumed (--drop-rate)
    violations: list[str] = field(default_factory=list)

    @property
    def cancel_raced_end(self) -> bool:
        """A cancel sent after commit raced the end of the stream, and the client lost it.

        When the server closes the stream as the cancel is written, grpc.aio fails the call
        on the client and drops the frames received but not yet read (the status turns
        INTERNAL, or stays OK with the frames gone). The server ran the pipeline at most
        once and ended the session as committed or cancelled; which, the client cannot tell.
        """
        return (
            self.ending is Ending.CANCEL_AFTER_COMMIT
            and self.cancel_sent
            and not self.end_reasons
            and self.status in (grpc.StatusCode.OK, grpc.StatusCode.INTERNAL)
        )

    @property
    def completed(self) -> bool:
        """The pipeline ran to its end and the client saw all of it."""
        return self.end_reasons == [pb.END_REASON_COMPLETED]

    @property
    def failure(self) -> str | None:
        """Why the session failed (the server ended it with an error status), if it did.

        A failure is allowed by the contract (a pipeline error, a shutdown after
        ``going_away``, a deadline), so it is not a broken promise; the report counts it.
        """
        if self.cancel_raced_end or self.status in (None, grpc.StatusCode.OK):
            return None
        return f"{self.status.name}: {self.details}"

    def violated(self, promise: str) -> None:
        self.violations.append(f"session {self.session_id} ({self.ending.value}): {promise}")


async def next_frame(
    call: grpc.aio.StreamStreamCall[pb.ClientFrame, pb.ServerFrame],
) -> pb.ServerFrame | None:
    """The next server frame, ``None`` at the end of the stream."""
    frame = await call.read()
    if frame is grpc.aio.EOF:  # type: ignore[attr-defined]  # grpc-stubs lags grpc.aio
        return None
    return cast(pb.ServerFrame, frame)


class Play:
    """The state shared by the writer and the reader of one session."""

    def __init__(
        self,
        call: grpc.aio.StreamStreamCall[pb.ClientFrame, pb.ServerFrame],
        record: SessionRecord,
        utterance: Utterance,
    ) -> None:
        self.call = call
        self.status = CallStatus(call)
        self.record = record
        self.utterance = utterance
        self.model = SessionModel()
        self.expected: deque[tuple[int, CollectResult, int]] = deque()
        self.highest_seen = 0
        self.commit_sent_at: float | None = None
        self.resume_token = ""

    async def write(self, pace: float) -> None:
        # The session may end early (a cancel racing the end): the reader records how.
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
            await self._write(pace)

    async def _write(self, pace: float) -> None:
        utterance = self.utterance
        for chunk in utterance.chunks:
            if pace and chunk.gap_s:
                await anyio.sleep(chunk.gap_s * pace)
            await self.send_collect(chunk)
        if utterance.ending in _COMMITTING:
            await self.send_commit()
        if utterance.ending in (Ending.CANCEL, Ending.CANCEL_AFTER_COMMIT):
            self.record.cancel_sent = True
            await self.call.write(codec.cancel_frame("load test"))
        if utterance.ending not in _DISCONNECTING:
            await self.call.done_writing()

    async def send_collect(self, chunk: Chunk) -> None:
        """Sends a collect frame, with what the model says its ack must be."""
        result = self.model.collect(chunk.seq, chunk.payload)
        self.expected.append((chunk.seq, result, self.model.highest_applied_seq))
        await self.call.write(codec.collect_frame(chunk.seq, chunk.payload))
        self.record.collects_sent += 1
        self.record.predicted[result] += 1

    async def send_commit(self) -> None:
        utterance = self.utterance
        self.record.expected_text = self.model.commit(utterance.final_text)
        self.commit_sent_at = time.perf_counter()
        await self.call.write(codec.commit_frame(utterance.final_text, utterance.final_screenshot))

    async def read(self) -> None:
        """Reads answers until the stream ends, or until a disconnecting client has seen
        what it waits for."""
        try:
            await self._read()
        except grpc.aio.AioRpcError as error:
            seen = (error.code(), error.details() or "")
            self.record.status, self.record.details = await self.status.of(seen)

    async def _read(self) -> None:
        while (frame := await self.next()) is not None:
            if self.take(frame):
                return

    async def next(self) -> pb.ServerFrame | None:
        """The next frame; ``None`` once the stream ended (its status recorded)."""
        frame = await next_frame(self.call)
        if frame is None:
            seen = await _status(self.call)
            self.record.status, self.record.details = await self.status.of(seen)
        return frame

    def take(self, frame: pb.ServerFrame) -> bool:
        """Checks one frame against the model; whether a disconnecting client has seen what
        it waits for."""
        record = self.record
        kind = frame.WhichOneof("kind")
        if record.last_frame is not None:
            record.violated(f"{kind} after the session's last frame ({record.last_frame})")
        if kind == "collect_ack":
            self._ack(frame.collect_ack)
            return record.ending is Ending.DISCONNECT and record.acks == len(self.utterance.chunks)
        if kind == "commit_accepted":
            self._commit_accepted(frame.commit_accepted)
            return record.ending is Ending.DISCONNECT_AFTER_COMMIT
        if kind == "output":
            self._output(frame.output)
        elif kind == "end":
            record.end_reasons.append(frame.end.reason)
            record.end_output_frames = frame.end.output_frames
            record.last_frame = "end"
        elif kind == "error" and frame.error.fatal:
            record.fatal, record.last_frame = frame.error, "error"
        elif kind == "error":
            record.rejections.append(frame.error)
            # The commit was rejected: nothing more will come before the drop.
            return record.ending is Ending.DISCONNECT_AFTER_COMMIT
        elif kind == "going_away":  # documented: the session goes on, within time_left
            if record.going_away:
                record.violated("a second going_away")
            record.going_away = True
        else:
            record.violated(f"unexpected frame {kind}")
        return False

    def attach(self, call: grpc.aio.StreamStreamCall[pb.ClientFrame, pb.ServerFrame]) -> None:
        """Goes on on another call of the same session (a resume)."""
        self.call, self.status = call, CallStatus(call)

    def _output(self, output: pb.Output) -> None:
        record = self.record
        record.output_frames += 1
        if output.index != record.output_frames:
            record.violated(f"output index {output.index}, expected {record.output_frames}")
        if not record.commits_accepted:
            record.violated("an output before commit_accepted")
        if record.commit_to_first_output_s is None and self.commit_sent_at is not None:
            record.commit_to_first_output_s = time.perf_counter() - self.commit_sent_at
        content = output.WhichOneof("content")
        if content == "text":
            record.output_text += output.text
        elif content == "audio":
            audio = output.audio
            if (
                audio.encoding != pb.AUDIO_ENCODING_PCM_S16LE
                or audio.sample_rate_hz <= 0
                or audio.channels <= 0
                or len(audio.data) % (2 * audio.channels)
            ):
                record.violated(
                    f"audio of {len(audio.data)} bytes, encoding {audio.encoding}, "
                    f"{audio.sample_rate_hz} Hz, {audio.channels} channels: not whole PCM s16le "
                    "frames"
                )
        else:
            record.violated("an output with no content")

    def _ack(self, ack: pb.CollectAck) -> None:
        record = self.record
        record.acks += 1
        if not self.expected:
            record.violated(f"an ack for chunk {ack.chunk_seq} that was never sent")
            return
        seq, result, highest = self.expected.popleft()
        got = _RESULTS.get(ack.result)
        if (ack.chunk_seq, got, ack.highest_applied_seq) != (seq, result, highest):
            record.violated(
                f"ack {ack.chunk_seq}/{got}/highest {ack.highest_applied_seq}, "
                f"expected {seq}/{result}/highest {highest}"
            )
        if ack.highest_applied_seq < self.highest_seen:
            record.violated(f"highest_applied_seq went back to {ack.highest_applied_seq}")
        self.highest_seen = max(self.highest_seen, ack.highest_applied_seq)

    def _commit_accepted(self, accepted: pb.CommitAccepted) -> None:
        record = self.record
        record.commits_accepted += 1
        record.committed_text = accepted.text
        if accepted.text != record.expected_text:
            record.violated(f"committed {accepted.text!r}, expected {record.expected_text!r}")
        if record.acks != record.collects_sent:
            record.violated("commit accepted before every collect was acked")


async def _status(
    call: grpc.aio.StreamStreamCall[pb.ClientFrame, pb.ServerFrame],
) -> tuple[grpc.StatusCode, str]:
    return await call.code(), await call.details() or ""


async def drive(
    stub: rpc.SessionServiceStub,
    session_id: str,
    utterance: Utterance,
    pace: float = 0.0,
    metadata: CallMetadata = (),
) -> SessionRecord:
    """Plays ``utterance`` (pauses scaled by ``pace``; 0 means none) and checks the answers.

    Raises :class:`Unreachable` when the session cannot even open for want of a server.
    """
    record, play = await open_play(stub, session_id, utterance, metadata)
    if play is None:
        return record
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(play.read)
        await play.write(pace)
    if utterance.ending in _DISCONNECTING and record.status is None:
        play.call.cancel()
    check(record)
    return record


async def open_play(
    stub: rpc.SessionServiceStub, session_id: str, utterance: Utterance, metadata: CallMetadata
) -> tuple[SessionRecord, Play | None]:
    """Opens the session: its play once accepted (``None`` when it was not, the record
    saying why). Raises :class:`Unreachable` when there is no server to speak of."""
    record = SessionRecord(session_id, utterance.ending)
    call = stub.Session(metadata=(*metadata, *session_metadata(session_id)))
    try:
        await call.write(codec.open_frame(session_id, utterance.device_id))
        first = await next_frame(call)
    except grpc.aio.AioRpcError as error:
        if error.code() in _NO_SERVER:
            raise Unreachable(error.code(), error.details() or "") from None
        record.status, record.details = error.code(), error.details() or ""
        return record, None
    if first is None or first.WhichOneof("kind") != "accepted":
        try:
            _refused(record, first, *await _status(call))
        finally:
            call.cancel()  # nothing more to read or send: the server may end the call
        return record, None
    record.pipeline = first.accepted.pipeline
    play = Play(call, record, utterance)
    play.resume_token = first.accepted.resume_token
    return record, play


def _refused(
    record: SessionRecord, first: pb.ServerFrame | None, status: grpc.StatusCode, details: str
) -> None:
    """The open was not accepted: a fatal error (a refusal the contract allows), or no
    server to speak of, or a broken promise."""
    record.status, record.details = status, details
    if status in _NO_SERVER:
        raise Unreachable(status, details, in_band=first is not None)
    if first is not None and first.WhichOneof("kind") == "error" and first.error.fatal:
        record.fatal, record.last_frame = first.error, "error"
        _check_fatal(record)
    else:
        record.violated(f"open answered with {first}")


ECHO = "echo"  # the pipeline whose answer is exactly the committed text


def check(record: SessionRecord) -> None:
    """The promises a finished session must have kept, given how it ended and whatever the
    pipeline; the exact echo only where the server says it runs the echo pipeline."""
    if record.cancel_raced_end:
        return
    _check_fatal(record)
    if record.failure is not None or record.fatal is not None:
        return
    if record.acks != record.collects_sent:
        record.violated(f"{record.collects_sent} collect frames but {record.acks} acks")
    ending = record.ending
    rejected = ending in _COMMITTING and record.expected_text is None
    if rejected:
        codes = [(e.code, e.fatal) for e in record.rejections]
        if codes != [(Code.INVALID_ARGUMENT, False)]:
            record.violated(f"an empty commit must be rejected once, got {codes}")
    elif record.rejections:
        record.violated(f"unexpected errors {[e.message for e in record.rejections]}")
    expected_commits = 1 if ending in _COMMITTING and not rejected else 0
    if record.commits_accepted != expected_commits:
        record.violated(f"{record.commits_accepted} CommitAccepted, expected {expected_commits}")
    if ending in _DISCONNECTING:
        return
    completed, cancelled = [pb.END_REASON_COMPLETED], [pb.END_REASON_CANCELLED]
    if ending is Ending.COMMIT and not rejected:
        allowed = [completed]
    elif ending is Ending.CANCEL_AFTER_COMMIT and not rejected:
        allowed = [completed, cancelled]  # the pipeline may finish before the cancel arrives
    else:
        allowed = [cancelled]
    if record.end_reasons not in allowed:
        record.violated(f"end frames {record.end_reasons}, expected one of {allowed}")
    if record.completed and record.end_output_frames != record.output_frames:
        record.violated(
            f"end counted {record.end_output_frames} output frames, {record.output_frames} came"
        )
    if record.pipeline == ECHO:
        _check_echo(record)


def _check_fatal(record: SessionRecord) -> None:
    """A fatal error frame is followed by the same status code."""
    fatal, status = record.fatal, record.status
    if fatal is not None and status is not None and status.value[0] != fatal.code:
        record.violated(f"a fatal error with code {fatal.code}, then status {status.name}")


def _check_echo(record: SessionRecord) -> None:
    committed = record.committed_text or ""
    if record.completed and record.output_text != committed:
        record.violated(f"echoed {record.output_text!r}, committed {committed!r}")
    if not committed.startswith(record.output_text):
        record.violated(f"output {record.output_text!r} is not part of {committed!r}")
