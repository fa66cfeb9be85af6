"""The bounds every session lives within."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-session bounds, sent to the client when its session opens.

    The defaults fit a push-to-talk utterance: a few minutes of speech, one screenshot.
    ``max_frame_bytes`` bounds a whole frame (checked by the host on the raw bytes), so it
    is kept above the largest screenshot a frame may legitimately carry.
    """

    max_text_bytes: int = 64 * 1024
    max_chunks: int = 4096
    max_screenshot_bytes: int = 8 * 1024 * 1024
    max_frame_bytes: int = 8 * 1024 * 1024 + 256 * 1024
    idle_timeout_s: float = 30.0
    max_duration_s: float = 300.0
    # A stream must say who it is (open) this soon, or it is dropped: a connection that
    # never opens holds memory for nothing.
    open_timeout_s: float = 5.0
    # A session whose stream is lost waits this long for a resume (0: it ends at once).
    resume_ttl_s: float = 30.0
    # Outputs already sent are kept this long (in bytes) for a resume to send them again.
    max_replay_bytes: int = 4 * 1024 * 1024
    max_id_chars: int = 128

    def __post_init__(self) -> None:
        for name in ("max_text_bytes", "max_chunks", "max_screenshot_bytes", "max_frame_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("idle_timeout_s", "max_duration_s", "open_timeout_s", "max_replay_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.resume_ttl_s < 0:
            raise ValueError("resume_ttl_s cannot be negative")
        if self.max_frame_bytes <= self.max_screenshot_bytes:
            raise ValueError("max_frame_bytes must exceed max_screenshot_bytes")
