"""Translation between the legacy ``streaming`` messages and the session core's values.

Checks that only the legacy contract has (a UUID version 4, base64 screenshots, the
hardware id checked first) live here; every buffer rule stays with the session actor.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from nexy_stream._proto import streaming_pb2 as pb
from nexy_stream.pipeline import Output, TextOutput
from nexy_stream.server.requests import decoded
from nexy_stream.session import (
    Code,
    Collect,
    Limits,
    Screenshot,
    ScreenSize,
    SessionError,
    Text,
)
from nexy_stream.session.ids import canonical_session_id, device_problem

COLLECT_OK = "collect_ok"
COMPLETED = "completed"
INTERRUPTED = "interrupted"
SCREENSHOT_MIME_TYPE = "image/webp"


def session_key(request: pb.StreamRequest, limits: Limits) -> str | SessionError:
    """The canonical session id, or what is wrong with the ids (the hardware id first,
    as the previous server checked them)."""
    longest = limits.max_id_chars
    return device_problem(request.hardware_id, longest, "hardware_id") or canonical_session_id(
        request.session_id, longest, version=4
    )


_PHASES = {
    pb.REQUEST_PHASE_UNSPECIFIED: "REQUEST_PHASE_UNSPECIFIED (a commit, for the oldest clients)",
    pb.REQUEST_PHASE_COLLECT: "REQUEST_PHASE_COLLECT",
    pb.REQUEST_PHASE_COMMIT: "REQUEST_PHASE_COMMIT",
}


def stream_request(raw: bytes, limits: Limits) -> pb.StreamRequest | SessionError:
    """The StreamAudio request, or what is wrong with it as a whole: its size, its bytes, its
    phase. A phase this contract does not define (proto3 keeps unknown enum numbers) would
    otherwise run as a commit; such a request is refused, and nothing is run or stored."""
    if len(raw) > limits.max_frame_bytes:  # gRPC's own limit is higher: refused here, in band
        return SessionError.over_limit(
            "max_frame_bytes", "the request in bytes", len(raw), limits.max_frame_bytes
        )
    request = decoded(pb.StreamRequest, raw)
    if isinstance(request, SessionError) or request.phase in _PHASES:
        return request
    accepted = ", ".join(f"{number} {name}" for number, name in _PHASES.items())
    return SessionError(
        Code.INVALID_ARGUMENT, f"phase {request.phase} is not a request phase; accepted: {accepted}"
    )


def chunk_seq_problem(request: pb.StreamRequest) -> SessionError | None:
    """Collect calls number their chunks from 1 (commits send 0)."""
    if request.chunk_seq > 0:
        return None
    return SessionError(
        Code.INVALID_ARGUMENT,
        f"chunk_seq must be above 0 on a collect call, got {request.chunk_seq}",
    )


@dataclass(frozen=True, slots=True)
class Identified:
    """What every StreamAudio call carries besides its text, checked."""

    session_id: str
    screenshot: Screenshot | None
    screen: ScreenSize | None


def identify(request: pb.StreamRequest, limits: Limits) -> Identified | SessionError:
    """The call's canonical session id, screenshot and screen size, or the first problem
    (the ids first, as the previous server checked them)."""
    session_id = session_key(request, limits)
    if isinstance(session_id, SessionError):
        return session_id
    shot = screenshot(request)
    if isinstance(shot, SessionError):
        return shot
    return Identified(session_id, shot, screen(request))


def screen(request: pb.StreamRequest) -> ScreenSize | None:
    if request.HasField("screen_width") and request.HasField("screen_height"):
        return ScreenSize(request.screen_width, request.screen_height)
    return None


def screenshot(request: pb.StreamRequest) -> Screenshot | SessionError | None:
    """The decoded screenshot; an empty one counts as none (commits always carry the field)."""
    if not request.screenshot:
        return None
    try:
        data = base64.b64decode("".join(request.screenshot.split()), validate=True)
    except (binascii.Error, ValueError):
        return SessionError(Code.INVALID_ARGUMENT, "screenshot is not valid base64")
    return Screenshot(data, SCREENSHOT_MIME_TYPE)


def collect_events(chunk_seq: int, text: Text | None, shot: Screenshot | None) -> list[Collect]:
    """The actor's collect events for one legacy collect call.

    A legacy call may carry a screenshot *and* text under one ``chunk_seq``, while the
    actor takes one payload per sequence number. Call ``n`` therefore maps to actor numbers
    ``2n - 1`` (the screenshot, when the call has both) and ``2n`` (its last payload): the
    order of calls is kept, and a repeated or older call maps at or below ``2n`` of the
    newest call, so it is dropped as stale like any repeated frame.
    """
    payloads: list[Text | Screenshot | None] = [p for p in (shot, text) if p is not None]
    if not payloads:
        return [Collect(2 * chunk_seq, None)]
    last = 2 * chunk_seq
    return [Collect(last - len(payloads) + 1 + i, p) for i, p in enumerate(payloads)]


def output(item: Output) -> pb.StreamResponse:
    """The response for one output; audio comes already converted to what old clients
    play (:class:`nexy_stream.legacy.audio.PlayablePipeline`)."""
    if isinstance(item, TextOutput):
        return pb.StreamResponse(text_chunk=item.text)
    chunk = pb.AudioChunk(
        audio_data=item.data,
        dtype="int16",
        shape=[len(item.data) // (2 * item.channels)],
        sample_rate=item.sample_rate_hz,
        channels=item.channels,
    )
    return pb.StreamResponse(audio_chunk=chunk)


def end(message: str) -> pb.StreamResponse:
    return pb.StreamResponse(end_message=message)


def failure(error: SessionError) -> pb.StreamResponse:
    return pb.StreamResponse(error_message=error.message)
