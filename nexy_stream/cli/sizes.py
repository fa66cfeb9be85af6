"""Byte counts on the command line: plain bytes, or a number with a unit (``512MiB``)."""

from __future__ import annotations

import re

_UNITS = {
    "b": 1,
    **{unit + "b": 1000**power for power, unit in enumerate("kmgt", start=1)},
    **{unit + "ib": 1024**power for power, unit in enumerate("kmgt", start=1)},
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")


def byte_size(text: str) -> int:
    """``536870912``, ``512MiB``, ``1.5GiB``, ``500MB`` (KB, MB, GB, TB count thousands;
    KiB, MiB, GiB, TiB 1024s); ``ValueError`` for anything else."""
    found = _SIZE.fullmatch(text.strip().lower())
    if found is None or found.group(2) not in ("", *_UNITS):
        raise ValueError(f"not a byte count: {text!r}")
    number, unit = found.groups()
    return int(float(number) * _UNITS.get(unit, 1))


def format_bytes(count: int) -> str:
    """``4208394240`` -> ``3.9GiB``: a count as an operator reads it."""
    size, unit = float(count), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.3g}{unit}" if unit != "B" else f"{count}B"
