"""`merged`: concurrent workers behind one pulled generator, closed and cancelled soundly."""

from __future__ import annotations

from contextlib import aclosing

import anyio
import anyio.lowlevel
import pytest

from nexy_stream.pipeline import TextOutput, merged
from nexy_stream.pipeline.workers import Emit

pytestmark = pytest.mark.anyio


def texts(items: list[object]) -> list[str]:
    return [item.text for item in items if isinstance(item, TextOutput)]


async def test_items_come_in_the_order_the_workers_emit_them():
    a_emitted, b_emitted = anyio.Event(), anyio.Event()

    async def first(emit: Emit) -> None:
        await emit(TextOutput("a"))
        a_emitted.set()
        await b_emitted.wait()
        await emit(TextOutput("c"))

    async def second(emit: Emit) -> None:
        await a_emitted.wait()
        await emit(TextOutput("b"))
        b_emitted.set()

    async with aclosing(merged(first, second)) as items:
        assert texts([item async for item in items]) == ["a", "b", "c"]


async def test_a_worker_s_error_is_raised_as_itself_after_the_others_have_ended():
    ended = anyio.Event()

    async def failing(emit: Emit) -> None:
        await emit(TextOutput("before"))
        raise LookupError("upstream said no")

    async def long(emit: Emit) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            ended.set()

    received: list[object] = []
    with pytest.raises(LookupError, match="upstream said no"):
        async with aclosing(merged(failing, long)) as items:
            async for item in items:
                received.append(item)
    assert texts(received) == ["before"]
    assert ended.is_set()


async def test_closing_at_a_yield_cancels_the_workers_and_waits_for_their_cleanup():
    cleaned = anyio.Event()

    async def worker(emit: Emit) -> None:
        try:
            while True:
                await emit(TextOutput("more"))
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)  # as closing an HTTP connection does
            cleaned.set()

    async with aclosing(merged(worker)) as items:
        assert isinstance(await anext(items), TextOutput)
    assert cleaned.is_set()


async def test_cancelling_the_reader_cancels_the_workers():
    started, cancelled = anyio.Event(), anyio.Event()

    async def worker(emit: Emit) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async def reader() -> None:
        async with aclosing(merged(worker)) as items:
            async for _ in items:
                pass

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reader)
        await started.wait()  # the worker runs: now the reader is cancelled
        tasks.cancel_scope.cancel()
    assert cancelled.is_set()


async def test_a_reader_that_does_not_pull_holds_the_workers_back():
    emitted = 0

    async def endless(emit: Emit) -> None:
        nonlocal emitted
        while True:
            await emit(TextOutput("x"))
            emitted += 1

    async with aclosing(merged(endless, buffer=4)) as items:
        await anext(items)
        for _ in range(100):
            await anyio.lowlevel.checkpoint()
        assert emitted <= 4 + 1  # the buffer, and the one the reader took
