"""A raw legacy client for tests, built on the stubs of the frozen ``streaming.proto`` only."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field

import grpc

from nexy_stream._proto import streaming_pb2 as pb
from nexy_stream._proto import streaming_pb2_grpc as rpc
from tests.wire import read_to_end

HARDWARE_ID = "hw-1"
COLLECT = pb.REQUEST_PHASE_COLLECT
COMMIT = pb.REQUEST_PHASE_COMMIT
UNSPECIFIED = pb.REQUEST_PHASE_UNSPECIFIED


def new_session_id() -> str:
    return str(uuid.uuid4())


def webp(data: bytes) -> str:
    """Base64, as deployed clients send screenshots."""
    return base64.b64encode(data).decode()


@dataclass
class Reply:
    """Everything one StreamAudio call answered, and how it closed."""

    responses: list[pb.StreamResponse] = field(default_factory=list)
    code: grpc.StatusCode | None = None
    details: str = ""

    @property
    def text(self) -> str:
        return "".join(r.text_chunk for r in self.responses if r.HasField("text_chunk"))

    @property
    def audio(self) -> list[pb.AudioChunk]:
        return [r.audio_chunk for r in self.responses if r.HasField("audio_chunk")]

    def kinds(self) -> list[str]:
        return [str(r.WhichOneof("content")) for r in self.responses]

    @property
    def last(self) -> pb.StreamResponse:
        return self.responses[-1]


async def drain(call: grpc.aio.UnaryStreamCall[pb.StreamRequest, pb.StreamResponse]) -> Reply:
    return Reply(*await read_to_end(call))


class LegacyClient:
    """Sends the calls a deployed desktop client sends; ``metadata`` goes with every call (a
    credential, for a client that can send one)."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        hardware_id: str = HARDWARE_ID,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.stub = rpc.StreamingServiceStub(channel)
        self.hardware_id = hardware_id
        self.metadata = metadata

    def request(self, session_id: str, **fields: object) -> pb.StreamRequest:
        fields.setdefault("hardware_id", self.hardware_id)
        return pb.StreamRequest(session_id=session_id, **fields)  # type: ignore[arg-type]

    def start(
        self, request: pb.StreamRequest
    ) -> grpc.aio.UnaryStreamCall[pb.StreamRequest, pb.StreamResponse]:
        return self.stub.StreamAudio(request, metadata=self.metadata)

    async def call(self, request: pb.StreamRequest) -> Reply:
        return await drain(self.start(request))

    async def collect(
        self, session_id: str, seq: int, text: str | None = None, **fields: object
    ) -> Reply:
        if text is not None:
            fields["chunk_text"] = text
        return await self.call(
            self.request(session_id, phase=COLLECT, chunk_seq=seq, prompt="", **fields)
        )

    def commit_request(
        self, session_id: str, prompt: str = "", phase: int = COMMIT, **fields: object
    ) -> pb.StreamRequest:
        return self.request(session_id, phase=phase, chunk_seq=0, prompt=prompt, **fields)

    async def commit(self, session_id: str, prompt: str = "", **fields: object) -> Reply:
        return await self.call(self.commit_request(session_id, prompt, **fields))

    async def interrupt(self, hardware_id: str | None = None) -> pb.InterruptResponse:
        request = pb.InterruptRequest(
            hardware_id=self.hardware_id if hardware_id is None else hardware_id
        )
        return await self.stub.InterruptSession(request, metadata=self.metadata)


def assert_collect_ok(reply: Reply) -> None:
    assert reply.code is grpc.StatusCode.OK, reply.details
    assert reply.kinds() == ["end_message"]
    assert reply.last.end_message == "collect_ok"


def assert_refused(reply: Reply, code: grpc.StatusCode, *words: str) -> None:
    """One error_message, the status code, and a message naming what was wrong."""
    assert reply.code is code, (reply.code, reply.details)
    assert reply.kinds() == ["error_message"]
    assert reply.last.error_message == reply.details
    for word in words:
        assert word in reply.details


def assert_answered(reply: Reply, text: str) -> None:
    assert reply.code is grpc.StatusCode.OK, reply.details
    assert reply.text == text
    assert reply.kinds()[-1] == "end_message"
    assert reply.last.end_message == "completed"
