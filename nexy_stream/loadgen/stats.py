"""Percentiles, shared by the load generator's report and the benchmarks."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` fall (nearest rank); NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_ms(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99 of latencies given in seconds, in milliseconds; ``None`` without any
    (JSON ``null``, never ``NaN``)."""
    return {
        name: round(percentile(values, fraction) * 1000, 3) if values else None
        for name, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
    }
