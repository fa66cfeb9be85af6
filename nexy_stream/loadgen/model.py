"""What the server must answer, predicted from the contract alone (the tests' oracle).

Deliberately written from session.proto's comments, not from the session actor, so a bug in
the actor shows up as a disagreement instead of being copied into the expectation. Limits
are not modelled: generated utterances stay well inside them.
"""

from __future__ import annotations

from dataclasses import dataclass

from nexy_stream.session import CollectResult, Screenshot, Text, TextMode


@dataclass
class SessionModel:
    """The buffer of one session as the contract describes it."""

    text: str = ""
    screenshot: bytes | None = None
    highest_applied_seq: int = 0
    applied_chunks: int = 0
    committed_text: str | None = None

    def collect(self, seq: int, payload: Text | Screenshot) -> CollectResult:
        """What becomes of a collect frame (a valid one, before commit)."""
        if seq <= self.highest_applied_seq:
            return CollectResult.STALE
        self.highest_applied_seq = seq
        self.applied_chunks += 1
        if isinstance(payload, Text):
            self.text = _merged(self.text, payload)
            return CollectResult.APPLIED
        if payload.data == self.screenshot:
            return CollectResult.DUPLICATE_SCREENSHOT
        self.screenshot = payload.data
        return CollectResult.APPLIED

    def commit(self, final_text: Text | None) -> str | None:
        """The text the pipeline gets, or ``None`` when the commit must be rejected (empty)."""
        text = self.text if final_text is None else _merged(self.text, final_text)
        if not text.strip():
            return None
        self.committed_text = text
        self.text, self.screenshot = "", None
        return text


def _merged(buffered: str, piece: Text) -> str:
    return buffered + piece.text if piece.mode is TextMode.DELTA else piece.text
