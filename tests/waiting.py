"""Waiting for state that has no event to wait on (the server's registry, its log records, a
process's status): polled, and always bounded, so a condition that never comes fails the
test instead of hanging it. A bound is generous (seconds, on a busy machine), never a speed
check: a test waits for what it needs, then asserts."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

import anyio

from nexy_stream.app.server import RunningServer

BOUND_S = 10.0

Condition = Callable[[], bool | Awaitable[bool]]


async def until(condition: Condition, what: str, bound_s: float = BOUND_S) -> None:
    """Returns once ``condition()`` holds (a plain or an async check); fails the test,
    saying ``what``, if it never does within ``bound_s``. An async check is polled less
    often: it asks another process (a scrape, a health check, haproxy's stats)."""
    every = 0.01
    with anyio.move_on_after(bound_s):
        while True:
            holds = condition()
            if inspect.isawaitable(holds):
                every = 0.1
                holds = await holds
            if holds:
                return
            await anyio.sleep(every)
    raise AssertionError(f"still not so after {bound_s:g}s: {what}")


async def settled(server: RunningServer) -> None:
    """Returns once the server holds no live session: a handler cleans up after its client
    has already returned."""
    await until(lambda: len(server.registry) == 0, "no session is live")


async def answer_held_back(server: RunningServer, piece_bytes: int) -> None:
    """Returns once the server keeps as much of a session's answer as it may: its replay
    bound of outputs written (and kept for a resume), and as much again not yet written.
    With pieces of ``piece_bytes`` at most, its pipeline is then a piece away, at most, from
    waiting for the client to read: it is held back. A state, not a quiet spell: a pipeline
    that is only slow (a busy machine) does not pass for held back. The windows between the
    server and its client must take ``max_replay_bytes`` before they fill (the written part
    of the bound): a test sets it well under the few MiB they hold on loopback."""
    bound = 2 * (server.config.limits.max_replay_bytes - piece_bytes)
    await until(
        lambda: server.hosting.budget.held > bound,
        f"the answer the server keeps reaches its bound ({bound} bytes)",
        bound_s=60,
    )
