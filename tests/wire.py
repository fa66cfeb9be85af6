"""A raw v1 client for tests, built on the generated stubs only (no SDK)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream._proto.nexy.stream.v1 import session_pb2_grpc as rpc
from nexy_stream.client.channel import CallStatus

DELTA = pb.TEXT_MODE_DELTA
SNAPSHOT = pb.TEXT_MODE_SNAPSHOT


def open_frame(session_id: str | None = None, device_id: str = "device-1") -> pb.ClientFrame:
    return pb.ClientFrame(
        open=pb.Open(session_id=session_id or str(uuid.uuid4()), device_id=device_id)
    )


def text_frame(seq: int, text: str, mode: int = SNAPSHOT) -> pb.ClientFrame:
    return pb.ClientFrame(collect=pb.Collect(chunk_seq=seq, text=pb.Text(text=text, mode=mode)))


def screenshot_frame(seq: int, data: bytes, mime_type: str = "image/webp") -> pb.ClientFrame:
    shot = pb.Screenshot(data=data, mime_type=mime_type, width=10, height=10)
    return pb.ClientFrame(collect=pb.Collect(chunk_seq=seq, screenshot=shot))


def commit_frame(text: str | None = None, mode: int = SNAPSHOT) -> pb.ClientFrame:
    commit = pb.Commit()
    if text is not None:
        commit.final_text.CopyFrom(pb.Text(text=text, mode=mode))
    return pb.ClientFrame(commit=commit)


def cancel_frame(reason: str = "") -> pb.ClientFrame:
    return pb.ClientFrame(cancel=pb.Cancel(reason=reason))


def resume_frame(session_id: str, token: str, last_output_index: int = 0) -> pb.ClientFrame:
    resume = pb.Resume(
        session_id=session_id, resume_token=token, last_output_index=last_output_index
    )
    return pb.ClientFrame(resume=resume)


@dataclass
class Answer:
    """Everything the server sent after commit, and how the stream closed."""

    frames: list[pb.ServerFrame] = field(default_factory=list)
    code: grpc.StatusCode | None = None
    details: str = ""

    @property
    def text(self) -> str:
        return "".join(f.output.text for f in self.frames if f.output.HasField("text"))

    @property
    def audio(self) -> list[pb.Audio]:
        return [f.output.audio for f in self.frames if f.output.HasField("audio")]

    def kinds(self) -> list[str]:
        return [str(f.WhichOneof("kind")) for f in self.frames]


def is_last(frame: pb.ServerFrame) -> bool:
    """A session's last frame: its end, or a fatal error."""
    kind = frame.WhichOneof("kind")
    return kind == "end" or (kind == "error" and frame.error.fatal)


async def read_to_end(
    call: Any, on_last: Callable[[], Awaitable[None]] | None = None
) -> tuple[list[Any], grpc.StatusCode, str]:
    """Every message of a server stream, then the status it closed with (errors included);
    ``on_last`` runs when a v1 session's last frame comes."""
    messages: list[Any] = []
    try:
        while (message := await call.read()) is not grpc.aio.EOF:
            messages.append(message)
            if on_last is not None and is_last(message):
                await on_last()
    except grpc.aio.AioRpcError as error:
        return messages, error.code(), error.details() or ""
    return messages, await call.code(), await call.details() or ""


class RawSession:
    """One session stream driven frame by frame; ``metadata`` goes with the call (a
    credential: ``tests.auth_keys.bearer(token)``)."""

    def __init__(
        self, channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.call = rpc.SessionServiceStub(channel).Session(metadata=metadata)
        self.status = CallStatus(self.call)

    async def send(self, frame: pb.ClientFrame) -> None:
        """Writes a frame; a write the server's end of the call beat is left to ``drain``
        (which reports the status the server set, not grpcio's write-failed placeholder)."""
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
            await self.call.write(frame)

    async def recv(self) -> pb.ServerFrame:
        frame = await self.call.read()
        assert frame is not grpc.aio.EOF, "the stream ended"
        if is_last(frame):  # as the SDK does: the call then ends with both sides closed
            await self.half_close()
        return frame

    async def half_close(self) -> None:
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
            await self.call.done_writing()

    async def exchange(self, frame: pb.ClientFrame) -> pb.ServerFrame:
        await self.send(frame)
        return await self.recv()

    async def open(self, session_id: str | None = None, device_id: str = "device-1") -> pb.Accepted:
        reply = await self.exchange(open_frame(session_id, device_id))
        assert reply.WhichOneof("kind") == "accepted", reply
        return reply.accepted

    async def drain(self) -> Answer:
        """Read to the end of the stream, recording the closing status (half-closing on
        the last frame, as the SDK does)."""
        frames, code, details = await read_to_end(self.call, self.half_close)
        return Answer(frames, *await self.status.of((code, details)))
