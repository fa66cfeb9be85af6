"""How an old client's text combines with the text collected so far.

Old clients never say whether a chunk is a snapshot (the whole hypothesis so far) or a
delta (a continuation). The previous server's rule was: a chunk that extends the text so far
replaces it, anything else is appended. That glued revised hypotheses together
("open safari" then "Open Safari." became "open safariOpen Safari."), so the rule here also
compares *words* with case and punctuation ignored:

1. a blank chunk changes nothing;
2. a chunk replaces an empty (blank) buffer, and any chunk that extends the buffer as is;
3. a chunk the buffer already ends with is a repeat and changes nothing (idempotent);
4. a chunk is a *revision* and replaces the buffer when, word for word, it
   - covers every buffered word ("open safari" -> "Open Safari, please"),
   - covers all but the last one, which it grows ("open safar" -> "Open Safari."),
   - covers all but the last one and shares at least two leading words
     ("turn on the lite" -> "Turn on the light"), or
   - is a shorter start of the buffer of at least two words ("open safari and" ->
     "Open Safari.");
5. a chunk that starts with the words the buffer ends with is a delta that repeats them:
   they are kept once, as the chunk spells them ("open the" then "the door" -> "open the
   door"); the longest such seam counts;
6. anything else is a tail and is appended, with a space when neither side has one.

So a growing snapshot always ends as the last snapshot, and a chunk's own text always ends
the result: a tail is never lost. The decision is a :class:`Text` (SNAPSHOT or DELTA) for
the session actor, which stays the one owner of the buffer and its limits. The same rule
merges a commit's prompt: the full final text replaces the interims, a tail is appended.
"""

from __future__ import annotations

import re

from nexy_stream.session import Text, TextMode

_UNCHANGED = Text("", TextMode.DELTA)
_TOKEN = re.compile(r"\S+")


def _spans(text: str) -> list[tuple[str, int]]:
    """Each word of the text (as :func:`words` gives it) with where it starts in ``text``."""
    found = (
        ("".join(c for c in token.group().casefold() if c.isalnum()), token.start())
        for token in _TOKEN.finditer(text)
    )
    return [(word, start) for word, start in found if word]


def words(text: str) -> list[str]:
    """The text's words, case-folded, with punctuation dropped (``"Safari."`` -> ``safari``)."""
    return [word for word, _ in _spans(text)]


def is_revision(buffered: str, chunk: str) -> bool:
    """Whether ``chunk`` restates the buffered text (rule 4) rather than continuing it."""
    old, new = words(buffered), words(chunk)
    if not new:
        return False
    shared = 0
    for a, b in zip(old, new, strict=False):
        if a != b:
            break
        shared += 1
    if shared == len(old):
        return True
    if shared == len(old) - 1 and shared < len(new):
        return new[shared].startswith(old[shared]) or shared >= 2
    return shared == len(new) >= 2


def _longest_seam(old: list[str], new: list[str]) -> int:
    """How many words, at most, end ``old`` and start ``new``.

    The prefix function of ``new``, a separator, then ``old``: linear in the words, so a
    long buffer costs no quadratic scan on the event loop.
    """
    joined: list[str | None] = [*new, None, *old[-len(new) :]]
    border = [0] * len(joined)
    for i in range(1, len(joined)):
        k = border[i - 1]
        while k and joined[i] != joined[k]:
            k = border[k - 1]
        border[i] = k + 1 if joined[i] == joined[k] else k
    return border[-1]


def overlap_start(buffered: str, chunk: str) -> int | None:
    """Where in ``buffered`` the words start that ``chunk`` repeats first (rule 5);
    ``None`` when the chunk repeats no word of the buffer's end."""
    old, new = _spans(buffered), words(chunk)
    if not new:
        return None
    seam = _longest_seam([word for word, _ in old], new)
    return old[-seam][1] if seam else None


def merge(buffered: str, chunk: str) -> Text:
    """How ``chunk`` combines with ``buffered``: a snapshot replaces, a delta appends."""
    if not chunk.strip():
        return _UNCHANGED
    if not buffered.strip() or chunk.startswith(buffered):
        return Text(chunk, TextMode.SNAPSHOT)
    if buffered.endswith(chunk):
        return _UNCHANGED
    if is_revision(buffered, chunk):
        return Text(chunk, TextMode.SNAPSHOT)
    seam = overlap_start(buffered, chunk)
    if seam is not None:
        head = buffered[:seam]  # ends with the space before the repeated words
        return Text((head.rstrip() if chunk[0].isspace() else head) + chunk, TextMode.SNAPSHOT)
    glue = "" if buffered[-1].isspace() or chunk[0].isspace() else " "
    return Text(glue + chunk, TextMode.DELTA)


def commit_text(buffered: str, prompt: str) -> Text | None:
    """The commit's final text for the actor; ``None`` keeps the collected text as it is."""
    if not prompt.strip():
        return None
    return merge(buffered, prompt)
