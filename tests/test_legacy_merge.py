"""The legacy text-merge rule: a pure function, checked by examples and by properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexy_stream.legacy.merge import commit_text, is_revision, merge, overlap_start, words
from nexy_stream.session import Text, TextMode

SNAPSHOT, DELTA = TextMode.SNAPSHOT, TextMode.DELTA


def fold(buffered: str, chunk: str) -> str:
    """What the session actor buffers once it applies the merge decision."""
    return merge(buffered, chunk).merged_into(buffered)


@pytest.mark.parametrize(
    ("buffered", "chunk", "expected"),
    [
        # rule 1: a blank chunk changes nothing
        ("hello", "", Text("", DELTA)),
        ("hello", "   ", Text("", DELTA)),
        # rule 2: an empty buffer is replaced, and so is a buffer the chunk extends
        ("", "hello", Text("hello", SNAPSHOT)),
        ("  ", "hello", Text("hello", SNAPSHOT)),
        ("hel", "hello", Text("hello", SNAPSHOT)),
        ("hello", "hello world", Text("hello world", SNAPSHOT)),
        ("hello", "hello", Text("hello", SNAPSHOT)),
        # rule 3: a repeated tail changes nothing
        ("turn on the light", "the light", Text("", DELTA)),
        # rule 4: revisions replace
        ("open safari", "Open Safari.", Text("Open Safari.", SNAPSHOT)),
        ("open safari", "Open Safari, please", Text("Open Safari, please", SNAPSHOT)),
        ("open safar", "Open Safari.", Text("Open Safari.", SNAPSHOT)),
        ("turn on the lite", "Turn on the light.", Text("Turn on the light.", SNAPSHOT)),
        ("open safari and", "Open Safari.", Text("Open Safari.", SNAPSHOT)),
        ("...", "hello", Text("hello", SNAPSHOT)),
        # rule 5: a delta that repeats the end of the text keeps the repeated words once
        ("open the", "the door", Text("open the door", SNAPSHOT)),
        ("Open the", "The door.", Text("Open The door.", SNAPSHOT)),
        ("open the", " the door", Text("open the door", SNAPSHOT)),
        ("please turn on the", "on the light", Text("please turn on the light", SNAPSHOT)),
        ("open the, ", "the door", Text("open the door", SNAPSHOT)),
        ("say it again and again", "again and again!", Text("say it again and again!", SNAPSHOT)),
        # rule 6: tails are appended, with a space only where neither side has one
        ("open safari", "and mail", Text(" and mail", DELTA)),
        ("open safari ", "and mail", Text("and mail", DELTA)),
        ("open safari", " and mail", Text(" and mail", DELTA)),
        ("open safari", "open mail", Text(" open mail", DELTA)),  # one shared word: a tail
        ("hello world", "hello", Text(" hello", DELTA)),  # one word is too weak to revise
        ("open safari", "...", Text(" ...", DELTA)),
    ],
)
def test_examples(buffered: str, chunk: str, expected: Text) -> None:
    assert merge(buffered, chunk) == expected


def test_words_ignore_case_and_punctuation() -> None:
    assert words("Open, Safari! ... don't") == ["open", "safari", "dont"]


def test_revision_needs_words() -> None:
    assert not is_revision("open safari", "?!")


def test_legacy_glue_is_fixed_for_the_readme_example() -> None:
    assert fold(fold("", "open safari"), "Open Safari.") == "Open Safari."


@pytest.mark.parametrize(
    ("collected", "prompt", "expected"),
    [
        ("open safari", "", "open safari"),  # no prompt: the collected text is committed
        ("open safari", "Open Safari.", "Open Safari."),  # full final text replaces
        ("open safari", "and mail", "open safari and mail"),  # a tail is appended
        ("", "Open Safari.", "Open Safari."),  # nothing collected: the old single request
    ],
)
def test_commit_prompt(collected: str, prompt: str, expected: str) -> None:
    decision = commit_text(collected, prompt)
    merged = collected if decision is None else decision.merged_into(collected)
    assert merged == expected


# -- properties ---------------------------------------------------------------------------

_text = st.text(alphabet=st.sampled_from("abcAB .,!?' \u00e9\u4e2d"), max_size=12)
_piece = st.text(alphabet=st.sampled_from("ab .,"), min_size=0, max_size=6)


@st.composite
def growth(draw: st.DrawFn) -> list[str]:
    """Snapshots of a hypothesis that only grows: each one extends the one before."""
    pieces = draw(st.lists(_piece, min_size=1, max_size=8))
    snapshots = ["".join(pieces[: i + 1]) for i in range(len(pieces))]
    return [s for s in snapshots if s.strip()] or ["a"]


def revise(text: str, upper: bool, mark: str) -> str:
    """The same words with another case and another final punctuation mark."""
    return (text.upper() if upper else text.lower()).rstrip(".,!? ") + mark


@given(growth())
def test_growing_snapshots_end_as_the_last_one(snapshots: list[str]) -> None:
    buffered = ""
    for snapshot in snapshots:
        buffered = fold(buffered, snapshot)
    assert buffered == snapshots[-1]


@given(growth(), st.lists(st.tuples(st.booleans(), st.sampled_from(["", ".", "!", ","]))))
def test_revised_growing_snapshots_end_as_the_last_one(
    snapshots: list[str], styles: list[tuple[bool, str]]
) -> None:
    buffered = ""
    styles = styles or [(False, "")]
    revised = [revise(s, *styles[i % len(styles)]) for i, s in enumerate(snapshots)]
    revised = [r for r in revised if words(r)]
    for snapshot in revised:
        buffered = fold(buffered, snapshot)
    if revised:
        assert buffered == revised[-1]


@given(_text, _text)
def test_a_chunk_is_never_lost(buffered: str, chunk: str) -> None:
    merged = fold(buffered, chunk)
    if chunk.strip():
        assert merged.endswith(chunk)
    if merge(buffered, chunk).mode is DELTA:
        assert merged.startswith(buffered)  # the text so far is kept unless revised


@given(_text, _text)
def test_a_tail_that_restates_nothing_keeps_the_text_so_far(buffered: str, chunk: str) -> None:
    if (
        buffered.strip()
        and not chunk.startswith(buffered)
        and not is_revision(buffered, chunk)
        and overlap_start(buffered, chunk) is None
    ):
        assert fold(buffered, chunk).startswith(buffered)


@given(_text, _text)
def test_repeating_a_chunk_changes_nothing(buffered: str, chunk: str) -> None:
    once = fold(buffered, chunk)
    assert fold(once, chunk) == once


def test_a_delta_repeating_the_end_is_not_doubled() -> None:
    assert fold(fold("", "open the"), "the door") == "open the door"


def test_the_longest_seam_counts() -> None:
    assert fold("x a a", "a a b") == "x a a b"


def test_overlap_start_points_at_the_repeated_words() -> None:
    assert overlap_start("open the", "the door") == len("open ")
    assert overlap_start("open the", "a door") is None
    assert overlap_start("open the", "...") is None


# Words from three disjoint sets: the head of the text, the words repeated at the seam,
# and the rest of the continuation, so the seam is exactly the repeated words.
_head = st.lists(st.sampled_from(["ask", "Bob", "can"]), min_size=1, max_size=5)
_seam = st.lists(st.sampled_from(["door", "Eve", "for"]), min_size=1, max_size=4)
_rest = st.lists(st.sampled_from(["go", "Home", "in"]), max_size=4)
_style = st.tuples(st.booleans(), st.sampled_from(["", ",", ".", "!"]))


def styled(word: str, style: tuple[bool, str]) -> str:
    upper, mark = style
    return (word.upper() if upper else word.lower()) + mark


@given(_head, _seam, _rest, st.lists(_style, min_size=1, max_size=4))
def test_a_continuation_that_repeats_the_end_keeps_the_repeated_words_once(
    head: list[str], seam: list[str], rest: list[str], styles: list[tuple[bool, str]]
) -> None:
    buffered = " ".join(head + seam)
    repeated = [styled(word, styles[i % len(styles)]) for i, word in enumerate(seam)]
    chunk = " ".join(repeated + rest)
    merged = fold(buffered, chunk)
    assert words(merged) == words(" ".join(head + seam + rest))
    assert merged.endswith(chunk)  # the chunk's own text ends the result
