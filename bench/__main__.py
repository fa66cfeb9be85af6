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
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

from bench.processes import BARE, CREDENTIALS, NEXY, client, idle_session_bytes, server, token_file

RESULTS = Path(__file__).with_name("results.json")
ROUNDS = 7
FRAME_ARGS = ("--streams", "16", "--warmup", "1", "--seconds", "4")
AUTH_ROUNDS = 6
AUTH_ARGS = ("--streams", "16", "--warmup", "1", "--seconds", "3")
LATENCY_LEVELS = {1: 200, 100: 5, 1000: 2}  # concurrent sessions: utterances each
IDLE_COUNTS = [1000, 10000]
TARGETS = {
    "frames_per_s_ratio_vs_bare_grpc": (">=", 0.8),
    "frames_per_s_ratio_vs_legacy": (">=", 3.0),
    "idle_session_memory_ratio_vs_bare_grpc": ("<=", 1.5),
    "auth_frames_per_s_ratio": (">=", 0.95),
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


def auth_cost() -> dict[str, Any]:
    """Collect frames and session opens, on two servers started side by side, one with a
    token file (every session presents a token) and one without: the rates, and the
    server's CPU time per frame and per session open, which a busy machine disturbs far
    less than rates. Medians, and ratios taken round by round (each round measures both,
    in turns of order, so that a busy moment weighs on both alike)."""
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        tokens, token = token_file(Path(directory))
        secured = [*NEXY, "--auth-tokens", str(tokens)]
        with server("off", NEXY) as off, server("on", secured) as on:
            pair = [("off", off, ()), ("on", on, ("--token", token))]
            for round_ in range(1, AUTH_ROUNDS + 1):
                for name, target, flags in pair if round_ % 2 else reversed(pair):
                    for mode, unit in (("frames", "frames_per_s"), ("sessions", "sessions_per_s")):
                        cpu_before = target.cpu_s()
                        result = client(mode, target.target, *AUTH_ARGS, *flags)
                        cpu_us = (target.cpu_s() - cpu_before) / result["total"] * 1e6
                        samples.setdefault(f"{unit}_{name}", []).append(result[unit])
                        samples.setdefault(f"{mode}_cpu_us_{name}", []).append(cpu_us)
                        say(
                            f"  round {round_}: auth {name:3} {result[unit]:8.0f} {mode}/s, "
                            f"{cpu_us:6.0f} µs of server CPU each"
                        )
    found: dict[str, Any] = {
        key: round(statistics.median(values), 1) for key, values in samples.items()
    }
    for key in ("frames_per_s", "sessions_per_s", "frames_cpu_us", "sessions_cpu_us"):
        pairs = zip(samples[f"{key}_on"], samples[f"{key}_off"], strict=True)
        found[f"{key}_ratio"] = round(statistics.median(a / b for a, b in pairs), 3)
    found["credentials"] = CREDENTIALS
    return found


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
    auth: dict[str, Any],
) -> dict[str, Any]:
    one, most = latency["1"], latency[str(max(LATENCY_LEVELS))]
    largest = idle[str(max(IDLE_COUNTS))]
    return {
        "frames_per_s_ratio_vs_bare_grpc": round(frames["ratio_vs_bare"], 3),
        "frames_per_s_ratio_vs_legacy": round(frames["ratio_vs_legacy"], 3),
        "idle_session_memory_ratio_vs_bare_grpc": round(largest["nexy"] / largest["bare"], 3),
        "commit_first_output_p50_overhead_ms": round(one["nexy"]["p50"] - one["bare"]["p50"], 3),
        "commit_first_output_p99_ms_1000_sessions": most["nexy"]["p99"],
        "auth_frames_per_s_ratio": auth["frames_per_s_ratio"],
        "auth_sessions_per_s_ratio": auth["sessions_per_s_ratio"],
    }


def table(results: dict[str, Any]) -> str:
    frames, latency, idle = results["frames_per_s"], results["latency"], results["idle"]
    auth = results["auth"]
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
    rows += [
        "",
        f"Authentication, per session open (a token file of {auth['credentials']} credentials; "
        "two nexy-stream servers side by side):",
        "",
        "| measure | auth on | auth off | ratio | target |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| collect frames/s (16 streams; medians) | {auth['frames_per_s_on']:.0f} | "
        f"{auth['frames_per_s_off']:.0f} | {auth['frames_per_s_ratio']:.2f}x | ≥ 0.95x |",
        f"| server CPU per collect frame (µs) | {auth['frames_cpu_us_on']:.0f} | "
        f"{auth['frames_cpu_us_off']:.0f} | {auth['frames_cpu_us_ratio']:.2f}x | - |",
        f"| sessions opened/s (16 clients: open, accepted, cancel) | "
        f"{auth['sessions_per_s_on']:.0f} | {auth['sessions_per_s_off']:.0f} | "
        f"{auth['sessions_per_s_ratio']:.2f}x | - |",
        f"| server CPU per session open (µs) | {auth['sessions_cpu_us_on']:.0f} | "
        f"{auth['sessions_cpu_us_off']:.0f} | {auth['sessions_cpu_us_ratio']:.2f}x | - |",
    ]
    return "\n".join(rows)


def main() -> int:
    began = time.perf_counter()
    with server("nexy", NEXY) as nexy, server("bare", BARE) as bare:
        say("collect throughput")
        frames = throughput(nexy.target, bare.target)
        say("commit -> first output")
        latency = latencies(nexy.target, bare.target)
    say("memory per idle session (fresh servers)")
    idle = idle_memory()
    say("authentication per session open (fresh servers, auth off and on)")
    auth = auth_cost()
    results: dict[str, Any] = {
        **summary(frames, latency, idle, auth),
        "frames_per_s": frames,
        "latency": latency,
        "idle": idle,
        "auth": auth,
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
