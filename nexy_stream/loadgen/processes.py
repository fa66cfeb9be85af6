"""The load from several client processes, so that one Python process (one core) is not
what limits it: ``nexy-stream load --processes N``.

Each process is a fresh interpreter (``spawn``) that runs :func:`run_load` on its share of
the sessions and of the concurrency; they start together once all are ready, report their
progress, and their reports are merged into one (percentiles over all the samples). Stopping
the run (Ctrl-C) stops every process, each with its partial report; the processes ignore
SIGINT themselves, so a terminal's Ctrl-C reaches them only through the parent.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue
import signal
import time
from collections.abc import Callable, Iterable
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING, Any

import anyio
import grpc

from nexy_stream.loadgen.driver import Unreachable
from nexy_stream.loadgen.runner import INTERRUPTED, LoadPlan, LoadReport, LoadTally, run_load

POLL_S = 0.2
READY_TIMEOUT_S = 120.0  # a process imports grpc and protobuf on a busy machine


class LoadProcessFailed(RuntimeError):
    """A client process ended without its report."""


def share(total: int, part: int, parts: int) -> int:
    """How many of ``total`` fall to ``part``: the indexes ``part``, ``part + parts``, ..."""
    return len(range(part, total, parts))


def part_plans(plan: LoadPlan, parts: int) -> list[LoadPlan]:
    """The plan of each process; ``ValueError`` when a process would have nothing to run."""
    if not 1 <= parts <= min(plan.sessions, plan.concurrency):
        raise ValueError(
            f"--processes {parts} needs at least as many --sessions and --concurrency "
            f"(got {plan.sessions} and {plan.concurrency})"
        )
    return [
        dataclasses.replace(
            plan,
            sessions=share(plan.sessions, part, parts),
            concurrency=share(plan.concurrency, part, parts),
            part=part,
            parts=parts,
        )
        for part in range(parts)
    ]


if TYPE_CHECKING:
    from multiprocessing.queues import Queue

    Messages = Queue[tuple[str, int, Any]]  # (kind, part, payload)


def _run_part(plan: LoadPlan, messages: Messages, go: Event, halt: Event) -> None:
    """One client process: says it is ready, waits for the others, runs, reports (or says
    that no session could reach the server)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def progress(tally: LoadTally, _elapsed_s: float) -> None:
        counts = LoadTally(tally.started, tally.finished, tally.frames)
        counts.broken_sessions = tally.broken_sessions
        counts.failed_sessions = tally.failed_sessions
        messages.put(("progress", plan.part, counts))

    async def run() -> LoadReport:
        stop = anyio.Event()

        async def until_halted() -> None:
            while not halt.is_set():  # noqa: ASYNC110  (another process's event: polled)
                await anyio.sleep(POLL_S)
            stop.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(until_halted)
            report = await run_load(plan, progress, stop)
            tasks.cancel_scope.cancel()
        return report

    messages.put(("ready", plan.part, None))
    go.wait()
    try:
        report = anyio.run(run, backend="asyncio")
    except Unreachable as exc:  # rebuilt by the parent: it does not pickle as itself
        messages.put(("unreachable", plan.part, (exc.code.name, exc.details)))
    else:
        messages.put(("report", plan.part, report))


async def run_load_processes(
    plan: LoadPlan,
    parts: int,
    progress: Callable[[LoadTally, float], None] | None = None,
    stop: anyio.Event | None = None,
) -> LoadReport:
    """Runs ``plan`` from ``parts`` processes and merges their reports; setting ``stop``
    stops them all (the report says :data:`INTERRUPTED`).

    Raises :class:`Unreachable` when no process could open a session, and
    :class:`LoadProcessFailed` when a process ends without its report.
    """
    plans = part_plans(plan, parts)
    context = multiprocessing.get_context("spawn")
    messages: Messages = context.Queue()
    go, halt = context.Event(), context.Event()
    processes = [
        context.Process(target=_run_part, args=(p, messages, go, halt), daemon=True) for p in plans
    ]
    for process in processes:
        process.start()
    try:
        await _collect(messages, processes, ("ready",), READY_TIMEOUT_S)
        began = time.perf_counter()
        go.set()
        deadline = plan.duration_s + plan.drain_s + READY_TIMEOUT_S

        def show(latest: dict[int, LoadTally]) -> None:
            if stop is not None and stop.is_set():
                halt.set()
            if progress is not None:
                progress(_merged(latest.values()), time.perf_counter() - began)

        ends = await _collect(messages, processes, ("report", "unreachable"), deadline, show)
    finally:
        halt.set()
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    return _merged_report(ends)


def _merged_report(ends: dict[int, tuple[str, Any]]) -> LoadReport:
    """One report from every process's: :class:`Unreachable` when none ran a session."""
    reports: list[LoadReport] = []
    lost: list[Unreachable] = []
    for kind, payload in ends.values():
        if kind == "report":
            reports.append(payload)
        else:
            code, details = payload
            lost.append(Unreachable(grpc.StatusCode[code], details))
    if lost and not any(report.tally.finished for report in reports):
        raise lost[0]
    reasons = [report.stopped for report in reports if report.stopped is not None]
    reasons += [f"lost the server: {error}" for error in lost]
    stopped = next((why for why in reasons if why != INTERRUPTED), reasons[0] if reasons else None)
    return LoadReport(
        elapsed_s=max((report.elapsed_s for report in reports), default=0.0),
        tally=_merged(report.tally for report in reports),
        unfinished=sum(report.unfinished for report in reports),
        stopped=stopped,
    )


async def _collect(
    messages: Messages,
    processes: list[SpawnProcess],
    wanted: tuple[str, ...],
    timeout_s: float,
    show: Callable[[dict[int, LoadTally]], None] | None = None,
) -> dict[int, tuple[str, Any]]:
    """Waits for one of the ``wanted`` messages from every process, showing progress
    meanwhile; :class:`LoadProcessFailed` when one ends first, or when time runs out."""
    got: dict[int, tuple[str, Any]] = {}
    latest: dict[int, LoadTally] = {}
    deadline = time.monotonic() + timeout_s
    while len(got) < len(processes):
        try:
            kind, part, payload = messages.get_nowait()
        except queue.Empty:
            for part, process in enumerate(processes):
                if part not in got and process.exitcode is not None:
                    raise LoadProcessFailed(
                        f"client process {part} ended (exit status {process.exitcode}) "
                        f"before its {wanted[0]}"
                    ) from None
            if time.monotonic() > deadline:
                raise LoadProcessFailed(f"no {wanted[0]} from every client process") from None
            if show is not None:
                show(latest)
            await anyio.sleep(POLL_S)
            continue
        if kind in wanted:
            got[part] = (kind, payload)
        if kind in ("progress", "report") and show is not None:
            latest[part] = payload if kind == "progress" else payload.tally
    return got


def _merged(tallies: Iterable[LoadTally]) -> LoadTally:
    total = LoadTally()
    for tally in tallies:
        total.absorb(tally)
    return total
