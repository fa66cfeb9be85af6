"""The outbox: what a session still has to send, conflated so it never grows.

One sender task writes one frame at a time; while a write waits on HTTP/2 flow control,
the application keeps calling ``interim()``. Instead of queueing every call, the outbox
keeps one pending text and one pending screenshot, merged by these rules:

- a pending **snapshot** followed by a snapshot: the newer snapshot replaces it;
- any pending text followed by a **snapshot**: the snapshot replaces it (pending deltas
  included: the server would discard them when the snapshot arrives);
- a pending text followed by a **delta**: the delta is appended to it, and the pending
  text keeps its mode (snapshot + delta is a snapshot, delta + delta is a delta);
- the merged text is ``stable`` (the recognizer's "final" hint) when the newer one is;
- a pending screenshot followed by another: the newer replaces it (the server would);
- ``commit`` absorbs what is still pending: its final text is combined with the pending
  text by the same rules, and the pending screenshot rides on it unless it brings its own.

So merging the outbox's frames into the server's buffer always gives what merging every
call one by one would give (text and screenshot are independent parts of the buffer),
the outbox holds at most one text, one screenshot and the commit, and the commit goes out
right after the frame already in flight. A screenshot equal to the newest one sent or
pending is not sent again.

After a resume, the frames the server never got go out first, as they were (same
``chunk_seq``: one that did arrive after all is dropped as stale, never applied twice).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from nexy_stream.client.errors import ProtocolUsageError
from nexy_stream.client.events import SessionStats
from nexy_stream.session import Cancel, Collect, Commit, Screenshot, Text, TextMode


def combine(first: Text | None, then: Text) -> Text:
    """The one text that, merged into any buffer, gives what merging ``first`` then
    ``then`` gives; it is as stable as ``then`` (the newer hint is the one that holds)."""
    if first is None or then.mode is TextMode.SNAPSHOT:
        return then
    return Text(first.text + then.text, first.mode, then.stable)


class Outbox:
    """Pending frames of one session, and the rules of its use (commit once, nothing
    after commit or cancel). Pure: the session's sender task drains it with ``take``."""

    def __init__(self, stats: SessionStats) -> None:
        self._stats = stats
        self._text: Text | None = None
        self._screenshot: Screenshot | None = None
        self._commit: Commit | None = None
        self._cancel: Cancel | None = None
        self._again: deque[Collect | Commit | Cancel] = deque()
        self._newest_digest: bytes | None = None
        self._last_seq = 0
        self.committed = False
        self.cancelled = False

    def add_text(self, piece: Text) -> None:
        self._check_collecting("an interim")
        self._stats.interims += 1
        if self._text is not None:
            self._stats.conflated += 1
        self._text = combine(self._text, piece)

    def add_screenshot(self, shot: Screenshot) -> None:
        self._check_collecting("a screenshot")
        self._stats.screenshots += 1
        if shot.digest == self._newest_digest:
            self._stats.deduplicated += 1
            return
        if self._screenshot is not None:
            self._stats.conflated += 1
        self._screenshot, self._newest_digest = shot, shot.digest

    def add_commit(self, final_text: Text | None, screenshot: Screenshot | None) -> None:
        if self.committed:
            raise ProtocolUsageError("the session is already committed; a session commits once")
        self._check_collecting("a commit")
        if screenshot is not None and screenshot.digest == self._newest_digest:
            self._stats.deduplicated += 1
            screenshot = None
        text = self._text if final_text is None else combine(self._text, final_text)
        self._stats.conflated += (self._text is not None) + (self._screenshot is not None)
        self._commit = Commit(text, screenshot or self._screenshot)
        self._text = self._screenshot = None
        self.committed = True

    def add_cancel(self, reason: str) -> None:
        """Drops whatever is pending, commit included; a second cancel changes nothing."""
        if self.cancelled:
            return
        self._text = self._screenshot = self._commit = None
        self._cancel = Cancel(reason)
        self.cancelled = True

    def send_first(self, frames: Iterable[Collect | Commit | Cancel]) -> None:
        """Frames sent before that must go again, ahead of anything pending (a resume)."""
        self._again.extend(frames)

    def take(self) -> Collect | Commit | Cancel | None:
        """The next frame to send (collects get the next chunk_seq), or ``None``."""
        if self._again:
            return self._again.popleft()
        if self._cancel is not None:
            frame: Collect | Commit | Cancel = self._cancel
            self._cancel = None
        elif self._commit is not None:
            frame, self._commit = self._commit, None
        elif self._screenshot is not None:
            frame, self._screenshot = self._collect(self._screenshot), None
        elif self._text is not None:
            frame, self._text = self._collect(self._text), None
        else:
            return None
        return frame

    def _collect(self, payload: Text | Screenshot) -> Collect:
        self._last_seq += 1
        return Collect(self._last_seq, payload)

    def _check_collecting(self, what: str) -> None:
        if self.cancelled:
            raise ProtocolUsageError(f"the session is cancelled; {what} cannot follow cancel")
        if self.committed:
            raise ProtocolUsageError(
                f"the session is committed; {what} cannot follow commit (it would be lost)"
            )
