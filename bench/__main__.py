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

from bench.processes import BARE, NEXY, client, idle_session_bytes, openai_stub, server

RESULTS = Path(__file__).with_name("results.json")
ROUNDS = 7
FRAME_ARGS = ("--streams", "16", "--warmup", "1", "--seconds", "4")
LATENCY_LEVELS = {1: 200, 100: 5, 1000: 2}  # concurrent sessions: utterances each
IDLE_COUNTS = [1000, 10000]
AUDIO_ROUNDS, AUDIO_UTTERANCES = 5, 30
TARGETS = {
    "frames_per_s_ratio_vs_bare_grpc": (">=", 0.8),
    "frames_per_s_ratio_vs_legacy": (">=", 3.0),
    "idle_session_memory_ratio_vs_bare_grpc": ("<=", 1.5),
    "first_audio_p50_overhead_ms": ("<=", 10.0),
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


def first_audio() -> dict[str, Any]:
    """Commit -> first audio with the openai pipeline against the stub, and the same first
    audio fetched from the stub directly, in alternating rounds; medians of each."""
    found: dict[str, list[dict[str, Any]]] = {"nexy": [], "stub": []}
    with openai_stub() as url:
        pipeline = ["--pipeline", "openai", "--llm-base-url", url, "--tts-model", "stub"]
        with server("nexy", [*NEXY, *pipeline]) as nexy:
            client("first-audio", nexy.target, "--rounds", "5")  # warm up
            for round_ in range(1, AUDIO_ROUNDS + 1):
                for name, mode, target in (
                    ("stub", "direct-audio", url),
                    ("nexy", "first-audio", nexy.target),
                ):
                    found[name].append(client(mode, target, "--rounds", str(AUDIO_UTTERANCES)))
                    say(f"  round {round_}: {name:5} {found[name][-1]}")
    medians: dict[str, Any] = {
        name: {
            "utterances": sum(r["utterances"] for r in rounds),
            **{q: round(statistics.median(r[q] for r in rounds), 3) for q in ("p50", "p95", "p99")},
        }
        for name, rounds in found.items()
    }
    pairs = zip(found["nexy"], found["stub"], strict=True)
    medians["p50_overhead_ms"] = round(statistics.median(n["p50"] - s["p50"] for n, s in pairs), 3)
    return medians


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
    audio: dict[str, Any],
) -> dict[str, Any]:
    one, most = latency["1"], latency[str(max(LATENCY_LEVELS))]
    largest = idle[str(max(IDLE_COUNTS))]
    return {
        "frames_per_s_ratio_vs_bare_grpc": round(frames["ratio_vs_bare"], 3),
        "frames_per_s_ratio_vs_legacy": round(frames["ratio_vs_legacy"], 3),
        "idle_session_memory_ratio_vs_bare_grpc": round(largest["nexy"] / largest["bare"], 3),
        "commit_first_output_p50_overhead_ms": round(one["nexy"]["p50"] - one["bare"]["p50"], 3),
        "commit_first_output_p99_ms_1000_sessions": most["nexy"]["p99"],
        "first_audio_p50_overhead_ms": audio["p50_overhead_ms"],
    }


def table(results: dict[str, Any]) -> str:
    frames, latency, idle = results["frames_per_s"], results["latency"], results["idle"]
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
    audio = results["first_audio"]
    nexy, stub = audio["nexy"], audio["stub"]
    rows += [
        "",
        "| measure | nexy-stream, openai pipeline | the stub alone | added | target |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| commit → first audio p50 / p99 ms (stub: 150 ms to the first token) | "
        f"{nexy['p50']:.1f} / {nexy['p99']:.1f} | {stub['p50']:.1f} / {stub['p99']:.1f} | "
        f"{audio['p50_overhead_ms']:+.2f} ms p50 | ≤ 10 ms |",
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
    say("commit -> first audio, openai pipeline against the local stub")
    audio = first_audio()
    results: dict[str, Any] = {
        **summary(frames, latency, idle, audio),
        "frames_per_s": frames,
        "latency": latency,
        "idle": idle,
        "first_audio": audio,
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
