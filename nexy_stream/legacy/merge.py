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
5. anything else is a tail and is appended, with a space when neither side has one.

So a growing snapshot always ends as the last snapshot, and a chunk's own text always ends
the result: a tail is never lost. The decision is a :class:`Text` (SNAPSHOT or DELTA) for
the session actor, which stays the one owner of the buffer and its limits. The same rule
merges a commit's prompt: the full final text replaces the interims, a tail is appended.
"""

from __future__ import annotations

from nexy_stream.session import Text, TextMode

_UNCHANGED = Text("", TextMode.DELTA)


def words(text: str) -> list[str]:
    """The text's words, case-folded, with punctuation dropped (``"Safari."`` -> ``safari``)."""
    found = ("".join(c for c in word.casefold() if c.isalnum()) for word in text.split())
    return [word for word in found if word]


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
    glue = "" if buffered[-1].isspace() or chunk[0].isspace() else " "
    return Text(glue + chunk, TextMode.DELTA)


def commit_text(buffered: str, prompt: str) -> Text | None:
    """The commit's final text for the actor; ``None`` keeps the collected text as it is."""
    if not prompt.strip():
        return None
    return merge(buffered, prompt)
