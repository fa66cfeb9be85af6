"""Hypothesis strategies over the utterance builder (for tests; hypothesis is a dev extra)."""

from __future__ import annotations

from hypothesis import strategies as st

from nexy_stream.loadgen.utterances import SMALL, Profile, Utterance, build_utterance


def utterances(profile: Profile = SMALL) -> st.SearchStrategy[Utterance]:
    """Utterances from the same builder ``nexy-stream load`` uses, driven by hypothesis."""
    return st.builds(build_utterance, st.randoms(use_true_random=False), st.just(profile))
