"""The server's own task group: where pipelines run, owned by the server, not by a stream.

A session outlives its stream (a resume) and a legacy session outlives its calls, so what a
session runs cannot be a child of the call that started it. It is a child of this group,
which the server starts with itself and cancels when it stops: nothing outlives the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc

logger = logging.getLogger(__name__)


class ServerTasks:
    """One anyio task group in a background task (``start_server`` and ``stop`` may run in
    different tasks, which a task group's scope cannot span)."""

    def __init__(self) -> None:
        self._group: anyio.abc.TaskGroup | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = anyio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(ready))
        await ready.wait()

    def start_soon(self, run: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Runs ``run(*args)`` in the group. What it raises is logged, never allowed to take
        the other sessions' tasks down with it."""
        if self._group is None:
            raise RuntimeError("the server's tasks are not running")
        self._group.start_soon(_guarded, run, args)

    async def aclose(self) -> None:
        """Cancels every task still running and waits for them to end."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._group = None

    async def _run(self, ready: anyio.Event) -> None:
        # A group waits for its tasks when cancelled: each task ends at its next checkpoint.
        async with anyio.create_task_group() as group:
            self._group = group
            ready.set()
            await anyio.sleep_forever()


async def _guarded(run: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
    try:
        await run(*args)
    except Exception:
        logger.exception("a session task failed")
