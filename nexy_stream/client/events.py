"""What a client session reports: the typed events of the answer, and its counters."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nexy_stream.session import CollectResult, EndReason, Timings


@dataclass(frozen=True, slots=True)
class Committed:
    """The server started the pipeline with exactly this input (its answer to commit)."""

    text: str
    has_screenshot: bool
    highest_applied_seq: int


@dataclass(frozen=True, slots=True)
class TextChunk:
    """A piece of the answer's text; the pieces concatenate to the whole answer."""

    text: str


class AudioEncoding(Enum):
    PCM_S16LE = "pcm_s16le"  # raw PCM, signed 16-bit little-endian, channels interleaved


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of the answer's speech."""

    data: bytes
    sample_rate_hz: int
    channels: int
    encoding: AudioEncoding = AudioEncoding.PCM_S16LE


@dataclass(frozen=True, slots=True)
class Ended:
    """The session's last event.

    ``timings`` are the server's figures (from its End frame), its pipeline's stages
    included; ``measured`` are the same intervals seen by this client, from the moment
    ``commit()`` was called to the first output (the first text, the first audio)
    received, and from the session's open to its end (it knows no stage).
    """

    reason: EndReason
    timings: Timings
    output_frames: int
    measured: Timings


@dataclass(frozen=True, slots=True)
class GoingAway:
    """The server is shutting down: commit within ``time_left_s`` and read the answer, or the
    session fails with UNAVAILABLE; open the next session on another server."""

    time_left_s: float


Event = Committed | TextChunk | AudioChunk | GoingAway | Ended


@dataclass(frozen=True, slots=True)
class Ack:
    """The server's answer to one collect frame."""

    chunk_seq: int
    highest_applied_seq: int
    result: CollectResult
    buffered_text_bytes: int
    applied_chunks: int


@dataclass(slots=True)
class SessionStats:
    """Counters of one session; reading them is optional.

    ``conflated`` counts interims and screenshots merged into a later frame instead of sent
    on their own (see :class:`~nexy_stream.client.outbox.Outbox`); ``deduplicated`` counts
    screenshots not sent because the server already has the same content.
    """

    interims: int = 0
    screenshots: int = 0
    frames_sent: int = 0
    conflated: int = 0
    deduplicated: int = 0
    applied: int = 0
    stale: int = 0
    duplicate_screenshots: int = 0
    rejected: int = 0
    resumptions: int = 0  # the stream was lost and the session went on on a new one
    last_ack: Ack | None = None

    def count(self, ack: Ack) -> None:
        self.last_ack = ack
        match ack.result:
            case CollectResult.APPLIED:
                self.applied += 1
            case CollectResult.STALE:
                self.stale += 1
            case CollectResult.DUPLICATE_SCREENSHOT:
                self.duplicate_screenshots += 1
            case CollectResult.REJECTED:
                self.rejected += 1
