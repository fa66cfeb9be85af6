"""``python -m bench``: every benchmark, side by side, then bench/results.json and a table.

Each comparison runs against servers started in this run on this machine, with the same
client, so the ratios hold where absolute numbers do not. Throughput takes the median of a few
alternating rounds, ratios round by round, so a busy moment on the machine moves little.
``python -m bench speech`` runs only the event-loop lag comparison of legacy speech answers,
``python -m bench speculation`` only the speculative preparation comparison, ``python -m bench
workers`` only ``serve --workers 2`` against ``--workers 1`` and bare grpcio.
"""

from __future__ import annotations

import contextlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

from bench.processes import (
    BARE,
    CREDENTIALS,
    NEXY,
    SPEAKING,
    client,
    clients,
    idle_session_bytes,
    latency_clients,
    openai_stub,
    server,
    speech_round,
    token_file,
)

RESULTS = Path(__file__).with_name("results.json")
ROUNDS = 7
FRAME_ARGS = ("--streams", "16", "--warmup", "1", "--seconds", "4")
AUTH_ROUNDS = 6
AUTH_ARGS = ("--streams", "16", "--warmup", "1", "--seconds", "3")
LATENCY_LEVELS = {1: 200, 100: 5, 1000: 2}  # concurrent sessions: utterances each
IDLE_COUNTS = [1000, 10000]
# Legacy answers spoken at 24 kHz (resampled for old clients) against the same answers at
# 48 kHz (passed through): the server's event-loop lag while they stream.
SPEECH_RATES = (48_000, 24_000)
SPEECH_ROUNDS = 7
SPEECH_STREAMS = 4
SPEECH_WARMUP_S, SPEECH_S = 1.0, 3.0
AUDIO_ROUNDS, AUDIO_UTTERANCES = 5, 30
# Speculative preparation: a stub LLM 300 ms to its first token, two servers side by side
# (--speculate and not), utterances whose commit follows the end of speech after a pause.
SPECULATION_FIRST_TOKEN_S = 0.3
SPECULATION_ROUNDS, SPECULATION_UTTERANCES = 4, 10
SPECULATION_CASES = {
    # case: (client flags, what it measures)
    "same": (("--pause", "0.4"), "the commit is the last interim, marked stable"),
    "same_unmarked": (
        ("--pause", "0.7", "--no-hint"),
        "the commit is the last interim, unmarked: prepared after --speculate-after (300 ms)",
    ),
    "differs": (
        ("--pause", "0.4", "--final", "what is on my desk"),
        "the commit differs from the last interim (marked stable)",
    ),
}
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
    "auth_frames_per_s_ratio": (">=", 0.95),
    "legacy_speech_loop_lag_p99_ms_24khz": ("<=", 5.0),
    "first_audio_p50_overhead_ms": ("<=", 10.0),
    "speculative_saving_ratio": (">=", 0.8),
    "speculative_differs_p50_delta_ms": ("<=", 10.0),
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


def workers() -> dict[str, Any]:
    """Frames/s of --workers 1 and --workers 2 under the same load, round by round; then
    commit -> first output at 1000 sessions, --workers 2 against the bare server."""
    rates: dict[str, list[float]] = {"1": [], str(WORKERS): []}
    with (
        server("nexy", NEXY) as one,
        server("workers", NEXY, workers=WORKERS) as several,
        server("bare", BARE) as bare,
    ):
        for round_ in range(1, ROUNDS + 1):
            for name, target in (("1", one.target), (str(WORKERS), several.target)):
                found = clients(WORKER_CLIENTS, "frames", target, *WORKER_FRAME_ARGS)
                rates[name].append(sum(result["frames_per_s"] for result in found))
                say(f"  round {round_}: --workers {name} {rates[name][-1]:8.0f} frames/s")
        latency = {}
        for name, target in ((f"workers_{WORKERS}", several.target), ("bare", bare.target)):
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


def speculation() -> dict[str, Any]:
    """Commit -> first output with and without --speculate, the openai pipeline (text only)
    against the stub at 300 ms to the first token; both servers side by side, measured in
    alternating rounds; per case the medians of the rounds' percentiles, and the median of
    the p50 differences taken round by round."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {
        case: {"speculate": [], "plain": []} for case in SPECULATION_CASES
    }
    with openai_stub(SPECULATION_FIRST_TOKEN_S) as url:
        pipeline = ["--pipeline", "openai", "--llm-base-url", url, "--no-tts"]
        speculating = [*NEXY, *pipeline, "--speculate", "--speculate-max", "3"]
        with server("speculate", speculating) as on, server("plain", [*NEXY, *pipeline]) as off:
            pair = [("speculate", on), ("plain", off)]
            for target in (on, off):  # warm up
                client("spoken", target.target, "--rounds", "3")
            for round_ in range(1, SPECULATION_ROUNDS + 1):
                for case, (flags, _) in SPECULATION_CASES.items():
                    for name, target in pair if round_ % 2 else reversed(pair):
                        args = ("--rounds", str(SPECULATION_UTTERANCES), *flags)
                        found[case][name].append(client("spoken", target.target, *args))
                        say(f"  round {round_}: {case:13} {name:9} {found[case][name][-1]}")
    result: dict[str, Any] = {"first_token_s": SPECULATION_FIRST_TOKEN_S}
    for case, rounds in found.items():
        medians: dict[str, Any] = {
            name: {
                "utterances": sum(r["utterances"] for r in samples),
                "prepared": sum(r["prepared"] for r in samples),
                **{
                    q: round(statistics.median(r[q] for r in samples), 3)
                    for q in ("p50", "p95", "p99")
                },
            }
            for name, samples in rounds.items()
        }
        pairs = zip(rounds["plain"], rounds["speculate"], strict=True)
        saved = statistics.median(plain["p50"] - spec["p50"] for plain, spec in pairs)
        medians["saved_p50_ms"] = round(saved, 3)
        medians["saving_ratio"] = round(saved / (SPECULATION_FIRST_TOKEN_S * 1000), 3)
        medians["what"] = SPECULATION_CASES[case][1]
        result[case] = medians
    return result


def speculation_summary(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "speculative_saving_ratio": found["same"]["saving_ratio"],
        "speculative_saving_ratio_unmarked": found["same_unmarked"]["saving_ratio"],
        "speculative_differs_p50_delta_ms": round(-found["differs"]["saved_p50_ms"], 3),
    }


def idle_memory() -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for name, command in (("bare", BARE), ("nexy", NEXY)):
        with server(name, command) as fresh:
            for count, size in idle_session_bytes(fresh, IDLE_COUNTS).items():
                found.setdefault(str(count), {})[name] = round(size)
                say(f"  {count:6} idle sessions: {name:5} {size / 1024:6.1f} KiB each")
    return found


def speech() -> dict[str, Any]:
    """The server's event-loop lag while legacy answers stream speech, per source rate:
    both servers run side by side and are measured in alternating rounds; the medians of
    the rounds, and the median of the 24 kHz / 48 kHz ratios taken round by round."""
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
    rounds: dict[int, list[dict[str, Any]]] = {rate: [] for rate in SPEECH_RATES}
    with contextlib.ExitStack() as running:
        servers = {
            rate: running.enter_context(
                server(f"{rate}", [*SPEAKING, "--rate", str(rate)], **pipes)
            )
            for rate in SPEECH_RATES
        }
        for round_ in range(1, SPEECH_ROUNDS + 1):
            for rate, speaking in servers.items():
                found = speech_round(speaking, SPEECH_STREAMS, SPEECH_WARMUP_S, SPEECH_S)
                rounds[rate].append(found)
                say(f"  round {round_}: {rate:5} Hz {found}")
    result: dict[str, Any] = {
        str(rate): {
            "lag_p50_ms": statistics.median(r["lag_ms"]["p50"] for r in found),
            "lag_p99_ms": statistics.median(r["lag_ms"]["p99"] for r in found),
            "lag_max_ms": max(r["lag_ms"]["max"] for r in found),
            "answers_per_s": statistics.median(r["answers_per_s"] for r in found),
            "answer_s_min": min(r["answer_s_min"] for r in found),
            "answer_s_max": max(r["answer_s_max"] for r in found),
            "unplayable_chunks": sum(r["unplayable_chunks"] for r in found),
        }
        for rate, found in rounds.items()
    }
    pairs = zip(rounds[24_000], rounds[48_000], strict=True)
    result["streams"] = SPEECH_STREAMS
    result["lag_p99_ratio"] = statistics.median(
        low["lag_ms"]["p99"] / high["lag_ms"]["p99"] for low, high in pairs
    )
    return result


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


def speech_summary(spoken: dict[str, Any]) -> dict[str, Any]:
    return {
        "legacy_speech_loop_lag_p99_ms_24khz": spoken["24000"]["lag_p99_ms"],
        "legacy_speech_loop_lag_p99_ratio_vs_48khz": round(spoken["lag_p99_ratio"], 3),
    }


def workers_summary(scaled: dict[str, Any]) -> dict[str, Any]:
    several, bare = scaled["latency_1000_sessions"].values()
    return {
        "workers_frames_per_s_ratio": round(scaled["ratio"], 3),
        "workers_first_output_p50_ratio_vs_bare_grpc": round(several["p50"] / bare["p50"], 3),
        "workers_first_output_p99_ratio_vs_bare_grpc": round(several["p99"] / bare["p99"], 3),
    }


def first_audio_summary(audio: dict[str, Any]) -> dict[str, Any]:
    return {
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
    rows += workers_rows(results) + speech_rows(results) + auth_rows(results)
    rows += first_audio_rows(results) + speculation_rows(results)
    return "\n".join(rows)


def workers_rows(results: dict[str, Any]) -> list[str]:
    """(Each part of the table only where results.json has its figures.)"""
    if "workers" not in results:
        return []
    scaled = results["workers"]
    rates = scaled["frames_per_s"]
    several, bare = scaled["latency_1000_sessions"].values()
    return [
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


def auth_rows(results: dict[str, Any]) -> list[str]:
    if "auth" not in results:
        return []
    auth = results["auth"]
    return [
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


def speech_rows(results: dict[str, Any]) -> list[str]:
    if "speech" not in results:
        return []
    spoken = results["speech"]
    low, high = spoken["24000"], spoken["48000"]
    rows = [
        f"| server event-loop lag p99 ms, {spoken['streams']} legacy answers streaming speech "
        f"spoken at 24 kHz (resampled) / at 48 kHz (passed through) | {low['lag_p99_ms']:.2f} / "
        f"{high['lag_p99_ms']:.2f} | - | 24 kHz is {spoken['lag_p99_ratio']:.2f}x 48 kHz | "
        "≤ 5 ms |"
    ]
    if "machine" in spoken:  # measured by a run of its own
        m = spoken["machine"]
        rows += [
            "",
            f"The last row: `python -m bench speech` on {m['cpu_count']} x {m['cpu_model']}.",
        ]
    return rows


def first_audio_rows(results: dict[str, Any]) -> list[str]:
    if "first_audio" not in results:
        return []
    audio = results["first_audio"]
    nexy, stub = audio["nexy"], audio["stub"]
    return [
        "",
        "| measure | nexy-stream, openai pipeline | the stub alone | added | target |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| commit → first audio p50 / p99 ms (stub: 150 ms to the first token) | "
        f"{nexy['p50']:.1f} / {nexy['p99']:.1f} | {stub['p50']:.1f} / {stub['p99']:.1f} | "
        f"{audio['p50_overhead_ms']:+.2f} ms p50 | ≤ 10 ms |",
    ]


def speculation_rows(results: dict[str, Any]) -> list[str]:
    if "speculation" not in results:
        return []
    found = results["speculation"]
    first_token_ms = found["first_token_s"] * 1000
    rows = [
        "",
        f"Speculative preparation (the openai pipeline against the stub: {first_token_ms:.0f} ms "
        "to the first token; two servers side by side):",
        "",
        "| commit → first output p50 / p99 ms | --speculate | without | saved (p50) | target |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    targets = {
        "same": "≥ 80% of the first token",
        "same_unmarked": "-",
        "differs": "no worse (≤ +10 ms)",
    }
    for case, target in targets.items():
        figures = found[case]
        spec, plain = figures["speculate"], figures["plain"]
        share = f" ({figures['saving_ratio']:.0%})" if case != "differs" else ""
        rows.append(
            f"| {figures['what']} | {spec['p50']:.1f} / {spec['p99']:.1f} | "
            f"{plain['p50']:.1f} / {plain['p99']:.1f} | {figures['saved_p50_ms']:+.1f} ms{share}"
            f" | {target} |"
        )
    return rows


def main(parts: list[str]) -> int:
    """Every benchmark; with ``speech``, ``speculation`` or ``workers``, only that comparison,
    whose figures replace those in results.json (with the machine it ran on) and leave the
    rest."""
    began = time.perf_counter()
    if parts == ["speech"]:
        say("event-loop lag while legacy answers stream speech")
        spoken = {**speech(), "machine": machine()}
        results: dict[str, Any] = json.loads(RESULTS.read_text())
        results.update(speech_summary(spoken), speech=spoken)
    elif parts == ["speculation"]:
        say("commit -> first output with and without --speculate")
        prepared = {**speculation(), "machine": machine()}
        results = json.loads(RESULTS.read_text())
        results.update(speculation_summary(prepared), speculation=prepared)
    elif parts == ["workers"]:
        say(f"--workers {WORKERS} against --workers 1 and bare grpcio")
        scaled = {**workers(), "machine": machine()}
        results = json.loads(RESULTS.read_text())
        results.update(workers_summary(scaled), workers=scaled)
    elif not parts:
        with server("nexy", NEXY) as nexy, server("bare", BARE) as bare:
            say("collect throughput")
            frames = throughput(nexy.target, bare.target)
            say("commit -> first output")
            latency = latencies(nexy.target, bare.target)
        say("memory per idle session (fresh servers)")
        idle = idle_memory()
        say("authentication per session open (fresh servers, auth off and on)")
        auth = auth_cost()
        say("event-loop lag while legacy answers stream speech")
        spoken = speech()
        say("commit -> first audio, openai pipeline against the local stub")
        audio = first_audio()
        say("commit -> first output with and without --speculate")
        prepared = speculation()
        say(f"--workers {WORKERS} against --workers 1 and bare grpcio (fresh servers)")
        scaled = workers()
        results = {
            **summary(frames, latency, idle, auth),
            **speech_summary(spoken),
            **first_audio_summary(audio),
            **speculation_summary(prepared),
            **workers_summary(scaled),
            "frames_per_s": frames,
            "latency": latency,
            "idle": idle,
            "auth": auth,
            "speech": spoken,
            "first_audio": audio,
            "speculation": prepared,
            "workers": scaled,
            "machine": machine(),
            "seconds": round(time.perf_counter() - began, 1),
        }
    else:
        say("usage: python -m bench [speech | speculation | workers]")
        return 2
    results["targets_met"] = {  # a partial run keeps the figures of an older one
        key: (results[key] >= bound if op == ">=" else results[key] <= bound)
        for key, (op, bound) in TARGETS.items()
        if key in results
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    say(f"wrote {RESULTS} in {time.perf_counter() - began:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
