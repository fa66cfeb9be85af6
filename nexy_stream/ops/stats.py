"""Running totals and recent latencies: what the feed's aggregates are computed from."""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from nexy_stream.ops.lifecycle import Change, ChangeKind
from nexy_stream.session import Outcome


@dataclass(frozen=True, slots=True)
class Totals:
    """Counts since the server started, at one moment; rates are differences of two."""

    at: float  # monotonic seconds
    started: int = 0
    collect_frames: int = 0
    ended: Counter[Outcome] = field(default_factory=Counter)


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted values; ``None`` without values."""
    if not ordered:
        return None
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


class Rollup:
    """A sink that keeps totals and the latencies of the sessions that ended recently.

    Each watcher computes its own rates from two :class:`Totals`, so watchers with
    different intervals share one rollup. Samples are bounded in age and in number.
    """

    def __init__(self, window_s: float = 60.0, max_samples: int = 10_000) -> None:
        self.window_s = window_s
        self._started = 0
        self._collect_frames = 0
        self._ended: Counter[Outcome] = Counter()
        self._first_output: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self._pipeline: deque[tuple[float, float]] = deque(maxlen=max_samples)

    def record(self, change: Change) -> None:
        if change.kind is ChangeKind.OPENED:
            self._started += 1
        elif change.kind is ChangeKind.COLLECTED:
            self._collect_frames += 1
        elif change.kind is ChangeKind.ENDED and change.outcome is not None:
            self._ended[change.outcome] += 1
            timings, now = change.timings, time.monotonic()
            if timings is None:
                return
            if timings.commit_to_first_output is not None:
                self._first_output.append((now, timings.commit_to_first_output))
            if change.outcome is Outcome.COMMITTED and timings.pipeline is not None:
                self._pipeline.append((now, timings.pipeline))

    def totals(self) -> Totals:
        return Totals(time.monotonic(), self._started, self._collect_frames, Counter(self._ended))

    def latencies(self) -> tuple[list[float], list[float]]:
        """Sorted commit-to-first-output and pipeline seconds within the window."""
        oldest = time.monotonic() - self.window_s
        recent = []
        for samples in (self._first_output, self._pipeline):
            while samples and samples[0][0] < oldest:
                samples.popleft()
            recent.append(sorted(seconds for _, seconds in samples))
        return recent[0], recent[1]
