"""A byte budget shared by many sessions: what bounds the server's memory, not one session's."""

from __future__ import annotations


class ByteBudget:
    """Bytes held across every session of a server, against one limit.

    Per-session limits bound one session; this bounds their sum, so a thousand sessions that
    each hold a legal screenshot cannot take the machine's memory. Sessions take bytes before
    they keep them and give them back when they drop them; a refused take leaves nothing
    taken. Pure bookkeeping (no I/O, no locks: one event loop owns it).
    """

    __slots__ = ("held", "limit")

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and limit <= 0:
            raise ValueError(f"a byte budget must be positive, got {limit}")
        self.limit = limit
        self.held = 0

    def take(self, count: int) -> bool:
        """Takes ``count`` bytes if they fit; whether they did."""
        if self.limit is not None and self.held + count > self.limit:
            return False
        self.held += count
        return True

    def take_anyway(self, count: int) -> None:
        """Counts ``count`` bytes that are held already (a pipeline's output): they may pass
        the limit, and then new collect frames are refused until they are given back."""
        self.held += count

    def give_back(self, count: int) -> None:
        self.held -= count
