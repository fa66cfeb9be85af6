"""``python -m bench``: every benchmark, side by side, then bench/results.json and a table.

Each comparison runs against servers started in this run on this machine, with the same
client, so the ratios hold where absolute numbers do not. Throughput takes the median of a few
alternating rounds, ratios round by round, so a busy moment on the machine moves little.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

from bench.processes import (
    BARE,
    NEXY,
    client,
    clients,
    idle_session_bytes,
    latency_clients,
    server,
)

RESULTS = Path(__file__).with_name("results.json")
ROUNDS = 7
FRAME_ARGS = ("--streams", "16", "--warmup", "1", "--seconds", "4")
LATENCY_LEVELS = {1: 200, 100: 5, 1000: 2}  # concurrent sessions: utterances each
IDLE_COUNTS = [1000, 10000]
# --workers 2 against --workers 1: the same load from two client processes, each with
# connections of its own (the kernel spreads connections, not streams, over the workers).
WORKERS = 2
WORKER_CLIENTS = 2
WORKER_FRAME_ARGS = ("--streams", "8", "--connections", "8", "--warmup", "1", "--seconds", "4")
WORKER_LATENCY_ARGS = ("--sessions", "500", "--rounds", "2", "--connections", "8")  # each
TARGETS = {
    "frames_per_s_ratio_vs_bare_grpc": (">=", 0.8),
    "frames_per_s_ratio_vs_legacy": (">=", 3.0),
    "idle_session_memory_ratio_vs_bare_grpc": ("<=", 1.5),
    "workers_frames_per_s_ratio": (">=", 1.6),
    "workers_first_output_p50_ratio_vs_bare_grpc": ("<=", 1.0),
    "workers_first_output_p99_ratio_vs_bare_grpc": ("<=", 1.0),
}


def machine() -> dict[str, Any]:
    model = platform.processor()
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_count": psutil.cpu_count(),
        "cpu_model": model,
        "system": platform.platform(),
        "python": platform.python_version(),
        "grpcio": version("grpcio"),
        "protobuf": version("protobuf"),
    }


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def throughput(nexy: str, bare: str) -> dict[str, float]:
    """Median frames/s of each server, and the median of the ratios taken round by round
    (both servers measured back to back, so a busy moment lowers both)."""
    rates: dict[str, list[float]] = {"bare": [], "nexy": [], "legacy": []}
    for round_ in range(1, ROUNDS + 1):
        for name, mode, target in (
            ("bare", "frames", bare),
            ("nexy", "frames", nexy),
            ("legacy", "legacy", nexy),
        ):
            rates[name].append(client(mode, target, *FRAME_ARGS)["frames_per_s"])
            say(f"  round {round_}: {name:6} {rates[name][-1]:8.0f} frames/s")
    pairs = list(zip(rates["nexy"], rates["bare"], rates["legacy"], strict=True))
    return {
        **{name: statistics.median(values) for name, values in rates.items()},
        "ratio_vs_bare": statistics.median(n / b for n, b, _ in pairs),
        "ratio_vs_legacy": statistics.median(n / legacy for n, _, legacy in pairs),
    }


def workers(one: str, several: str, bare: str) -> dict[str, Any]:
    """Frames/s of --workers 1 and --workers 2 under the same load, round by round; then
    commit -> first output at 1000 sessions, --workers 2 against the bare server."""
    rates: dict[str, list[float]] = {"1": [], str(WORKERS): []}
    for round_ in range(1, ROUNDS + 1):
        for name, target in (("1", one), (str(WORKERS), several)):
            found = clients(WORKER_CLIENTS, "frames", target, *WORKER_FRAME_ARGS)
            rates[name].append(sum(result["frames_per_s"] for result in found))
            say(f"  round {round_}: --workers {name} {rates[name][-1]:8.0f} frames/s")
    latency = {}
    for name, target in ((f"workers_{WORKERS}", several), ("bare", bare)):
        latency[name] = latency_clients(WORKER_CLIENTS, target, *WORKER_LATENCY_ARGS)
        say(f"  1000 sessions: {name:9} {latency[name]}")
    pairs = zip(rates[str(WORKERS)], rates["1"], strict=True)
    return {
        "frames_per_s": {f"workers_{n}": statistics.median(v) for n, v in rates.items()},
        "ratio": statistics.median(many / one for many, one in pairs),
        "latency_1000_sessions": latency,
    }


def latencies(nexy: str, bare: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for sessions, rounds in LATENCY_LEVELS.items():
        level = {}
        for name, target in (("bare", bare), ("nexy", nexy)):
            args = ("--sessions", str(sessions), "--rounds", str(rounds))
            level[name] = client("latency", target, *args)
            say(f"  {sessions:5} sessions: {name:5} {level[name]}")
        found[str(sessions)] = level
    return found


def idle_memory() -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for name, command in (("bare", BARE), ("nexy", NEXY)):
        with server(name, command) as fresh:
            for count, size in idle_session_bytes(fresh, IDLE_COUNTS).items():
                found.setdefault(str(count), {})[name] = round(size)
                say(f"  {count:6} idle sessions: {name:5} {size / 1024:6.1f} KiB each")
    return found


def summary(
    frames: dict[str, float],
    latency: dict[str, dict[str, Any]],
    idle: dict[str, Any],
    scaled: dict[str, Any],
) -> dict[str, Any]:
    one, most = latency["1"], latency[str(max(LATENCY_LEVELS))]
    largest = idle[str(max(IDLE_COUNTS))]
    several, bare = scaled["latency_1000_sessions"].values()
    return {
        "workers_frames_per_s_ratio": round(scaled["ratio"], 3),
        "workers_first_output_p50_ratio_vs_bare_grpc": round(several["p50"] / bare["p50"], 3),
        "workers_first_output_p99_ratio_vs_bare_grpc": round(several["p99"] / bare["p99"], 3),
        "frames_per_s_ratio_vs_bare_grpc": round(frames["ratio_vs_bare"], 3),
        "frames_per_s_ratio_vs_legacy": round(frames["ratio_vs_legacy"], 3),
        "idle_session_memory_ratio_vs_bare_grpc": round(largest["nexy"] / largest["bare"], 3),
        "commit_first_output_p50_overhead_ms": round(one["nexy"]["p50"] - one["bare"]["p50"], 3),
        "commit_first_output_p99_ms_1000_sessions": most["nexy"]["p99"],
    }


def table(results: dict[str, Any]) -> str:
    frames, latency, idle = results["frames_per_s"], results["latency"], results["idle"]
    scaled = results["workers"]
    m = results["machine"]
    rows = [
        f"Machine: {m['cpu_count']} x {m['cpu_model']}, Python {m['python']}, "
        f"grpcio {m['grpcio']}; client and server in separate processes on loopback.",
        "",
        "| measure | nexy-stream | bare grpcio | ratio | target |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| collect frames/s (16 streams, one ack each; medians) | {frames['nexy']:.0f} | "
        f"{frames['bare']:.0f} | {results['frames_per_s_ratio_vs_bare_grpc']:.2f}x | ≥ 0.8x |",
        f"| collect frames/s, legacy one call per collect | {frames['legacy']:.0f} | - | "
        f"stream is {results['frames_per_s_ratio_vs_legacy']:.2f}x legacy | ≥ 3x |",
    ]
    for sessions, level in latency.items():
        nexy, bare = level["nexy"], level["bare"]
        rows.append(
            f"| commit → first output p50 / p99 ms, {sessions} concurrent | "
            f"{nexy['p50']:.2f} / {nexy['p99']:.2f} | {bare['p50']:.2f} / {bare['p99']:.2f} | "
            f"{nexy['p50'] - bare['p50']:+.2f} ms p50 | - |"
        )
    for count, sizes in idle.items():
        ratio = sizes["nexy"] / sizes["bare"]
        rows.append(
            f"| server memory per idle session, {count} open (KiB) | "
            f"{sizes['nexy'] / 1024:.1f} | {sizes['bare'] / 1024:.1f} | {ratio:.2f}x | ≤ 1.5x |"
        )
    rates = scaled["frames_per_s"]
    several, bare = scaled["latency_1000_sessions"].values()
    rows += [
        f"| collect frames/s, `--workers {WORKERS}` (`--workers 1`: "
        f"{rates['workers_1']:.0f}; {WORKER_CLIENTS} client processes) | "
        f"{rates[f'workers_{WORKERS}']:.0f} | - | {results['workers_frames_per_s_ratio']:.2f}x "
        "| ≥ 1.6x |",
        f"| commit → first output p50 / p99 ms, 1000 concurrent, `--workers {WORKERS}` "
        f"({WORKER_CLIENTS} client processes) | {several['p50']:.2f} / {several['p99']:.2f} | "
        f"{bare['p50']:.2f} / {bare['p99']:.2f} | "
        f"{results['workers_first_output_p50_ratio_vs_bare_grpc']:.2f}x / "
        f"{results['workers_first_output_p99_ratio_vs_bare_grpc']:.2f}x | ≤ 1x |",
    ]
    return "\n".join(rows)


def main() -> int:
    began = time.perf_counter()
    with server("nexy", NEXY) as nexy, server("bare", BARE) as bare:
        say("collect throughput")
        frames = throughput(nexy.target, bare.target)
        say("commit -> first output")
        latency = latencies(nexy.target, bare.target)
        with server("workers", NEXY, workers=WORKERS) as several:
            say(f"--workers {WORKERS} against --workers 1")
            scaled = workers(nexy.target, several.target, bare.target)
    say("memory per idle session (fresh servers)")
    idle = idle_memory()
    results: dict[str, Any] = {
        **summary(frames, latency, idle, scaled),
        "frames_per_s": frames,
        "latency": latency,
        "idle": idle,
        "workers": scaled,
        "machine": machine(),
        "seconds": round(time.perf_counter() - began, 1),
    }
    results["targets_met"] = {
        key: (results[key] >= bound if op == ">=" else results[key] <= bound)
        for key, (op, bound) in TARGETS.items()
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    say(f"wrote {RESULTS} in {results['seconds']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
