"""One utterance over one bidirectional stream: the SDK's session, async core of both faces."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeAlias, TypeVar, cast

import anyio
import anyio.abc
import grpc

from nexy_stream.client import frames
from nexy_stream.client._messages.nexy.stream import v1 as wire
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
    CollectResult,
    Limits,
    Open,
    Screenshot,
    Text,
    TextMode,
    Timings,
)

Call: TypeAlias = "grpc.aio.StreamStreamCall[bytes, wire.ServerFrame]"
Status = tuple[grpc.StatusCode, str]
T = TypeVar("T")

# What grpcio puts in place of a call's status when a write fails because the call has just
# ended (grpc/aio/_call.py): the status the server sent is then lost to ``call.code()``.
_WRITE_FAILED = (grpc.StatusCode.INTERNAL, "Internal error from Core")


def _at_once(step: Coroutine[Any, Any, T]) -> T | None:
    """The result of a coroutine that finishes without waiting; ``None`` (and the coroutine
    closed) if it would wait. A finished call's ``code()`` and ``details()`` never wait."""
    try:
        step.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    step.close()
    return None


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

    Any server error (a fatal ``error`` frame, a rejected frame, a broken stream) fails the
    session: ``events()`` raises it after the events that preceded it, and so does every
    later call. A rejected frame also makes the SDK cancel the session, since the answer
    would not match what the application sent.
    """

    def __init__(self, call: Call, close_timeout: float, output_budget: int) -> None:
        self._call = call
        self._close_timeout = close_timeout
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
        self._status: Status | None = None  # the call's status as the server ended it
        self._status_kept = anyio.Event()
        call.add_done_callback(self._keep_status)

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

    def _keep_status(self, call: grpc.aio.Call) -> None:
        """Keeps the status the call ended with, as it is set (see ``_WRITE_FAILED``)."""
        if self._status is not None:
            return
        status = (_at_once(call.code()), _at_once(call.details()))
        if status[0] is not None and status != _WRITE_FAILED:
            self._status = (status[0], status[1] or "")
            self._status_kept.set()

    async def _transport_error(self, error: grpc.aio.AioRpcError) -> TransportError:
        """The stream's end as the server (or the transport) made it.

        grpcio replaces the status with ``_WRITE_FAILED`` when a write fails because the
        call has just ended, e.g. after the server refused a frame; the status kept as the
        call ended is the real one, and if it has not arrived yet it soon does.
        """
        if (error.code(), error.details()) == _WRITE_FAILED:
            with anyio.move_on_after(self._close_timeout):
                await self._status_kept.wait()
        code, message = self._status or (error.code(), error.details() or "")
        return TransportError(code, message)

    def _fail(self, error: NexyError) -> None:
        """Records the session's first error; later ones are consequences of it."""
        if self.error is None:
            self.error = error
            self._inbox.discard()
            self._inbox.put(error)

    async def _open(self, opening: Open, wait_s: float) -> None:
        """Send ``open`` and wait for the server's answer; raise its refusal."""
        try:
            with anyio.fail_after(wait_s):
                await self._call.write(bytes(frames.encode(opening)))
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
            raise frames.server_error(reply.error)
        if reply.accepted is None:
            raise TransportError(grpc.StatusCode.INTERNAL, f"expected accepted, got {reply!r}")
        self.session_id = reply.accepted.session_id
        self.limits = frames.limits(reply.accepted.limits)
        self.pipeline = reply.accepted.pipeline

    async def _run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """The session's I/O: the sender and the reader, cancelled together by ``_io``."""
        with self._io:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._send_frames)
                tasks.start_soon(self._read_frames)
                task_status.started()

    async def _close(self) -> None:
        """Leaving the session: cancel what remains, then stop its tasks."""
        with anyio.CancelScope(shield=True):
            await self.cancel("the application left the session")
        self._io.cancel()

    async def _read(self) -> wire.ServerFrame | None:
        """The next server frame; ``None`` at the end of the stream."""
        message = await self._call.read()
        return message if isinstance(message, wire.ServerFrame) else None

    async def _send_frames(self) -> None:
        try:
            while True:
                frame = self._outbox.take()
                if frame is None:
                    await self._wakeup.wait()
                    self._wakeup = anyio.Event()
                    continue
                data = bytes(frames.encode(frame))
                if len(data) > self.limits.max_frame_bytes:  # it grew while it waited
                    what = f"the {type(frame).__name__.lower()} frame"
                    self._reject(FrameTooLargeError(what, len(data), self.limits.max_frame_bytes))
                    continue
                await self._call.write(data)
                self.stats.frames_sent += 1
                if isinstance(frame, Cancel):
                    await self._call.done_writing()
                    return
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return  # the stream is over; the reader tells why

    async def _read_frames(self) -> None:
        try:
            while not self._finished.is_set():
                await self._inbox.room()
                try:
                    message = await self._read()
                except grpc.aio.AioRpcError as exc:
                    self._fail(await self._transport_error(exc))
                    return
                if message is None:
                    self._fail(
                        TransportError(
                            grpc.StatusCode.INTERNAL, "the stream ended without an end frame"
                        )
                    )
                    return
                self._on_frame(message)
        finally:
            self._finished.set()
            self._inbox.close()
            self._io.cancel()  # the sender has nothing left to do

    def _on_frame(self, message: wire.ServerFrame) -> None:
        if message.collect_ack is not None:
            ack = frames.ack(message.collect_ack)
            self.stats.count(ack)
            if ack.result is CollectResult.REJECTED and message.collect_ack.error is not None:
                self._reject(frames.server_error(message.collect_ack.error))
        elif message.output is not None:
            now = anyio.current_time()
            if self._first_output_at is None:
                self._first_output_at = now
            piece = frames.output(message.output)
            if piece is not None:
                self._first_piece_at.setdefault(type(piece), now)
                self._inbox.put(piece)
        elif message.commit_accepted is not None:
            self._inbox.put(frames.committed(message.commit_accepted))
        elif message.going_away is not None:
            self._inbox.put(frames.going_away(message.going_away))
        elif message.end is not None:
            self.ended = Ended(
                frames.end_reason(message.end),
                frames.timings(message.end.timings),
                message.end.output_frames,
                self._measured(),
            )
            self._inbox.put(self.ended)
            self._finished.set()
        elif message.error is not None:
            error = frames.server_error(message.error)
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
    start_call: Callable[[], Call],
    opening: Open,
    open_timeout: float,
    close_timeout: float,
    output_budget: int,
) -> AsyncIterator[Session]:
    """Opens a session on a new call and owns its tasks: leaving cancels whatever remains.

    The task group is exited with no exception on purpose: an error of the application's
    block then propagates as itself, not wrapped in an exception group (the session's own
    tasks never raise).
    """
    call = start_call()
    session = Session(call, close_timeout, output_budget)
    try:
        await session._open(opening, open_timeout)
    except BaseException:
        call.cancel()
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
