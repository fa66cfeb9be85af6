"""Waiting for server state that has no event to wait on: polled, and always bounded, so a
condition that never comes fails the test instead of hanging it. Never a speed check."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from nexy_stream.app.server import RunningServer

BOUND_S = 10.0


async def until(condition: Callable[[], bool], what: str) -> None:
    """Returns once ``condition()`` holds; fails the test, saying ``what``, if it never does."""
    with anyio.move_on_after(BOUND_S):
        while not condition():  # noqa: ASYNC110  (server state with no event to wait on)
            await anyio.sleep(0.01)
    assert condition(), f"still not so after {BOUND_S:g}s: {what}"


async def settled(server: RunningServer) -> None:
    """Returns once the server holds no live session: a handler cleans up after its client
    has already returned."""
    await until(lambda: len(server.registry) == 0, "no session is live")
