"""OutputLog: the answer kept for a resume, bounded, and its bytes counted in the budget."""

from __future__ import annotations

import anyio
import pytest

from nexy_stream.pipeline import TextOutput
from nexy_stream.server.answer import OutputLog
from nexy_stream.session import ByteBudget

pytestmark = pytest.mark.anyio


async def test_written_outputs_are_kept_within_the_replay_bound_and_counted():
    budget = ByteBudget()
    answer = OutputLog(max_replay_bytes=8, budget=budget)
    for index, word in enumerate(("abcd", "efgh", "ijkl"), start=1):
        await answer.append(TextOutput(word))  # never more than 8 bytes ahead of the client
        assert budget.held == 4 * index
        assert answer.written(index)
    assert not answer.written(2)  # written again (a replay): not a new output
    assert not answer.kept_from(1) and answer.kept_from(2)  # 8 bytes replayable, no more
    assert budget.held == 8
    assert await answer.output(2) == TextOutput("efgh")


async def test_an_answer_released_while_an_output_is_written_changes_nothing_more():
    """The session ends (its stream lost, no resume) while a writer has an output in hand:
    noting it written afterwards neither fails nor touches the budget."""
    budget = ByteBudget()
    answer = OutputLog(max_replay_bytes=1024, budget=budget)
    await answer.append(TextOutput("hello"))
    await answer.append(TextOutput("world"))
    assert await answer.output(2) == TextOutput("world")
    answer.release()
    assert not answer.written(2)
    assert budget.held == 0
    assert await answer.output(1) is None


async def test_a_writer_waiting_for_more_learns_there_is_none_on_release():
    answer = OutputLog(max_replay_bytes=1024, budget=ByteBudget())
    got: list[object] = []

    async def wait_for_the_first() -> None:
        got.append(await answer.output(1))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(wait_for_the_first)
            await anyio.wait_all_tasks_blocked()
            answer.release()
    assert got == [None]
