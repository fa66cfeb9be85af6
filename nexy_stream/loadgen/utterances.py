"""Realistic utterances, drawn from one seeded builder shared by tests and the load generator.

``build_utterance(rng, profile)`` turns a ``random.Random`` into an utterance. The hypothesis
strategy (:mod:`nexy_stream.loadgen.strategies`) feeds it a hypothesis-controlled Random, and
``nexy-stream load`` feeds it ``random.Random(seed)``: one builder, so the load generator sends
exactly the kinds of utterances the tests explore, without ``strategy.example()`` outside tests
(which hypothesis discourages) and without hypothesis at run time. The builder is written so
that a Random that returns zeros, where hypothesis shrinks to, gives the plainest utterance:
one word, in order, committed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from nexy_stream.session import Screenshot, Text, TextMode

# Everyday assistant requests, with a few non-ASCII words for UTF-8 sizes.
_REQUESTS = (
    "open safari and search for the weather in Zürich tomorrow morning please "
    "remind me to call mum at five what is on my screen right now summarize this page "
    "send a message to Anna that I am late play some music turn the volume down "
    "café résumé naïve straße привет 東京"
)
WORDS = tuple(_REQUESTS.split())

_SCREEN_SIZES = ((1440, 900), (1920, 1080), (2560, 1600), (1280, 800))


class Ending(Enum):
    """How the client ends its session."""

    COMMIT = "commit"
    CANCEL = "cancel"  # a cancel frame before commit
    DISCONNECT = "disconnect"  # the client drops the stream before commit
    CANCEL_AFTER_COMMIT = "cancel_after_commit"  # barge-in while the answer streams
    DISCONNECT_AFTER_COMMIT = "disconnect_after_commit"  # the app quits mid-answer


@dataclass(frozen=True, slots=True)
class Profile:
    """What utterances look like: sizes, rates and how often things go wrong."""

    max_words: int = 24
    interim_gap_s: tuple[float, float] = (0.04, 0.25)  # between two interim results
    screenshot_bytes: tuple[int, int] = (20_000, 400_000)  # a WebP of a laptop screen
    screenshot_chance: float = 0.3
    delta_engine_chance: float = 0.2  # engines that send deltas instead of snapshots
    revision_chance: float = 0.15  # an interim revises its last word
    final_revision_chance: float = 0.5  # the final result differs from the last interim
    gap_chance: float = 0.05  # chunk_seq skips a number
    reorder_chance: float = 0.05  # two frames arrive swapped
    repeat_chance: float = 0.05  # a frame is sent again (a retry)
    cancel_chance: float = 0.04
    disconnect_chance: float = 0.04
    cancel_after_commit_chance: float = 0.02
    disconnect_after_commit_chance: float = 0.02


REALISTIC = Profile()
SMALL = Profile(max_words=8, interim_gap_s=(0.0, 0.0), screenshot_bytes=(1, 256))
"""For tests: short utterances, tiny screenshots, no pauses, and trouble more often."""
TROUBLED = Profile(
    max_words=8,
    interim_gap_s=(0.0, 0.0),
    screenshot_bytes=(1, 256),
    screenshot_chance=0.5,
    revision_chance=0.3,
    reorder_chance=0.2,
    repeat_chance=0.2,
    gap_chance=0.2,
    cancel_chance=0.1,
    disconnect_chance=0.1,
    cancel_after_commit_chance=0.1,
    disconnect_after_commit_chance=0.1,
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One collect frame as sent: its chunk_seq, payload, and the pause before it."""

    seq: int
    payload: Text | Screenshot
    gap_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Utterance:
    """What one client sends in one session, in sending order."""

    chunks: tuple[Chunk, ...]
    final_text: Text | None
    final_screenshot: Screenshot | None
    ending: Ending
    device_id: str = "load-device"


def _happens(rng: random.Random, chance: float) -> bool:
    # 1 - random() so that a zero draw (hypothesis' shrink target) means "does not happen".
    return 1.0 - rng.random() < chance


def _screenshot(rng: random.Random, profile: Profile) -> Screenshot:
    low, high = profile.screenshot_bytes
    width, height = _SCREEN_SIZES[rng.randrange(len(_SCREEN_SIZES))]
    return Screenshot(rng.randbytes(rng.randint(low, high)), "image/webp", width, height)


def _interims(rng: random.Random, profile: Profile, words: list[str]) -> list[Text]:
    """Interim results that grow word by word, sometimes revising the last word."""
    delta = _happens(rng, profile.delta_engine_chance)
    texts: list[Text] = []
    for count in range(1, len(words) + 1):
        if delta:
            texts.append(
                Text(words[count - 1] if count == 1 else " " + words[count - 1], TextMode.DELTA)
            )
            continue
        heard = words[:count]
        if count > 1 and _happens(rng, profile.revision_chance):
            texts.append(Text(" ".join([*heard[:-1], rng.choice(WORDS)])))  # misheard, fixed next
        texts.append(Text(" ".join(heard)))
    return texts


def _final(rng: random.Random, profile: Profile, words: list[str], delta: bool) -> Text | None:
    """The final result: none (commit what was buffered), a revised snapshot, or a tail."""
    if not _happens(rng, profile.final_revision_chance):
        return None
    if delta:
        return Text(" " + rng.choice(WORDS), TextMode.DELTA)
    sentence = " ".join(words)
    return Text(sentence[:1].upper() + sentence[1:] + ".")


def _sending_order(rng: random.Random, profile: Profile, chunks: list[Chunk]) -> list[Chunk]:
    """Swaps neighbours and repeats frames, as a flaky network and client retries do."""
    sent: list[Chunk] = []
    for chunk in chunks:
        sent.append(chunk)
        if len(sent) > 1 and _happens(rng, profile.reorder_chance):
            sent[-2], sent[-1] = sent[-1], sent[-2]
        if _happens(rng, profile.repeat_chance):
            sent.append(rng.choice(sent))
    return sent


def _ending(rng: random.Random, profile: Profile) -> Ending:
    roll = 1.0 - rng.random()
    for ending, chance in (
        (Ending.CANCEL, profile.cancel_chance),
        (Ending.DISCONNECT, profile.disconnect_chance),
        (Ending.CANCEL_AFTER_COMMIT, profile.cancel_after_commit_chance),
        (Ending.DISCONNECT_AFTER_COMMIT, profile.disconnect_after_commit_chance),
    ):
        if roll < chance:
            return ending
        roll -= chance
    return Ending.COMMIT


def build_utterance(rng: random.Random, profile: Profile = REALISTIC) -> Utterance:
    """One utterance drawn from ``rng``; the same Random state gives the same utterance."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, profile.max_words))]
    payloads: list[Text | Screenshot] = list(_interims(rng, profile, words))
    shot: Screenshot | None = None
    if _happens(rng, profile.screenshot_chance):
        shot = _screenshot(rng, profile)
        payloads.insert(rng.randint(0, len(payloads)), shot)
        if _happens(rng, 0.5):  # the screen did not change: the client sends it again
            payloads.insert(rng.randint(0, len(payloads)), shot)
    chunks, seq = [], 0
    low, high = profile.interim_gap_s
    for payload in payloads:
        seq += 2 if _happens(rng, profile.gap_chance) else 1
        chunks.append(Chunk(seq, payload, rng.uniform(low, high)))
    delta = any(isinstance(p, Text) and p.mode is TextMode.DELTA for p in payloads)
    final_shot = _screenshot(rng, profile) if _happens(rng, profile.screenshot_chance / 3) else None
    return Utterance(
        chunks=tuple(_sending_order(rng, profile, chunks)),
        final_text=_final(rng, profile, words, delta),
        final_screenshot=final_shot,
        ending=_ending(rng, profile),
    )
