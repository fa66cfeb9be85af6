"""``nexy-stream load``: realistic utterances against a server, with a checked report."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TextIO

import anyio

from nexy_stream.cli.connection import (
    add_connection_options,
    call_metadata,
    channel_tls,
)
from nexy_stream.cli.options import (
    env_option,
    integer,
    non_negative_float,
    positive_float,
    positive_int,
)
from nexy_stream.cli.process import EXIT_INTERRUPTED, fail, interrupts, is_terminal
from nexy_stream.loadgen import (
    INTERRUPTED,
    REALISTIC,
    LoadPlan,
    LoadReport,
    LoadTally,
    Unreachable,
    run_load,
)
from nexy_stream.loadgen.processes import LoadProcessFailed, part_plans, run_load_processes

PLAIN_PROGRESS_EVERY_S = 5.0  # a progress line this often when stderr is not a terminal


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    load = commands.add_parser(
        "load",
        help="run realistic utterances against a server and check every promise",
        description="Plays realistic utterances (interim snapshots or deltas, screenshots, "
        "retries, out-of-order frames, cancels, disconnects) concurrently, bounded in count "
        "and time, and reports throughput, commit-to-first-output latency, status codes and "
        "whether every invariant held (the exact echo only when the server runs the echo "
        "pipeline). Exit status: 0 all held and no session failed, 1 otherwise or no server, "
        "2 a bad flag, 130 Ctrl-C (after the partial report).",
    )
    add_connection_options(load, "the server's address, HOST:PORT")
    env_option(load, "--device-id", str, "load-device", "the device id of every session")
    load.add_argument("--sessions", type=positive_int, default=100, help="sessions at most")
    load.add_argument("--concurrency", type=positive_int, default=10, help="sessions at once")
    load.add_argument(
        "--duration", type=positive_float, default=30.0, help="seconds to start sessions for"
    )
    load.add_argument(
        "--drain",
        type=non_negative_float,
        default=10.0,
        help="seconds running sessions may finish after --duration",
    )
    load.add_argument(
        "--pace",
        type=non_negative_float,
        default=1.0,
        help="scales the pauses between interim results (1: real time, 0: none)",
    )
    load.add_argument(
        "--seed", type=integer, default=0, help="the same seed plays the same utterances"
    )
    load.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        help="client processes sharing the sessions and the concurrency, each with its own "
        "connection (one Python process saturates one core)",
    )
    load.add_argument("--json", action="store_true", help="print the report as JSON")
    return load


class Progress:
    """The progress line on stderr: redrawn in place in a terminal, else a plain line now
    and then (no escape codes in a log file)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._interactive = is_terminal(stream)
        self._shown_at = -math.inf

    def __call__(self, tally: LoadTally, elapsed_s: float) -> None:
        line = (
            f"{elapsed_s:6.1f}s  sessions {tally.finished}/{tally.started}  "
            f"frames {tally.frames} ({tally.frames / max(elapsed_s, 1e-9):.0f}/s)  "
            f"broken {tally.broken_sessions}  failed {tally.failed_sessions}"
        )
        if self._interactive:
            self._write(f"\r\x1b[2K{line}")
        elif elapsed_s - self._shown_at >= PLAIN_PROGRESS_EVERY_S:
            self._shown_at = elapsed_s
            self._write(line + "\n")

    def done(self) -> None:
        if self._interactive:
            self._write("\n")

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value} ms"


def print_report(report: LoadReport, out: TextIO) -> None:
    data = report.as_dict()
    latency = data["commit_to_first_output_ms"]
    if not data["sessions_finished"]:
        pipeline = "- (no session finished)"
    elif data["exact_echo_checked"]:
        pipeline = f"{data['pipeline']} (the exact echo checked)"
    else:
        pipeline = f"{data['pipeline'] or 'not named by the server'} (the exact echo not checked)"
    lines = [
        f"pipeline     {pipeline}",
        f"sessions     {data['sessions_finished']} finished, "
        f"{data['sessions_unfinished']} unfinished, {data['sessions_failed']} failed, "
        f"in {data['elapsed_s']}s",
        f"throughput   {data['frames_per_s']} collect frames/s, "
        f"{data['sessions_per_s']} sessions/s",
        f"commit->first output  p50 {_ms(latency['p50'])}  p95 {_ms(latency['p95'])}  "
        f"p99 {_ms(latency['p99'])}",
        f"endings      {data['endings']}",
        f"status codes {data['status_codes']}",
        f"invariants   {'all held' if data['invariants_held'] else 'BROKEN'} "
        f"({data['sessions_unverifiable']} sessions unverifiable: a cancel raced the end)",
        *(f"  - {violation}" for violation in data["violations"]),
    ]
    if data["sessions_told_going_away"]:
        lines.append(
            f"going away   {data['sessions_told_going_away']} sessions were told the server "
            "is stopping"
        )
    if data["failures"]:
        lines.append(f"failures     {data['sessions_failed']} sessions ended with an error")
        lines += [f"  - {failure}" for failure in data["failures"]]
    if report.stopped is not None:
        lines.append(f"stopped early: {report.stopped}")
    print("\n".join(lines), file=out)


async def load(plan: LoadPlan, processes: int, progress: Progress) -> LoadReport:
    """Runs the plan, from ``processes`` client processes; Ctrl-C stops it with the report
    so far."""
    stop = anyio.Event()
    with interrupts(stop.set):
        if processes == 1:
            return await run_load(plan, progress, stop)
        return await run_load_processes(plan, processes, progress, stop)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    plan = LoadPlan(
        target=args.target,
        sessions=args.sessions,
        concurrency=args.concurrency,
        duration_s=args.duration,
        drain_s=args.drain,
        pace=args.pace,
        seed=args.seed,
        profile=REALISTIC,
        tls=channel_tls(args, parser),
        metadata=call_metadata(args, parser),
        device_id=args.device_id,
    )
    try:
        part_plans(plan, args.processes)
    except ValueError as exc:
        parser.error(str(exc))
    progress = Progress(sys.stderr)
    try:
        report = anyio.run(load, plan, args.processes, progress, backend="asyncio")
    except Unreachable as exc:
        progress.done()
        return fail(parser, f"cannot reach {plan.target}: {exc}")
    except LoadProcessFailed as exc:
        progress.done()
        return fail(parser, str(exc))
    progress.done()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print_report(report, sys.stdout)
    if report.stopped == INTERRUPTED:
        return EXIT_INTERRUPTED
    return 0 if report.passed else 1
