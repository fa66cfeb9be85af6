"""Load generation: realistic utterances, a checking session driver, and a concurrent runner.

The utterance builder and the model are shared with the tests (the hypothesis state machine
draws the same utterances), so what the load generator finds broken a test can reproduce.
"""

from nexy_stream.loadgen.driver import SessionRecord, Unreachable, drive
from nexy_stream.loadgen.model import SessionModel
from nexy_stream.loadgen.runner import INTERRUPTED, LoadPlan, LoadReport, LoadTally, run_load
from nexy_stream.loadgen.utterances import (
    REALISTIC,
    SMALL,
    TROUBLED,
    Chunk,
    Ending,
    Profile,
    Utterance,
    build_utterance,
)

__all__ = [
    "INTERRUPTED",
    "REALISTIC",
    "SMALL",
    "TROUBLED",
    "Chunk",
    "Ending",
    "LoadPlan",
    "LoadReport",
    "LoadTally",
    "Profile",
    "SessionModel",
    "SessionRecord",
    "Unreachable",
    "Utterance",
    "build_utterance",
    "drive",
    "run_load",
]
