"""Concurrent workers behind one pulled pipeline run.

A pipeline that does two things at once (read the LLM while the TTS speaks the previous
sentence) needs tasks, but its ``run`` is an async generator that the server pulls, closes
at a ``yield``, or cancels. :func:`merged` is the one place where a task group straddles
those yields, and does it soundly: workers never raise into the task group (their errors
travel to the reader in order), closing the generator cancels the workers and waits for
them, and a bounded buffer makes a worker wait while the server is not pulling.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from nexy_stream.pipeline.base import Item

Emit = Callable[[Item], Awaitable[None]]
"""Hands one item to the reader; waits while ``buffer`` items are unread."""

Worker = Callable[[Emit], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


async def merged(*workers: Worker, buffer: int = 8) -> AsyncGenerator[Item, None]:
    """Runs ``workers`` concurrently and yields what they emit, in the order emitted.

    Ends when every worker has returned. The first exception a worker raises is raised
    here, once the other workers are cancelled and have finished. Closing or cancelling the
    generator cancels every worker and returns only when all have ended, so upstream
    requests they hold are closed by then. Drive it from one task, and close it (the
    server does; within a run, use ``contextlib.aclosing``).
    """
    send, receive = anyio.create_memory_object_stream[Item | _Failed](buffer)
    failure: Exception | None = None
    async with anyio.create_task_group() as tasks:
        for worker in workers:
            tasks.start_soon(_guarded, worker, send.clone())
        send.close()
        with receive:
            async for item in receive:
                if isinstance(item, _Failed):
                    failure = item.error
                    break
                try:
                    yield item
                except GeneratorExit:
                    break  # closed at the yield: stop the workers below, then return
        tasks.cancel_scope.cancel()
    if failure is not None:
        raise failure


async def _guarded(worker: Worker, send: MemoryObjectSendStream[Item | _Failed]) -> None:
    """Runs one worker; its exception goes to the reader, never into the task group (which
    would wrap it in an exception group and cancel the reader wherever it stands)."""
    with send:
        try:
            await worker(send.send)
        except anyio.BrokenResourceError:
            return  # the reader stopped: nobody is left to tell
        except Exception as exc:
            try:
                await send.send(_Failed(exc))
            except anyio.BrokenResourceError:
                return
