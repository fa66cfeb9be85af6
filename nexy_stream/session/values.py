"""Domain values shared by the session core, the transports and the pipeline."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum


class TextMode(Enum):
    """How a piece of text combines with the text buffered so far."""

    SNAPSHOT = "snapshot"  # the whole hypothesis so far: replaces
    DELTA = "delta"  # a continuation: appended as is


@dataclass(frozen=True, slots=True)
class Text:
    """``stable``: the speech recognizer says this text is final (end of speech, a final
    segment); a server that speculates may prepare the answer to it at once."""

    text: str
    mode: TextMode = TextMode.SNAPSHOT
    stable: bool = False

    def merged_into(self, buffered: str) -> str:
        return buffered + self.text if self.mode is TextMode.DELTA else self.text


@dataclass(frozen=True, slots=True)
class Screenshot:
    data: bytes
    mime_type: str
    width: int = 0
    height: int = 0
    digest: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: de-duplication compares content, never the bytes twice.
        object.__setattr__(self, "digest", hashlib.blake2b(self.data, digest_size=16).digest())


@dataclass(frozen=True, slots=True)
class Collected:
    """What a collecting session holds, as a shared store keeps it between the calls of a
    legacy utterance, for the process that takes the next call to restore (``Open``)."""

    text: str = ""
    screenshot: Screenshot | None = None
    highest_applied_seq: int = 0
    applied_chunks: int = 0
    age_s: float = 0.0  # since the session's first frame, whichever process took it


@dataclass(frozen=True, slots=True)
class ClientInfo:
    name: str = ""
    version: str = ""
    platform: str = ""


@dataclass(frozen=True, slots=True)
class Owner:
    """Whom a session belongs to: an authenticated principal and, for a legacy session, its
    hardware id too (alone when the deployed client sent no credential). Session ids are
    unique per owner, so one owner can neither reach nor probe another's sessions.
    ``Owner()`` is the anonymous owner of a v1 session on a server without authentication."""

    principal: str = ""
    hardware_id: str = ""

    def __str__(self) -> str:
        if self.principal:
            return self.principal
        return f"hardware:{self.hardware_id}" if self.hardware_id else "anonymous"


ANONYMOUS = Owner()


@dataclass(frozen=True, slots=True)
class ScreenSize:
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class CommittedRequest:
    """What the pipeline receives: the merged utterance, handed over exactly once."""

    session_id: str
    device_id: str
    text: str
    screenshot: Screenshot | None = None
    screen: ScreenSize | None = None
    client: ClientInfo = field(default_factory=ClientInfo)


class EndReason(Enum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Outcome(Enum):
    """How a session ended; a bounded set, fit for metric labels."""

    COMMITTED = "committed"
    CANCELLED = "cancelled"
    DISCONNECTED = "disconnected"
    TIMED_OUT = "timed_out"
    REFUSED = "refused"
    ERROR = "error"


class Discard(Enum):
    """Why a preparation was not adopted: a bounded set, fit for metric labels."""

    REVISED = "revised"  # the interim text (or the screenshot) changed before the commit
    TEXT_DIFFERS = "text_differs"  # the commit's text is not the one prepared
    SCREENSHOT_DIFFERS = "screenshot_differs"  # the commit's screenshot is another
    FAILED = "failed"  # the pipeline raised while preparing
    SESSION_ENDED = "session_ended"  # cancel, disconnect, deadline or shutdown before commit


class OutputKind(Enum):
    """What an output frame carried."""

    TEXT = "text"
    AUDIO = "audio"


class Stage(Enum):
    """The stages of a run a pipeline can time: a fixed set, so each is a field of the
    session's timings (named like the member's value) and a bounded metric label."""

    LLM_FIRST_TOKEN = "llm_first_token"  # the LLM request sent -> its first token of text
    TTS_FIRST_BYTE = "tts_first_byte"  # the first sentence's speech request -> its first byte


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds between the moments of a session; ``None`` where a moment never came.

    The server measures ``collect`` .. ``commit_to_first_audio`` by its clock; the stages
    (``llm_first_token``, ``tts_first_byte``) are durations the pipeline measured and
    reported (see :class:`Stage`).
    """

    collect: float
    total: float
    commit_to_first_output: float | None = None
    pipeline: float | None = None
    commit_to_first_text: float | None = None
    commit_to_first_audio: float | None = None
    llm_first_token: float | None = None
    tts_first_byte: float | None = None
    prepared: bool = False  # the answer was prepared during collect (speculation adopted)
    prepared_ahead: float | None = None  # how much sooner its first output came for it

    @staticmethod
    def between(start: float | None, moment: float | None) -> float | None:
        """Seconds from ``start`` to ``moment``; ``None`` unless both came."""
        return moment - start if start is not None and moment is not None else None

    def stage(self, stage: Stage) -> float | None:
        """The duration of one stage, as the pipeline reported it."""
        seconds: float | None = getattr(self, stage.value)
        return seconds
