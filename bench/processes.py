"""Servers and clients of the benchmarks, each a process of its own on loopback."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psutil

from nexy_stream.auth.tokens import credential_line, new_token
from nexy_stream.loadgen.stats import latency_ms

PYTHON = sys.executable
READY_TIMEOUT_S = 30.0
CLIENT_TIMEOUT_S = 180.0  # a hung client fails the run instead of stalling it

# nexy-stream as operators run it, with limits wide enough for a long benchmark stream.
NEXY = [
    *(PYTHON, "-m", "nexy_stream", "serve", "--host", "127.0.0.1", "--log-level", "ERROR"),
    *("--max-live-sessions", "20000", "--max-sessions-per-peer", "20000"),
    *("--max-chunks", "100000000"),
    *("--idle-timeout", "3600", "--max-duration", "3600", "--shutdown-grace", "0"),
]
BARE = [PYTHON, "-m", "bench.bare_server"]
CREDENTIALS = 1000  # the token file of a larger deployment: every lookup compares them all


def token_file(directory: Path) -> tuple[Path, str]:
    """A token file of ``CREDENTIALS`` principals; the path and the last one's token (the
    lookup compares every stored hash whichever matches, so any would do)."""
    tokens = [new_token() for _ in range(CREDENTIALS)]
    path = directory / "tokens"
    path.write_text("".join(credential_line(t, f"bench-{i}", False) for i, t in enumerate(tokens)))
    path.chmod(0o600)
    return path, tokens[-1]


SPEAKING = [PYTHON, "-m", "bench.audio_server"]


# The local OpenAI-compatible stub of the tests: a fixed time to the first token (150 ms
# unless asked otherwise), then a token every 20 ms (the first sentence is known to be over
# at the second token).
STUB = [PYTHON, "-m", "tests.openai_stub", "--token-interval", "0.02"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[Any]
    target: str

    def rss(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def cpu_s(self) -> float:
        """CPU seconds the server has used (user and system): what a measurement cost it,
        whatever else the machine was busy with."""
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports free now (a worker's admin port each)."""
    for _ in range(100):
        first = free_port()
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + count):
                    probe = held.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


def wait_ready(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT_S)


@contextlib.contextmanager
def server(name: str, command: list[str], workers: int = 1, **popen: Any) -> Iterator[Server]:
    """Starts a server on a free port and waits until it accepts calls; with ``workers``,
    until every worker does (each has an admin port of its own, up once it serves).
    ``popen`` goes to ``subprocess.Popen`` (pipes to talk to the server)."""
    port = free_port()
    extra = ["--port", str(port)]
    if workers > 1:
        admin = free_ports(workers)
        extra += ["--workers", str(workers), "--admin-port", str(admin)]
    process = subprocess.Popen([*command, *extra], **popen)
    target = f"127.0.0.1:{port}"
    try:
        wait_ready(target)
        for index in range(workers if workers > 1 else 0):
            wait_ready(f"127.0.0.1:{admin + index}")
        yield Server(name, process, target)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def openai_stub(first_token_s: float = 0.15) -> Iterator[str]:
    """Starts the stub; yields its base URL."""
    command = [*STUB, "--first-token-delay", str(first_token_s)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().split()[-1]  # "listening on http://127.0.0.1:P/v1"
    finally:
        process.terminate()
        process.wait(timeout=15)


def client(mode: str, target: str, *args: str) -> dict[str, Any]:
    """Runs one client measurement to its end and returns its JSON result."""
    result = clients(1, mode, target, *args)[0]
    result.pop("samples_s", None)
    return result


def latency_clients(count: int, target: str, *args: str) -> dict[str, Any]:
    """Commit -> first output from ``count`` client processes at once, their samples
    merged: one process at a thousand sessions is itself the bottleneck."""
    found = clients(count, "latency", target, *args)
    samples = [sample for result in found for sample in result["samples_s"]]
    return {
        "sessions": sum(result["sessions"] for result in found),
        "client_processes": count,
        "utterances": len(samples),
        "utterances_per_s": round(sum(result["utterances_per_s"] for result in found), 1),
        **latency_ms(samples),
    }


def clients(count: int, mode: str, target: str, *args: str) -> list[dict[str, Any]]:
    """Runs ``count`` client processes at once (one Python process saturates one core)."""
    command = [PYTHON, "-m", "bench.clients", mode, "--target", target, *args]
    running = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    results = []
    for process in running:
        out, err = process.communicate(timeout=CLIENT_TIMEOUT_S)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{err[-2000:]}")
        results.append(json.loads(out.splitlines()[-1]))
    return results


def idle_session_bytes(server: Server, counts: list[int]) -> dict[int, float]:
    """Server RSS growth per idle open session, at each of ``counts`` open sessions."""
    client("latency", server.target, "--sessions", "50", "--rounds", "2")  # warm up
    before = server.rss()
    command = [PYTHON, "-m", "bench.clients", "idle", "--target", server.target]
    command += ["--counts", ",".join(map(str, counts))]
    per_session: dict[int, float] = {}
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as idle:
        assert idle.stdin is not None and idle.stdout is not None
        for line in idle.stdout:
            if not line.startswith("ready "):
                break
            opened = int(line.split()[1])
            per_session[opened] = (server.rss() - before) / opened
            idle.stdin.write("\n")
            idle.stdin.flush()
        idle.wait(timeout=CLIENT_TIMEOUT_S)
    return per_session


def speech_round(server: Server, streams: int, warmup_s: float, seconds: float) -> dict[str, Any]:
    """Legacy clients take speech answers from a ``bench.audio_server`` for ``seconds``
    after ``warmup_s``; the server's event-loop lag over the same window, and the answers."""
    command = [PYTHON, "-m", "bench.clients", "speech", "--target", server.target]
    command += ["--streams", str(streams), "--warmup", str(warmup_s), "--seconds", str(seconds)]
    assert server.process.stdin is not None and server.process.stdout is not None
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as load:
        time.sleep(warmup_s)
        server.process.stdin.write("start\n")
        server.process.stdin.flush()
        time.sleep(seconds)
        server.process.stdin.write("report\n")
        server.process.stdin.flush()
        lag: dict[str, Any] = json.loads(server.process.stdout.readline())
        out, _ = load.communicate(timeout=CLIENT_TIMEOUT_S)
    if load.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed")
    answers: dict[str, Any] = json.loads(out.splitlines()[-1])
    return {"lag_ms": lag, **answers}
