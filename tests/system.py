"""Debian programs the tests run on loopback: redis-server and haproxy.

`make test` installs them first when they are missing (`make test-deps`, as root, with
apt-get); where that cannot be done, the tests that need one are skipped and say why.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio
import pytest

from tests.cli import free_port
from tests.processes import Served
from tests.waiting import until

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
READY_TIMEOUT_S = 60.0


def system_program(name: str) -> str:
    """The path of a Debian program, or a skip that says how to get it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        pytest.skip(f"{name} is not installed; `make test-deps` installs it (root, apt-get)")
    return found


def wait_until(ready: object, what: str, process: subprocess.Popen[bytes]) -> None:
    """Polls ``ready()`` until it is true; fails if the process ends or time runs out."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready():  # type: ignore[operator]
        if process.poll() is not None:
            raise AssertionError(f"{what}: the process ended with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {READY_TIMEOUT_S}s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if that did not end it within 30 s."""
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    if process.poll() is None:
        process.kill()
        process.wait()


@dataclass
class RedisServer:
    """A throwaway redis-server on loopback: no snapshots, no append-only file."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def command(self, *words: str) -> Reply:
        """One command over RESP (enough for tests without a Redis client library); in an
        async test, :meth:`ask`."""
        request = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        with socket.create_connection((self.host, self.port), timeout=10) as connection:
            connection.sendall(request.encode())
            return _reply(connection.makefile("rb"))

    async def ask(self, *words: str) -> Reply:
        """:meth:`command` on a worker thread, leaving the event loop free."""
        return await anyio.to_thread.run_sync(self.command, *words)

    def answers(self) -> bool:
        with contextlib.suppress(OSError):
            return self.command("PING") == "PONG"
        return False


Reply = str | int | bytes | None | list["Reply"]


def _reply(stream: BinaryIO) -> Reply:
    line = stream.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(f"redis: {rest.decode()}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else stream.read(size + 2)[:-2]
    if kind == b"*":
        return [_reply(stream) for _ in range(int(rest))]
    raise RuntimeError(f"redis: an answer not in RESP: {line!r}")


@contextlib.contextmanager
def start_redis(program: str, directory: Path) -> Iterator[RedisServer]:
    server = RedisServer("127.0.0.1", free_port())
    command = [
        *(program, "--bind", server.host, "--port", str(server.port)),
        *("--save", "", "--appendonly", "no", "--dir", str(directory)),
    ]
    with open(directory / "redis.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(server.answers, f"redis-server on {server.port}", process)
        yield server
    finally:
        stop(process)


@dataclass
class Backend:
    served: Served
    target: str
    metrics_port: int


@dataclass
class Balancer:
    """haproxy with deploy/haproxy/haproxy.cfg in front of real nexy-stream servers."""

    target: str
    backends: list[Backend]
    stats_socket: Path

    def admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as connection:
            connection.connect(str(self.stats_socket))
            connection.sendall(command.encode() + b"\n")
            return b"".join(iter(lambda: connection.recv(65536), b"")).decode()

    def stats(self) -> list[dict[str, str]]:
        """``show stat``: one row per frontend, server and backend."""
        lines = self.admin("show stat").lstrip("# ").splitlines()
        return list(csv.DictReader(line for line in lines if line))

    def row_now(self, proxy: str, name: str) -> dict[str, str]:
        return next(r for r in self.stats() if (r["pxname"], r["svname"]) == (proxy, name))

    async def row(self, proxy: str, name: str) -> dict[str, str]:
        """One row of ``show stat``, read on a worker thread (off the event loop)."""
        return await anyio.to_thread.run_sync(self.row_now, proxy, name)

    async def taken_out(self, name: str) -> None:
        """Returns once haproxy has taken server ``name`` out (its health checks failed)."""

        async def down() -> bool:
            return (await self.row("nexy", name))["status"] == "DOWN"

        await until(down, f"haproxy took {name} out", bound_s=READY_TIMEOUT_S)

    def servers_up(self) -> bool:
        """Both servers up, their last gRPC health check passed."""
        rows = [self.row_now("nexy", f"nexy-{n}") for n in (1, 2)]
        return all((r["status"], r["check_status"]) == ("UP", "L7OK") for r in rows)


def serve_backend(*flags: str, env: dict[str, str] | None = None) -> Backend:
    served = Served(
        *("--port", "0", "--metrics-port", "0", "--shutdown-grace", "60"), *flags, env=env
    )
    try:
        found, _ = served.wait_for_line(r"serving nexy\.stream\.v1 .* on (\S+) \(")
        metrics, _ = served.wait_for_line(r"Prometheus metrics on http://\S+:(\d+)/metrics")
    except BaseException:
        served.close()
        raise
    return Backend(served, found[1], int(metrics[1]))


@contextlib.contextmanager
def start_balancer(
    program: str, directory: Path, *flags: str, env: dict[str, str] | None = None
) -> Iterator[Balancer]:
    """Two nexy-stream servers (``serve`` with ``flags``, ``env`` added to their
    environment) and haproxy before them, its addresses from the environment."""
    with contextlib.ExitStack() as stack:
        backends = []
        for _ in range(2):
            backends.append(serve_backend(*flags, env=env))
            stack.callback(backends[-1].served.close)
        # A short path: a UNIX socket's name has room for about a hundred bytes.
        sockets = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nexy-")))
        found = Balancer(f"127.0.0.1:{free_port()}", backends, sockets / "haproxy.sock")
        env = {
            **os.environ,
            "NEXY_HAPROXY_BIND": found.target,
            "NEXY_HAPROXY_STATS": str(found.stats_socket),
            "NEXY_SERVER_1": backends[0].target,
            "NEXY_SERVER_2": backends[1].target,
        }
        log = stack.enter_context(open(directory / "haproxy.log", "wb"))
        command = [program, "-db", "-f", str(HAPROXY_CONFIG)]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        stack.callback(stop, process)
        wait_until(found.stats_socket.exists, "haproxy's stats socket", process)
        wait_until(found.servers_up, "both servers up behind haproxy", process)
        yield found
