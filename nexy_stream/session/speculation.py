"""Speculative preparation: a session prepares its answer while the user is still talking.

When the interim text has stayed the same for a moment (or the client says it is final), the
session asks its host to start the pipeline on it; the host holds whatever that produces.
At commit, if the committed request is the one prepared, the preparation *is* the run and
its held output is the start of the answer; anything else discards it and the commit runs
afresh. So the client still sees the output of exactly one run of its committed request;
only its first output comes sooner.

:class:`Speculator` keeps these rules for one session, without I/O, for the actor: which
buffer to prepare, when, how many times, and what becomes of each preparation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from nexy_stream.session.effects import Adopt, DropPreparation, Prepare
from nexy_stream.session.values import CommittedRequest, Discard, Screenshot


@dataclass(frozen=True, slots=True)
class Speculation:
    """A server's rules for preparing answers during collect (``serve --speculate``).

    ``after_s``: the interim text must stay the same this long before a preparation starts
    (unless the client marks it stable); ``max_per_session``: preparations a session may
    start in all; ``max_held_bytes``: output a preparation may hold before it waits for the
    commit (text and audio bytes); ``max_text_bytes``: a buffered text longer than this
    (UTF-8) is not prepared, so the revisions of a long text are never normalised one after
    another (about 300 words: longer utterances gain little from it).
    """

    after_s: float = 0.3
    max_per_session: int = 3
    max_held_bytes: int = 1024 * 1024
    max_text_bytes: int = 2048

    def __post_init__(self) -> None:
        if self.after_s < 0:
            raise ValueError(f"after_s cannot be negative, got {self.after_s:g}")
        if self.max_per_session <= 0:
            raise ValueError(f"max_per_session must be positive, got {self.max_per_session}")
        if self.max_held_bytes <= 0:
            raise ValueError(f"max_held_bytes must be positive, got {self.max_held_bytes}")
        if self.max_text_bytes <= 0:
            raise ValueError(f"max_text_bytes must be positive, got {self.max_text_bytes}")


@dataclass(frozen=True, slots=True)
class Preparations:
    """What became of a session's preparations: how many started, whether the commit
    adopted one (and how much sooner that made the answer), how many were discarded, why."""

    started: int = 0
    adopted: bool = False
    ahead_s: float | None = None
    discarded: Mapping[Discard, int] = field(default_factory=dict)


NONE_PREPARED = Preparations()

_SPACES = re.compile(r"\s+")
_ASCII_PUNCTUATION = {
    code: None for code in range(128) if unicodedata.category(chr(code)).startswith("P")
}


def normalised(text: str) -> str:
    """The text as adoption compares it: NFKC, case-folded, punctuation (Unicode category
    P) removed, white space collapsed to single spaces and trimmed. So "What's on my
    screen?" and "whats on  my screen" are the same request; "on my screen" is not.
    (Symbols such as "+" or "$" are kept: "2+2" is not "22".)"""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii():  # the common case, at C speed
        kept = folded.translate(_ASCII_PUNCTUATION)
    else:
        kept = "".join(c for c in folded if not unicodedata.category(c).startswith("P"))
    return _SPACES.sub(" ", kept).strip()


Key = tuple[str, bytes | None]
"""What a preparation is for: the normalised text and the screenshot's digest."""

_NOTHING: Key = ("", None)  # nothing to prepare: an empty or too long text


def key_of(text: str, screenshot: Screenshot | None) -> Key:
    return normalised(text), screenshot.digest if screenshot is not None else None


@dataclass(slots=True)
class _Running:
    number: int
    key: Key
    started_at: float
    ready_at: float | None = None  # its first output was held


class Speculator:
    """One session's preparations, decided as its buffer changes (see the module).

    Each method returns the effect the host must carry out, if any: ``Prepare`` (start it;
    it replaces the running one, if any), ``DropPreparation`` (stop it) or, at commit,
    ``Adopt``. At most one preparation runs at a time.
    """

    def __init__(self, rules: Speculation) -> None:
        self._rules = rules
        self._as_sent: tuple[str, bytes | None] = ("", None)  # the buffer the key is of
        self._key: Key = _NOTHING
        self._due: float | None = None  # when to prepare the buffer as it is
        self._running: _Running | None = None
        self._started = 0
        self._adopted_ahead: float | None = None
        self._discarded: dict[Discard, int] = {}

    @property
    def due(self) -> float | None:
        """When the buffer, unchanged until then, is to be prepared; ``None``: not planned."""
        return self._due

    @property
    def preparing(self) -> int:
        """The number of the running preparation (they count from 1); 0 when none runs."""
        return self._running.number if self._running is not None else 0

    @property
    def figures(self) -> Preparations:
        if not self._started:
            return NONE_PREPARED
        return Preparations(
            self._started,
            self._adopted_ahead is not None,
            self._adopted_ahead,
            dict(self._discarded),
        )

    def revised(
        self,
        text: str,
        text_bytes: int,
        screenshot: Screenshot | None,
        stable: bool,
        now: float,
        request: Callable[[], CommittedRequest],
    ) -> Prepare | DropPreparation | None:
        """The buffer after an applied collect frame. A new request (its normalised text or
        its screenshot changed) stops the preparation of the old one and is prepared once it
        has stayed the same for ``after_s``; ``stable`` (the client's hint that the text is
        final) prepares it at once."""
        dropped: DropPreparation | None = None
        key = self._key_of(text, text_bytes, screenshot)
        if key != self._key:
            self._key = key
            if self._running is not None and self._running.key != key:
                dropped = self._drop(Discard.REVISED)
            self._due = now + self._rules.after_s if self._may_start() else None
        if stable and self._running is None and self._may_start():
            return self._start(now, request, dropped)
        return dropped

    def tick(self, now: float, request: Callable[[], CommittedRequest]) -> Prepare | None:
        """Time passed: the buffer is prepared once it has been the same for ``after_s``."""
        if self._due is None or now < self._due:
            return None
        if self._running is None and self._may_start():
            return self._start(now, request, None)
        self._due = None
        return None

    def committed(
        self, text: str, text_bytes: int, screenshot: Screenshot | None, now: float
    ) -> Adopt | DropPreparation | None:
        """The commit: the running preparation is adopted if it prepared this very request
        (see :func:`normalised`), else discarded."""
        self._due = None
        running = self._running
        if running is None:
            return None
        key = _NOTHING if text_bytes > self._rules.max_text_bytes else key_of(text, screenshot)
        if key != running.key:
            same_text = key[0] == running.key[0]
            return self._drop(Discard.SCREENSHOT_DIFFERS if same_text else Discard.TEXT_DIFFERS)
        self._running = None
        # What the commit -> first output saved: the head start, but never more than the
        # preparation took to its first output.
        first = running.ready_at if running.ready_at is not None else now
        self._adopted_ahead = max(min(first, now) - running.started_at, 0.0)
        return Adopt(running.number, self._adopted_ahead)

    def ready(self, number: int, now: float) -> None:
        """Preparation ``number`` holds its first output."""
        running = self._running
        if running is not None and running.number == number and running.ready_at is None:
            running.ready_at = now

    def failed(self, number: int) -> DropPreparation | None:
        """Preparation ``number`` raised: it is discarded (the commit will run afresh), and
        this buffer is not prepared again unless the client marks it stable."""
        if self._running is None or self._running.number != number:
            return None
        return self._drop(Discard.FAILED)

    def ended(self) -> None:
        """The session ended before its commit: the running preparation is discarded."""
        self._due = None
        if self._running is not None:
            self._drop(Discard.SESSION_ENDED)

    def _key_of(self, text: str, text_bytes: int, screenshot: Screenshot | None) -> Key:
        """The buffer's key, normalised only when the buffer changed as sent and is short
        enough to be prepared: revisions cost a comparison, never more than ``max_text_bytes``
        of normalisation."""
        as_sent = (text, screenshot.digest if screenshot is not None else None)
        if as_sent == self._as_sent:
            return self._key
        self._as_sent = as_sent
        if text_bytes > self._rules.max_text_bytes:
            return _NOTHING
        return key_of(text, screenshot)

    def _may_start(self) -> bool:
        return self._started < self._rules.max_per_session and self._key[0] != ""

    def _start(
        self, now: float, request: Callable[[], CommittedRequest], dropped: DropPreparation | None
    ) -> Prepare:
        self._started += 1
        self._running = _Running(self._started, self._key, now)
        self._due = None
        return Prepare(self._started, request(), dropped.number if dropped is not None else 0)

    def _drop(self, reason: Discard) -> DropPreparation:
        assert self._running is not None
        number, self._running = self._running.number, None
        self._discarded[reason] = self._discarded.get(reason, 0) + 1
        return DropPreparation(number, reason)
