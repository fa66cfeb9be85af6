"""Sentences for the TTS, cut from the LLM's text as it streams in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nexy_stream.pipeline.openai_compat.sentences import SentenceSplitter


def split(*deltas: str, **options: int) -> list[str]:
    splitter = SentenceSplitter(**options)
    sentences = [s for delta in deltas for s in splitter.feed(delta)]
    rest = splitter.flush()
    return [*sentences, rest] if rest else sentences


def test_a_sentence_is_cut_once_white_space_follows_its_end():
    splitter = SentenceSplitter()
    assert splitter.feed("The sky is blue.") == []  # "blue.5"? not known yet
    assert splitter.feed(" It") == ["The sky is blue."]
    assert splitter.flush() == "It"


def test_numbers_and_abbreviations_stay_whole():
    assert split("Pi is about 3.14 and e is 2.71 today.") == [
        "Pi is about 3.14 and e is 2.71 today."
    ]


def test_short_pieces_join_the_next_sentence():
    assert split("Hi! Sure. Here is the weather for today. Enjoy it.") == [
        "Hi! Sure. Here is the weather for today.",
        "Enjoy it.",
    ]


def test_line_breaks_and_other_end_marks_cut():
    assert split("First line without a dot\nWhat about this? Yes, it works!\n") == [
        "First line without a dot",
        "What about this?",
        "Yes, it works!",
    ]


def test_a_run_on_is_cut_at_a_comma_or_a_space():
    text = "one, " + "word " * 30
    sentences = split(text, max_chars=60)
    assert sentences[0] == "one,"
    assert all(len(s) <= 60 for s in sentences)
    assert " ".join(sentences).split() == text.split()


@given(
    st.lists(
        st.sampled_from(["Hello", " there", ".", " ", "3.5", "!", "?", "\n", "word", ","]),
        max_size=60,
    ),
    st.data(),
)
def test_how_the_text_is_streamed_does_not_change_the_sentences(pieces, data):
    text = "".join(pieces)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=10)))
    deltas = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    streamed = split(*deltas, max_chars=50)
    assert streamed == split(text, max_chars=50)
    assert "".join("".join(streamed).split()) == "".join(text.split())  # nothing lost
    assert all(sentence == sentence.strip() and 0 < len(sentence) <= 50 for sentence in streamed)
