"""``nexy-stream load``: realistic utterances against a server, with a checked report."""

from __future__ import annotations

import argparse
import json
import sys

import anyio

from nexy_stream.cli.connection import add_connection_options, channel_tls
from nexy_stream.loadgen import REALISTIC, LoadPlan, LoadReport, LoadTally, run_load
from nexy_stream.loadgen.processes import LoadProcessFailed, run_load_processes


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    load = commands.add_parser(
        "load",
        help="run realistic utterances against a server and check every promise",
        description="Plays realistic utterances (interim snapshots or deltas, screenshots, "
        "retries, out-of-order frames, cancels, disconnects) concurrently, bounded in count "
        "and time, and reports throughput, commit-to-first-output latency, status codes and "
        "whether every invariant held. Exits 1 when one did not.",
    )
    add_connection_options(load, "the server's address, HOST:PORT")
    load.add_argument("--sessions", type=int, default=100, help="sessions at most")
    load.add_argument("--concurrency", type=int, default=10, help="sessions at once")
    load.add_argument("--duration", type=float, default=30.0, help="seconds to start sessions for")
    load.add_argument(
        "--drain",
        type=float,
        default=10.0,
        help="seconds running sessions may finish after --duration",
    )
    load.add_argument(
        "--pace",
        type=float,
        default=1.0,
        help="scales the pauses between interim results (1: real time, 0: none)",
    )
    load.add_argument("--seed", type=int, default=0, help="the same seed plays the same utterances")
    load.add_argument(
        "--processes",
        type=int,
        default=1,
        help="client processes sharing the sessions and the concurrency, each with its own "
        "connection (one Python process saturates one core)",
    )
    load.add_argument("--json", action="store_true", help="print the report as JSON")
    load.set_defaults(run=run)


def _show_progress(tally: LoadTally, elapsed_s: float) -> None:
    line = (
        f"{elapsed_s:6.1f}s  sessions {tally.finished}/{tally.started}  "
        f"frames {tally.frames} ({tally.frames / max(elapsed_s, 1e-9):.0f}/s)  "
        f"broken {tally.broken_sessions}"
    )
    sys.stderr.write(f"\r\x1b[2K{line}")
    sys.stderr.flush()


def _print_report(report: LoadReport) -> None:
    data = report.as_dict()
    latency = data["commit_to_first_output_ms"]
    print(
        f"sessions     {data['sessions_finished']} finished, "
        f"{data['sessions_unfinished']} unfinished, in {data['elapsed_s']}s\n"
        f"throughput   {data['frames_per_s']} collect frames/s, "
        f"{data['sessions_per_s']} sessions/s\n"
        f"commit->first output  p50 {latency['p50']} ms  p95 {latency['p95']} ms  "
        f"p99 {latency['p99']} ms\n"
        f"endings      {data['endings']}\n"
        f"status codes {data['status_codes']}\n"
        f"invariants   {'all held' if data['invariants_held'] else 'BROKEN'} "
        f"({data['sessions_unverifiable']} sessions unverifiable: a cancel raced the end)"
    )
    for violation in data["violations"]:
        print(f"  - {violation}")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    for flag in ("sessions", "concurrency", "duration", "drain", "processes"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag} must be positive, got {getattr(args, flag)}")
    plan = LoadPlan(
        target=args.target,
        sessions=args.sessions,
        concurrency=args.concurrency,
        duration_s=args.duration,
        drain_s=args.drain,
        pace=max(args.pace, 0.0),
        seed=args.seed,
        profile=REALISTIC,
        tls=channel_tls(args, parser),
    )
    if args.processes == 1:
        report = anyio.run(run_load, plan, _show_progress, backend="asyncio")
    else:
        try:
            report = run_load_processes(plan, args.processes, _show_progress)
        except ValueError as exc:
            parser.error(str(exc))
        except LoadProcessFailed as exc:
            print(f"\nnexy-stream load: {exc}", file=sys.stderr)
            return 1
    sys.stderr.write("\n")
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print_report(report)
    return 0 if report.invariants_held else 1
