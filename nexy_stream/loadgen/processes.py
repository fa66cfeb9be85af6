"""The load from several client processes, so that one Python process (one core) is not
what limits it: ``nexy-stream load --processes N``.

Each process is a fresh interpreter (``spawn``) that runs :func:`run_load` on its share of
the sessions and of the concurrency; they start together once all are ready, report their
progress, and their reports are merged into one (percentiles over all the samples).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue
import time
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING, Any

import anyio

from nexy_stream.loadgen.runner import LoadPlan, LoadReport, LoadTally, run_load

POLL_S = 0.5
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


def _run_part(plan: LoadPlan, messages: Messages, go: Event) -> None:
    """One client process: says it is ready, waits for the others, runs, reports."""

    def progress(tally: LoadTally, _elapsed_s: float) -> None:
        counts = LoadTally(tally.started, tally.finished, tally.frames)
        counts.broken_sessions = tally.broken_sessions
        messages.put(("progress", plan.part, counts))

    messages.put(("ready", plan.part, None))
    go.wait()
    report = anyio.run(run_load, plan, progress, backend="asyncio")
    messages.put(("report", plan.part, report))


def run_load_processes(
    plan: LoadPlan, parts: int, progress: Callable[[LoadTally, float], None] | None = None
) -> LoadReport:
    """Runs ``plan`` from ``parts`` processes and merges their reports."""
    plans = part_plans(plan, parts)
    context = multiprocessing.get_context("spawn")
    messages: Messages = context.Queue()
    go = context.Event()
    processes = [
        context.Process(target=_run_part, args=(p, messages, go), daemon=True) for p in plans
    ]
    for process in processes:
        process.start()
    try:
        _collect(messages, processes, "ready", READY_TIMEOUT_S)
        began = time.perf_counter()
        go.set()
        deadline = plan.duration_s + plan.drain_s + READY_TIMEOUT_S

        def show(latest: dict[int, LoadTally]) -> None:
            if progress is not None:
                progress(_merged(latest.values()), time.perf_counter() - began)

        reports = _collect(messages, processes, "report", deadline, show)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    return LoadReport(
        elapsed_s=max(report.elapsed_s for report in reports.values()),
        tally=_merged(report.tally for report in reports.values()),
        unfinished=sum(report.unfinished for report in reports.values()),
    )


def _collect(
    messages: Messages,
    processes: list[SpawnProcess],
    wanted: str,
    timeout_s: float,
    show: Callable[[dict[int, LoadTally]], None] | None = None,
) -> dict[int, Any]:
    """Waits for a ``wanted`` message from every process, showing progress meanwhile;
    :class:`LoadProcessFailed` when one ends first, or when time runs out."""
    got: dict[int, Any] = {}
    latest: dict[int, LoadTally] = {}
    deadline = time.monotonic() + timeout_s
    while len(got) < len(processes):
        try:
            kind, part, payload = messages.get(timeout=POLL_S)
        except queue.Empty:
            for part, process in enumerate(processes):
                if part not in got and process.exitcode is not None:
                    raise LoadProcessFailed(
                        f"client process {part} ended (exit status {process.exitcode}) "
                        f"before its {wanted}"
                    ) from None
            if time.monotonic() > deadline:
                raise LoadProcessFailed(f"no {wanted} from every client process") from None
            continue
        if kind == wanted:
            got[part] = payload
        if kind in ("progress", "report") and show is not None:
            latest[part] = payload if kind == "progress" else payload.tally
            show(latest)
    return got


def _merged(tallies: Any) -> LoadTally:
    total = LoadTally()
    for tally in tallies:
        total.absorb(tally)
    return total
