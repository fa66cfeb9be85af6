"""Running totals and recent latencies: what the feed's aggregates are computed from."""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from nexy_stream.ops.lifecycle import Change, ChangeKind
from nexy_stream.session import Discard, Outcome, Stage

COMMITTED = Outcome.COMMITTED


@dataclass(frozen=True, slots=True)
class Totals:
    """Counts since the server started, at one moment; rates are differences of two."""

    at: float  # monotonic seconds
    started: int = 0
    collect_frames: int = 0
    ended: Counter[Outcome] = field(default_factory=Counter)
    # Preparations of the ended sessions: started, adopted, discarded by reason.
    prepared: int = 0
    adopted: int = 0
    discarded: Counter[Discard] = field(default_factory=Counter)
    resumed: int = 0  # sessions resumed on a new stream


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted values; ``None`` without values."""
    if not ordered:
        return None
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


LATENCIES = (
    "commit_to_first_output",
    "pipeline",
    "commit_to_first_text",
    "commit_to_first_audio",
    *(stage.value for stage in Stage),
    "prepared_ahead",
)
"""The figures of ended sessions whose percentiles the feed's aggregates carry; each is a
field of Timings and of the Aggregate message alike."""


class Rollup:
    """A sink that keeps totals and the latencies of the sessions that ended recently.

    Each watcher computes its own rates from two :class:`Totals`, so watchers with
    different intervals share one rollup. Samples are bounded in age and in number.
    ``pipeline`` counts committed sessions only (a cancelled run says nothing of its
    length); the others count every session that had the moment.
    """

    def __init__(self, window_s: float = 60.0, max_samples: int = 10_000) -> None:
        self.window_s = window_s
        self._started = 0
        self._collect_frames = 0
        self._ended: Counter[Outcome] = Counter()
        self._prepared = self._adopted = 0
        self._discarded: Counter[Discard] = Counter()
        self._resumed = 0
        self._samples: dict[str, deque[tuple[float, float]]] = {
            name: deque(maxlen=max_samples) for name in LATENCIES
        }

    def record(self, change: Change) -> None:
        if change.kind is ChangeKind.OPENED:
            self._started += 1
        elif change.kind is ChangeKind.COLLECTED:
            self._collect_frames += 1
        elif change.kind is ChangeKind.RESUMED:
            self._resumed += 1
        elif change.kind is ChangeKind.ENDED and change.outcome is not None:
            self._ended[change.outcome] += 1
            preparations = change.preparations
            self._prepared += preparations.started
            self._adopted += preparations.adopted
            self._discarded.update(preparations.discarded)
            timings, now = change.timings, time.monotonic()
            if timings is None:
                return
            for name, samples in self._samples.items():
                seconds = getattr(timings, name)
                if seconds is None or (name == "pipeline" and change.outcome is not COMMITTED):
                    continue
                samples.append((now, seconds))

    def totals(self) -> Totals:
        return Totals(
            time.monotonic(),
            self._started,
            self._collect_frames,
            Counter(self._ended),
            self._prepared,
            self._adopted,
            Counter(self._discarded),
            self._resumed,
        )

    def latencies(self) -> dict[str, list[float]]:
        """Sorted seconds of each of :data:`LATENCIES` within the window."""
        oldest = time.monotonic() - self.window_s
        recent = {}
        for name, samples in self._samples.items():
            while samples and samples[0][0] < oldest:
                samples.popleft()
            recent[name] = sorted(seconds for _, seconds in samples)
        return recent
