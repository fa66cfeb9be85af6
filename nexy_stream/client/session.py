"""One utterance over one bidirectional stream: the SDK's session, async core of both faces."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TypeAlias

import anyio
import anyio.abc
import grpc

from nexy_stream.client import codec
from nexy_stream.client._messages.nexy.stream import v1 as wire
from nexy_stream.client.channel import CallStatus
from nexy_stream.client.errors import FrameTooLargeError, NexyError, ServerError, TransportError
from nexy_stream.client.events import (
    AudioChunk,
    Ended,
    Event,
    SessionStats,
    TextChunk,
)
from nexy_stream.client.outbox import Outbox
from nexy_stream.session import (
    Cancel,
    Collect,
    CollectResult,
    Commit,
    Limits,
    Open,
    Resume,
    Screenshot,
    Text,
    TextMode,
    Timings,
)
from nexy_stream.status import verdict_limit

Call: TypeAlias = "grpc.aio.StreamStreamCall[bytes, wire.ServerFrame]"
StartCall = Callable[[str, bool], Call]
"""Starts a new call of the session's method for a session id; ``True``: on a connection of
its own (a resume that reached another server process tries a new connection)."""

# A stream that ends with one of these and no fatal error frame of the server's was lost on
# the way (a reset, a dead server, a proxy), not ended by the session's rules: it is resumed.
_LOST = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    }
)


@dataclass(frozen=True, slots=True)
class Resumption:
    """How a session survives a lost stream: up to ``attempts`` resumes, ``backoff_s``
    doubling from one to the next up to ``max_backoff_s``, each with up to 50% jitter, and
    none after the server's ``resume_ttl``."""

    attempts: int = 5
    backoff_s: float = 0.1
    max_backoff_s: float = 2.0

    def delay(self, attempt: int) -> float:
        base = min(self.backoff_s * 2.0**attempt, self.max_backoff_s)
        return base * (1 + random.random() / 2)


def _payload_bytes(item: Event | NexyError) -> int:
    """What a piece of the answer weighs against the output budget; other events weigh 0."""
    if isinstance(item, AudioChunk):
        return len(item.data)
    if isinstance(item, TextChunk):
        return len(item.text.encode())
    return 0


class _Inbox:
    """The answer as received, until the application reads it.

    Pieces (text and audio) held here count against a byte budget, and the reader waits for
    ``room()`` before it reads the next frame: an application that reads slowly leaves the
    frames in the stream, so HTTP/2 flow control holds the server's pipeline back instead of
    this buffer growing. Other events weigh nothing, so they are never held back by it. Once
    discarding (cancelled or failed) pieces are dropped and there is always room, so a
    cancel is never stuck behind unread output.
    """

    def __init__(self, budget: int) -> None:
        self._items: deque[Event | NexyError] = deque()
        self._budget = budget
        self._held = 0
        self._discarding = False
        self._arrived = anyio.Event()
        self._freed = anyio.Event()
        self._closed = False

    def put(self, item: Event | NexyError) -> None:
        if self._discarding and isinstance(item, TextChunk | AudioChunk):
            return
        self._held += _payload_bytes(item)
        self._items.append(item)
        self._arrived.set()

    def discard(self) -> None:
        """Drops the pieces not read yet and every later one: after a cancel or an error
        they are stale."""
        self._discarding = True
        self._items = deque(i for i in self._items if not isinstance(i, TextChunk | AudioChunk))
        self._held = 0
        self._freed.set()

    def close(self) -> None:
        self._closed = True
        self._arrived.set()

    async def room(self) -> None:
        """Returns once the pieces held weigh less than the budget, so the next piece is read
        whatever its size: one heavier than the whole budget still comes through."""
        while self._held >= self._budget:
            await self._freed.wait()
            self._freed = anyio.Event()

    async def get(self) -> Event | NexyError | None:
        """The next item; ``None`` once closed and empty."""
        while not self._items:
            if self._closed:
                return None
            await self._arrived.wait()
            self._arrived = anyio.Event()
        item = self._items.popleft()
        if weight := _payload_bytes(item):
            self._held -= weight
            self._freed.set()
        return item


class Session:
    """One session (utterance): interims and screenshots, one commit, then the answer.

    Obtained from ``Client.session(...)``. Frames are sent by one sender task through an
    :class:`~nexy_stream.client.outbox.Outbox`, so ``interim``, ``screenshot`` and ``commit``
    never wait for the network: under flow-control pressure pending interims are conflated
    (the rule is documented in ``outbox.py``). The answer comes from ``events()`` (or
    ``async for event in session``) and is held in memory until read, up to the client's
    ``output_budget`` of text and audio bytes: beyond it the session stops reading the
    stream, so HTTP/2 flow control makes the server's pipeline wait for the application.
    After ``cancel()`` or an error, unread text and audio are dropped, never waited for.

    A stream lost on the way (a reset, a network change, a server that went away) is resumed
    on a new one, invisibly: the collect frames the server had not applied are sent again,
    the outputs not received come again (each exactly once), and ``events()`` just goes on;
    ``stats.resumptions`` counts it. Any server error (a fatal ``error`` frame, a rejected
    frame, a stream that cannot be resumed) fails the session: ``events()`` raises it after
    the events that preceded it, and so does every later call. A rejected frame also makes
    the SDK cancel the session, since the answer would not match what the application sent.
    """

    def __init__(
        self,
        start_call: StartCall,
        opening: Open,
        close_timeout: float,
        output_budget: int,
        resumption: Resumption | None = Resumption(),
        open_timeout: float = 10.0,
        fresh: bool = False,
    ) -> None:
        self._start_call = start_call
        self._opening = opening
        self._call = start_call(opening.session_id, fresh)
        self._close_timeout = close_timeout
        self._open_timeout = open_timeout
        self._resumption = resumption
        self.stats = SessionStats()
        self._outbox = Outbox(self.stats)
        self._wakeup = anyio.Event()
        self._inbox = _Inbox(output_budget)
        self._finished = anyio.Event()
        self._io = anyio.CancelScope()
        self._opened_at = anyio.current_time()
        self._committed_at: float | None = None
        self._first_output_at: float | None = None
        self._first_piece_at: dict[type, float] = {}  # TextChunk, AudioChunk
        self.session_id = ""
        self.limits = Limits()
        self.pipeline = ""  # the name of what answers the commit, e.g. "echo" (from accepted)
        self.error: NexyError | None = None
        self.ended: Ended | None = None
        self._status = CallStatus(self._call)  # the call's status as the server ended it
        # What a resume needs: the server's token, what was received, what was sent.
        self._resume_token = ""
        self._resume_ttl_s = 0.0
        self._last_output_index = 0
        self._unacked: deque[Collect] = deque()  # sent, not yet acknowledged
        self._commit_sent: Commit | None = None
        self._committed_seen = False  # commit_accepted (or resumed.committed) arrived
        self._cancel_sent: Cancel | None = None

    # -- what applications call ----------------------------------------------------------

    async def interim(self, text: str, delta: bool = False, stable: bool = False) -> None:
        """Collect an interim transcript: the whole hypothesis so far (snapshot), or a
        continuation appended as is (``delta=True``). ``stable=True`` says the speech
        recognizer considers the text so far final (end of speech, a final segment): a
        server that speculates starts preparing its answer at once."""
        self._raise_error()
        self._check_size("the interim's text", len(text.encode()))
        mode = TextMode.DELTA if delta else TextMode.SNAPSHOT
        self._outbox.add_text(Text(text, mode, stable))
        await self._wake()

    async def screenshot(
        self, data: bytes, *, mime_type: str, width: int = 0, height: int = 0
    ) -> None:
        """Collect an early screenshot; one equal to the newest sent is not sent again."""
        self._raise_error()
        self._check_size("the screenshot", len(data))
        self._outbox.add_screenshot(Screenshot(data, mime_type, width, height))
        await self._wake()

    async def commit(
        self,
        final_text: str | None = None,
        delta: bool = False,
        screenshot: Screenshot | None = None,
    ) -> None:
        """End the collect phase: the server merges its buffer with this, runs the pipeline
        once and answers through ``events()``. Returns at once; a second commit raises
        :class:`ProtocolUsageError` without touching the network."""
        self._raise_error()
        size = len(final_text.encode()) if final_text is not None else 0
        self._check_size(
            "the commit's text and screenshot", size + len(screenshot.data if screenshot else b"")
        )
        text = None
        if final_text is not None:
            text = Text(final_text, TextMode.DELTA if delta else TextMode.SNAPSHOT)
        self._outbox.add_commit(text, screenshot)
        self._committed_at = anyio.current_time()
        await self._wake()

    async def cancel(self, reason: str = "") -> Ended | None:
        """Abandon the session (before commit: the buffer is dropped; after: the pipeline
        stops) and wait for its end. Output not yet read is discarded: it is stale.

        Returns the last event (reason ``COMPLETED`` when the answer was already complete),
        or ``None`` when the session failed or the server did not confirm in time.
        """
        if not self._finished.is_set():
            self._outbox.add_cancel(reason)
            self._inbox.discard()
            self._wakeup.set()
            with anyio.move_on_after(self._close_timeout):
                await self._finished.wait()
            self._io.cancel()
        return self.ended

    async def events(self) -> AsyncGenerator[Event, None]:
        """The answer, in order: ``Committed``, ``TextChunk``/``AudioChunk`` pieces, then
        ``Ended``; raises the session's error in its place."""
        while (event := await self.next_event()) is not None:
            yield event

    async def next_event(self) -> Event | None:
        """The next event of the answer, ``None`` after the last; raises as ``events()``."""
        item = await self._inbox.get()
        if isinstance(item, NexyError):
            raise item
        if item is None:
            self._raise_error()
        return item

    def __aiter__(self) -> AsyncGenerator[Event, None]:
        return self.events()

    # -- the stream ----------------------------------------------------------------------

    async def _wake(self) -> None:
        self._wakeup.set()
        await anyio.lowlevel.checkpoint()  # let the sender run between bursts

    def _raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def _check_size(self, what: str, size: int) -> None:
        """Content over ``max_frame_bytes`` on its own cannot fit a frame: refused here."""
        if size > self.limits.max_frame_bytes:
            raise FrameTooLargeError(what, size, self.limits.max_frame_bytes)

    async def _transport_error(self, error: grpc.aio.AioRpcError) -> TransportError:
        """The stream's end as the server (or the transport) made it (see CallStatus)."""
        seen = (error.code(), error.details() or "")
        return TransportError(*await self._status.of(seen, self._close_timeout))

    def _fail(self, error: NexyError) -> None:
        """Records the session's first error; later ones are consequences of it."""
        if self.error is None:
            self.error = error
            self._inbox.discard()
            self._inbox.put(error)

    async def _open(self) -> None:
        """Send ``open`` and wait for the server's answer; raise its refusal."""
        wait_s = self._open_timeout
        try:
            with anyio.fail_after(wait_s):
                await self._call.write(bytes(codec.encode(self._opening)))
                self.stats.frames_sent += 1
                reply = await self._read()
        except TimeoutError:
            raise TransportError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"the server did not accept the session within {wait_s:g}s (open_timeout)",
            ) from None
        except grpc.aio.AioRpcError as exc:
            raise await self._transport_error(exc) from None
        if reply is None:
            raise TransportError(grpc.StatusCode.INTERNAL, "the stream ended before accepted")
        if reply.error is not None:
            # A refusal is the session's last frame: close our side too (see _stream).
            with suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                await self._call.done_writing()
            raise codec.server_error(reply.error)
        if reply.accepted is None:
            raise TransportError(grpc.StatusCode.INTERNAL, f"expected accepted, got {reply!r}")
        self.session_id = reply.accepted.session_id
        self.limits = codec.limits(reply.accepted.limits)
        self.pipeline = reply.accepted.pipeline
        self._resume_token = reply.accepted.resume_token
        ttl = reply.accepted.resume_ttl
        self._resume_ttl_s = ttl.total_seconds() if ttl is not None else 0.0

    async def _run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """The session's I/O, cancelled as a whole by ``_io``: the sender and the reader of
        the current stream, and when it is lost, a resume onto a new one."""
        try:
            with self._io:
                task_status.started()
                while (lost := await self._stream()) is not None:
                    if not await self._resume(lost):
                        return
        finally:
            self._finished.set()
            self._inbox.close()

    async def _stream(self) -> TransportError | None:
        """Runs the current stream; what broke it when it was lost on the way (and may be
        resumed), ``None`` once the session is over."""
        sender_done = anyio.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._send_frames, sender_done)
            lost = await self._read_frames()
            if lost is None:
                # The sender half-closes, so the call ends with both sides closed: a proxy
                # may turn the reset gRPC sends for a stream still open on the client's side
                # into a cancellation that loses the end (HAProxy 2.6: docs/deployment.md).
                self._wakeup.set()
                with anyio.move_on_after(self._close_timeout):
                    await sender_done.wait()
            tasks.cancel_scope.cancel()
        return lost

    async def _close(self) -> None:
        """Leaving the session: cancel what remains, then stop its tasks."""
        with anyio.CancelScope(shield=True):
            await self.cancel("the application left the session")
        self._io.cancel()

    async def _read(self) -> wire.ServerFrame | None:
        """The next server frame; ``None`` at the end of the stream."""
        message = await self._call.read()
        return message if isinstance(message, wire.ServerFrame) else None

    async def _send_frames(self, done: anyio.Event) -> None:
        try:
            while True:
                if self._finished.is_set():  # the last frame came: close our side too
                    await self._call.done_writing()
                    return
                frame = self._outbox.take()
                if frame is None:
                    await self._wakeup.wait()
                    self._wakeup = anyio.Event()
                    continue
                if not await self._send(frame):
                    return
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return  # the stream is over; the reader tells why
        finally:
            done.set()

    async def _send(self, frame: Collect | Commit | Cancel) -> bool:
        """Writes one frame, remembering what a resume would have to send again; whether
        the sender goes on (not after a cancel)."""
        data = bytes(codec.encode(frame))
        if len(data) > self.limits.max_frame_bytes:  # it grew while it waited
            what = f"the {type(frame).__name__.lower()} frame"
            self._reject(FrameTooLargeError(what, len(data), self.limits.max_frame_bytes))
            return True
        match frame:
            case Collect():
                self._unacked.append(frame)
            case Commit():
                self._commit_sent = frame
            case Cancel():
                self._cancel_sent = frame
        await self._call.write(data)
        self.stats.frames_sent += 1
        if isinstance(frame, Cancel):
            await self._call.done_writing()
            return False
        return True

    async def _read_frames(self) -> TransportError | None:
        """Reads the stream until the session is over (``None``) or the stream is lost on
        the way (what broke it, when the session can be resumed)."""
        while not self._finished.is_set():
            await self._inbox.room()
            try:
                message = await self._read()
            except grpc.aio.AioRpcError as exc:
                limit = verdict_limit(exc.trailing_metadata())
                if limit is not None:  # the server's verdict; grpc.aio dropped its error frame
                    self._fail(ServerError(exc.code(), exc.details() or "", limit))
                    return None
                error = await self._transport_error(exc)
            else:
                if message is not None:
                    self._on_frame(message)
                    continue
                error = TransportError(
                    grpc.StatusCode.INTERNAL, "the stream ended without an end frame"
                )
            if self._resumable(error):
                return error
            self._fail(error)
            return None
        return None

    def _resumable(self, error: TransportError) -> bool:
        return (
            self._resumption is not None
            and bool(self._resume_token)
            and self.error is None
            and error.code in _LOST
        )

    async def _resume(self, lost: TransportError) -> bool:
        """Takes the session over on a new stream; whether it could (or else fails it)."""
        assert self._resumption is not None
        began, fresh, problem = anyio.current_time(), False, lost.message
        for attempt in range(self._resumption.attempts):
            if anyio.current_time() - began >= self._resume_ttl_s:
                break
            await anyio.sleep(self._resumption.delay(attempt))
            outcome = await self._rejoin(self._start_call(self.session_id, fresh))
            if outcome is None:
                self.stats.resumptions += 1
                return True
            if isinstance(outcome, ServerError):  # the session is gone: no point retrying
                self._fail(outcome)
                return False
            # The next try on a connection of its own: this one may be waiting out a
            # reconnect backoff, or lead to a server process that does not have the session.
            fresh = outcome.code is grpc.StatusCode.UNAVAILABLE
            problem = outcome.message
        self._fail(
            TransportError(
                lost.code, f"{lost.message}; the session could not be resumed: {problem}"
            )
        )
        return False

    async def _rejoin(self, call: Call) -> ServerError | TransportError | None:
        """Asks the server for the session on ``call``; ``None`` once it goes on there, a
        ``ServerError`` when the server says it cannot (final), a ``TransportError`` for a
        try that may be repeated."""
        resume = Resume(self.session_id, self._resume_token, self._last_output_index)
        try:
            with anyio.fail_after(self._open_timeout):
                await call.write(bytes(codec.encode(resume)))
                reply = await call.read()
        except TimeoutError:
            call.cancel()
            return TransportError(grpc.StatusCode.DEADLINE_EXCEEDED, "no answer to resume")
        except grpc.aio.AioRpcError as exc:
            return TransportError(exc.code(), exc.details() or "")
        if not isinstance(reply, wire.ServerFrame) or reply.resumed is None:
            error = reply.error if isinstance(reply, wire.ServerFrame) else None
            if error is None:
                return TransportError(grpc.StatusCode.INTERNAL, f"resume answered {reply!r}")
            refused = codec.server_error(error)
            if refused.code is grpc.StatusCode.UNAVAILABLE:  # another process, or stopping
                return TransportError(refused.code, refused.message)
            return refused
        self._attach(call, reply.resumed)
        return None

    def _attach(self, call: Call, resumed: wire.Resumed) -> None:
        """Goes on on ``call``: what the server did not apply is sent again first."""
        self._call, self._status = call, CallStatus(call)
        highest = resumed.highest_applied_seq
        again: list[Collect | Commit | Cancel] = [f for f in self._unacked if f.chunk_seq > highest]
        self._unacked.clear()
        if resumed.committed is not None and not self._committed_seen:
            self._committed_seen = True
            self._inbox.put(codec.committed(resumed.committed))
        if self._commit_sent is not None and resumed.committed is None:
            again.append(self._commit_sent)
        if self._cancel_sent is not None:
            again.append(self._cancel_sent)
        self._outbox.send_first(again)

    def _on_frame(self, message: wire.ServerFrame) -> None:
        if message.collect_ack is not None:
            ack = codec.ack(message.collect_ack)
            self.stats.count(ack)
            while self._unacked and self._unacked[0].chunk_seq <= ack.chunk_seq:
                self._unacked.popleft()
            if ack.result is CollectResult.REJECTED and message.collect_ack.error is not None:
                self._reject(codec.server_error(message.collect_ack.error))
        elif message.output is not None:
            index = message.output.index
            if index and index <= self._last_output_index:
                return  # sent again after a resume: the application has it
            self._last_output_index = max(self._last_output_index, index)
            now = anyio.current_time()
            if self._first_output_at is None:
                self._first_output_at = now
            piece = codec.output(message.output)
            if piece is not None:
                self._first_piece_at.setdefault(type(piece), now)
                self._inbox.put(piece)
        elif message.commit_accepted is not None:
            if not self._committed_seen:  # a commit sent again after a resume is acked again
                self._committed_seen = True
                self._inbox.put(codec.committed(message.commit_accepted))
        elif message.going_away is not None:
            self._inbox.put(codec.going_away(message.going_away))
        elif message.end is not None:
            self.ended = Ended(
                codec.end_reason(message.end),
                codec.timings(message.end.timings),
                message.end.output_frames,
                self._measured(),
            )
            self._inbox.put(self.ended)
            self._finished.set()
        elif message.error is not None:
            error = codec.server_error(message.error)
            if error.fatal:
                self._fail(error)
                self._finished.set()
            else:
                self._reject(error)

    def _reject(self, error: ServerError | FrameTooLargeError) -> None:
        """A rejected (or unsent) frame fails the session and cancels it on the server."""
        self._fail(error)
        self._outbox.add_cancel(f"a frame was rejected: {error}")
        self._wakeup.set()

    def _measured(self) -> Timings:
        now, opened, committed = anyio.current_time(), self._opened_at, self._committed_at
        first = self._first_piece_at
        return Timings(
            collect=(committed if committed is not None else now) - opened,
            total=now - opened,
            commit_to_first_output=Timings.between(committed, self._first_output_at),
            pipeline=Timings.between(committed, now),
            commit_to_first_text=Timings.between(committed, first.get(TextChunk)),
            commit_to_first_audio=Timings.between(committed, first.get(AudioChunk)),
        )


@asynccontextmanager
async def open_session(
    start_call: StartCall,
    opening: Open,
    open_timeout: float,
    close_timeout: float,
    output_budget: int,
    resumption: Resumption | None = Resumption(),
    renew_id: bool = False,
    spare_channels: list[grpc.aio.Channel] | None = None,
) -> AsyncIterator[Session]:
    """Opens a session on a new call and owns its tasks: leaving cancels whatever remains.

    The task group is exited with no exception on purpose: an error of the application's
    block then propagates as itself, not wrapped in an exception group (the session's own
    tasks never raise).
    """
    try:
        session = await _opened(
            start_call, opening, open_timeout, close_timeout, output_budget, resumption, renew_id
        )
    except BaseException:
        for channel in spare_channels or ():
            await channel.close(None)
        raise
    tasks = anyio.create_task_group()
    await tasks.__aenter__()
    try:
        await tasks.start(session._run)
        yield session
    finally:
        try:
            await session._close()
        finally:
            await tasks.__aexit__(None, None, None)
            for channel in spare_channels or ():  # the connections its retries opened
                await channel.close(None)


async def _opened(
    start_call: StartCall,
    opening: Open,
    open_timeout: float,
    close_timeout: float,
    output_budget: int,
    resumption: Resumption | None,
    renew_id: bool,
) -> Session:
    """A session the server accepted. A stream lost before the answer to ``open`` is tried
    once more (nothing but the open was sent), under a new session id when the SDK chose it
    (``renew_id``): the server may have admitted the first one, which then expires
    unclaimed; an id the application chose is not tried twice. Once only: a server that
    cannot be reached at all is said at once rather than after a round of retries."""
    attempts = 1 if resumption is not None and renew_id else 0
    for attempt in range(attempts + 1):
        session = Session(
            start_call, opening, close_timeout, output_budget, resumption, open_timeout, attempt > 0
        )
        try:
            await session._open()
        except TransportError as lost:
            session._call.cancel()
            if attempt == attempts or lost.code not in _LOST:
                raise
            assert resumption is not None
            await anyio.sleep(resumption.delay(attempt))
            opening = dataclasses.replace(opening, session_id=str(uuid.uuid4()))
            continue
        except BaseException:
            session._call.cancel()
            raise
        session.stats.resumptions += attempt
        return session
    raise AssertionError("unreachable: the last attempt returns or raises")
