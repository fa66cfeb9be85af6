"""One run of the pipeline for a session: the commit's, or a preparation held until commit.

A run pulls the pipeline's items into an :class:`OutputLog` inside the server's task group,
under a cancel scope of its own, and tells its session what the session must know (the
stages the pipeline timed, how it failed). A *preparation* (``serve --speculate``) is a
run started during collect on the buffer as it is: its outputs are held in its log, its
stage timings kept back, and nothing of it reaches the session's figures or its client
unless the commit adopts it. Adopted, it simply goes on as the session's run; dropped, it
is cancelled and its log released at once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

import anyio

from nexy_stream.pipeline import CommitSignal, Item, PipelineError, PreparingPipeline, StageTiming
from nexy_stream.server.answer import OutputLog
from nexy_stream.server.tasks import ServerTasks
from nexy_stream.session import (
    Event,
    PipelineFailed,
    PreparationFailed,
    PreparationReady,
    StageTimed,
)

logger = logging.getLogger(__name__)

Report = Callable[[Event], object]
"""Hands the session an event about its run (the session's ``handle``)."""


@dataclass(frozen=True, slots=True)
class Preparer:
    """What a session needs to prepare its answer during collect: the pipeline, the server's
    task group to run it in, and how much output a preparation may hold."""

    pipeline: PreparingPipeline
    tasks: ServerTasks
    held_limit: int


class Run:
    """One run of the pipeline (see the module). ``number`` is the preparation's (0 for the
    commit's own run, which is committed from the start)."""

    def __init__(self, number: int, log: OutputLog, report: Report) -> None:
        self.number = number
        self.log = log
        self.committed = CommitSignal()
        self._report = report
        self._scope = anyio.CancelScope()
        self._stopped = False
        self._held_stages: list[StageTiming] = []
        self._produced = False

    @classmethod
    def committed_run(cls, log: OutputLog, report: Report) -> Run:
        run = cls(0, log, report)
        run.committed.set()
        return run

    @property
    def adopted(self) -> bool:
        return self.committed.is_set()

    def adopt(self) -> None:
        """The commit is what this preparation prepared: its held outputs may be written, its
        stages count, and the pipeline is told (so it may do what had to wait)."""
        self.log.release_hold()
        self.committed.set()
        for timing in self._held_stages:
            self._report(StageTimed(timing.stage, timing.seconds))
        self._held_stages.clear()

    def stop(self) -> None:
        """Cancels the run at once; nothing it does from now on reaches the session."""
        self._stopped = True
        self._scope.cancel()

    def discard(self) -> None:
        """Stops a preparation that will not be the answer and frees what it holds."""
        self.stop()
        self.log.release()

    def start(
        self, tasks: ServerTasks, items: Callable[[], AsyncGenerator[Item, None]], session: str
    ) -> None:
        tasks.start_soon(self._pull, items, session)

    async def _pull(self, items: Callable[[], AsyncGenerator[Item, None]], session: str) -> None:
        """Appends every output to the log, then how the run ended. Only what the pipeline
        raises is a failure (a :class:`PipelineError` chooses its code and message); stage
        timings are not outputs. The generator is closed on every path, so a stopped run
        releases its upstream calls at once."""
        with self._scope:
            async with aclosing(items()) as outputs:
                while True:
                    try:
                        item = await anext(outputs)
                    except StopAsyncIteration:
                        break
                    except PipelineError as exc:
                        logger.warning("%s failed for session %s: %s", self._what, session, exc)
                        self._failed(PipelineFailed(exc.message, exc.code))
                        return
                    except Exception as exc:
                        logger.exception("%s failed for session %s", self._what, session)
                        self._failed(PipelineFailed(type(exc).__name__))
                        return
                    if self._stopped:  # a cancellation on its way in
                        return
                    if isinstance(item, StageTiming):
                        self._timed(item)
                    else:
                        await self.log.append(item)
                        self._first_output()
            self.log.finish()

    @property
    def _what(self) -> str:
        return "the pipeline" if self.adopted else f"preparation {self.number}"

    def _timed(self, timing: StageTiming) -> None:
        if self.adopted:
            self._report(StageTimed(timing.stage, timing.seconds))
        elif all(held.stage is not timing.stage for held in self._held_stages):
            self._held_stages.append(timing)  # once per stage: a bounded list

    def _first_output(self) -> None:
        if not self._produced and not self.adopted and not self._stopped:
            self._report(PreparationReady(self.number))
        self._produced = True

    def _failed(self, failure: PipelineFailed) -> None:
        self.log.finish(failure)
        if not self.adopted and not self._stopped:
            self._report(PreparationFailed(self.number))
