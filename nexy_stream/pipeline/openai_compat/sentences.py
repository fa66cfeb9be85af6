"""Cutting the LLM's streamed text into sentences for the TTS, as the text arrives.

The first sentence is spoken while the LLM writes the rest, so it is cut as soon as it is
known to be over: at ``.``, ``!``, ``?`` (and their CJK forms) or ``…`` followed by white
space, or at a line break. A cut waits for that white space, so "3.14" or "e.g." stay whole.
Very short pieces ("Hi!") are joined to the next one: a TTS speaks a whole sentence better.
A run-on without such a cut is cut at a comma or a space once it is ``max_chars`` long.
"""

from __future__ import annotations

import re

_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f]+[\"')\]\u00bb\u201d\u2019]*\s+|\n+")
_COMMA = re.compile(r"[,;:]\s+")
_SPACE = re.compile(r"\s+")


class SentenceSplitter:
    """Feed it text deltas; it returns each sentence once it is complete."""

    def __init__(self, min_chars: int = 12, max_chars: int = 400) -> None:
        self.min_chars = min_chars
        self.max_chars = max_chars
        self._pending = ""

    def feed(self, delta: str) -> list[str]:
        """The sentences that ``delta`` completed, in order (often none).

        However the text is split into deltas, the sentences are the same.
        """
        self._pending += delta
        done: list[str] = []
        while (sentence := self._next()) is not None:
            done.append(sentence)
        return done

    def flush(self) -> str:
        """What is left once the text has ended (possibly an empty string)."""
        rest, self._pending = self._pending.strip(), ""
        return rest

    def _next(self) -> str | None:
        self._pending = self._pending.lstrip()
        for match in _END.finditer(self._pending):
            sentence = self._pending[: match.end()].strip()
            if len(sentence) > self.max_chars:
                break
            if len(sentence) >= self.min_chars:
                self._pending = self._pending[match.end() :]
                return sentence
        if len(self._pending.rstrip()) > self.max_chars:
            return self._cut_run_on()
        return None

    def _cut_run_on(self) -> str:
        head = self._pending[: self.max_chars]
        cuts = [m.end() for m in _COMMA.finditer(head)] or [m.end() for m in _SPACE.finditer(head)]
        cut = cuts[-1] if cuts else self.max_chars
        sentence, self._pending = self._pending[:cut].strip(), self._pending[cut:]
        return sentence
